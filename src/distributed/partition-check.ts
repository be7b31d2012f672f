/**
 * A fanned-out discrepancy check (distributed mode): the root job plans partitions from Redis's
 * counts exactly as a full sync does ({@link planFromRedisCounts}), each `check-partition` child
 * compares its events with one criteria ID listing under their per-event leases (the same
 * `compareWithSource` a single `SyncWorker` runs over the whole report), and the root's finalize
 * step combines the children into one `DiscrepancyReport` — the shape, order and totals of
 * `SyncWorker.checkDiscrepancies()` — and publishes `discrepancyFound` once.
 *
 * With `heal`, the mass-removal guard is applied by the root to the combined report before
 * anything is written (a refused check changes nothing, as in a single process); then
 * `heal-partition` children repair exactly what the report names, each under the leases of the
 * events it heals: the events with missing or stale records are re-read in partitions planned
 * from their Zoho counts (about the calls of the single process's one restricted listing), the
 * others only get their extras removed and their metadata written. Zoho calls of a check: one
 * events listing, plus the planned partitions' listings (within 1.1× of one whole-report listing,
 * see `planPartitions`), plus, when healing, the heal partitions' listings.
 *
 * Known difference: a whole-report listing also returns records of events that neither Zoho's
 * events listing nor Redis knows; a criteria listing per partition does not (a full sync has the same scope).
 */
import { type Job, type JobsOptions, type Queue, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import type { ApiCallCounts, SourceAdapter } from '../adapters/source.js';
import type { Logger } from '../logger.js';
import type { RedisSink } from '../redis/redis-sink.js';
import type { DiscrepancyReport, EventDiscrepancy, HealSummary } from '../worker/discrepancy.js';
import type { SyncWorkerEvents } from '../worker/events.js';
import type { ResolvedSyncWorkerOptions } from '../worker/options.js';
import { buildReport, checkHealGuard, compareWithSource, healDiscrepancies } from '../worker/reconcile.js';
import type { RunProgress } from '../worker/run.js';
import { decodeFailure } from './job-failure.js';
import { planFromRedisCounts, planPartitions } from './partition-plan.js';
import { type LeasedJobInput, type PartitionResult, withEventLeases } from './partition-run.js';
import { callsBetween } from '../worker/call-counts.js';

/** The root job's data as the check uses it (JSON in the BullMQ job). */
export interface CheckRootData {
  readonly runId?: string;
  readonly allowMassRemoval?: boolean;
  readonly heal?: boolean;
  /** `plan` → `finalize` (check children done) → `heal` (heal children done). */
  readonly step?: 'plan' | 'finalize' | 'heal';
  readonly startedAt?: number;
  readonly planCalls?: ApiCallCounts;
  /** Events reported on, in report order: Zoho's, then Redis-only ones. */
  readonly checkTargets?: readonly string[];
  /** When the comparison finished (epoch ms): the report's `checkedAt`. */
  readonly checkedAt?: number;
}

/** Data of a `check-partition` job. */
export interface CheckPartitionData {
  readonly runId: string;
  readonly index: number;
  readonly eventIds: readonly string[];
}

/** Data of a `heal-partition` job: the report's entries of its events. */
export interface HealPartitionData {
  readonly runId: string;
  readonly index: number;
  readonly entries: readonly EventDiscrepancy[];
  readonly allowMassRemoval: boolean;
}

/** What a `check-partition` job returns (JSON). */
export interface CheckPartitionResult extends PartitionResult {
  /** One entry per event of the partition. */
  readonly entries: readonly EventDiscrepancy[];
}

/** What a `heal-partition` job returns (JSON). */
export interface HealPartitionResult extends PartitionResult {
  readonly healed: HealSummary;
}

/** What the root step needs from its `DistributedSync`. */
export interface CheckRootDeps {
  readonly queue: Queue;
  readonly jobOptions: () => JobsOptions;
  readonly source: SourceAdapter;
  readonly sink: RedisSink;
  readonly options: ResolvedSyncWorkerOptions;
  readonly logger: Logger;
  readonly unknownPartitions: number;
  /** Re-publishes a typed event to every replica. */
  readonly publish: (job: Job, event: keyof SyncWorkerEvents, payload: unknown) => Promise<void>;
}

/** The finished check: the combined report and the children's results (for the run's totals). */
export interface CheckOutcome {
  readonly report: DiscrepancyReport;
  readonly parts: readonly PartitionResult[];
  readonly apiCalls: ApiCallCounts;
}

const ZERO: ApiCallCounts = { token: 0, records: 0, ids: 0, meta: 0, total: 0 };

/**
 * One step of the root job of a fanned-out check. Plans and queues the check children (then
 * parks the job), combines them, applies the removal guard and queues the heal children (parks
 * again), and finally returns the report.
 *
 * @throws {@link WaitingChildrenError} while children run (BullMQ processes the job again after them);
 *   {@link MassRemovalError} when healing would remove too much (nothing written);
 *   `UnrecoverableError` when a child failed for good.
 */
export async function runCheckRoot(
  deps: CheckRootDeps,
  job: Job<CheckRootData>,
  token: string | undefined,
  runId: string,
  startedAt: number,
  signal: AbortSignal,
): Promise<CheckOutcome> {
  const step = job.data.step ?? 'plan';
  const base = { ...deps.jobOptions(), parent: { id: job.id!, queue: job.queueQualifiedName }, ignoreDependencyOnFailure: true };
  if (step === 'plan') {
    const before = deps.source.getCallCounts?.() ?? ZERO;
    const events = await deps.source.listEvents({ signal, retries: deps.options.maxRetries });
    const targets = [...new Set([...events.map((e) => e.id), ...(await deps.sink.state.listEventIds())])];
    const plan = await planFromRedisCounts(deps.sink.state, targets, { unknownPartitions: deps.unknownPartitions });
    const after = deps.source.getCallCounts?.() ?? ZERO;
    deps.logger.info(`Discrepancy check ${runId}: ${plan.partitions.length} partitions, about ${plan.expectedCalls} Zoho calls (one listing: ${plan.singleListingCalls})`);
    // Children first, then the step: a root retried in between queues the same job IDs again (a no-op).
    await deps.queue.addBulk(
      plan.partitions.map((p) => ({
        name: 'check-partition',
        data: { runId, index: p.index, eventIds: p.eventIds } satisfies CheckPartitionData,
        opts: { ...base, jobId: `run-${runId}-c${p.index}` },
      })),
    );
    await job.updateData({ ...job.data, runId, startedAt, step: 'finalize', planCalls: callsBetween(after, before), checkTargets: targets });
    if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
  }
  await throwOnFailedChildren(job);
  const values = await job.getChildrenValues<CheckPartitionResult | HealPartitionResult>();
  const checks = childResults<CheckPartitionResult>(values, runId, 'c');
  const entries = ordered(job.data.checkTargets ?? [], checks.flatMap((c) => c.entries));
  const checkedAt = job.data.checkedAt ?? Date.now();
  const report: DiscrepancyReport = { ...buildReport(entries), checkedAt: new Date(checkedAt).toISOString() };
  const calls = (parts: readonly PartitionResult[]): ApiCallCounts => parts.reduce((sum, p) => add(sum, p.apiCalls), job.data.planCalls ?? ZERO);
  if (!job.data.heal) {
    if (report.hasDiscrepancies) await announce(deps, job, runId, report);
    return { report, parts: checks, apiCalls: calls(checks) };
  }

  if (step !== 'heal') {
    if (report.hasDiscrepancies) await announce(deps, job, runId, report);
    const published: Promise<void>[] = [];
    const emit = ((event: keyof SyncWorkerEvents, payload: unknown) => {
      published.push(deps.publish(job, event, payload).catch(() => undefined));
    }) as never;
    try {
      checkHealGuard({ runId, options: deps.options, emit }, entries, job.data.allowMassRemoval ?? false);
    } finally {
      await Promise.all(published);
    }
    const groups = planHeal(entries);
    await deps.queue.addBulk(
      groups.map((group, index) => ({
        name: 'heal-partition',
        data: { runId, index, entries: group, allowMassRemoval: job.data.allowMassRemoval ?? false } satisfies HealPartitionData,
        opts: { ...base, jobId: `run-${runId}-h${index}` },
      })),
    );
    await job.updateData({ ...job.data, step: 'heal', checkedAt });
    if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
    await throwOnFailedChildren(job);
  }
  const heals = childResults<HealPartitionResult>(await job.getChildrenValues(), runId, 'h');
  const healed: { -readonly [K in keyof HealSummary]: number } = { added: 0, updated: 0, removed: 0, eventsResynced: 0 };
  for (const h of heals) for (const k of Object.keys(healed) as (keyof HealSummary)[]) healed[k] += h.healed[k];
  return { report: { ...report, healed }, parts: [...checks, ...heals], apiCalls: calls([...checks, ...heals]) };
}

/**
 * Runs a `check-partition` or `heal-partition` job under the per-event leases of its events.
 * @throws `EventLeaseBusyError` when another job writes one of its events (retry later); any `SyncError` of the listing or of Redis.
 */
export async function runCheckChild(job: Job<CheckPartitionData | HealPartitionData>, input: Omit<LeasedJobInput, 'runId' | 'kind' | 'eventId' | 'eventIds'>): Promise<CheckPartitionResult | HealPartitionResult> {
  const d = job.data;
  const common = { ...input, runId: d.runId, kind: 'discrepancy-check' as const, eventId: undefined };
  const startedAt = Date.now();
  const result = (ctx: { progress: RunProgress; eventsSynced: number }, apiCalls: ApiCallCounts): PartitionResult => ({
    ...ctx.progress,
    eventsSynced: ctx.eventsSynced,
    resumed: false,
    maxModifiedAt: null,
    listingStartedAt: startedAt,
    apiCalls,
  });
  if ('entries' in d) {
    const eventIds = d.entries.map((e) => e.eventId);
    const { value, ctx, apiCalls } = await withEventLeases({ ...common, eventIds }, (ctx) => healDiscrepancies(ctx, d.entries, d.allowMassRemoval));
    return { ...result(ctx, apiCalls), healed: value } satisfies HealPartitionResult;
  }
  const scope = `${d.runId}:check:${d.index}`;
  const { value, ctx, apiCalls } = await withEventLeases({ ...common, eventIds: d.eventIds }, async (ctx) => {
    // A retry after a killed attempt starts from an empty seen scope.
    await ctx.state.releaseScope(scope, d.eventIds);
    return compareWithSource(ctx, { eventIds: d.eventIds, targets: d.eventIds, scope });
  });
  return { ...result(ctx, apiCalls), entries: value } satisfies CheckPartitionResult;
}

/**
 * Groups a report's entries into heal jobs: the events with missing or stale records in
 * partitions planned from their Zoho counts (one restricted listing each), every other event
 * spread over those jobs (no listing: extras removed, metadata written), or over jobs of at most
 * 50 events when no event needs records.
 */
export function planHeal(entries: readonly EventDiscrepancy[]): EventDiscrepancy[][] {
  const byId = new Map(entries.map((e) => [e.eventId, e]));
  const needsRecords = (e: EventDiscrepancy): boolean => e.missingInRedis.length > 0 || e.stale.length > 0;
  const plan = planPartitions(entries.filter(needsRecords).map((e) => ({ id: e.eventId, expectedRecords: e.zohoCount })));
  const groups = plan.partitions.map((p) => p.eventIds.map((id) => byId.get(id)!));
  const rest = entries.filter((e) => !needsRecords(e));
  if (groups.length === 0) {
    for (let i = 0; i < rest.length; i += 50) groups.push(rest.slice(i, i + 50));
  } else {
    for (const [i, e] of rest.entries()) groups[i % groups.length]!.push(e);
  }
  return groups;
}

async function announce(deps: CheckRootDeps, job: Job, runId: string, report: DiscrepancyReport): Promise<void> {
  deps.logger.warn('Discrepancies between Zoho and Redis', { runId, ...report.totals });
  await deps.publish(job, 'discrepancyFound', report).catch(() => undefined);
}

async function throwOnFailedChildren(job: Job): Promise<void> {
  const failed = Object.values(await job.getIgnoredChildrenFailures());
  if (failed.length > 0) {
    throw new UnrecoverableError(`${failed.length} partitions of the discrepancy check failed: ${decodeFailure(new Error(String(failed[0]))).message}`);
  }
}

/** The values of this run's children of one kind (`c` check, `h` heal), in partition order. */
function childResults<T>(values: Record<string, unknown>, runId: string, tag: 'c' | 'h'): T[] {
  const pattern = new RegExp(`:run-${runId}-${tag}(\\d+)$`);
  return Object.entries(values)
    .map(([key, value]) => ({ index: Number(pattern.exec(key)?.[1] ?? -1), value: value as T }))
    .filter((v) => v.index >= 0)
    .sort((a, b) => a.index - b.index)
    .map((v) => v.value);
}

/** Entries in the single process's order: the targets' order, then any other event (by ID). */
function ordered(targets: readonly string[], entries: readonly EventDiscrepancy[]): EventDiscrepancy[] {
  const rank = new Map(targets.map((id, i) => [id, i]));
  return [...entries].sort((a, b) => (rank.get(a.eventId) ?? Infinity) - (rank.get(b.eventId) ?? Infinity) || a.eventId.localeCompare(b.eventId));
}

function add(a: ApiCallCounts, b: ApiCallCounts): ApiCallCounts {
  return { token: a.token + b.token, records: a.records + b.records, ids: a.ids + b.ids, meta: a.meta + b.meta, total: a.total + b.total };
}

