/**
 * Full sync and forced sync of one event: read every record (of the report, or of one event),
 * write in place, then sweep what the listing did not contain. Readers never see an event emptied
 * and refilled; a listing that fails midway removes nothing and leaves a checkpoint to resume from.
 * A resumed listing did not see the pages before the interruption, so it ends with a cheap ID-only
 * pass over the whole listing (reconciliation with healing): deletions and changes in the skipped
 * pages are found and repaired too, and success still means Redis equals the source.
 */
import type { Checkpoint } from '../adapters/state-store.js';
import type { SourceEvent } from '../adapters/source.js';
import { isSyncError, UnknownEventError, VerificationError } from '../errors.js';
import { commitOverlap, PageCommitFailure } from './commit-overlap.js';
import { commitPage } from './page-writer.js';
import { chooseListing } from './listing-strategy.js';
import { readAhead } from './read-ahead.js';
import { reconcile } from './reconcile.js';
import { countUnseen, enforceRemovalGuard, type RemovalPlan, removeUnseen } from './removal.js';
import type { RunContext } from './run-context.js';
import { watermarkCandidate } from './watermark.js';

/** What a full listing covers and how it ends. */
export interface FullSyncPlan {
  /** Restrict to these events (forced sync); omitted = the whole registrations report. */
  readonly eventIds?: readonly string[] | undefined;
  /** Checkpoint name, e.g. `full` or `force:<eventId>`. */
  readonly checkpointName: string;
  /** Bypass the mass-removal guard. */
  readonly allowMassRemoval: boolean;
  /** Whether this listing may move the global watermark (only whole-report listings may). */
  readonly advanceWatermark: boolean;
  /**
   * The events as Zoho listed them moments ago (a partition job of a fanned-out full sync: the
   * planner listed them once); omitted = list them now (one Zoho call).
   */
  readonly events?: readonly SourceEvent[] | undefined;
}

/** What a full listing saw (for a caller that combines several listings into one watermark). */
export interface FullSyncOutcome {
  /** Highest modification instant listed (epoch ms), if any. */
  readonly maxModifiedAt: number | undefined;
  /** When the listing started (epoch ms; a resumed listing: when the interrupted one started). */
  readonly listingStartedAt: number;
  /** Pages committed by this run. */
  readonly pages: number;
}

/** Runs a full (or forced) sync. Throws a `SyncError` on failure, leaving the checkpoint in place. */
export async function runFullSync(ctx: RunContext, plan: FullSyncPlan): Promise<FullSyncOutcome> {
  const { state, source } = ctx;
  const events = plan.events ?? (await source.listEvents(ctx.callOptions()));
  const zohoEventIds = new Set(events.map((e) => e.id));
  for (const id of plan.eventIds ?? []) if (!zohoEventIds.has(id)) throw new UnknownEventError(id);
  await state.saveEvents(plan.eventIds ? events.filter((e) => plan.eventIds?.includes(e.id)) : events);
  ctx.accept();
  // Distributed mode: the sweep removes what this listing did not see, so every event it may sweep
  // is held from before the listing starts (another job's writes to it then come wholly before or after).
  if (ctx.eventGuard !== undefined) await ctx.eventGuard.hold(plan.eventIds ?? union(zohoEventIds, await state.listEventIds()));

  let checkpoint = await ctx.trustedCheckpoint(plan.checkpointName);
  // A full listing's checkpoint is resumed whichever run wrote it: a full run, or an incremental
  // run that fell back to a full listing (a replica restarted after a crash may skip its start-up
  // run while its old lease lives, then resume through a tick). Only incremental listings carry `since`.
  if (checkpoint && checkpoint.since !== undefined) checkpoint = undefined;
  const scope = `${ctx.runId}:full`;
  const listingStartedAt = checkpoint?.startedAt ?? ctx.startedAt;
  let maxSeen = checkpoint?.maxModifiedAt;
  let pages = 0;
  // Page by page, or in bulk when the report is big (the cursor of a bulk checkpoint resumes in bulk).
  const strategy = await chooseListing(state, ctx.sink, ctx.options, plan.eventIds);

  const listing = async (from: Checkpoint | undefined): Promise<void> => {
    ctx.resumed = from !== undefined;
    ctx.currentPage = from?.nextPage ?? 1;
    if (from) ctx.logger.info('Resuming listing from checkpoint', { runId: ctx.runId, page: from.nextPage, interruptedRun: from.runId });
    // Page n+1 is fetched while page n is written; the checkpoint still only names committed pages.
    const listed = readAhead(ctx.signal, (signal) =>
      source.readRecords({
        ...ctx.listOptions({ cursor: from?.cursor, startPage: from?.nextPage, eventIds: plan.eventIds, listing: strategy }),
        signal,
      }),
    );
    // Page n+1's batches start while page n's last ones are still in Redis; checkpoints stay in
    // page order, each written once its page and all before it committed (see ./commit-overlap.ts).
    const commits = commitOverlap();
    try {
      for await (const page of listed) {
        await commits.add({
          pageNumber: page.pageNumber,
          commit: commitPage(ctx, page, scope),
          after: async () => {
            pages += 1;
            for (const r of page.items) if (maxSeen === undefined || r.modifiedAt > maxSeen) maxSeen = r.modifiedAt;
            if (page.nextCursor === undefined) return;
            await state.setCheckpoint(
              plan.checkpointName,
              {
                runId: ctx.runId,
                kind: ctx.kind,
                cursor: page.nextCursor,
                nextPage: page.pageNumber + 1,
                maxModifiedAt: maxSeen,
                since: undefined,
                startedAt: listingStartedAt,
                fence: ctx.fence,
              },
              ctx.fenced(),
            );
          },
        });
      }
      await commits.drain();
    } catch (error) {
      // A failed listing (fetching the next page) first waits for the pages still committing, and
      // an earlier page's failure is reported instead: a failed commit names its page, a failed
      // checkpoint write the page after it (as before the overlap: the next page to read).
      let first = error;
      if (!(error instanceof PageCommitFailure)) await commits.drain().catch((earlier: unknown) => (first = earlier));
      if (!(first instanceof PageCommitFailure)) throw first;
      ctx.currentPage = first.step === 'commit' ? first.pageNumber : first.pageNumber + 1;
      throw first.error;
    }
  };

  try {
    try {
      await listing(checkpoint);
    } catch (error) {
      // A stored cursor can expire (Zoho does not document a lifetime). If the very first resumed
      // request is refused, start the listing over instead of failing every run from now on.
      if (!checkpoint || pages > 0 || !isCursorRefusal(error)) throw error;
      ctx.logger.warn('Checkpoint cursor refused; restarting the listing from the first page', { runId: ctx.runId });
      await state.clearCheckpoint(plan.checkpointName, ctx.fenced());
      checkpoint = undefined;
      maxSeen = undefined;
      await listing(undefined);
    }

    if (ctx.resumed) {
      // The pages before the checkpoint were read by an earlier run: one ID-only listing (ceil(N/1000)
      // calls) finds what changed or went away there, and heals it (the guard applies to removals).
      await reconcile(ctx, {
        eventIds: plan.eventIds,
        zohoEventIds: [...zohoEventIds],
        heal: true,
        allowMassRemoval: plan.allowMassRemoval,
        publish: false,
      });
    } else {
      const targets = plan.eventIds ?? union(zohoEventIds, await state.listEventIds());
      const removed = await sweep(ctx, targets, scope, plan.allowMassRemoval);
      await finishEvents(ctx, targets, scope, events, removed);
    }

    if (plan.advanceWatermark) {
      const candidate = watermarkCandidate(maxSeen, listingStartedAt, ctx.resumed ? 2 : pages, Date.now());
      if (candidate !== undefined) await state.advanceWatermark(candidate, ctx.fenced());
    }
    await state.clearCheckpoint(plan.checkpointName, ctx.fenced());
    return { maxModifiedAt: maxSeen, listingStartedAt, pages };
  } finally {
    const targets = plan.eventIds ?? [...zohoEventIds];
    await state.releaseScope(scope, targets).catch((e: unknown) => ctx.logger.warn('Could not release a seen scope', { scope, error: e }));
  }
}

/** Removes records the complete listing did not contain, after the mass-removal guard agreed. */
async function sweep(
  ctx: RunContext,
  eventIds: readonly string[],
  scope: string,
  allowMassRemoval: boolean,
): Promise<Map<string, number>> {
  const plans: RemovalPlan[] = await Promise.all(
    eventIds.map((eventId) =>
      ctx.limit(async () => ({
        eventId,
        held: await ctx.sink.countRecords(eventId),
        count: await countUnseen(ctx, eventId, scope),
      })),
    ),
  );
  enforceRemovalGuard(ctx, plans, allowMassRemoval);
  const removed = new Map<string, number>();
  await Promise.all(
    plans
      .filter((p) => p.count > 0)
      .map((p) => ctx.limit(async () => removed.set(p.eventId, await removeUnseen(ctx, p.eventId, scope)))),
  );
  return removed;
}

/**
 * Verifies each event's index against what was fetched (the index must hold exactly the IDs seen
 * when nothing was resumed), then records the event's metadata and emits `eventSynced`.
 */
async function finishEvents(
  ctx: RunContext,
  eventIds: readonly string[],
  scope: string,
  events: readonly SourceEvent[],
  removed: ReadonlyMap<string, number>,
): Promise<void> {
  const now = Date.now();
  const known = new Set(events.map((e) => e.id));
  const results = await Promise.all(
    eventIds.map((eventId) =>
      ctx.limit(async () => {
        const [held, seen] = await Promise.all([ctx.sink.countRecords(eventId), ctx.state.countSeen(eventId, scope)]);
        return { eventId, held, seen };
      }),
    ),
  );
  // What the listing returned, as Redis acknowledged it page by page (the state store's replies),
  // against what Redis holds now: a seen set smaller than what was added to it means Redis lost data
  // (restarted, failed over, evicted) during the run, and so may the records. This is not the
  // end state compared with itself.
  const written = ctx.seenWritten.get(scope);
  const lost = results.filter((r) => written !== undefined && r.seen < (written.get(r.eventId) ?? 0));
  if (lost.length > 0) {
    const l = lost[0]!;
    throw new VerificationError(
      `After the sync, Redis holds ${l.seen} of the ${written!.get(l.eventId)} IDs the listing returned for event ${l.eventId}: ` +
        `Redis lost data or restarted during the run${lost.length > 1 ? ` (and ${lost.length - 1} more events)` : ''}; the next run lists again`,
    );
  }
  // Every ID the listing returned must be held, except those Redis refused as older than a delete
  // applied meanwhile (a push; see the ordering guarantees). More may be held: `syncRecord()` can
  // add a registration created after its page was read.
  const wrong = results.filter((r) => r.held + (ctx.refusedByEvent.get(r.eventId) ?? 0) < r.seen && known.has(r.eventId));
  if (wrong.length > 0) {
    const w = wrong[0]!;
    throw new VerificationError(
      `After the sync, event ${w.eventId} holds ${w.held} records in Redis but the listing returned ${w.seen}` +
        (wrong.length > 1 ? ` (and ${wrong.length - 1} more events differ)` : ''),
    );
  }
  await Promise.all(
    results.map((r) =>
      ctx.limit(async () => {
        await ctx.state.setEventMeta(r.eventId, { sourceCount: r.seen, lastSyncAt: now, lastFullSyncAt: now }, ctx.fenced());
        ctx.eventsSynced += 1;
        ctx.emit('eventSynced', {
          runId: ctx.runId,
          eventId: r.eventId,
          sourceCount: r.seen,
          redisCount: r.held,
          removed: removed.get(r.eventId) ?? 0,
        });
      }),
    ),
  );
}

function union(a: ReadonlySet<string>, b: readonly string[]): string[] {
  const out = new Set(a);
  for (const id of b) out.add(id);
  return [...out];
}

/**
 * A 4xx refusal of a resumed cursor (not a throttle, auth or quota failure): HTTP 400 or 404 with a
 * Zoho code other than 3100. Zoho documents no cursor lifetime or refusal code ([inferred]).
 */
export function isCursorRefusal(error: unknown): boolean {
  if (!isSyncError(error) || error.name !== 'ZohoApiError') return false;
  const status = (error as { httpStatus?: number }).httpStatus;
  return status === 400 || status === 404;
}
