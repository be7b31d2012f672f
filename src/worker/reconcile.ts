/**
 * Reconciliation: one ID-only listing (ID, modification time, event) compared with Redis page by
 * page, then the Redis IDs the listing did not contain. Memory holds only the drifted IDs (the
 * report names each one), never the data set: the comparison runs in Redis (HMGET against the
 * index, a per-run "seen" set, HSCAN + SMISMEMBER for what was not seen).
 */
import type { DiscrepancyReport, EventDiscrepancy, HealSummary } from './discrepancy.js';
import { commitPage, deadLetter } from './page-writer.js';
import { chooseListing } from './listing-strategy.js';
import { readAhead } from './read-ahead.js';
import { compareStamps, scanUnseen } from './record-ops.js';
import { enforceRemovalGuard, removeRecords } from './removal.js';
import type { RunContext } from './run-context.js';

/** What to reconcile and whether to repair. */
export interface ReconcilePlan {
  /** Restrict the listing to these events; omitted = the whole report plus every event Redis knows. */
  readonly eventIds?: readonly string[] | undefined;
  /** Events Zoho lists (used to include Redis-only events when `eventIds` is omitted). */
  readonly zohoEventIds: readonly string[];
  /** Repair what differs: re-read events with missing or stale records, remove extras. */
  readonly heal: boolean;
  /** Bypass the mass-removal guard when healing. */
  readonly allowMassRemoval: boolean;
  /** Emit `discrepancyFound` when something differs. */
  readonly publish: boolean;
}

interface Tally {
  zohoCount: number;
  missing: string[];
  stale: string[];
}

/** What {@link compareWithSource} lists and where it marks what it saw. */
export interface ComparisonScope {
  /** Restrict the ID listing to these events (a criteria listing); omitted = the whole report. */
  readonly eventIds?: readonly string[] | undefined;
  /** Events to report on, in report order (events the listing returns besides these follow them). */
  readonly targets: readonly string[];
  /** Seen scope name (released when the comparison ends, whatever the outcome). */
  readonly scope: string;
}

/**
 * The comparison half of a reconciliation: one ID-only listing (ID, modification time, event)
 * compared with Redis page by page, then per event the Redis IDs the listing did not contain and
 * the count Redis holds. Writes nothing but the seen scope (and dead letters for rejected stamps).
 * Zoho calls: `max(1, ceil(records listed / page size))` (per 50-event criteria chunk).
 *
 * @returns one entry per target event (in `targets` order), then any other event the listing returned.
 * @throws any `SyncError` of the listing or of Redis.
 */
export async function compareWithSource(ctx: RunContext, plan: ComparisonScope): Promise<EventDiscrepancy[]> {
  const { sink, state, source } = ctx;
  const { scope } = plan;
  const tallies = new Map<string, Tally>(plan.targets.map((id) => [id, { zohoCount: 0, missing: [], stale: [] }]));
  const tally = (eventId: string): Tally => {
    let t = tallies.get(eventId);
    if (!t) {
      t = { zohoCount: 0, missing: [], stale: [] };
      tallies.set(eventId, t);
    }
    return t;
  };

  try {
    ctx.currentPage = 1;
    // Stamp page n+1 is fetched while page n is compared in Redis.
    const listing = await chooseListing(state, sink, ctx.options, plan.eventIds);
    const listed = readAhead(ctx.signal, (signal) => source.readStamps({ ...ctx.listOptions({ eventIds: plan.eventIds, listing }), signal }));
    for await (const page of listed) {
      ctx.throwIfAborted();
      ctx.currentPage = page.pageNumber;
      // One round trip each, sent together: what Redis holds, and the IDs the listing returned.
      const [comparison] = await Promise.all([compareStamps(sink, page.items), state.markSeen(page.items, scope)]);
      for (const s of page.items) tally(s.eventId).zohoCount += 1;
      for (const s of comparison.missing) tally(s.eventId).missing.push(s.id);
      for (const s of comparison.stale) tally(s.eventId).stale.push(s.id);
      if (page.rejected.length > 0) await deadLetter(ctx, page.rejected);
      ctx.progress.pages += 1;
      ctx.progress.recordsFetched += page.items.length;
      if (page.nextCursor !== undefined) ctx.currentPage = page.pageNumber + 1;
    }

    const eventIds = [...tallies.keys()];
    return await Promise.all(
      eventIds.map((eventId) =>
        ctx.limit(async () => {
          const t = tallies.get(eventId)!;
          const extra: string[] = [];
          for await (const chunk of scanUnseen(sink, state, eventId, scope)) extra.push(...chunk);
          const redisCount = await sink.countRecords(eventId);
          return { eventId, zohoCount: t.zohoCount, redisCount, missingInRedis: t.missing, extraInRedis: extra, stale: t.stale };
        }),
      ),
    );
  } finally {
    await state
      .releaseScope(scope, [...tallies.keys()])
      .catch((e: unknown) => ctx.logger.warn('Could not release a seen scope', { scope, error: e }));
  }
}

/**
 * Compares Zoho and Redis and optionally heals. Zoho calls: ceil(records / page size) for the ID
 * listing, plus, when healing, one full listing restricted to the events that need records.
 */
export async function reconcile(ctx: RunContext, plan: ReconcilePlan): Promise<DiscrepancyReport> {
  const targets = plan.eventIds ? [...plan.eventIds] : [...new Set([...plan.zohoEventIds, ...(await ctx.state.listEventIds())])];
  // Distributed mode: healing removes what the comparison did not see, so the compared events are
  // held from before the ID listing (another job's writes to them come wholly before or after).
  if (plan.heal && ctx.eventGuard !== undefined) await ctx.eventGuard.hold(targets);
  const entries = await compareWithSource(ctx, { eventIds: plan.eventIds, targets, scope: `${ctx.runId}:reconcile` });
  let report = buildReport(entries);
  if (report.hasDiscrepancies) {
    ctx.logger.warn('Discrepancies between Zoho and Redis', { runId: ctx.runId, ...report.totals });
    if (plan.publish) ctx.emit('discrepancyFound', report);
  }
  if (plan.heal) report = { ...report, healed: await healDiscrepancies(ctx, entries, plan.allowMassRemoval) };
  return report;
}

/**
 * Applies the mass-removal guard to what healing `entries` would remove (emits
 * `massRemovalBlocked` per refused event). Checked before anything is written, so a refused heal changes nothing.
 * @throws {@link MassRemovalError} for the first refused event.
 */
export function checkHealGuard(ctx: Pick<RunContext, 'runId' | 'options' | 'emit'>, entries: readonly EventDiscrepancy[], allowMassRemoval: boolean): void {
  enforceRemovalGuard(
    ctx,
    entries.filter((e) => e.extraInRedis.length > 0).map((e) => ({ eventId: e.eventId, held: e.redisCount, count: e.extraInRedis.length })),
    allowMassRemoval,
  );
}

/**
 * Repairs exactly what `entries` name: re-reads the events with missing/stale records (one listing
 * restricted to them: `max(1, ceil(their records / page size))` Zoho calls), removes the extras,
 * then records each event's Zoho count and emits `eventSynced` for every entry.
 * @throws {@link MassRemovalError} (before any write) when the guard refuses; any `SyncError` of the listing or of Redis.
 */
export async function healDiscrepancies(ctx: RunContext, entries: readonly EventDiscrepancy[], allowMassRemoval: boolean): Promise<HealSummary> {
  const before = { added: ctx.progress.added, updated: ctx.progress.updated, removed: ctx.progress.removed };
  const withExtras = entries.filter((e) => e.extraInRedis.length > 0);
  // Check the guard before writing anything, so a refused run changes nothing.
  checkHealGuard(ctx, entries, allowMassRemoval);
  const resync = entries.filter((e) => e.missingInRedis.length > 0 || e.stale.length > 0).map((e) => e.eventId);
  if (resync.length > 0) {
    const listed = readAhead(ctx.signal, (signal) => ctx.source.readRecords({ ...ctx.listOptions({ eventIds: resync }), signal }));
    for await (const page of listed) {
      await commitPage(ctx, page);
    }
  }
  for (const e of withExtras) await removeRecords(ctx, e.eventId, e.extraInRedis);
  const now = Date.now();
  await Promise.all(
    entries.map((e) =>
      ctx.limit(async () => {
        await ctx.state.setEventMeta(e.eventId, { sourceCount: e.zohoCount, lastSyncAt: now }, ctx.fenced());
        ctx.eventsSynced += 1;
        ctx.emit('eventSynced', {
          runId: ctx.runId,
          eventId: e.eventId,
          sourceCount: e.zohoCount,
          redisCount: await ctx.sink.countRecords(e.eventId),
          removed: e.extraInRedis.length,
        });
      }),
    ),
  );
  return {
    added: ctx.progress.added - before.added,
    updated: ctx.progress.updated - before.updated,
    removed: ctx.progress.removed - before.removed,
    eventsResynced: resync.length,
  };
}

/** The report of `entries` (totals summed, `healed` unset). `checkedAt`: now. */
export function buildReport(entries: readonly EventDiscrepancy[]): DiscrepancyReport {
  const totals = {
    zohoCount: 0,
    redisCount: 0,
    missingInRedis: 0,
    extraInRedis: 0,
    stale: 0,
    eventsChecked: entries.length,
    eventsWithDiscrepancies: 0,
  };
  for (const e of entries) {
    totals.zohoCount += e.zohoCount;
    totals.redisCount += e.redisCount;
    totals.missingInRedis += e.missingInRedis.length;
    totals.extraInRedis += e.extraInRedis.length;
    totals.stale += e.stale.length;
    if (e.missingInRedis.length + e.extraInRedis.length + e.stale.length > 0) totals.eventsWithDiscrepancies += 1;
  }
  return {
    checkedAt: new Date().toISOString(),
    hasDiscrepancies: totals.eventsWithDiscrepancies > 0,
    events: entries,
    totals,
    healed: undefined,
  };
}
