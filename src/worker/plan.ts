/**
 * A plan before a run: what a run of a kind would cost in Zoho calls (from Redis's counts and the
 * listing strategy it would choose) and, for a full sync or a discrepancy check with healing, the
 * exact Redis writes and removals it would make — found by an ID-only listing compared with Redis,
 * writing nothing to records, indexes, metadata, checkpoints or the watermark (the comparison's
 * temporary seen sets are deleted before the plan returns).
 */
import { randomUUID } from 'node:crypto';
import type { RecordSink } from '../adapters/sink.js';
import type { StateStore } from '../adapters/state-store.js';
import type { ApiCallCounts, CallEstimate, ListingEstimate, SourceAdapter } from '../adapters/source.js';
import { chooseListing, expectedRecordCounts, expectedRecords, type Listing } from './listing-strategy.js';
import { compareStamps, scanUnseen } from './record-ops.js';
import type { ResolvedSyncWorkerOptions } from './options.js';
import type { RunKind } from './run.js';
import { callsBetween } from './call-counts.js';
import { UnknownEventError } from '../errors.js';

/** Options of `SyncWorker.plan()`. */
export interface PlanOptions {
  /** The event of a `force` plan (1–19 digits). */
  readonly eventId?: string | undefined;
  /** For `discrepancy-check`: plan the healing too (and list its writes). */
  readonly heal?: boolean | undefined;
  /**
   * List the exact writes of a `full` plan or a healing `discrepancy-check` plan. This costs an
   * ID-only listing (reported in {@link RunPlan.planCalls}). @defaultValue true
   */
  readonly writes?: boolean | undefined;
  /** IDs listed per event and kind of write; beyond it only the count is given. Unit: IDs. @defaultValue 100 */
  readonly maxIdsPerEvent?: number | undefined;
  /** Aborts the plan's listing. */
  readonly signal?: AbortSignal | undefined;
}

/** The writes a run would make to one event. */
export interface PlannedEventWrites {
  readonly eventId: string;
  /** Records the run would write (missing in Redis, or with another modification time). Unit: records. */
  readonly upserts: number;
  /** Records the run would remove (in Redis, not in Zoho). Unit: records. */
  readonly removals: number;
  /** The IDs written, when at most `maxIdsPerEvent`; otherwise `undefined` (count only). */
  readonly upsertIds: readonly string[] | undefined;
  /** The IDs removed, when at most `maxIdsPerEvent`; otherwise `undefined`. */
  readonly removalIds: readonly string[] | undefined;
  /** True when the removals exceed `maxRemovalShare` of the event: the run would refuse them unless forced. */
  readonly removalBlocked: boolean;
}

/** The Redis writes a run would make. */
export interface PlannedWrites {
  /** Unit: records. */
  readonly upserts: number;
  /** Unit: records. */
  readonly removals: number;
  /**
   * Records the listing returned that fail the worker's checks (an ID that is not 1–19 digits, no
   * event, an unreadable modification time): the run would dead-letter them instead. Unit: records.
   */
  readonly rejected: number;
  /** Records the comparison's ID-only listing returned (rejected ones included). Unit: records. */
  readonly listed: number;
  /** Only events with at least one write. */
  readonly events: readonly PlannedEventWrites[];
}

/** What a run would cost and do. */
export interface RunPlan {
  readonly kind: RunKind;
  readonly eventId: string | undefined;
  /**
   * The listing the run would actually use for its full-record or ID-only listing: `paged` when the
   * strategy picks `bulk` but the source will list page by page (see {@link RunPlan.bulkFallback}).
   */
  readonly listing: Listing;
  /** Why a `bulk` strategy will list page by page (Bulk Read refused earlier, e.g. no bulk scope); `undefined` otherwise. */
  readonly bulkFallback: string | undefined;
  /** Records the run expects to list (Redis's counts from the last run, or `expectedRecordCount`). Unit: records. */
  readonly expectedRecords: number;
  /**
   * False when Redis holds no record count for some of the events the run would list (no complete
   * listing of them yet: an empty Redis, new events, events only written by pushes) and
   * `expectedRecordCount` is not set. `calls` is then a floor (such a listing is counted at its
   * index size, at least one page) and not exact; with `dailyCallLimit` such a run is admitted when
   * the floor fits, and stops at the calls left (`QuotaBudgetError`, `stoppedMidRun`) — set
   * `expectedRecordCount` to budget by a known count. A plan with `writes` of a whole-report listing
   * counts the records from its own ID listing instead, and is true then.
   */
  readonly countsKnown: boolean;
  /** Zoho calls the run would make, by kind; `undefined` when the source cannot estimate. `exact` is false when `countsKnown` is. */
  readonly calls: CallEstimate | undefined;
  /** Why `calls` is not exact, one sentence each (empty when it is exact). */
  readonly inexact: readonly string[];
  /** The writes (full sync, healing discrepancy check, when asked for); `undefined` otherwise. */
  readonly writes: PlannedWrites | undefined;
  /**
   * Zoho calls the plan itself made (the ID-only listing behind `writes`; through `SyncWorker.plan()`
   * also the events list of a force plan and any token grant), added to today's tally. Unit: calls.
   */
  readonly planCalls: ApiCallCounts;
}

/** What computing a plan needs. */
export interface PlanDeps {
  readonly source: SourceAdapter;
  readonly sink: RecordSink;
  readonly state: StateStore;
  readonly options: ResolvedSyncWorkerOptions;
}

const NO_CALLS: ApiCallCounts = { token: 0, records: 0, ids: 0, meta: 0, total: 0 };

/**
 * Computes a plan. Zoho calls: none, except the ID-only listing for `writes` (ceil(N/1000) paged,
 * or a bulk job). Redis: reads, plus the temporary seen set of that comparison.
 *
 * @throws InvalidInputError-like `SyncError`s from the source or the sink (a plan fails as a run would).
 */
export async function computePlan(deps: PlanDeps, kind: RunKind, options: PlanOptions = {}): Promise<RunPlan> {
  const { source, sink, state } = deps;
  const known = await state.listEventIds();
  const meta = await state.getSyncMeta();
  const eventIds = kind === 'force' && options.eventId !== undefined ? [options.eventId] : undefined;
  const byOption = deps.options.expectedRecordCount;
  const inexact: string[] = [];
  let unknownEvents = 0;
  /** Expected records of a listing of `ids`, noting events Redis holds no count of. */
  const countOf = async (ids: readonly string[]): Promise<number> => {
    const counted = await expectedRecordCounts(state, sink, ids);
    unknownEvents += counted.unknownEvents;
    return counted.records;
  };
  let expected: number;
  if (byOption !== undefined) {
    expected = byOption;
    inexact.push(`The record count is the expectedRecordCount option (${byOption}), not a count from Redis.`);
  } else {
    expected = await countOf(eventIds ?? known);
    // An empty Redis knows no event: neither the events nor their records are counted.
    if (eventIds === undefined && known.length === 0) unknownEvents += 1;
  }
  const listing = await chooseListing(state, sink, deps.options, eventIds);
  const listings: ListingEstimate[] = [];
  const fullListing = kind === 'full' || kind === 'force' || (kind === 'incremental' && meta.watermark === undefined);
  if (fullListing) {
    // An interrupted full listing is resumed from its checkpoint, then ends with an ID-only pass
    // over the whole listing (full-sync.ts): both cost calls.
    const name = kind === 'force' ? `force:${options.eventId}` : 'full';
    const checkpoint = await state.getCheckpoint(name);
    const resumed = checkpoint !== undefined && checkpoint.since === undefined ? checkpoint.nextPage : undefined;
    listings.push({ kind: 'records', listing, records: expected, eventCount: eventIds?.length, fromPage: resumed });
    if (resumed !== undefined) listings.push({ kind: 'ids', listing, records: expected, eventCount: eventIds?.length });
  }
  if (kind === 'incremental' && meta.watermark !== undefined) {
    listings.push({ kind: 'changes', listing: 'paged', records: 0 });
    inexact.push('The records changed since the watermark are known only once listed: counted as one page.');
    const stale = await staleEvents(deps, known, meta.lastStaleCheckAt);
    if (stale.length > 0) {
      const all = stale.length * 2 > known.length;
      const records = byOption ?? (await countOf(all ? known : stale));
      listings.push({
        kind: 'ids',
        listing: await chooseListing(state, sink, deps.options, all ? undefined : stale),
        records,
        eventCount: all ? undefined : stale.length,
      });
    }
  }
  if (kind === 'discrepancy-check') listings.push({ kind: 'ids', listing, records: expected });

  let writes: PlannedWrites | undefined;
  let planCalls = NO_CALLS;
  const wantWrites = options.writes !== false && (kind === 'full' || (kind === 'discrepancy-check' && options.heal === true));
  if (wantWrites) {
    const before = source.getCallCounts?.();
    writes = await compareWithoutWriting(deps, known, listing, options);
    const after = source.getCallCounts?.();
    if (before && after) planCalls = callsBetween(after, before);
    if (eventIds === undefined && byOption === undefined) {
      // The comparison just listed the whole report: its count is the run's, whatever Redis held
      // (an empty Redis, new events), so the main listing is estimated from it and is no floor.
      const main = listings.findIndex((l) => l.kind !== 'changes');
      if (main >= 0) {
        for (let i = main; i < listings.length; i++) listings[i] = { ...listings[i]!, records: writes.listed };
        expected = writes.listed;
        unknownEvents = 0;
      }
    }
    if (kind === 'discrepancy-check') {
      const resync = writes.events.filter((e) => e.upserts > 0).map((e) => e.eventId);
      if (resync.length > 0) {
        listings.push({ kind: 'records', listing: 'paged', records: await expectedRecords(state, sink, resync), eventCount: resync.length });
      }
    }
  }
  if (kind === 'discrepancy-check' && options.heal === true && writes === undefined) {
    // Without the comparison, which events the heal re-reads is unknown.
    inexact.push('A heal re-reads the events whose records differ, known only once compared: not counted (plan with writes to count it).');
  }
  const estimate = source.estimateCalls?.({ events: known.length, listings });
  const countsKnown = unknownEvents === 0;
  if (!countsKnown) {
    inexact.push(
      known.length === 0 && eventIds === undefined
        ? 'Redis holds no events or record counts yet (no complete listing): the estimate is a floor of one page per listing; set expectedRecordCount for a budget.'
        : `Redis holds no record count for ${unknownEvents} of the events listed (no complete listing of them yet): the estimate counts their index size, a floor.`,
    );
  }
  const healUncounted = kind === 'discrepancy-check' && options.heal === true && writes === undefined;
  const calls = estimate === undefined ? undefined : { ...estimate, exact: estimate.exact && countsKnown && byOption === undefined && !healUncounted };
  // The label says what will run: the source may list page by page what the strategy wants in bulk.
  const mainListing = listings.findIndex((l) => l.kind !== 'changes');
  const actual = mainListing >= 0 ? estimate?.listings?.[mainListing] : undefined;
  if (estimate?.listings?.includes('bulk')) inexact.push('A bulk job takes status polls until Zoho finishes it: counted as one per job.');
  const bulkFallback = listing === 'bulk' && actual === 'paged' ? (estimate?.bulkFallback ?? 'the source lists page by page') : undefined;
  return {
    kind,
    eventId: eventIds?.[0],
    listing: bulkFallback === undefined ? listing : 'paged',
    bulkFallback,
    expectedRecords: expected,
    countsKnown,
    calls,
    inexact,
    writes,
    planCalls,
  };
}

/**
 * Checks that Zoho lists the event a force plan is for, as the forced run does before anything
 * else (one events-list call, plus a token when none is cached), so a plan of an unknown event
 * fails as its run would.
 *
 * @throws {@link UnknownEventError} when the events report has no such event; the source's errors.
 */
export async function assertEventInZoho(source: SourceAdapter, eventId: string, options: { signal?: AbortSignal | undefined; retries: number }): Promise<void> {
  const events = await source.listEvents({ signal: options.signal, retries: options.retries });
  if (!events.some((e) => e.id === eventId)) throw new UnknownEventError(eventId);
}

/** Events whose last sync is older than `staleAfterMs`, when a staleness check is due; else none. */
async function staleEvents(deps: PlanDeps, known: readonly string[], lastCheck: number | undefined): Promise<string[]> {
  const now = Date.now();
  if (lastCheck !== undefined && now - lastCheck < deps.options.staleCheckIntervalMs) return [];
  const metas = await deps.state.getEventStates(known);
  return known.filter((_, i) => {
    const last = metas[i]?.lastSyncAt;
    return last === undefined || now - last > deps.options.staleAfterMs;
  });
}

/**
 * Lists IDs and modification times and compares them with Redis (`compareStamps` into a
 * throw-away seen scope, then `scanUnseen`), writing no record, index or metadata.
 */
async function compareWithoutWriting(
  deps: PlanDeps,
  known: readonly string[],
  listing: Listing,
  options: PlanOptions,
): Promise<PlannedWrites> {
  const { source, sink, state } = deps;
  const scope = `plan:${randomUUID()}`;
  const limit = options.maxIdsPerEvent ?? 100;
  const upserts = new Map<string, string[]>();
  const events = new Set(known);
  let rejected = 0;
  let listed = 0;
  try {
    for await (const page of source.readStamps({ listing, signal: options.signal, retries: deps.options.maxRetries })) {
      rejected += page.rejected.length;
      listed += page.items.length + page.rejected.length;
      const [comparison] = await Promise.all([compareStamps(sink, page.items), state.markSeen(page.items, scope)]);
      for (const s of page.items) events.add(s.eventId);
      for (const s of [...comparison.missing, ...comparison.stale]) {
        let ids = upserts.get(s.eventId);
        if (!ids) {
          ids = [];
          upserts.set(s.eventId, ids);
        }
        ids.push(s.id);
      }
    }
    const out: PlannedEventWrites[] = [];
    for (const eventId of events) {
      const removed: string[] = [];
      for await (const chunk of scanUnseen(sink, state, eventId, scope)) removed.push(...chunk);
      const written = upserts.get(eventId) ?? [];
      if (written.length === 0 && removed.length === 0) continue;
      const held = removed.length > 0 ? await sink.countRecords(eventId) : 0;
      out.push({
        eventId,
        upserts: written.length,
        removals: removed.length,
        upsertIds: written.length <= limit ? written.sort() : undefined,
        removalIds: removed.length <= limit ? removed.sort() : undefined,
        removalBlocked: removed.length / Math.max(held, 1) > deps.options.maxRemovalShare,
      });
    }
    return {
      upserts: out.reduce((n, e) => n + e.upserts, 0),
      removals: out.reduce((n, e) => n + e.removals, 0),
      rejected,
      listed,
      events: out,
    };
  } finally {
    await state.releaseScope(scope, [...events]);
  }
}
