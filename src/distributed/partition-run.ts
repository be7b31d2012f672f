/**
 * One job's share of a distributed run: a complete listing of some events (a partition of a full
 * sync, or a forced sync of one event), written in place and swept, under the per-event leases of
 * those events. Built from the same strategy functions as `SyncWorker` (`runFullSync`), so a
 * partition keeps their guarantees: nothing removed after an incomplete or resumed listing, the
 * checkpoint saved after each committed page (a killed process's retry resumes from it).
 */
import type { Cluster, Redis } from 'ioredis';
import pLimit from 'p-limit';
import type { ApiCallCounts, SourceAdapter, SourceEvent } from '../adapters/source.js';
import { LeaseError, type SyncError } from '../errors.js';
import { type Logger, withMinimumLevel } from '../logger.js';
import type { RedisSink } from '../redis/redis-sink.js';
import type { SyncWorkerEvents } from '../worker/events.js';
import { runFullSync } from '../worker/full-sync.js';
import type { ResolvedSyncWorkerOptions } from '../worker/options.js';
import { RunContext, type SafeEmit } from '../worker/run-context.js';
import type { RunKind, RunProgress } from '../worker/run.js';
import { RetryingSink, retryingStateStore } from '../worker/sink-retry.js';
import { acquireEventLeases, EventLeaseBusyError } from './event-leases.js';
import { callsBetween } from '../worker/call-counts.js';

/** What a partition job returns (JSON: it travels as the BullMQ job's return value). */
export interface PartitionResult extends RunProgress {
  /** Events synced in full. */
  readonly eventsSynced: number;
  /** The listing continued from a checkpoint (so it removed nothing). */
  readonly resumed: boolean;
  /** Highest modification instant listed (epoch ms), or `null`. */
  readonly maxModifiedAt: number | null;
  /** When the listing started (epoch ms). */
  readonly listingStartedAt: number;
  /** Zoho calls of this job. */
  readonly apiCalls: ApiCallCounts;
}

/** What {@link runPartition} needs. */
export interface PartitionRunInput {
  readonly runId: string;
  readonly kind: RunKind;
  /** For a forced sync: the event. */
  readonly eventId: string | undefined;
  readonly eventIds: readonly string[];
  /** The events as the planner listed them, or `undefined` to list them (forced sync validates its event). */
  readonly events: readonly SourceEvent[] | undefined;
  /** Checkpoint name, unique per partition of the run (a retry resumes it). */
  readonly checkpointName: string;
  readonly allowMassRemoval: boolean;
  readonly source: SourceAdapter;
  readonly sink: RedisSink;
  /** The sink's ioredis client (the per-event leases live next to the event's keys). */
  readonly redis: Redis | Cluster;
  readonly options: ResolvedSyncWorkerOptions;
  readonly logger: Logger;
  /** Receives the strategies' typed events (re-published to every replica by the caller). */
  readonly emit: SafeEmit;
  /** Owner token of the per-event leases (unique per job attempt). */
  readonly owner: string;
  /** Per-event lease time-to-live. Unit: ms. */
  readonly leaseTtlMs: number;
  readonly signal: AbortSignal;
}

/** Another job holds the lease of one of the job's events (defined next to the leases). */
export { EventLeaseBusyError };

const ZERO: ApiCallCounts = { token: 0, records: 0, ids: 0, meta: 0, total: 0 };

/** What {@link withEventLeases} needs: {@link PartitionRunInput} without the listing's plan. */
export type LeasedJobInput = Pick<
  PartitionRunInput,
  'runId' | 'kind' | 'eventId' | 'eventIds' | 'source' | 'sink' | 'redis' | 'options' | 'logger' | 'emit' | 'owner' | 'leaseTtlMs' | 'signal'
>;

/**
 * Runs `work` under the per-event leases of `input.eventIds` (renewed every third of their life;
 * a lost lease aborts the run context's signal), with a run context of its own.
 *
 * @returns `work`'s value, the context (progress, events synced) and the Zoho calls made meanwhile.
 * @throws {@link EventLeaseBusyError} when another job holds one of the leases (nothing ran);
 *   {@link LeaseError} when a lease was lost midway; any error of `work`.
 */
export async function withEventLeases<T>(input: LeasedJobInput, work: (ctx: RunContext) => Promise<T>): Promise<{ value: T; ctx: RunContext; apiCalls: ApiCallCounts }> {
  const leases = await acquireEventLeases(input.redis, input.sink.keys, input.eventIds, input.owner, input.leaseTtlMs);
  if ('heldBy' in leases) {
    throw new EventLeaseBusyError(leases.eventId);
  }
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(input.signal.reason);
  input.signal.addEventListener('abort', onAbort, { once: true });
  let renewing = false;
  const renew = setInterval(
    () => {
      if (renewing) return;
      renewing = true;
      leases.renew().then(
        (lost) => {
          renewing = false;
          if (lost.length > 0) controller.abort(new LeaseError(`Lost the lease of event ${lost[0]} mid-listing; stopped writing`));
        },
        () => {
          renewing = false;
        },
      );
    },
    Math.max(250, Math.floor(input.leaseTtlMs / 3)),
  );
  const callsBefore = input.source.getCallCounts?.() ?? ZERO;
  const state = retryingStateStore(input.sink.state, { retries: input.options.maxRetries, signal: controller.signal });
  const ctx = new RunContext(
    input.runId,
    input.kind,
    input.eventId,
    Date.now(),
    controller.signal,
    input.source,
    new RetryingSink(input.sink, { retries: input.options.maxRetries, signal: controller.signal }, state),
    state,
    input.options,
    input.logger,
    withMinimumLevel(input.logger, input.options.redisLogLevel),
    input.emit,
    pLimit(input.options.concurrency),
  );
  try {
    const value = await work(ctx);
    ctx.throwIfAborted();
    const after = input.source.getCallCounts?.() ?? ZERO;
    const apiCalls = callsBetween(after, callsBefore);
    return { value, ctx, apiCalls };
  } catch (error) {
    if (controller.signal.aborted && controller.signal.reason instanceof Error) throw controller.signal.reason as SyncError;
    throw error;
  } finally {
    clearInterval(renew);
    input.signal.removeEventListener('abort', onAbort);
    await leases.release();
  }
}

/**
 * Runs one partition under its events' leases.
 *
 * @throws {@link EventLeaseBusyError} when another job holds one of the events' leases (retry
 *   later); {@link LeaseError} when a lease was lost mid-listing; any `SyncError` of the listing (the checkpoint stays for the retry).
 */
export async function runPartition(input: PartitionRunInput): Promise<PartitionResult> {
  const { value: outcome, ctx, apiCalls } = await withEventLeases(input, (ctx) =>
    runFullSync(ctx, {
      eventIds: input.eventIds,
      events: input.events,
      checkpointName: input.checkpointName,
      allowMassRemoval: input.allowMassRemoval,
      advanceWatermark: false,
    }),
  );
  return {
    ...ctx.progress,
    eventsSynced: ctx.eventsSynced,
    resumed: ctx.resumed,
    maxModifiedAt: outcome.maxModifiedAt ?? null,
    listingStartedAt: outcome.listingStartedAt,
    apiCalls,
  };
}

/** The event names a job re-publishes to every replica (the rest are process-local). */
export const PUBLISHED_EVENTS: readonly (keyof SyncWorkerEvents)[] = [
  'eventSynced',
  'recordsAdded',
  'recordsUpdated',
  'recordsRemoved',
  'staleWritesRefused',
  'discrepancyFound',
  'recordDeadLettered',
  'massRemovalBlocked',
];
