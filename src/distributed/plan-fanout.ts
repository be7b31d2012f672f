/**
 * The plan of a distributed run (`DistributedSync.plan()`): the same {@link RunPlan} as a
 * `SyncWorker`'s, with the Zoho calls of the fan-out a full sync or a discrepancy check makes —
 * one events list in the root job, then one listing per partition planned from Redis's counts
 * ({@link planFromRedisCounts}, as the run plans them), and for a healing check one records listing
 * per heal partition. An incremental and a forced sync run as in a single process, so their plan is
 * the single-process one. Writes nothing (the writes of a full sync are found as a `SyncWorker`'s
 * plan finds them: one ID-only listing compared with Redis).
 *
 * Not counted: token grants of other processes that take partitions without a cached token.
 */
import type { ListingEstimate, SourceAdapter } from '../adapters/source.js';
import type { RedisSink } from '../redis/redis-sink.js';
import { chooseListing, expectedRecordCounts, type Listing } from '../worker/listing-strategy.js';
import type { ResolvedSyncWorkerOptions } from '../worker/options.js';
import { computePlan, type PlanOptions, type RunPlan } from '../worker/plan.js';
import type { RunKind } from '../worker/run.js';
import { planFromRedisCounts, planPartitions } from './partition-plan.js';

/** What {@link planDistributedRun} needs. */
export interface DistributedPlanDeps {
  readonly source: SourceAdapter;
  readonly sink: RedisSink;
  readonly options: ResolvedSyncWorkerOptions;
  /** `DistributedSyncOptions.unknownPartitions`. Unit: partitions. */
  readonly unknownPartitions: number;
}

/**
 * Plans a distributed run of `kind`. Zoho calls: none, except the ID-only listing behind `writes`
 * (as `SyncWorker.plan()`). Redis: reads, plus that comparison's temporary seen set.
 *
 * @throws the source's or Redis's `SyncError`s, as a run would.
 */
export async function planDistributedRun(deps: DistributedPlanDeps, kind: RunKind, options: PlanOptions = {}): Promise<RunPlan> {
  const { source, sink } = deps;
  const state = sink.state;
  const base = await computePlan({ source, sink, state, options: deps.options }, kind, options);
  if (kind !== 'full' && kind !== 'discrepancy-check') return base;

  const known = await state.listEventIds();
  const partitions = (await planFromRedisCounts(state, known, { unknownPartitions: deps.unknownPartitions })).partitions;
  const listingKind = kind === 'full' ? 'records' : 'ids';
  // Records per partition as the single-process plan counts them (sourceCount, else the index
  // size); where `expectedRecordCount` is set, the records Redis cannot account for are spread
  // evenly over the partitions of unknown size.
  const counted = await Promise.all(partitions.map((p) => expectedRecordCounts(state, sink, p.eventIds)));
  const byOption = deps.options.expectedRecordCount;
  const unknownParts = partitions.filter((p) => p.expectedRecords === 0).length;
  const knownTotal = counted.reduce((n, c, i) => n + (partitions[i]!.expectedRecords === 0 ? 0 : c.records), 0);
  const spread = byOption === undefined || unknownParts === 0 ? undefined : Math.ceil(Math.max(0, byOption - knownTotal) / unknownParts);
  const listings: ListingEstimate[] = [];
  const strategies: Listing[] = [];
  if (known.length === 0) {
    // Redis knows no event: the run spreads Zoho's events over at most `unknownPartitions` listings.
    const records = Math.ceil((byOption ?? 0) / deps.unknownPartitions);
    const listing = await chooseListing(state, sink, deps.options, undefined);
    for (let i = 0; i < deps.unknownPartitions; i += 1) listings.push({ kind: listingKind, listing, records, eventCount: 1 });
    strategies.push(listing);
  }
  for (const [i, p] of partitions.entries()) {
    const listing = await chooseListing(state, sink, deps.options, p.eventIds);
    strategies.push(listing);
    const records = spread !== undefined && p.expectedRecords === 0 ? Math.max(spread, counted[i]!.records) : counted[i]!.records;
    listings.push({ kind: listingKind, listing, records, eventCount: p.eventIds.length });
  }
  if (kind === 'discrepancy-check' && base.writes !== undefined) {
    // Heal children: the events with records to write, grouped as `planHeal` groups them.
    const resync = base.writes.events.filter((e) => e.upserts > 0).map((e) => e.eventId);
    const counts = await state.getEventStates(resync);
    const heal = planPartitions(resync.map((id, i) => ({ id, expectedRecords: counts[i]?.sourceCount })));
    for (const p of heal.partitions) {
      const records = (await expectedRecordCounts(state, sink, p.eventIds)).records;
      listings.push({ kind: 'records', listing: 'paged', records, eventCount: p.eventIds.length });
    }
  }
  const estimate = source.estimateCalls?.({ events: known.length, listings });
  const inexact = base.inexact.filter((why) => !why.startsWith('A bulk job') && !why.startsWith('Redis holds no'));
  // The partitions are planned from Redis's counts, whatever the single-process plan's own ID
  // listing counted: without them, each partition's pages are a floor.
  const countsKnown = byOption !== undefined || (known.length > 0 && counted.every((c) => c.unknownEvents === 0));
  if (!countsKnown) {
    inexact.push(
      known.length === 0
        ? 'Redis holds no events or record counts yet (no complete listing): the partitions are a guess and their pages a floor; set expectedRecordCount for a budget.'
        : 'Redis holds no record count for some of the events listed (no complete listing of them yet): their partitions\' pages are a floor.',
    );
  }
  if (estimate?.listings?.includes('bulk')) inexact.push('A bulk job takes status polls until Zoho finishes it: counted as one per job.');
  const calls =
    estimate === undefined ? undefined : { ...estimate, exact: estimate.exact && countsKnown && byOption === undefined };
  // The label: what the first (largest) partition's listing will actually be.
  const wanted = strategies[0] ?? base.listing;
  const actual = estimate?.listings?.[0] ?? wanted;
  const bulkFallback = wanted === 'bulk' && actual === 'paged' ? (estimate?.bulkFallback ?? 'the source lists page by page') : undefined;
  return { ...base, countsKnown, listing: bulkFallback === undefined ? wanted : 'paged', bulkFallback, calls, inexact };
}
