/**
 * `SyncWorker`: keeps a sink (Redis) equal to a source (Zoho Creator) with full, incremental and
 * forced syncs, discrepancy checks and single-record syncs, one run at a time, with typed events.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import pLimit from 'p-limit';
import type { RecordSink } from '../adapters/sink.js';
import type { ApiCallCounts, SourceAdapter } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import {
  AbortedError,
  BusyError,
  InvalidInputError,
  isSyncError,
  LeaseError,
  SinkError,
  QuotaBudgetError,
  SyncError,
  SyncErrorCode,
  toSyncError,
} from '../errors.js';
import { type Logger, withMinimumLevel } from '../logger.js';
import { newOwnerToken } from './lease-owner.js';
import { acquireRunLease, type HeldLease, leaseHolderText, supportsRunLease } from './run-lease.js';
import { WaitTimeout, withTimeout } from '../internal/with-timeout.js';
import type { DiscrepancyReport } from './discrepancy.js';
import type { RunSkipReason, SyncWorkerEvents } from './events.js';
import { runFullSync } from './full-sync.js';
import { runIncrementalSync } from './incremental-sync.js';
import { checkRunOptions, type ResolvedSyncWorkerOptions, resolveLogger, resolveOptions, type SyncWorkerOptions } from './options.js';
import { assertEventInZoho, computePlan, type PlanOptions, type RunPlan } from './plan.js';
import { DailyQuota, type QuotaUsage } from './quota.js';
import { reconcile } from './reconcile.js';
import { type RecordSyncResult, syncOneRecord } from './record-sync.js';
import { abortReason, type EventGuard, RunContext, type SafeEmit } from './run-context.js';
import type { RunHandle, RunInfo, RunKind, RunRequest, RunResult } from './run.js';
import { deadLetter } from './page-writer.js';
import { ScreenedSource } from './screened-source.js';
import { RetryingSink, retryingStateStore, type SinkRetryOptions } from './sink-retry.js';
import { emptyStats, type StatusLastRun, type SyncStats, type SyncWorkerStatus } from './status.js';
import { callsBetween } from './call-counts.js';

const RECORD_ID = /^\d{1,19}$/;
/** The keys of {@link SyncRunOptions} and {@link DiscrepancyCheckOptions} (checked at run time, like constructor options). */
const RUN_OPTIONS: readonly string[] = ['allowMassRemoval', 'ignoreQuotaBudget'];
const DISCREPANCY_CHECK_OPTIONS: readonly string[] = ['allowMassRemoval', 'heal', 'ignoreQuotaBudget'];

/** Options of a manual sync. */
export interface SyncRunOptions {
  /** Bypass the mass-removal guard for this run. @defaultValue false */
  allowMassRemoval?: boolean | undefined;
  /** Run even when the plan needs more Zoho calls than `dailyCallLimit` leaves today. @defaultValue false */
  ignoreQuotaBudget?: boolean | undefined;
}

/** A plan together with today's quota. */
export interface RunPlanWithQuota extends RunPlan {
  /** Today's tally in the store, with `dailyCallLimit`; `undefined` when the sink keeps none. */
  readonly quota: QuotaUsage | undefined;
  /**
   * Whether the run would be admitted under `dailyCallLimit`: the estimate fits the calls left today
   * and the record counts are known (`false` when they are not: the run would be refused).
   * `undefined` without `dailyCallLimit` or an estimate.
   */
  readonly fitsQuota: boolean | undefined;
}

/** Options of {@link SyncWorker.checkDiscrepancies}. */
export interface DiscrepancyCheckOptions extends SyncRunOptions {
  /** Repair exactly the records the check names. @defaultValue false */
  heal?: boolean | undefined;
}

interface ActiveRun {
  readonly handle: RunHandle;
  readonly controller: AbortController;
}

/**
 * What distributed mode passes to the `SyncWorker` it runs an incremental in (not a user option).
 * @internal
 */
export interface SyncWorkerInternals {
  /** Creates each run's {@link EventGuard} (per-event leases); `abort` stops the run (a lease lost midway). */
  readonly eventGuard?: ((run: { readonly runId: string; readonly abort: (reason: SyncError) => void }) => EventGuard) | undefined;
}

/** Who started a run: a caller (`trigger()` and the `perform*` methods), `start()`, or the timer. */
type RunOrigin = 'manual' | 'start' | 'tick';

/**
 * Longest time `stop()` waits for the aborted run to settle (its sink call in flight to answer or
 * reach its deadline, the lease release). A run that settles later does so by itself: it is
 * aborted and writes nothing more that counts. Unit: ms.
 */
export const STOP_TIMEOUT_MS = 5000;

/** Longest wait for the store's eviction policy at start. Unit: ms. */
const EVICTION_READ_TIMEOUT_MS = 1000;

const ZERO_CALLS: ApiCallCounts = Object.freeze({ token: 0, records: 0, ids: 0, meta: 0, total: 0 });

/**
 * The sync worker. Create it with a source and a sink, then `start()` it (full sync now, an
 * incremental sync every `syncIntervalMs`) or call the strategies yourself.
 *
 * Runs never overlap inside a process (a second trigger throws {@link BusyError}, a timer tick
 * that finds a run in flight is skipped and counted) and, when the sink supports it, across
 * processes (a lease in Redis; see the README's "Several replicas").
 *
 * @example
 * ```ts
 * const worker = new SyncWorker({ source, sink, ...configFromEnv() });
 * worker.on('syncCompleted', (r) => console.log(r.added, r.updated, r.removed));
 * await worker.start();
 * ```
 */
export class SyncWorker extends EventEmitter<SyncWorkerEvents> {
  /** The resolved options (defaults applied). */
  readonly options: ResolvedSyncWorkerOptions;
  readonly #source: SourceAdapter;
  readonly #sink: RecordSink;
  readonly #state: StateStore;
  readonly #logger: Logger;
  readonly #redisLogger: Logger;
  readonly #limit: ReturnType<typeof pLimit>;
  /** `<host>:<pid>:<uuid>`: a refused replica can tell who holds the lease. */
  readonly #owner = newOwnerToken();
  readonly #callsAtCreation: ApiCallCounts;
  readonly #internals: SyncWorkerInternals;
  #started = false;
  /** The `lastSyncAt` this worker last wrote to the sink (epoch ms). */
  #lastSyncAtWritten: number | undefined;
  #starting: Promise<void> | undefined;
  #stopGeneration = 0;
  #timer: NodeJS.Timeout | undefined;
  #current: ActiveRun | undefined;
  #lastSyncTime: string | null = null;
  #lastRun: StatusLastRun | null = null;
  #lastRunCalls: ApiCallCounts = ZERO_CALLS;
  #quotaExhaustedAt: number | undefined;
  readonly #quota: DailyQuota;
  #leaseHeld = false;
  #leaseLost = 0;
  #watermark: number | undefined;
  /** The state store's eviction policy, read at start(). */
  #eviction: { readonly policy: string | undefined; readonly warning: string | undefined } | undefined;
  readonly #stats: SyncStats = emptyStats();


  /**
   * @param internals - for distributed mode only (not a user option): see {@link SyncWorkerInternals}.
   * @throws {@link ConfigError} naming the option when an option is missing, unknown or out of range.
   */
  constructor(options: SyncWorkerOptions, internals: SyncWorkerInternals = {}) {
    super();
    this.#internals = internals;
    this.options = resolveOptions(options);
    this.#source = options.source;
    this.#sink = options.sink;
    // resolveOptions checked that one of them is a state store.
    this.#state = (options.state ?? options.sink.state)!;
    this.#logger = resolveLogger(options, this.options);
    this.#redisLogger = withMinimumLevel(this.#logger, this.options.redisLogLevel);
    this.#limit = pLimit(this.options.concurrency);
    this.#callsAtCreation = this.#callCounts();
    this.#quota = new DailyQuota(this.#state, this.options.dailyCallLimit, this.options.quotaTimeZone, this.#logger);
  }

  /** Whether the worker is started (automatic syncing on). */
  get isRunning(): boolean {
    return this.#started;
  }

  /** The run in flight, if any. */
  get currentRun(): RunInfo | undefined {
    return this.#current?.handle;
  }

  /**
   * Starts the worker: checks the sink answers, then (with `enableAutoSync`) starts a full sync —
   * resuming an interrupted one from its checkpoint — and schedules an incremental sync every
   * `syncIntervalMs`. Resolves once started, without waiting for the first run (see `currentRun`).
   * Idempotent.
   *
   * The start-up run and the ticks are automatic runs: when another replica holds the sync lease,
   * or Zoho's daily limit was hit less than `quotaPauseMs` ago, they are skipped (`runSkipped`
   * event, `stats.lease_skipped_runs` / `stats.quota_skipped_runs`) instead of failing. After a
   * start-up run skipped for the lease, the first tick comes after `min(syncIntervalMs, lease.ttlMs)`
   * (the time a crashed owner's lease takes to expire).
   *
   * @throws {@link SinkError} when the sink does not answer (no Zoho call is made).
   */
  async start(): Promise<void> {
    if (this.#started) return;
    // Concurrent start() calls share one start-up (two would set up two timer chains).
    this.#starting ??= this.#startOnce().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #startOnce(): Promise<void> {
    const generation = this.#stopGeneration;
    await Promise.all([this.#sink.ping(), this.#state === this.#sink.state ? undefined : this.#state.ping()]);
    // stop() was called while the sink was being checked: stay stopped.
    if (generation !== this.#stopGeneration) return;
    await this.#checkEviction();
    if (generation !== this.#stopGeneration) return;
    this.#started = true;
    this.#logger.info('Sync worker started', { syncIntervalMs: this.options.syncIntervalMs, enableAutoSync: this.options.enableAutoSync });
    if (!this.options.enableAutoSync) return;
    this.#schedule();
    if (!this.#current) this.#autoTrigger({ kind: 'full' }, 'start');
  }

  /**
   * Stops the worker: clears the timer, aborts the run in flight through its `AbortSignal` and waits
   * for it to settle (its checkpoint stays, so the next start resumes it) and for the lease to be
   * released — at most {@link STOP_TIMEOUT_MS} (5 s) in all, however the Redis client retries:
   * when Redis does not answer, `stop()` returns then and the aborted run settles by itself once
   * its sink call reaches its deadline. Leaves no timer or socket of the worker holding the
   * process: once the caller also closes its Redis client and the source, the process can exit.
   * Idempotent; never rejects.
   */
  async stop(): Promise<void> {
    this.#stopGeneration += 1;
    const wasStarted = this.#started;
    this.#started = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const run = this.#current;
    if (run) {
      run.controller.abort(new AbortedError('The worker was stopped'));
      const settled = await withTimeout(run.handle.result, STOP_TIMEOUT_MS).then(
        () => true,
        (error: unknown) => !(error instanceof WaitTimeout),
      );
      if (!settled) {
        this.#logger.warn(`The aborted run ${run.handle.id} did not settle within ${STOP_TIMEOUT_MS} ms (the sink does not answer); stop() returns, the run ends by itself`, {
          runId: run.handle.id,
        });
      }
    }
    if (wasStarted) this.#logger.info('Sync worker stopped');
  }

  /**
   * Starts a run and returns at once with its handle (ID, live progress, result promise). The
   * result promise is observed internally, so ignoring it never causes an unhandled rejection.
   *
   * @throws {@link BusyError} when a run is already in flight (carries its `runId`).
   * @throws {@link InvalidInputError} for a `force` request whose event ID is not 1–19 digits.
   */
  trigger(request: RunRequest): RunHandle {
    return this.#begin(request, 'manual');
  }

  #begin(request: RunRequest, origin: RunOrigin): RunHandle {
    if (request.kind === 'force' && (typeof request.eventId !== 'string' || !RECORD_ID.test(request.eventId))) {
      throw new InvalidInputError(
        `Event ID must be a string of 1–19 digits (Zoho IDs exceed 2^53, so numbers lose digits), got ${typeof request.eventId === 'string' ? JSON.stringify(request.eventId) : `a ${typeof request.eventId}`}`,
      );
    }
    if (this.#current) throw new BusyError(this.#current.handle.id, this.#current.handle.kind);
    const controller = new AbortController();
    const eventId = request.kind === 'force' ? request.eventId : undefined;
    const startedAt = Date.now();
    const state = this.#retryingState(controller.signal);
    // Events with an ID that is not 1–19 digits are dead-lettered as the run lists them.
    const source = new ScreenedSource(this.#source, (rejected) => deadLetter(ctx, rejected));
    const ctx: RunContext = new RunContext(
      randomUUID(),
      request.kind,
      eventId,
      startedAt,
      controller.signal,
      source,
      this.#retryingSink(controller.signal, state),
      state,
      this.options,
      this.#logger,
      this.#redisLogger,
      this.#safeEmit,
      this.#limit,
    );
    ctx.eventGuard = this.#internals.eventGuard?.({ runId: ctx.runId, abort: (reason) => controller.abort(reason) });
    const accepted = new Promise<void>((resolve) => {
      ctx.accept = resolve;
    });
    const result = this.#execute(ctx, request, controller, origin);
    result.catch(() => undefined);
    // Settles with the run: resolves at admission, or rejects with the run's error if it never got there
    // (a later settle of `result` cannot change an already resolved promise).
    const admitted = Promise.race([accepted, result.then(() => undefined)]);
    admitted.catch(() => undefined);
    const handle: RunHandle = {
      id: ctx.runId,
      kind: ctx.kind,
      eventId,
      startedAt: new Date(startedAt).toISOString(),
      progress: ctx.progress,
      accepted: admitted,
      result,
    };
    this.#current = { handle, controller };
    return handle;
  }

  /**
   * Full sync: lists every event, reads every registration page by page (Zoho calls:
   * 1 + ceil(events / 1000) + ceil(registrations / 1000)), writes in place, then removes what Zoho
   * no longer has — only after a complete listing, and within the mass-removal guard.
   *
   * @throws {@link ConfigError} naming the option for an unknown option or a non-boolean value (before
   *   any Zoho call); {@link BusyError} when a run is in flight; {@link MassRemovalError}; {@link ZohoApiError};
   *   {@link SinkError}; {@link VerificationError}; {@link AbortedError} / {@link LeaseError}.
   */
  async performFullSync(options: SyncRunOptions = {}): Promise<RunResult> {
    checkRunOptions('performFullSync', options, RUN_OPTIONS);
    return this.trigger({ kind: 'full', allowMassRemoval: options.allowMassRemoval, ignoreQuotaBudget: options.ignoreQuotaBudget }).result;
  }

  /**
   * Incremental sync: records modified since the watermark (minus `incrementalOverlapMs`) in one
   * listing over the whole report, then a staleness check (at most every `staleCheckIntervalMs`)
   * that heals stale events. Falls back to a full sync when there is no watermark yet.
   * Zoho calls with nothing changed: 2 (events list, one empty page).
   *
   * @throws the same errors as {@link SyncWorker.performFullSync}.
   */
  async performIncrementalSync(options: SyncRunOptions = {}): Promise<RunResult> {
    checkRunOptions('performIncrementalSync', options, RUN_OPTIONS);
    return this.trigger({ kind: 'incremental', allowMassRemoval: options.allowMassRemoval, ignoreQuotaBudget: options.ignoreQuotaBudget })
      .result;
  }

  /**
   * Re-reads one event's registrations completely (bypassing staleness), removes the ones that
   * left it, and touches no other event. Zoho calls: 1 + ceil(event's registrations / 1000).
   *
   * @throws {@link InvalidInputError} when `eventId` is not 1–19 digits; {@link UnknownEventError}
   *   when Zoho has no such event (a refused request, not a failed sync: no `syncStarted`/`syncFailed`,
   *   `failed_syncs` and `last_run` untouched, logged at WARN); otherwise as {@link SyncWorker.performFullSync}.
   */
  async forceSyncEvent(eventId: string, options: SyncRunOptions = {}): Promise<RunResult> {
    checkRunOptions('forceSyncEvent', options, RUN_OPTIONS);
    return this.trigger({ kind: 'force', eventId, allowMassRemoval: options.allowMassRemoval, ignoreQuotaBudget: options.ignoreQuotaBudget })
      .result;
  }

  /**
   * Compares Zoho with Redis for every event: counts, IDs missing from Redis, IDs Zoho no longer
   * has, IDs whose modification time differs. Emits `discrepancyFound` when anything differs;
   * with `heal`, repairs exactly those records. Memory holds only the drifted IDs.
   * Zoho calls: 1 + ceil(registrations / 1000), plus one listing of the affected events when healing.
   *
   * @throws {@link ConfigError} naming the option for an unknown option (e.g. `heals`) or a value that is
   *   not a boolean (e.g. `heal: 'yes'`); {@link BusyError} when a run is in flight; {@link ZohoApiError};
   *   {@link SinkError}; {@link MassRemovalError} when healing would remove too much.
   */
  async checkDiscrepancies(options: DiscrepancyCheckOptions = {}): Promise<DiscrepancyReport> {
    checkRunOptions('checkDiscrepancies', options, DISCREPANCY_CHECK_OPTIONS);
    const result = await this.trigger({
      kind: 'discrepancy-check',
      heal: options.heal,
      allowMassRemoval: options.allowMassRemoval,
      ignoreQuotaBudget: options.ignoreQuotaBudget,
    }).result;
    if (!result.discrepancies) throw new SyncError('The discrepancy check produced no report', SyncErrorCode.VERIFICATION);
    return result.discrepancies;
  }

  /**
   * What a run of `kind` would cost and do, without running it: Zoho calls by kind (from Redis's
   * counts and the listing strategy the run would choose; exact for paged listings, within a few
   * status polls for bulk), today's quota, and — for `full`, or `discrepancy-check` with `heal` —
   * the exact Redis writes and removals (IDs per event, counts only beyond `maxIdsPerEvent`),
   * found by an ID-only listing (its calls are in `planCalls`) compared with Redis. Writes no
   * record, index, metadata, checkpoint or watermark; takes no lease; runs beside a run in flight.
   *
   * @throws {@link InvalidInputError} for a `force` plan without a valid `eventId`; {@link ZohoApiError},
   *   {@link SinkError} as a run would.
   */
  async plan(kind: RunKind, options: PlanOptions = {}): Promise<RunPlanWithQuota> {
    if (kind === 'force' && (typeof options.eventId !== 'string' || !RECORD_ID.test(options.eventId))) {
      throw new InvalidInputError('A force plan needs `eventId`: a string of 1–19 digits');
    }
    // Screened as a run's listings are (whatever the listing strategy): an ID the run would
    // dead-letter is counted in `writes.rejected`, never compared with Redis; nothing is written.
    const source = new ScreenedSource(this.#source, async () => undefined);
    const deps = { source, sink: this.#retryingSink(options.signal), state: this.#retryingState(options.signal), options: this.options };
    const before = this.#callCounts();
    let plan: RunPlan;
    try {
      // A forced run first checks that Zoho has the event: so does its plan (an unknown event fails alike).
      if (kind === 'force') await assertEventInZoho(source, options.eventId!, { signal: options.signal, retries: this.options.maxRetries });
      const withoutWrites = await this.#writesOverBudget(deps, kind, options);
      plan = await computePlan(deps, kind, withoutWrites === undefined ? options : { ...options, writes: false });
      if (withoutWrites !== undefined) plan = { ...plan, inexact: [...plan.inexact, withoutWrites] };
    } finally {
      await this.#quota.record(callsBetween(this.#callCounts(), before));
    }
    const planCalls = callsBetween(this.#callCounts(), before);
    const quota = await this.#quota.read();
    return { ...plan, planCalls, quota, fitsQuota: fitsQuota(plan, quota) };
  }

  /**
   * Under `dailyCallLimit`: when the ID-only listing behind a plan's `writes` would need more Zoho
   * calls than are left today, the sentence saying the writes are not listed (the plan is then made
   * without them, so a plan never spends the calls its run would need); else `undefined`.
   */
  async #writesOverBudget(deps: Parameters<typeof computePlan>[0], kind: RunKind, options: PlanOptions): Promise<string | undefined> {
    const wantsWrites = options.writes !== false && (kind === 'full' || (kind === 'discrepancy-check' && options.heal === true));
    if (!wantsWrites || this.options.dailyCallLimit === undefined || !this.#quota.supported) return undefined;
    const usage = await this.#quota.read();
    if (usage?.left === undefined) return undefined;
    const bare = await computePlan(deps, kind, { ...options, writes: false });
    // The comparison is one ID-only listing of what the run lists: about the pages of its main listing.
    const needed = bare.calls === undefined ? 1 : Math.max(1, kind === 'full' ? bare.calls.records : bare.calls.ids);
    if (needed <= usage.left) return undefined;
    return `The writes are not listed: their ID-only listing needs about ${needed} Zoho calls and ${usage.left} are left today (dailyCallLimit).`;
  }

  /**
   * Today's Zoho call tally as the store holds it (every replica's runs, `syncRecord()` calls and
   * plans), with `dailyCallLimit` and the calls left. The day starts at 00:00 in `quotaTimeZone`.
   *
   * @returns `undefined` when the sink keeps no tally.
   * @throws {@link SinkError} when Redis fails.
   */
  async getQuotaUsage(): Promise<QuotaUsage | undefined> {
    return this.#quota.read();
  }

  /**
   * Syncs one registration now (Get Record by ID, one Zoho call): upserts it into its event's index,
   * or removes it from Redis when Zoho answers code 3190 (no such record). Runs beside a sync in
   * flight (its writes are idempotent). Emits `recordSynced`. Under `dailyCallLimit`, refused when no
   * call is left today, unless `ignoreQuotaBudget`.
   *
   * @throws {@link InvalidInputError} when `recordId` is not 1–19 digits; {@link QuotaBudgetError} when
   *   no Zoho call is left today (nothing sent); {@link ZohoApiError}; {@link SinkError}.
   */
  async syncRecord(recordId: string, options: { signal?: AbortSignal; ignoreQuotaBudget?: boolean } = {}): Promise<RecordSyncResult> {
    if (typeof recordId !== 'string' || !RECORD_ID.test(recordId)) {
      throw new InvalidInputError(
        `Record ID must be a string of 1–19 digits (Zoho IDs exceed 2^53, so numbers lose digits), got ${typeof recordId === 'string' ? JSON.stringify(recordId) : `a ${typeof recordId}`}`,
      );
    }
    if (this.options.dailyCallLimit !== undefined && options.ignoreQuotaBudget !== true && this.#quota.supported) {
      const usage = await this.#quota.read();
      if (usage?.left === 0) throw new QuotaBudgetError(1, 0, usage.day);
    }
    const callsBefore = this.#callCounts();
    try {
      const state = this.#retryingState(options.signal);
      const source = new ScreenedSource(this.#source, async (rejected) => {
        await state.deadLetter(rejected, { maxRawBytes: this.options.maxRecordBytes });
        this.#stats.dead_lettered += rejected.length;
        for (const r of rejected) {
          this.#logger.warn('Record sent to the dead-letter stream', { recordId, eventId: r.eventId, reason: r.reason, detail: r.detail });
          this.#safeEmit('recordDeadLettered', { runId: `record:${recordId}`, eventId: r.eventId, reason: r.reason, detail: r.detail });
        }
      });
      const result = await syncOneRecord(source, this.#retryingSink(options.signal), state, this.#logger, recordId, {
        signal: options.signal,
        retries: this.options.maxRetries,
      });
      this.#quotaExhaustedAt = undefined;
      await this.#quota.record(callsBetween(this.#callCounts(), callsBefore));
      if (result.outcome === 'added') this.#stats.records_added += 1;
      if (result.outcome === 'updated') this.#stats.records_updated += 1;
      if (result.outcome === 'refused') this.#stats.stale_writes_refused += 1;
      if (result.outcome === 'removed') this.#stats.records_removed += 1;
      this.#safeEmit('recordSynced', result);
      return result;
    } catch (error) {
      const err = toSyncError(error);
      await this.#quota.record(callsBetween(this.#callCounts(), callsBefore));
      if (err.code === SyncErrorCode.ZOHO_QUOTA_EXHAUSTED) this.#quotaExhaustedAt = Date.now();
      this.#emitError(err);
      throw err;
    }
  }

  /**
   * The worker's status in the original design's shape (`is_running`, `config`, `stats`,
   * `last_sync_time`), plus the run in flight, the last run, Zoho calls, quota and lease.
   * Never contains credentials or tokens.
   */
  getStatus(): SyncWorkerStatus {
    const o = this.options;
    const run = this.#current?.handle;
    const pausedUntil = this.#quotaPausedUntil();
    return {
      is_running: this.#started,
      config: {
        syncIntervalMs: o.syncIntervalMs,
        batchSize: o.batchSize,
        maxRetries: o.maxRetries,
        enableAutoSync: o.enableAutoSync,
        enableDiscrepancyDetection: o.enableDiscrepancyDetection,
        staleAfterMs: o.staleAfterMs,
        staleCheckIntervalMs: o.staleCheckIntervalMs,
        incrementalOverlapMs: o.incrementalOverlapMs,
        maxRemovalShare: o.maxRemovalShare,
        quotaPauseMs: o.quotaPauseMs,
      },
      stats: { ...this.#stats },
      last_sync_time: this.#lastSyncTime,
      current_run: run
        ? {
            id: run.id,
            kind: run.kind,
            event_id: run.eventId ?? null,
            started_at: run.startedAt,
            pages: run.progress.pages,
            records_fetched: run.progress.recordsFetched,
            added: run.progress.added,
            updated: run.progress.updated,
            removed: run.progress.removed,
          }
        : null,
      last_run: this.#lastRun ? { ...this.#lastRun } : null,
      api_calls: { last_run: { ...this.#lastRunCalls }, total: callsBetween(this.#callCounts(), this.#callsAtCreation) },
      quota: {
        exhausted: this.#quotaExhaustedAt !== undefined,
        exhausted_at: this.#quotaExhaustedAt === undefined ? null : new Date(this.#quotaExhaustedAt).toISOString(),
        paused_until: pausedUntil === undefined ? null : new Date(pausedUntil).toISOString(),
        calls_today: callsToday(this.#quota.last()),
      },
      lease: { enabled: this.#leaseEnabled(), held: this.#leaseHeld, lost_count: this.#leaseLost },
      watermark: this.#watermark === undefined ? null : new Date(this.#watermark).toISOString(),
      eviction: { policy: this.#eviction?.policy ?? null, warning: this.#eviction?.warning ?? null },
    };
  }

  async #execute(ctx: RunContext, request: RunRequest, controller: AbortController, origin: RunOrigin): Promise<RunResult> {
    const callsBefore = this.#callCounts();
    let held: HeldLease | undefined;
    let announced = false;
    let skipped = false;
    // syncCompleted / syncFailed go out only after the run is cleared and its lease released, so a
    // listener can start the next run at once (instead of getting BusyError).
    let emitOutcome: (() => void) | undefined;
    const announce = (): void => {
      if (announced) return;
      announced = true;
      this.#safeEmit('syncStarted', {
        runId: ctx.runId,
        kind: ctx.kind,
        eventId: ctx.eventId,
        startedAt: new Date(ctx.startedAt).toISOString(),
      });
    };
    // Let trigger() register the run before anything is emitted, so listeners see it in getStatus().
    await Promise.resolve();
    try {
      if (origin === 'tick' && (await this.#anotherReplicaSyncedRecently())) {
        // The lease stops replicas overlapping; this stops them repeating each other's work, so N
        // replicas spend about the Zoho calls of one.
        skipped = true;
        this.#skipRun(ctx.runId, ctx.kind, origin, 'recently-synced');
        throw new SyncError('Another replica synced less than half an interval ago; this tick did not run', SyncErrorCode.BUSY);
      }
      await this.#repairState(request);
      if (!(await this.#withinBudget(ctx, request, origin))) {
        skipped = true;
        throw new SyncError('The run would exceed the Zoho calls left today; this automatic run did not start', SyncErrorCode.QUOTA_BUDGET);
      }
      const lease = await this.#acquireLease(ctx, controller);
      if (lease === 'held-elsewhere') {
        const refusal = new LeaseError(`The sync lease is ${await leaseHolderText(this.#state)}; this run did not start`);
        if (origin !== 'manual') {
          // An automatic run that finds another replica syncing is not a failure: that replica does the work.
          skipped = true;
          this.#skipRun(ctx.runId, ctx.kind, origin, 'lease-held');
        }
        throw refusal;
      }
      held = lease;
      if (request.kind === 'force') {
        // A forced run is announced once Zoho confirmed the event: an unknown event is a refused request, not a run.
        const admit = ctx.accept;
        ctx.accept = () => {
          announce();
          admit();
        };
      } else announce();
      const allowMassRemoval = request.allowMassRemoval ?? false;
      let discrepancies: DiscrepancyReport | undefined;
      switch (request.kind) {
        case 'full':
          await runFullSync(ctx, { checkpointName: 'full', allowMassRemoval, advanceWatermark: true });
          break;
        case 'force':
          await runFullSync(ctx, {
            eventIds: [request.eventId],
            checkpointName: `force:${request.eventId}`,
            allowMassRemoval,
            advanceWatermark: false,
          });
          break;
        case 'incremental':
          discrepancies = await runIncrementalSync(ctx, { allowMassRemoval });
          break;
        case 'discrepancy-check': {
          const events = await ctx.source.listEvents(ctx.callOptions());
          ctx.accept();
          discrepancies = await reconcile(ctx, {
            zohoEventIds: events.map((e) => e.id),
            heal: request.heal ?? false,
            allowMassRemoval,
            publish: true,
          });
          break;
        }
      }
      ctx.throwIfAborted();
      const meta = await this.#state.getSyncMeta();
      this.#watermark = meta.watermark;
      const finishedAt = Date.now();
      const apiCalls = callsBetween(this.#callCounts(), callsBefore);
      await this.#quota.record(apiCalls);
      const result: RunResult = {
        runId: ctx.runId,
        kind: ctx.kind,
        eventId: ctx.eventId,
        ...ctx.progress,
        startedAt: new Date(ctx.startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
        durationMs: finishedAt - ctx.startedAt,
        eventsSynced: ctx.eventsSynced,
        resumed: ctx.resumed,
        fellBackToFull: ctx.fellBackToFull,
        staleCheck: ctx.staleCheck,
        apiCalls,
        watermark: meta.watermark === undefined ? undefined : new Date(meta.watermark).toISOString(),
        discrepancies,
      };
      this.#lastSyncAtWritten = finishedAt;
      await this.#state.setSyncMeta(
        request.kind === 'full' || ctx.fellBackToFull ? { lastSyncAt: finishedAt, lastFullSyncAt: finishedAt } : { lastSyncAt: finishedAt },
        ctx.fenced(),
      );
      this.#finish(ctx, 'succeeded', finishedAt, apiCalls, undefined);
      this.#quotaExhaustedAt = undefined;
      this.#logger.info(`Sync run ${ctx.runId} (${ctx.kind}) succeeded`, {
        added: result.added,
        updated: result.updated,
        removed: result.removed,
        pages: result.pages,
        durationMs: result.durationMs,
        zohoCalls: apiCalls.total,
      });
      emitOutcome = () => this.#safeEmit('syncCompleted', result);
      return result;
    } catch (error) {
      if (skipped) throw error;
      // A fenced write refused (another owner's newer fence) means the lease was lost, even if no
      // renewal has noticed yet: report it the same way.
      // An event guard's refusal is not that: another job writes one of the events, this run yields.
      const yielded = ctx.eventGuard?.refused(error) === true;
      if (held && !yielded && !controller.signal.aborted && isSyncError(error) && error.code === SyncErrorCode.LEASE) held.lose(error);
      // When the run was aborted (stop(), lease lost), report why rather than the symptom.
      const err = controller.signal.aborted ? abortReason(controller.signal) : toSyncError(error);
      if (!announced && err.code === SyncErrorCode.UNKNOWN_EVENT) {
        // Refused before it started (no such event in Zoho): no run to count, no failure, no ERROR.
        this.#logger.warn(`Force sync ${ctx.runId} refused: ${err.message}`, { code: err.code });
        throw err;
      }
      announce();
      // stop() (Ctrl-C, SIGTERM): an interruption asked for, resumed from its checkpoint at the next start.
      const stopped = (controller.signal.aborted && err.code === SyncErrorCode.ABORTED) || yielded;
      const finishedAt = Date.now();
      const apiCalls = callsBetween(this.#callCounts(), callsBefore);
      await this.#quota.record(apiCalls);
      if (err.code === SyncErrorCode.ZOHO_QUOTA_EXHAUSTED) this.#quotaExhaustedAt = finishedAt;
      this.#finish(ctx, 'failed', finishedAt, apiCalls, err);
      (stopped ? this.#logger.warn : this.#logger.error).call(this.#logger, `Sync run ${ctx.runId} (${ctx.kind}) ${stopped ? 'interrupted' : 'failed'}: ${err.message}`, {
        code: err.code,
        page: ctx.currentPage,
      });
      emitOutcome = () => {
        this.#safeEmit('syncFailed', {
          runId: ctx.runId,
          kind: ctx.kind,
          eventId: ctx.eventId,
          error: err,
          durationMs: finishedAt - ctx.startedAt,
          failedAtPage: ctx.currentPage,
          apiCalls,
        });
        if (!stopped) this.#emitError(err, true); // logged above with its run ID and page
      };
      throw err;
    } finally {
      await ctx.eventGuard?.release();
      await held?.release();
      if (this.#current?.handle.id === ctx.runId) this.#current = undefined;
      emitOutcome?.();
    }
  }

  /** Counts and announces an automatic run that did not run (the `runSkipped` event). */
  #skipRun(runId: string | undefined, kind: RunKind, origin: 'start' | 'tick', reason: RunSkipReason): void {
    const pausedUntil = reason === 'quota-exhausted' ? this.#quotaPausedUntil() : undefined;
    if (reason === 'lease-held') {
      this.#stats.lease_skipped_runs += 1;
      // A replica restarted after a crash finds its own old lease until it expires: try again then
      // rather than a whole interval later.
      if (origin === 'start' && this.#started && this.#timer) {
        clearTimeout(this.#timer);
        this.#schedule(Math.min(this.options.syncIntervalMs, this.options.lease.ttlMs));
      }
    } else if (reason === 'recently-synced') {
      this.#stats.recent_sync_skipped_runs += 1;
    } else {
      this.#stats.quota_skipped_runs += 1;
    }
    this.#logger.info(`Automatic ${kind} run skipped: ${SKIP_EXPLANATIONS[reason]}`, {
      trigger: origin,
      pausedUntil: pausedUntil === undefined ? undefined : new Date(pausedUntil).toISOString(),
    });
    this.#safeEmit('runSkipped', {
      runId,
      kind,
      trigger: origin,
      reason,
      at: new Date().toISOString(),
      pausedUntil: pausedUntil === undefined ? undefined : new Date(pausedUntil).toISOString(),
    });
  }

  /**
   * With `dailyCallLimit`: plans the run (calls only) and compares the estimate with the calls
   * left today. Refuses a manual run with {@link QuotaBudgetError}; an automatic run is skipped
   * (`runSkipped`, reason `quota-budget`) and resolves `false`.
   */
  async #withinBudget(ctx: RunContext, request: RunRequest, origin: RunOrigin): Promise<boolean> {
    if (this.options.dailyCallLimit === undefined || request.ignoreQuotaBudget === true || !this.#quota.supported) return true;
    const plan = await computePlan({ source: ctx.source, sink: ctx.sink, state: ctx.state, options: this.options }, request.kind, {
      eventId: request.kind === 'force' ? request.eventId : undefined,
      heal: request.kind === 'discrepancy-check' ? request.heal : undefined,
      writes: false,
    });
    const usage = await this.#quota.read();
    if (plan.calls === undefined || usage?.left === undefined) return true;
    if (plan.calls.total <= usage.left) {
      // Admitted on its estimate — a floor when Redis holds no counts for some events (a first sync,
      // new events), and without a heal's re-read — so the run may not send more requests than are
      // left: it stops at them (QuotaBudgetError, stoppedMidRun) instead of overrunning. Refusing
      // floors instead would refuse every full sync after a new event appears, for good.
      // The token grant the plan counts is not a request of the run's budget.
      ctx.callBudget.capToday(usage.left - plan.calls.token, usage.day);
      if (!plan.countsKnown) {
        this.#logger.info(
          `Redis holds no record counts for some events yet: this run's estimate (${plan.calls.total} Zoho calls) is a floor; it stops if it uses up the ${usage.left} calls left today`,
          { runId: ctx.runId },
        );
      }
      return true;
    }
    const refusal = new QuotaBudgetError(plan.calls.total, usage.left, usage.day, plan.countsKnown);
    if (origin !== 'manual') {
      this.#skipRun(ctx.runId, ctx.kind, origin, 'quota-budget');
      return false;
    }
    throw refusal;
  }

  /** Starts an automatic run (start-up or tick), unless the Zoho daily quota pause is on. */
  /**
   * Whether the shared `lastSyncAt` (sink metadata) was written by another replica less than half a
   * `syncIntervalMs` ago. This replica's own writes never count, so a long run of its own does not
   * make it skip its next tick.
   */
  async #anotherReplicaSyncedRecently(): Promise<boolean> {
    const { lastSyncAt } = await this.#state.getSyncMeta();
    if (lastSyncAt === undefined || lastSyncAt === this.#lastSyncAtWritten) return false;
    return Date.now() - lastSyncAt < this.options.syncIntervalMs / 2;
  }

  #autoTrigger(request: RunRequest, origin: 'start' | 'tick'): void {
    if (this.#quotaPausedUntil() !== undefined) {
      this.#skipRun(undefined, request.kind, origin, 'quota-exhausted');
      return;
    }
    this.#begin(request, origin);
  }

  /** Until when automatic runs are paused after a code 4000 (epoch ms), or `undefined` when they are not. */
  #quotaPausedUntil(): number | undefined {
    if (this.#quotaExhaustedAt === undefined || this.options.quotaPauseMs === 0) return undefined;
    const until = this.#quotaExhaustedAt + this.options.quotaPauseMs;
    return Date.now() < until ? until : undefined;
  }

  /** The sink as a run sees it: transient Redis failures retried up to `maxRetries` times, each counted. */
  /** The sink as a run sees it; `state`: the run's view of the state store (kept as `sink.state` when it is the sink's own). */
  #retryingSink(signal: AbortSignal | undefined, state?: StateStore): RecordSink {
    return new RetryingSink(this.#sink, this.#retryOptions(signal), state !== undefined && this.#state === this.#sink.state ? state : undefined);
  }

  /** The state store as a run sees it (same retry policy as the sink). */
  #retryingState(signal: AbortSignal | undefined): StateStore {
    return retryingStateStore(this.#state, this.#retryOptions(signal));
  }

  #retryOptions(signal: AbortSignal | undefined): SinkRetryOptions {
    return {
      retries: this.options.maxRetries,
      signal,
      onRetry: (operation, error, retriesLeft) => {
        this.#stats.sink_retries += 1;
        this.#logger.warn(`Redis ${operation} failed transiently; retrying`, { error: describe(error), retriesLeft });
      },
    };
  }

  #finish(ctx: RunContext, outcome: 'succeeded' | 'failed', finishedAt: number, apiCalls: ApiCallCounts, error: SyncError | undefined): void {
    const s = this.#stats;
    const p = ctx.progress;
    if (ctx.kind === 'discrepancy-check') s.discrepancy_checks += 1;
    else {
      s.total_syncs += 1;
      if (outcome === 'succeeded') s.successful_syncs += 1;
      else s.failed_syncs += 1;
    }
    s.records_added += p.added;
    s.records_updated += p.updated;
    s.records_removed += p.removed;
    s.dead_lettered += p.deadLettered;
    s.stale_writes_refused += p.staleWritesRefused;
    if (ctx.kind !== 'discrepancy-check') s.last_sync_duration = finishedAt - ctx.startedAt;
    if (outcome === 'succeeded' && ctx.kind !== 'discrepancy-check') this.#lastSyncTime = new Date(finishedAt).toISOString();
    this.#lastRunCalls = apiCalls;
    this.#lastRun = {
      id: ctx.runId,
      kind: ctx.kind,
      event_id: ctx.eventId ?? null,
      outcome,
      finished_at: new Date(finishedAt).toISOString(),
      duration_ms: finishedAt - ctx.startedAt,
      error_code: error?.code ?? null,
      error_message: error?.message ?? null,
      failed_at_page: error ? (ctx.currentPage ?? null) : null,
    };
  }

  /**
   * Takes the run lease for `ctx` (see ./run-lease.ts): the held lease, `undefined` when the lease
   * is disabled, or `'held-elsewhere'` when another replica holds it.
   */
  async #acquireLease(ctx: RunContext, controller: AbortController): Promise<HeldLease | 'held-elsewhere' | undefined> {
    if (!this.#leaseEnabled()) return undefined;
    const lease = await acquireRunLease({
      state: this.#state,
      owner: this.#owner,
      ttlMs: this.options.lease.ttlMs,
      controller,
      logger: this.#logger,
      onLost: () => {
        this.#leaseLost += 1;
        this.#safeEmit('leaseLost', { runId: ctx.runId, at: new Date().toISOString() });
      },
      onReleased: () => {
        this.#leaseHeld = false;
      },
    });
    if (lease === 'held-elsewhere') return lease;
    ctx.fence = lease.fence;
    this.#leaseHeld = true;
    return lease;
  }


  /**
   * Lets the state store find and remove state that would poison this and every later run (a
   * corrupt watermark, a lease key of the wrong type, an unreadable checkpoint of this run's kind),
   * and logs each repair once, naming the key: it is gone afterwards.
   */
  async #repairState(request: RunRequest): Promise<void> {
    if (!this.#state.repairState) return;
    const checkpoints =
      request.kind === 'full' ? ['full'] : request.kind === 'incremental' ? ['incremental', 'full'] : request.kind === 'force' ? [`force:${request.eventId}`] : [];
    for (const r of await this.#state.repairState(checkpoints)) {
      this.#logger.warn(`Corrupt state in ${r.key}${r.field === undefined ? '' : ` (field ${r.field})`}: ${r.problem}, found ${JSON.stringify(r.value)}; ${r.action}`, {
        key: r.key,
        field: r.field,
      });
    }
  }

  /** Reads the store's eviction policy (bounded, never throws) and warns when it can evict the library's keys. */
  async #checkEviction(): Promise<void> {
    const read = this.#state.evictionPolicy?.bind(this.#state);
    if (!read) return;
    this.#eviction = await withTimeout(read(), EVICTION_READ_TIMEOUT_MS).catch(() => ({ policy: undefined, warning: undefined }));
    if (this.#eviction.warning !== undefined) this.#logger.warn(this.#eviction.warning, { maxmemoryPolicy: this.#eviction.policy });
  }





  #leaseEnabled(): boolean {
    return this.options.lease.enabled && supportsRunLease(this.#state);
  }

  #schedule(delayMs: number = this.options.syncIntervalMs): void {
    if (!this.#started || !this.options.enableAutoSync) return;
    this.#timer = setTimeout(() => this.#tick(), delayMs);
  }

  #tick(): void {
    this.#timer = undefined;
    if (!this.#started) return;
    const running = this.#current?.handle;
    if (running) {
      this.#stats.skipped_ticks += 1;
      this.#safeEmit('tickSkipped', { runningRunId: running.id, at: new Date().toISOString() });
    } else {
      this.#autoTrigger({ kind: 'incremental' }, 'tick');
    }
    this.#schedule();
  }

  #callCounts(): ApiCallCounts {
    return this.#source.getCallCounts?.() ?? ZERO_CALLS;
  }

  /** Emits without letting a listener's exception escape: it is re-emitted as `error`, or logged. */
  readonly #safeEmit: SafeEmit = (event, ...args) => {
    // Each listener is called on its own, so one that throws (or returns a rejected promise) neither
    // hides the event from the listeners after it (metrics, alerting) nor escapes into the run.
    for (const { fn, context, once } of registeredListeners(this, event)) {
      // Same order and `once` semantics as eventemitter3's own emit().
      if (once) this.removeListener(event, fn as never, undefined, true);
      try {
        const returned: unknown = fn.apply(context, args);
        if (returned instanceof Promise) returned.catch((rejection: unknown) => this.#listenerFailed(event, rejection));
      } catch (listenerError) {
        this.#listenerFailed(event, listenerError);
      }
    }
  };

  #listenerFailed(event: keyof SyncWorkerEvents, failure: unknown): void {
    if (event === 'error') {
      this.#logger.error('An error listener threw', { error: failure });
      return;
    }
    this.#emitError(new SyncError(`A ${String(event)} listener threw: ${describe(failure)}`, SyncErrorCode.LISTENER, { cause: failure }));
  }

  /** Emits `error`, or logs it when nothing listens (eventemitter3 would drop it silently). */
  #emitError(error: SyncError, alreadyLogged = false): void {
    if (this.listenerCount('error') === 0) {
      if (!alreadyLogged) this.#logger.error(error.message, { code: error.code });
      return;
    }
    this.#safeEmit('error', error);
  }
}

const SKIP_EXPLANATIONS: Readonly<Record<RunSkipReason, string>> = {
  'lease-held': 'another replica holds the sync lease',
  'quota-budget': "its planned Zoho calls exceed the calls left today under dailyCallLimit",
  'quota-exhausted': "Zoho's daily API limit is exhausted",
  'recently-synced': 'another replica synced less than half an interval ago',
};

/** One registered listener as eventemitter3 keeps it. */
interface RegisteredListener {
  readonly fn: (...payload: unknown[]) => unknown;
  readonly context: unknown;
  readonly once: boolean;
}

/**
 * A snapshot of an event's listeners with their `once` flag and context. eventemitter3's
 * `listeners()` drops both, so this reads its `_events` table (a listener object, or an array of
 * them, per event: stable since eventemitter3 1.x and unchanged in 5.x).
 */
function registeredListeners(emitter: object, event: string): RegisteredListener[] {
  const table = (emitter as { _events?: Record<string, RegisteredListener | RegisteredListener[] | undefined> })._events;
  const entry = table?.[event];
  if (entry === undefined) return [];
  return Array.isArray(entry) ? [...entry] : [entry];
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The run kinds, for validation and docs. */
export const RUN_KINDS: readonly RunKind[] = Object.freeze(['full', 'incremental', 'force', 'discrepancy-check']);

/** {@link RunPlanWithQuota.fitsQuota}: what the worker's budget check would decide. */
export function fitsQuota(plan: RunPlan, quota: QuotaUsage | undefined): boolean | undefined {
  if (quota?.left === undefined || plan.calls === undefined) return undefined;
  return plan.calls.total <= quota.left;
}

function callsToday(usage: QuotaUsage | undefined): SyncWorkerStatus['quota']['calls_today'] {
  if (usage === undefined) return null;
  return { day: usage.day, time_zone: usage.timeZone, used: usage.used.total, limit: usage.limit ?? null, left: usage.left ?? null };
}
