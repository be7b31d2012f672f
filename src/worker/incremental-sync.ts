/**
 * Incremental sync: one criteria listing `Modified_Time >= watermark - overlap` over the whole
 * registrations report (never one query per event), then, at most every `staleCheckIntervalMs`,
 * a staleness check of the events not synced for `staleAfterMs`: one ID-only listing for all of
 * them together, healing the events whose records differ.
 */
import type { Checkpoint } from '../adapters/state-store.js';
import type { RunContext } from './run-context.js';
import { isCursorRefusal, runFullSync } from './full-sync.js';
import { commitPage } from './page-writer.js';
import { readAhead } from './read-ahead.js';
import { reconcile } from './reconcile.js';
import type { DiscrepancyReport } from './discrepancy.js';
import { watermarkCandidate } from './watermark.js';

const CHECKPOINT = 'incremental';

/** Options of one incremental run. */
export interface IncrementalPlan {
  readonly allowMassRemoval: boolean;
}

/**
 * Runs an incremental sync. With no watermark yet (first run), runs a full sync instead.
 * Resolves the staleness check's discrepancy report when one ran with discrepancy detection on.
 */
export async function runIncrementalSync(ctx: RunContext, plan: IncrementalPlan): Promise<DiscrepancyReport | undefined> {
  const { state, source, options } = ctx;
  const meta = await state.getSyncMeta();
  if (meta.watermark === undefined) {
    ctx.fellBackToFull = true;
    ctx.logger.info('No watermark yet: running a full sync', { runId: ctx.runId });
    await runFullSync(ctx, { checkpointName: 'full', allowMassRemoval: plan.allowMassRemoval, advanceWatermark: true });
    return undefined;
  }

  // The events list (one call: it catches new and removed events and feeds the staleness check)
  // runs alongside the changes listing, so a run with nothing changed costs one round trip, not
  // two. Neither depends on the other: the watermark comes from the changes listing alone (its
  // own start time and highest Modified_Time, see watermark.ts), and records register their event
  // on upsert whether or not the events list was saved first.
  const eventsListed = source.listEvents(ctx.callOptions()).then(async (listed) => {
    await state.saveEvents(listed);
    ctx.accept();
    return listed;
  });
  // Settled below on every path; this only keeps a rejection from being reported as unhandled meanwhile.
  eventsListed.catch(() => undefined);

  let checkpoint = await ctx.trustedCheckpoint(CHECKPOINT);
  if (checkpoint && checkpoint.since === undefined) checkpoint = undefined;
  ctx.resumed = checkpoint !== undefined;
  const since = checkpoint?.since ?? meta.watermark - options.incrementalOverlapMs;
  const listingStartedAt = checkpoint?.startedAt ?? Date.now();
  let maxSeen = checkpoint?.maxModifiedAt;
  let pages = 0;
  let restarted = false;
  const listing = async (from: Checkpoint | undefined): Promise<void> => {
    ctx.currentPage = from?.nextPage ?? 1;
    // Page n+1 is fetched while page n is written; the checkpoint still only names committed pages.
    const listed = readAhead(ctx.signal, (signal) =>
      source.readChangedSince(since, { ...ctx.listOptions({ cursor: from?.cursor, startPage: from?.nextPage }), signal }),
    );
    for await (const page of listed) {
      // Re-read records (the inclusive bound and the overlap repeat some) are detected as unchanged
      // by the sink in the same round trip as the write: de-duplication by ID and content.
      await commitPage(ctx, page);
      pages += 1;
      for (const r of page.items) if (maxSeen === undefined || r.modifiedAt > maxSeen) maxSeen = r.modifiedAt;
      if (page.nextCursor !== undefined) {
        await state.setCheckpoint(
          CHECKPOINT,
          {
            runId: ctx.runId,
            kind: ctx.kind,
            cursor: page.nextCursor,
            nextPage: page.pageNumber + 1,
            maxModifiedAt: maxSeen,
            since,
            startedAt: listingStartedAt,
            fence: ctx.fence,
          },
          ctx.fenced(),
        );
      }
    }
  };
  try {
    try {
      await listing(checkpoint);
    } catch (error) {
      // A stored cursor can expire (Zoho documents no lifetime). If the very first resumed request is
      // refused, list again from the same lower bound instead of failing every run from now on.
      if (!checkpoint || pages > 0 || !isCursorRefusal(error)) throw error;
      ctx.logger.warn('Checkpoint cursor refused; listing the changes again from the same lower bound', { runId: ctx.runId });
      await state.clearCheckpoint(CHECKPOINT, ctx.fenced());
      ctx.resumed = false;
      restarted = true;
      await listing(undefined);
    }
  } finally {
    // Never leave the events call running past the run (its writes are fenced, but keep runs tidy).
    await Promise.allSettled([eventsListed]);
  }
  // A failed events list fails the run before the watermark moves: the changes committed so far
  // stay (upserts are idempotent) and the next run lists them again from the same watermark.
  const events = await eventsListed;
  // A resumed or restarted listing started before this run: correct the watermark as for several pages.
  const candidate = watermarkCandidate(maxSeen, listingStartedAt, ctx.resumed || restarted ? 2 : pages, Date.now());
  // The watermark moves only now, after every page of the listing was committed: the listing is
  // not sorted by modification time, so committing a page's maximum early could skip records.
  if (candidate !== undefined) await state.advanceWatermark(candidate, ctx.fenced());
  await state.clearCheckpoint(CHECKPOINT, ctx.fenced());

  const now = Date.now();
  if (meta.lastStaleCheckAt !== undefined && now - meta.lastStaleCheckAt < options.staleCheckIntervalMs) return undefined;
  const ids = events.map((e) => e.id);
  const metas = await state.getEventStates(ids);
  const stale = ids.filter((_, i) => {
    const last = metas[i]?.lastSyncAt;
    return last === undefined || now - last > options.staleAfterMs;
  });
  if (stale.length === 0) return undefined;
  ctx.staleCheck = true;
  ctx.logger.info('Checking stale events', { runId: ctx.runId, stale: stale.length, of: ids.length });
  // When most events are stale, one unrestricted listing is cheaper than criteria chunks and also
  // catches events that exist only in Redis.
  const all = stale.length * 2 > ids.length;
  const report = await reconcile(ctx, {
    eventIds: all ? undefined : stale,
    zohoEventIds: ids,
    heal: true,
    allowMassRemoval: plan.allowMassRemoval,
    publish: options.enableDiscrepancyDetection,
  });
  await state.setSyncMeta({ lastStaleCheckAt: now }, ctx.fenced());
  return options.enableDiscrepancyDetection ? report : undefined;
}
