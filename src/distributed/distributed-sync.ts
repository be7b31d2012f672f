/**
 * `DistributedSync`: the sync spread over any number of processes on BullMQ (open-source
 * features only). One queue holds every run; a Job Scheduler fires the incremental once per
 * interval cluster-wide; a full sync and a discrepancy check fan out per-partition child jobs; forced syncs are jobs
 * deduplicated by event ID; every job takes the per-event leases of the events it writes (the
 * incremental as it reaches them, besides the global lease for the watermark); one
 * shared Zoho call budget and the queue limiter hold every process under Zoho's per-minute limit.
 * Status and typed events are the same as a `SyncWorker`'s, read from Redis on any replica.
 *
 * BullMQ facts relied on (https://docs.bullmq.io): `upsertJobScheduler(id, { every })` creates or
 * updates one scheduler per ID and produces one job per interval however many processes call it;
 * a job added with `deduplication: { id }` while another with that ID is not finished returns
 * the existing job; a job whose lock is not renewed (its process died) is moved back to wait by
 * the stalled-job check of any worker; `moveToWaitingChildren` parks a parent until its children
 * finish (`ignoreDependencyOnFailure` lets it run and see failed children);
 * `job.updateProgress(data)` reaches every `QueueEvents` listener as `progress`;
 * `Worker.RateLimitError()` after `worker.rateLimit(ms)` returns the job to wait without spending
 * an attempt; `queue.pause()` stops every worker from taking jobs; a `{…}` hash tag in the prefix
 * keeps every queue key in one Redis Cluster slot.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, Queue, QueueEvents, UnrecoverableError, WaitingChildrenError, Worker } from 'bullmq';
import { EventEmitter } from 'eventemitter3';
import type { Cluster, Redis } from 'ioredis';
import type { ApiCallCounts, SourceAdapter, SourceEvent } from '../adapters/source.js';
import { ConfigError, InvalidInputError, isSyncError, QuotaBudgetError, SyncError, SyncErrorCode, type SyncErrorCodeValue, toSyncError } from '../errors.js';
import { createConsoleLogger, type Logger } from '../logger.js';
import type { RedisSink } from '../redis/redis-sink.js';
import type { DiscrepancyReport } from '../worker/discrepancy.js';
import type { SyncWorkerEvents } from '../worker/events.js';
import { type ResolvedSyncWorkerOptions, resolveOptions, type SyncWorkerOptions } from '../worker/options.js';
import type { RunHandle, RunKind, RunProgress, RunRequest, RunResult } from '../worker/run.js';
import { emptyStats, type StatusLastRun, type StatusRun, type SyncStats, type SyncWorkerStatus } from '../worker/status.js';
import { fitsQuota, type RunPlanWithQuota, SyncWorker } from '../worker/sync-worker.js';
import { assertEventInZoho, type PlanOptions } from '../worker/plan.js';
import { planDistributedRun } from './plan-fanout.js';
import { DailyQuota, type QuotaUsage } from '../worker/quota.js';
import { watermarkCandidate } from '../worker/watermark.js';
import { type CallWaits, SharedCallLimiter } from './call-limiter.js';
import { createEventGuard } from './event-leases.js';
import { decodeFailure, encodeFailure } from './job-failure.js';
import { EventLeaseBusyError, type PartitionResult, PUBLISHED_EVENTS, runPartition } from './partition-run.js';
import { type CheckPartitionData, type CheckRootData, type HealPartitionData, runCheckChild, runCheckRoot } from './partition-check.js';
import { planFromRedisCounts } from './partition-plan.js';
import { callsBetween } from '../worker/call-counts.js';
import { shownValue } from '../internal/shown-value.js';

/** Options of {@link DistributedSync}. */
export interface DistributedSyncOptions {
  /** BullMQ's connection (ioredis `Redis` or `Cluster` with `maxRetriesPerRequest: null`, as BullMQ workers require). */
  readonly connection: Redis | Cluster;
  /** The sink's own ioredis client (per-event leases and status live next to the sink's keys / the queue's). */
  readonly redis: Redis | Cluster;
  readonly source: SourceAdapter;
  readonly sink: RedisSink;
  /** Worker name: the queue name and the Job Scheduler ID (`<name>-incremental`). Default `zoho-redis-sync`. No `:`. */
  readonly name?: string | undefined;
  /** BullMQ key prefix; must carry a hash tag on a cluster. Default `{zrs}`. */
  readonly queuePrefix?: string | undefined;
  /** Take jobs in this process (false: a replica that only triggers and reports). Default true. */
  readonly processJobs?: boolean | undefined;
  /** Jobs processed at once by this process. Default 1. */
  readonly concurrency?: number | undefined;
  /**
   * Zoho calls per `rateWindowMs` shared by every process (keep it below Zoho's per-minute limit):
   * every HTTP request counts (with `ZohoCreatorSource`: each page, retry and Bulk Read create /
   * status poll / download). A listing's next page waits at most `rateWindowMs` for a slot while the
   * jobs running at once across all processes are at most this many (see `SharedCallLimiter`).
   * Default 40. Unit: calls.
   */
  readonly callsPerWindow?: number | undefined;
  /** Window of {@link DistributedSyncOptions.callsPerWindow}. Default 60,000. Unit: ms. */
  readonly rateWindowMs?: number | undefined;
  /** How long a 429 / code 2955 pauses every process. Default 60,000. Unit: ms. */
  readonly rateLimitPauseMs?: number | undefined;
  /** Fire an incremental sync every `syncIntervalMs` through a Job Scheduler. Default true. */
  readonly enableScheduler?: boolean | undefined;
  /** Attempts per job (BullMQ `attempts`). Default 5. */
  readonly attempts?: number | undefined;
  /** First retry delay, doubling (BullMQ exponential backoff). Default 1000. Unit: ms. */
  readonly backoffMs?: number | undefined;
  /** Per-event lease time-to-live (a killed process's leases expire after it). Default 30,000. Unit: ms. */
  readonly eventLeaseTtlMs?: number | undefined;
  /** BullMQ job lock duration; a process silent for longer loses the job to another. Default 30,000. Unit: ms. */
  readonly lockDurationMs?: number | undefined;
  /** BullMQ stalled-job check interval. Default 30,000. Unit: ms. */
  readonly stalledIntervalMs?: number | undefined;
  /** Events with unknown counts are spread over this many partitions. Default 8. */
  readonly unknownPartitions?: number | undefined;
  /** Refresh of the cached status from Redis. Default 1000. Unit: ms. */
  readonly statusRefreshMs?: number | undefined;
  /** Options of the strategies each job runs (`SyncWorker` options: batch size, retries, removal guard, interval, …). */
  readonly worker?: Omit<SyncWorkerOptions, 'source' | 'sink' | 'logger' | 'enableAutoSync'> | undefined;
  readonly logger?: Logger | undefined;
  /** Called in this process when it starts and ends a job (for logs and metrics); exceptions are ignored. */
  readonly onJob?: ((info: JobActivity) => void) | undefined;
}

/** A job this process started or ended (see {@link DistributedSyncOptions.onJob}). */
export interface JobActivity {
  /** The BullMQ job ID, e.g. `run-<runId>-p3` for partition 3 of a run. */
  readonly jobId: string;
  /** `incremental`, `full`, `partition`, `force`, `discrepancy-check`, `check-partition` or `heal-partition`. */
  readonly name: string;
  readonly phase: 'start' | 'end';
  /** At `end`: whether the attempt succeeded (a parent waiting for its children counts as succeeded). */
  readonly ok?: boolean | undefined;
  /** At `end` of a failed attempt: the error's code and message (no secrets: a `SyncError`'s message). */
  readonly error?: string | undefined;
}

interface RootData extends CheckRootData {
  readonly eventId?: string;
  /** The run was forced past `dailyCallLimit` (an incremental's local worker checks the budget again). */
  readonly ignoreQuotaBudget?: boolean;
  readonly zohoEventIds?: readonly string[];
}

interface PartitionData {
  readonly runId: string;
  readonly index: number;
  readonly eventIds: readonly string[];
  readonly events: readonly SourceEvent[];
  readonly allowMassRemoval: boolean;
}

/** A message a job publishes to every replica (through `job.updateProgress`). */
interface Published {
  readonly zrs: 1;
  readonly event: keyof SyncWorkerEvents;
  readonly payload: unknown;
}

const ZERO_CALLS: ApiCallCounts = Object.freeze({ token: 0, records: 0, ids: 0, meta: 0, total: 0 });
const ZERO_STATS: SyncStats = Object.freeze(emptyStats());
const RUN_ID = /^[0-9a-f-]{36}$/;
const EVENT_ID = /^\d{1,19}$/;

/**
 * The distributed sync. Start it in every process (`await sync.start()`); trigger runs from any
 * of them; mount the HTTP routers on it like on a `SyncWorker`.
 *
 * @example
 * ```ts
 * const connection = new Redis(url, { maxRetriesPerRequest: null });
 * const redis = new Redis(url);
 * const sync = new DistributedSync({ connection, redis, source, sink: new RedisSink({ redis }) });
 * await sync.start();                    // this process takes jobs; the scheduler fires incrementals
 * await sync.trigger({ kind: 'full' }).result;   // fanned out over every process
 * ```
 */
export class DistributedSync extends EventEmitter<SyncWorkerEvents> {
  /** The resolved strategy options (defaults applied). */
  readonly options: ResolvedSyncWorkerOptions;
  /** The queue name. */
  readonly name: string;
  readonly #o: Required<Omit<DistributedSyncOptions, 'worker' | 'logger' | 'name' | 'onJob'>>;
  readonly #onJob: ((info: JobActivity) => void) | undefined;
  #jobsProcessed = 0;
  readonly #logger: Logger;
  readonly #limiter: SharedCallLimiter;
  readonly #source: SourceAdapter;
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #keys: { readonly stats: string; readonly lastRun: string; readonly current: string; readonly quota: string };
  #worker: Worker | undefined;
  #started = false;
  #timer: NodeJS.Timeout | undefined;
  #status: SyncWorkerStatus;
  readonly #controllers = new Set<AbortController>();
  /** The Zoho day's tally in Redis, shared with every `SyncWorker` on the same sink. */
  readonly #quota: DailyQuota;

  /** @throws {@link ConfigError} naming the option for an invalid option. */
  constructor(options: DistributedSyncOptions) {
    super();
    if (!options?.connection || !options.redis || !options.source || !options.sink) {
      throw new ConfigError('connection', 'DistributedSync needs connection, redis, source and sink');
    }
    const name = options.name ?? 'zoho-redis-sync';
    if (name.length === 0 || name.includes(':')) throw new ConfigError('name', `name must be non-empty without ':', got ${shownValue(name)}`);
    const queuePrefix = options.queuePrefix ?? '{zrs}';
    if ((options.redis as { isCluster?: boolean }).isCluster && !/\{[^}]+\}/.test(queuePrefix)) {
      throw new ConfigError('queuePrefix', 'On a Redis Cluster the queue prefix needs a hash tag such as {zrs}, so every queue key is in one slot');
    }
    this.name = name;
    this.#o = {
      connection: options.connection,
      redis: options.redis,
      source: options.source,
      sink: options.sink,
      queuePrefix,
      processJobs: options.processJobs ?? true,
      concurrency: positive('concurrency', options.concurrency, 1),
      callsPerWindow: positive('callsPerWindow', options.callsPerWindow, 40),
      rateWindowMs: positive('rateWindowMs', options.rateWindowMs, 60_000),
      rateLimitPauseMs: positive('rateLimitPauseMs', options.rateLimitPauseMs, 60_000),
      enableScheduler: options.enableScheduler ?? true,
      attempts: positive('attempts', options.attempts, 5),
      backoffMs: positive('backoffMs', options.backoffMs, 1000),
      eventLeaseTtlMs: positive('eventLeaseTtlMs', options.eventLeaseTtlMs, 30_000),
      lockDurationMs: positive('lockDurationMs', options.lockDurationMs, 30_000),
      stalledIntervalMs: positive('stalledIntervalMs', options.stalledIntervalMs, 30_000),
      unknownPartitions: positive('unknownPartitions', options.unknownPartitions, 8),
      statusRefreshMs: positive('statusRefreshMs', options.statusRefreshMs, 1000),
    };
    this.#onJob = options.onJob;
    this.#logger = options.logger ?? createConsoleLogger('info', 'zoho-redis-sync:distributed');
    this.options = resolveOptions({ ...options.worker, source: options.source, sink: options.sink, enableAutoSync: false });
    const base = `${queuePrefix}:${name}:zrs`;
    this.#keys = { stats: `${base}:stats`, lastRun: `${base}:last-run`, current: `${base}:current`, quota: `${base}:quota` };
    this.#limiter = new SharedCallLimiter({
      redis: options.connection,
      keys: { log: `${base}:calls`, pause: `${base}:calls-paused` },
      maxCalls: this.#o.callsPerWindow,
      windowMs: this.#o.rateWindowMs,
      rateLimitPauseMs: this.#o.rateLimitPauseMs,
    });
    this.#source = this.#limiter.wrap(options.source);
    this.#queue = new Queue(name, { connection: options.connection, prefix: queuePrefix });
    this.#queue.on('error', (e) => this.#logger.warn('BullMQ queue error', { error: e.message }));
    this.#events = new QueueEvents(name, { connection: options.connection, prefix: queuePrefix, autorun: false });
    this.#events.on('error', (e) => this.#logger.warn('BullMQ queue events error', { error: e.message }));
    this.#events.on('progress', ({ data }) => this.#onPublished(data));
    this.#quota = new DailyQuota(options.sink.state, this.options.dailyCallLimit, this.options.quotaTimeZone, this.#logger);
    this.#status = this.#emptyStatus();
  }

  /** Whether this process is started. */
  get isRunning(): boolean {
    return this.#started;
  }

  /** Job attempts this process finished (succeeded or not). Unit: jobs. */
  get jobsProcessed(): number {
    return this.#jobsProcessed;
  }

  /** Zoho calls this process made through the shared budget (every HTTP request to Creator: pages, retries, Bulk Read create / poll / download). Unit: calls. */
  get callsAdmitted(): number {
    return this.#limiter.admitted;
  }

  /** The longest waits this process's calls had for the shared budget (continuations apart: see `SharedCallLimiter`). */
  get callWaits(): CallWaits {
    return this.#limiter.waits;
  }

  /**
   * Starts this process: listens to the queue's events, takes jobs (unless `processJobs: false`)
   * and upserts the Job Scheduler of the incremental (idempotent: every replica may call it).
   * Idempotent.
   *
   * @throws the ioredis/BullMQ error when Redis does not answer.
   */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    void this.#events.run().catch((e: unknown) => this.#logger.warn('QueueEvents stopped', { error: String(e) }));
    await this.#events.waitUntilReady();
    if (this.#o.processJobs && !this.#worker) {
      this.#worker = new Worker(this.name, (job, token, signal) => this.#process(job, token, signal), {
        connection: this.#o.connection,
        prefix: this.#o.queuePrefix,
        concurrency: this.#o.concurrency,
        lockDuration: this.#o.lockDurationMs,
        stalledInterval: this.#o.stalledIntervalMs,
        maxStalledCount: 3,
        limiter: { max: this.#o.callsPerWindow, duration: this.#o.rateWindowMs },
      });
      this.#worker.on('error', (e) => this.#logger.warn('BullMQ worker error', { error: e.message }));
      await this.#worker.waitUntilReady();
    }
    if (this.#o.enableScheduler) {
      await this.#queue.upsertJobScheduler(
        `${this.name}-incremental`,
        { every: this.options.syncIntervalMs },
        { name: 'incremental', data: {}, opts: this.#jobOptions() },
      );
    }
    await this.refreshStatus().catch(() => undefined);
    const tick = (): void => {
      this.#timer = setTimeout(() => {
        void this.refreshStatus()
          .then(() => this.#resumeAfterQuotaPause())
          .catch(() => undefined)
          .finally(() => {
            if (this.#started) tick();
          });
      }, this.#o.statusRefreshMs);
    };
    tick();
  }

  /**
   * Stops this process: stops taking jobs, aborts the jobs it is running (they are retried by
   * another process, resuming from their checkpoints), closes the queue connections it opened.
   * Leaves the Job Scheduler in place (other replicas keep running it; {@link DistributedSync.removeScheduler} removes it).
   * Never rejects.
   */
  async stop(): Promise<void> {
    this.#started = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const c of this.#controllers) c.abort(new SyncError('This process was stopped', SyncErrorCode.ABORTED));
    await this.#worker?.close().catch(() => undefined);
    this.#worker = undefined;
    await this.#events.close().catch(() => undefined);
    await this.#queue.close().catch(() => undefined);
  }

  /** Removes the incremental's Job Scheduler (no more automatic incrementals anywhere). */
  async removeScheduler(): Promise<void> {
    await this.#queue.removeJobScheduler(`${this.name}-incremental`);
  }

  /**
   * Queues a run and returns its handle at once. `accepted` settles once the job is in the queue
   * (`id` is then final: a forced sync of an event already queued or running joins that run);
   * `result` settles when the run finished on whichever process ran it.
   *
   * @throws {@link InvalidInputError} for a `force` request whose event ID is not 1–19 digits.
   */
  trigger(request: RunRequest): RunHandle {
    if (request.kind === 'force' && (typeof request.eventId !== 'string' || !EVENT_ID.test(request.eventId))) {
      throw new InvalidInputError('Event ID must be a string of 1–19 digits');
    }
    const runId = randomUUID();
    let id: string = runId;
    const startedAt = new Date().toISOString();
    const eventId = request.kind === 'force' ? request.eventId : undefined;
    const data: RootData = {
      runId,
      allowMassRemoval: request.allowMassRemoval ?? false,
      eventId,
      heal: request.kind === 'discrepancy-check' ? (request.heal ?? false) : undefined,
      ignoreQuotaBudget: request.ignoreQuotaBudget === true ? true : undefined,
      step: 'plan',
    };
    const opts = {
      ...this.#jobOptions(),
      jobId: `run-${runId}`,
      ...(eventId ? { deduplication: { id: `force-${eventId}` } } : {}),
    };
    // Refused up front, as a single SyncWorker refuses it: nothing is queued, no Zoho call is made.
    const added = this.#checkBudget(request).then(() => this.#queue.add(request.kind, data, opts));
    const accepted = added.then((job) => {
      id = (job.id ?? `run-${runId}`).replace(/^run-/, '');
    });
    const result = added.then(async (job) => {
      try {
        const value = (await job.waitUntilFinished(this.#events)) as { result: RunResult };
        return value.result;
      } catch (error) {
        throw decodeFailure(error);
      }
    });
    accepted.catch(() => undefined);
    result.catch(() => undefined);
    const progress: RunProgress = { pages: 0, recordsFetched: 0, added: 0, updated: 0, unchanged: 0, removed: 0, deadLettered: 0, staleWritesRefused: 0 };
    return {
      get id() {
        return id;
      },
      kind: request.kind,
      eventId,
      startedAt,
      progress,
      accepted,
      result,
    };
  }

  /**
   * Queues a full sync (fanned out) and waits for it.
   * @throws {@link QuotaBudgetError} (nothing queued) when its plan exceeds the calls left today under
   *   `dailyCallLimit`, or Redis holds no counts to plan by, unless `ignoreQuotaBudget`; the run's `SyncError`.
   */
  async performFullSync(options: { allowMassRemoval?: boolean; ignoreQuotaBudget?: boolean } = {}): Promise<RunResult> {
    return this.trigger({ kind: 'full', ...options }).result;
  }

  /** Queues an incremental sync and waits for it. @throws as {@link DistributedSync.performFullSync}. */
  async performIncrementalSync(options: { allowMassRemoval?: boolean; ignoreQuotaBudget?: boolean } = {}): Promise<RunResult> {
    return this.trigger({ kind: 'incremental', ...options }).result;
  }

  /** Queues (or joins) a forced sync of one event and waits for it. @throws as {@link DistributedSync.performFullSync}. */
  async forceSyncEvent(eventId: string, options: { allowMassRemoval?: boolean; ignoreQuotaBudget?: boolean } = {}): Promise<RunResult> {
    return this.trigger({ kind: 'force', eventId, ...options }).result;
  }

  /**
   * What a run of `kind` would cost and do, without queueing it: the same {@link RunPlanWithQuota} as
   * `SyncWorker.plan()`, with a full sync's and a discrepancy check's Zoho calls as their fan-out
   * makes them (one events list, then one listing per partition planned from Redis's counts, and the
   * heal partitions' listings). A force plan first checks that Zoho lists the event. The plan's own
   * Zoho calls (the ID-only listing behind `writes`, the events list of a force plan) go through the
   * shared call budget and into today's tally. Writes no record, index, metadata, checkpoint or watermark.
   *
   * @throws {@link InvalidInputError} for a `force` plan without a valid `eventId`; {@link UnknownEventError}
   *   for an event Zoho does not list; {@link ZohoApiError}, {@link SinkError} as a run would.
   */
  async plan(kind: RunKind, options: PlanOptions = {}): Promise<RunPlanWithQuota> {
    if (kind === 'force' && (typeof options.eventId !== 'string' || !EVENT_ID.test(options.eventId))) {
      throw new InvalidInputError('A force plan needs `eventId`: a string of 1–19 digits');
    }
    const before = this.#source.getCallCounts?.() ?? ZERO_CALLS;
    let plan: Awaited<ReturnType<typeof planDistributedRun>>;
    try {
      if (kind === 'force') await assertEventInZoho(this.#source, options.eventId!, { signal: options.signal, retries: this.options.maxRetries });
      plan = await planDistributedRun(this.#planDeps(), kind, options);
    } finally {
      await this.#quota.record(callsBetween(this.#source.getCallCounts?.() ?? ZERO_CALLS, before));
    }
    const planCalls = callsBetween(this.#source.getCallCounts?.() ?? ZERO_CALLS, before);
    const quota = await this.#quota.read();
    return { ...plan, planCalls, quota, fitsQuota: fitsQuota(plan, quota) };
  }

  #planDeps() {
    return { source: this.#source, sink: this.#o.sink, options: this.options, unknownPartitions: this.#o.unknownPartitions };
  }

  /**
   * With `dailyCallLimit` (and without `ignoreQuotaBudget`): plans the run (calls only, Redis reads)
   * and refuses it when the estimate exceeds the calls left today in the shared tally. An estimate
   * on record counts Redis does not hold yet (a first sync, new events) is a floor, admitted when it
   * fits: unlike a single `SyncWorker`, whose run stops at the calls left, the partitions of a
   * distributed run are not stopped midway, so such a run can pass the limit (refusing floors would
   * refuse every full sync after a new event appears, for good).
   *
   * @throws {@link QuotaBudgetError}; the store's errors.
   */
  async #checkBudget(request: RunRequest): Promise<void> {
    if (this.options.dailyCallLimit === undefined || request.ignoreQuotaBudget === true || !this.#quota.supported) return;
    const plan = await planDistributedRun(this.#planDeps(), request.kind, {
      eventId: request.kind === 'force' ? request.eventId : undefined,
      heal: request.kind === 'discrepancy-check' ? request.heal : undefined,
      writes: false,
    });
    const usage = await this.#quota.read();
    if (plan.calls === undefined || usage?.left === undefined) return;
    if (plan.calls.total <= usage.left) {
      if (!plan.countsKnown) this.#logger.info(`Redis holds no record counts for some events yet: this run's estimate (${plan.calls.total} Zoho calls) is a floor`);
      return;
    }
    throw new QuotaBudgetError(plan.calls.total, usage.left, usage.day, plan.countsKnown);
  }

  /** Queues a discrepancy check and waits for its report. @throws as {@link DistributedSync.performFullSync}. */
  async checkDiscrepancies(options: { heal?: boolean; allowMassRemoval?: boolean; ignoreQuotaBudget?: boolean } = {}): Promise<DiscrepancyReport> {
    const result = await this.trigger({ kind: 'discrepancy-check', ...options }).result;
    if (!result.discrepancies) throw new SyncError('The discrepancy check produced no report', SyncErrorCode.VERIFICATION);
    return result.discrepancies;
  }

  /**
   * The status in `SyncWorker`'s shape, cluster-wide: stats, current and last run come from Redis
   * (refreshed every `statusRefreshMs`, and by {@link DistributedSync.refreshStatus}); never holds secrets.
   */
  getStatus(): SyncWorkerStatus {
    return { ...this.#status, is_running: this.#started };
  }

  /** Reads the status from Redis now. @throws the ioredis error when Redis fails. */
  async refreshStatus(): Promise<SyncWorkerStatus> {
    const r = this.#o.connection;
    const [stats, lastRun, current, quota] = await Promise.all([
      r.hgetall(this.#keys.stats),
      r.get(this.#keys.lastRun),
      r.hgetall(this.#keys.current),
      r.get(this.#keys.quota),
    ]);
    const [meta, usage] = await Promise.all([this.#o.sink.state.getSyncMeta(), this.#quota.read()]);
    const s: SyncStats = { ...ZERO_STATS };
    for (const key of Object.keys(s) as (keyof SyncStats)[]) if (stats[key] !== undefined) s[key] = Number(stats[key]);
    const last = lastRun ? (JSON.parse(lastRun) as StatusLastRun & { api_calls?: ApiCallCounts }) : null;
    const runs = Object.values(current).map((v) => JSON.parse(v) as StatusRun);
    runs.sort((a, b) => a.started_at.localeCompare(b.started_at));
    const pausedUntil = quota ? Number(quota) : undefined;
    this.#status = {
      ...this.#emptyStatus(),
      stats: s,
      last_sync_time: stats.last_sync_time ?? null,
      current_run: runs[0] ?? null,
      last_run: last ? { ...last, api_calls: undefined } as StatusLastRun : null,
      api_calls: { last_run: last?.api_calls ?? ZERO_CALLS, total: ZERO_CALLS },
      quota: {
        exhausted: pausedUntil !== undefined,
        exhausted_at: null,
        paused_until: pausedUntil === undefined ? null : new Date(pausedUntil).toISOString(),
        calls_today: callsToday(usage),
      },
      watermark: meta.watermark === undefined ? null : new Date(meta.watermark).toISOString(),
    };
    if (this.#status.last_run) delete (this.#status.last_run as { api_calls?: unknown }).api_calls;
    return this.getStatus();
  }

  /**
   * Today's Zoho calls as the store's tally holds them (every process's jobs, and any `SyncWorker`
   * on the same sink), with `dailyCallLimit` and the calls left. The day starts at 00:00 in
   * `quotaTimeZone` (Zoho resets the daily limit at midnight in the super admin's zone).
   * One Redis read (`HMGET`).
   *
   * @returns `undefined` when the sink's state store keeps no tally.
   * @throws {@link SinkError} when Redis fails.
   */
  async getQuotaUsage(): Promise<QuotaUsage | undefined> {
    return this.#quota.read();
  }

  // --- job processing -------------------------------------------------------------------------

  #jobOptions(): { attempts: number; backoff: { type: 'exponential'; delay: number }; removeOnComplete: { age: number }; removeOnFail: { age: number } } {
    return {
      attempts: this.#o.attempts,
      backoff: { type: 'exponential', delay: this.#o.backoffMs },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  async #process(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#controllers.add(controller);
    let ok = false;
    let failure: string | undefined;
    this.#notify({ jobId: String(job.id), name: job.name, phase: 'start' });
    // Incremental jobs run in a SyncWorker, which adds its own calls to the daily tally.
    const tallied = job.name !== 'incremental';
    const callsBefore = tallied ? (this.#source.getCallCounts?.() ?? ZERO_CALLS) : ZERO_CALLS;
    try {
      if (job.name === 'partition') {
        const value = await this.#processPartition(job as Job<PartitionData>, controller.signal);
        ok = true;
        return value;
      }
      if (job.name === 'check-partition' || job.name === 'heal-partition') {
        const value = await runCheckChild(job as Job<CheckPartitionData | HealPartitionData>, this.#childInput(job, controller.signal));
        ok = true;
        return value;
      }
      const value = await this.#processRoot(job as Job<RootData>, token, controller.signal);
      ok = true;
      return value;
    } catch (error) {
      if (error instanceof WaitingChildrenError || error instanceof DelayedError) {
        ok = true;
        throw error;
      }
      if (error instanceof EventLeaseBusyError && token) {
        // Another job writes one of these events (or a killed process's lease has not expired yet):
        // come back after a third of the lease's life, without spending an attempt.
        await job.moveToDelayed(Date.now() + Math.max(100, Math.floor(this.#o.eventLeaseTtlMs / 3)), token);
        ok = true;
        throw new DelayedError();
      }
      const err = toSyncError(error instanceof UnrecoverableError ? decodeFailure(error) : error);
      failure = `[${err.code}] ${err.message}`;
      if (err.code === SyncErrorCode.ZOHO_RATE_LIMITED && this.#worker) {
        // Everyone waits the minute out; the job goes back to wait without spending an attempt.
        await this.#worker.rateLimit(this.#o.rateLimitPauseMs);
        throw Worker.RateLimitError();
      }
      if (err.code === SyncErrorCode.ZOHO_QUOTA_EXHAUSTED) {
        await this.#pauseForQuota();
        if (this.#worker) {
          await this.#worker.rateLimit(1000);
          throw Worker.RateLimitError();
        }
      }
      throw error;
    } finally {
      // Every attempt's calls, failed ones too: Zoho counted them.
      if (tallied) await this.#quota.record(callsBetween(this.#source.getCallCounts?.() ?? ZERO_CALLS, callsBefore));
      signal?.removeEventListener('abort', onAbort);
      this.#controllers.delete(controller);
      this.#jobsProcessed += 1;
      this.#notify({ jobId: String(job.id), name: job.name, phase: 'end', ok, error: ok ? undefined : failure });
    }
  }

  #notify(info: JobActivity): void {
    try {
      this.#onJob?.(info);
    } catch {
      // a hook's failure never reaches the job
    }
  }

  async #processPartition(job: Job<PartitionData>, signal: AbortSignal): Promise<PartitionResult> {
    const d = job.data;
    return runPartition({
      ...this.#childInput(job, signal),
      runId: d.runId,
      kind: 'full',
      eventId: undefined,
      eventIds: d.eventIds,
      events: d.events,
      checkpointName: `part-${d.runId}-${d.index}`,
      allowMassRemoval: d.allowMassRemoval,
    });
  }

  /** What every job writing events needs: adapters, options, its publisher, a fresh lease owner per attempt. */
  #childInput(job: Job, signal: AbortSignal) {
    return {
      source: this.#source,
      sink: this.#o.sink,
      redis: this.#o.redis,
      options: this.options,
      logger: this.#logger,
      emit: this.#publisher(job),
      owner: `${job.id}:${job.attemptsMade}:${randomUUID()}`,
      leaseTtlMs: this.#o.eventLeaseTtlMs,
      signal,
    };
  }

  async #processRoot(job: Job<RootData>, token: string | undefined, signal: AbortSignal): Promise<{ result: RunResult } | { skipped: true }> {
    const kind = job.name as RunKind;
    const runId = job.data.runId && RUN_ID.test(job.data.runId) ? job.data.runId : randomUUID();
    if (!job.data.runId) await job.updateData({ ...job.data, runId, step: 'plan' });
    const startedAt = job.data.startedAt ?? Date.now();
    const eventId = job.data.eventId;
    if ((job.data.step ?? 'plan') === 'plan') {
      await this.#o.connection.hset(
        this.#keys.current,
        runId,
        JSON.stringify({ id: runId, kind, event_id: eventId ?? null, started_at: new Date(startedAt).toISOString(), pages: 0, records_fetched: 0, added: 0, updated: 0, removed: 0 } satisfies StatusRun),
      );
      // An incremental announces itself once its local run starts (it may be skipped).
      if (job.attemptsMade === 0 && kind !== 'incremental') await this.#publish(job, 'syncStarted', { runId, kind, eventId, startedAt: new Date(startedAt).toISOString() });
    }
    try {
      let result: RunResult;
      if (kind === 'full') result = await this.#runFull(job, token, runId, startedAt, signal);
      else if (kind === 'force') result = await this.#runForce(job, runId, startedAt, signal);
      else if (kind === 'discrepancy-check') result = await this.#runCheck(job, token, runId, startedAt, signal);
      else result = await this.#runWithLocalWorker(job, runId, signal);
      await this.#recordOutcome(runId, kind, eventId, startedAt, result, undefined);
      await this.#publish(job, 'syncCompleted', result);
      return { result };
    } catch (error) {
      if (error instanceof WaitingChildrenError || error instanceof EventLeaseBusyError) throw error;
      if (error instanceof SkippedRun) {
        const m = this.#o.connection.multi();
        m.hincrby(this.#keys.stats, error.reason === 'lease-held' ? 'lease_skipped_runs' : 'quota_skipped_runs', 1);
        m.hdel(this.#keys.current, runId);
        await m.exec();
        await this.#publish(job, 'runSkipped', { runId, kind, trigger: 'tick', reason: error.reason, at: new Date().toISOString(), pausedUntil: undefined });
        return { skipped: true };
      }
      const err = toSyncError(error);
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError || !isRetryable(err);
      const retryLater = err.code === SyncErrorCode.ZOHO_RATE_LIMITED || err.code === SyncErrorCode.ZOHO_QUOTA_EXHAUSTED;
      if (final && !retryLater) {
        const durationMs = Date.now() - startedAt;
        await this.#recordOutcome(runId, kind, eventId, startedAt, undefined, err).catch(() => undefined);
        await this.#publish(job, 'syncFailed', { runId, kind, eventId, error: { name: err.name, code: err.code, message: err.message }, durationMs, failedAtPage: undefined, apiCalls: ZERO_CALLS }).catch(() => undefined);
        throw new UnrecoverableError(encodeFailure(err));
      }
      throw err;
    }
  }

  /**
   * Incremental: one job, run by a `SyncWorker` of this process under the global lease (watermark,
   * events list), writing each event only under that event's lease (an event guard: a page's
   * events before the page is written, the stale check's events before its ID listing, every event
   * before a fallback full listing), so it never interleaves with another job writing the same event.
   * A lease another job holds stops the run before the watermark moves: a scheduled incremental is
   * skipped like a tick, a triggered one is delayed and retried ({@link EventLeaseBusyError}).
   */
  async #runWithLocalWorker(job: Job<RootData>, runId: string, signal: AbortSignal): Promise<RunResult> {
    if (String(job.id).startsWith('repeat:')) await this.#skipScheduledIfCovered();
    const owner = `${job.id}:${job.attemptsMade}:${randomUUID()}`;
    const worker = new SyncWorker(
      { ...this.options, source: this.#source, sink: this.#o.sink, logger: this.#logger, enableAutoSync: false },
      { eventGuard: ({ abort }) => createEventGuard({ redis: this.#o.redis, keys: this.#o.sink.keys, owner, ttlMs: this.#o.eventLeaseTtlMs, abort }) },
    );
    for (const event of PUBLISHED_EVENTS) worker.on(event, ((payload: unknown) => void this.#publish(job, event, payload).catch(() => undefined)) as never);
    const request: RunRequest = { kind: 'incremental', allowMassRemoval: job.data.allowMassRemoval, ignoreQuotaBudget: job.data.ignoreQuotaBudget };
    worker.on('syncStarted', (payload) => {
      void this.#publish(job, 'syncStarted', { ...payload, runId }).catch(() => undefined);
    });
    const handle = worker.trigger(request);
    const onAbort = (): void => void worker.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await handle.result;
      return { ...result, runId };
    } catch (error) {
      // A scheduled incremental that finds another run holding the global lease is skipped, as a
      // single SyncWorker skips a tick: the next firing comes one interval later.
      const admitted = await handle.accepted.then(
        () => true,
        () => false,
      );
      const scheduled = String(job.id).startsWith('repeat:');
      if (!admitted && scheduled && isSyncError(error) && error.code === SyncErrorCode.LEASE) throw new SkippedRun();
      // A scheduled incremental over the day's budget is skipped, as a SyncWorker skips such a tick.
      if (!admitted && scheduled && isSyncError(error) && error.code === SyncErrorCode.QUOTA_BUDGET) throw new SkippedRun('quota-budget');
      // Another job writes one of the events this run reached: nothing past the committed pages moved
      // (no watermark); a scheduled run is skipped, a triggered one delayed (no attempt spent).
      if (error instanceof EventLeaseBusyError) {
        if (scheduled) throw new SkippedRun();
        throw error;
      }
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await worker.stop();
    }
  }

  /**
   * Skips a scheduled incremental (throws {@link SkippedRun}) that should not run, before a local
   * worker would announce it and log its refusal as a failed run: `lease-held` when a replica holds
   * the global lease, or when Redis has no watermark yet while a full sync is queued or fanned out
   * (the incremental would list the whole report a second time, alongside it); `quota-budget` when
   * its plan exceeds the calls left today under `dailyCallLimit`.
   * Never throws anything else: an unreadable queue or lease lets the run go ahead and decide.
   */
  async #skipScheduledIfCovered(): Promise<void> {
    const state = this.#o.sink.state;
    const holder = await state.inspectLease?.().catch(() => undefined);
    if (holder !== undefined) throw new SkippedRun();
    // Over the day's budget: skipped here, before a local worker would announce and refuse a run.
    const overBudget = await this.#checkBudget({ kind: 'incremental' }).then(
      () => false,
      (error: unknown) => error instanceof QuotaBudgetError,
    );
    if (overBudget) throw new SkippedRun('quota-budget');
    const meta = await state.getSyncMeta().catch(() => undefined);
    if (meta === undefined || meta.watermark !== undefined) return;
    const jobs = await this.#queue.getJobs(['active', 'waiting', 'waiting-children', 'delayed', 'prioritized'], 0, 200).catch(() => []);
    if (jobs.some((j) => j?.name === 'full')) {
      this.#logger.info('Scheduled incremental skipped: no watermark yet, and the full sync that sets it is under way');
      throw new SkippedRun();
    }
  }

  async #runForce(job: Job<RootData>, runId: string, startedAt: number, signal: AbortSignal): Promise<RunResult> {
    const eventId = job.data.eventId!;
    const part = await runPartition({
      ...this.#childInput(job, signal),
      runId,
      kind: 'force',
      eventId,
      eventIds: [eventId],
      events: undefined,
      checkpointName: `force:${eventId}`,
      allowMassRemoval: job.data.allowMassRemoval ?? false,
    });
    const meta = await this.#o.sink.state.getSyncMeta();
    return this.#result(runId, 'force', eventId, startedAt, [part], part.apiCalls, meta.watermark);
  }

  /** A full sync: plan partitions from Redis's counts, fan out child jobs, then combine them. */
  async #runFull(job: Job<RootData>, token: string | undefined, runId: string, startedAt: number, signal: AbortSignal): Promise<RunResult> {
    if (job.data.step !== 'finalize') {
      const before = this.#source.getCallCounts?.() ?? ZERO_CALLS;
      const events = await this.#source.listEvents({ signal, retries: this.options.maxRetries });
      // The counts of each event's last complete listing (a first sync knows none: spread evenly).
      const plan = await planFromRedisCounts(this.#o.sink.state, events.map((e) => e.id), { unknownPartitions: this.#o.unknownPartitions });
      const byId = new Map(events.map((e) => [e.id, e]));
      const after = this.#source.getCallCounts?.() ?? ZERO_CALLS;
      await job.updateData({ ...job.data, runId, startedAt, step: 'finalize', planCalls: callsBetween(after, before), zohoEventIds: events.map((e) => e.id) });
      this.#logger.info(`Full sync ${runId}: ${plan.partitions.length} partitions, about ${plan.expectedCalls} Zoho calls (one listing: ${plan.singleListingCalls})`);
      await this.#queue.addBulk(
        plan.partitions.map((p) => ({
          name: 'partition',
          data: {
            runId,
            index: p.index,
            eventIds: p.eventIds,
            events: p.eventIds.map((id) => byId.get(id)!),
            allowMassRemoval: job.data.allowMassRemoval ?? false,
          } satisfies PartitionData,
          opts: {
            ...this.#jobOptions(),
            jobId: `run-${runId}-p${p.index}`,
            parent: { id: job.id!, queue: job.queueQualifiedName },
            ignoreDependencyOnFailure: true,
          },
        })),
      );
      if (token && (await job.moveToWaitingChildren(token))) throw new WaitingChildrenError();
    }
    // Every partition finished (or failed for good).
    const failures = await job.getIgnoredChildrenFailures();
    const failed = Object.values(failures);
    if (failed.length > 0) {
      throw new UnrecoverableError(`${failed.length} partitions of the full sync failed: ${decodeFailure(new Error(String(failed[0]))).message}`);
    }
    const values = Object.values(await job.getChildrenValues<PartitionResult>());
    let maxSeen: number | undefined;
    let listingStart = startedAt;
    for (const v of values) {
      if (v.maxModifiedAt !== null && (maxSeen === undefined || v.maxModifiedAt > maxSeen)) maxSeen = v.maxModifiedAt;
      listingStart = Math.min(listingStart, v.listingStartedAt);
    }
    // Several listings are never one snapshot: the multi-page rule applies.
    const candidate = watermarkCandidate(maxSeen, listingStart, 2, Date.now());
    if (candidate !== undefined) await this.#o.sink.state.advanceWatermark(candidate);
    const finishedAt = Date.now();
    await this.#o.sink.state.setSyncMeta({ lastSyncAt: finishedAt, lastFullSyncAt: finishedAt });
    const calls = values.reduce((sum, v) => add(sum, v.apiCalls), job.data.planCalls ?? ZERO_CALLS);
    const meta = await this.#o.sink.state.getSyncMeta();
    return this.#result(runId, 'full', undefined, startedAt, values, calls, meta.watermark);
  }

  /** A discrepancy check fanned out per partition (see `partition-check.ts`), combined into one report. */
  async #runCheck(job: Job<RootData>, token: string | undefined, runId: string, startedAt: number, signal: AbortSignal): Promise<RunResult> {
    const deps = {
      queue: this.#queue,
      jobOptions: () => this.#jobOptions(),
      source: this.#source,
      sink: this.#o.sink,
      options: this.options,
      logger: this.#logger,
      unknownPartitions: this.#o.unknownPartitions,
      publish: (j: Job, event: keyof SyncWorkerEvents, payload: unknown) => this.#publish(j, event, payload),
    };
    const { report, parts, apiCalls } = await runCheckRoot(deps, job, token, runId, startedAt, signal);
    await this.#o.sink.state.setSyncMeta({ lastSyncAt: Date.now() });
    const meta = await this.#o.sink.state.getSyncMeta();
    return { ...this.#result(runId, 'discrepancy-check', undefined, startedAt, parts, apiCalls, meta.watermark), discrepancies: report };
  }

  #result(
    runId: string,
    kind: RunKind,
    eventId: string | undefined,
    startedAt: number,
    parts: readonly PartitionResult[],
    apiCalls: ApiCallCounts,
    watermark: number | undefined,
  ): RunResult {
    const finishedAt = Date.now();
    // `?? 0`: a part finished by a replica of an older version has no `staleWritesRefused`.
    const sum = (k: keyof RunProgress): number => parts.reduce((n, p) => n + (p[k] ?? 0), 0);
    return {
      runId,
      kind,
      eventId,
      pages: sum('pages'),
      recordsFetched: sum('recordsFetched'),
      added: sum('added'),
      updated: sum('updated'),
      unchanged: sum('unchanged'),
      removed: sum('removed'),
      deadLettered: sum('deadLettered'),
      staleWritesRefused: sum('staleWritesRefused'),
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - startedAt,
      eventsSynced: parts.reduce((n, p) => n + p.eventsSynced, 0),
      resumed: parts.some((p) => p.resumed),
      fellBackToFull: false,
      staleCheck: false,
      apiCalls,
      watermark: watermark === undefined ? undefined : new Date(watermark).toISOString(),
      discrepancies: undefined,
    };
  }

  /** Counters in Redis (one MULTI in the queue's slot): the cluster-wide stats and last run. */
  async #recordOutcome(runId: string, kind: RunKind, eventId: string | undefined, startedAt: number, result: RunResult | undefined, error: SyncError | undefined): Promise<void> {
    const finishedAt = Date.now();
    const m = this.#o.connection.multi();
    const k = this.#keys.stats;
    if (kind === 'discrepancy-check') m.hincrby(k, 'discrepancy_checks', 1);
    else {
      m.hincrby(k, 'total_syncs', 1);
      m.hincrby(k, result ? 'successful_syncs' : 'failed_syncs', 1);
      m.hset(k, 'last_sync_duration', String(finishedAt - startedAt));
      if (result) m.hset(k, 'last_sync_time', new Date(finishedAt).toISOString());
    }
    if (result) {
      m.hincrby(k, 'records_added', result.added);
      m.hincrby(k, 'records_updated', result.updated);
      m.hincrby(k, 'records_removed', result.removed);
      m.hincrby(k, 'dead_lettered', result.deadLettered);
      m.hincrby(k, 'stale_writes_refused', result.staleWritesRefused ?? 0);
    }
    const last: StatusLastRun & { api_calls: ApiCallCounts } = {
      id: runId,
      kind,
      event_id: eventId ?? null,
      outcome: result ? 'succeeded' : 'failed',
      finished_at: new Date(finishedAt).toISOString(),
      duration_ms: finishedAt - startedAt,
      error_code: error?.code ?? null,
      error_message: error?.message ?? null,
      failed_at_page: null,
      api_calls: result?.apiCalls ?? ZERO_CALLS,
    };
    m.set(this.#keys.lastRun, JSON.stringify(last));
    m.hdel(this.#keys.current, runId);
    await m.exec();
  }

  async #pauseForQuota(): Promise<void> {
    // Zoho resets the daily limit at midnight in the super admin's time zone, which the API does
    // not tell ([inferred]); as a single SyncWorker does, wait `quotaPauseMs` and try again.
    const until = Date.now() + Math.max(this.options.quotaPauseMs, 60_000);
    await this.#o.connection.set(this.#keys.quota, String(until), 'PX', until - Date.now() + 60_000);
    await this.#queue.pause();
    this.#logger.warn(`Zoho's daily API limit is exhausted: the queue is paused until ${new Date(until).toISOString()}`);
  }

  async #resumeAfterQuotaPause(): Promise<void> {
    const until = await this.#o.connection.get(this.#keys.quota);
    if (until === null || Date.now() < Number(until)) return;
    await this.#o.connection.del(this.#keys.quota);
    await this.#queue.resume();
  }

  #publisher(job: Job): <K extends keyof SyncWorkerEvents>(event: K, ...args: SyncWorkerEvents[K]) => void {
    return (event, ...args) => {
      if (PUBLISHED_EVENTS.includes(event)) void this.#publish(job, event, args[0]).catch(() => undefined);
    };
  }

  async #publish(job: Job, event: keyof SyncWorkerEvents, payload: unknown): Promise<void> {
    const message: Published = { zrs: 1, event, payload };
    await job.updateProgress(message as never);
  }

  #onPublished(data: unknown): void {
    const m = data as Partial<Published> | null;
    if (m === null || typeof m !== 'object' || m.zrs !== 1 || typeof m.event !== 'string') return;
    let payload = m.payload;
    if (m.event === 'syncFailed') {
      const p = payload as { error: { code: string; message: string } };
      payload = { ...p, error: new SyncError(p.error.message, p.error.code as SyncErrorCodeValue) };
    }
    try {
      (this.emit as (event: string, payload: unknown) => boolean)(m.event, payload);
    } catch (error) {
      this.#logger.error(`A ${m.event} listener threw`, { error: String(error) });
    }
  }

  #emptyStatus(): SyncWorkerStatus {
    const o = this.options;
    return {
      is_running: this.#started,
      config: {
        syncIntervalMs: o.syncIntervalMs,
        batchSize: o.batchSize,
        maxRetries: o.maxRetries,
        enableAutoSync: this.#o.enableScheduler,
        enableDiscrepancyDetection: o.enableDiscrepancyDetection,
        staleAfterMs: o.staleAfterMs,
        staleCheckIntervalMs: o.staleCheckIntervalMs,
        incrementalOverlapMs: o.incrementalOverlapMs,
        maxRemovalShare: o.maxRemovalShare,
        quotaPauseMs: o.quotaPauseMs,
      },
      stats: { ...ZERO_STATS },
      last_sync_time: null,
      current_run: null,
      last_run: null,
      api_calls: { last_run: ZERO_CALLS, total: ZERO_CALLS },
      quota: { exhausted: false, exhausted_at: null, paused_until: null, calls_today: null },
      lease: { enabled: true, held: false, lost_count: 0 },
      watermark: null,
      // Distributed mode does not read the maxmemory-policy: `null` means not read.
      eviction: { policy: null, warning: null },
    };
  }
}

/** A scheduled run that did not start: another run holds the global lease, or it exceeds the day's budget. */
class SkippedRun extends Error {
  constructor(readonly reason: 'lease-held' | 'quota-budget' = 'lease-held') {
    super(`Scheduled run skipped (${reason})`);
  }
}

/** The status's `calls_today` from a tally read (`null` without a tally), as `SyncWorker` reports it. */
function callsToday(usage: QuotaUsage | undefined): SyncWorkerStatus['quota']['calls_today'] {
  if (usage === undefined) return null;
  return { day: usage.day, time_zone: usage.timeZone, used: usage.used.total, limit: usage.limit ?? null, left: usage.left ?? null };
}

function positive(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(option, `${option} must be a positive integer, got ${shownValue(value)}`);
  return value;
}

function isRetryable(error: SyncError): boolean {
  return ![SyncErrorCode.INVALID_INPUT, SyncErrorCode.INVALID_OPTION, SyncErrorCode.UNKNOWN_EVENT, SyncErrorCode.MASS_REMOVAL, SyncErrorCode.QUOTA_BUDGET].includes(
    error.code as never,
  );
}

function add(a: ApiCallCounts, b: ApiCallCounts): ApiCallCounts {
  return { token: a.token + b.token, records: a.records + b.records, ids: a.ids + b.ids, meta: a.meta + b.meta, total: a.total + b.total };
}
