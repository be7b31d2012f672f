/**
 * `@org/zoho-redis-sync/metrics`: Prometheus metrics for a {@link SyncWorker}, through prom-client
 * (an optional peer dependency: install it beside this package to use this entry point).
 *
 * Every figure is fed by the worker's typed events, except those read from `getStatus()` when the
 * registry is scraped (Zoho calls, quota, running state), which also see `syncRecord()` calls.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerSyncMetrics } from '@org/zoho-redis-sync/metrics';
 *
 * const registry = new Registry();
 * registerSyncMetrics(worker, registry, { dailyCallLimit: 1000 });
 * // GET /metrics → res.type(registry.contentType).send(await registry.metrics())
 * ```
 */
import { Counter, Gauge, Histogram, type OpenMetricsContentType, type PrometheusContentType, type Registry } from 'prom-client';
import type { ApiCallCounts } from './adapters/source.js';
import { ConfigError } from './errors.js';
import type { DiscrepancyReport } from './worker/discrepancy.js';
import type { RunSkipReason, SyncWorkerEvents } from './worker/events.js';
import type { RunKind } from './worker/run.js';
import type { QuotaUsage } from './worker/quota.js';
import type { SyncWorker } from './worker/sync-worker.js';
import type { ZohoPushes } from './push/zoho-pushes.js';
import { shownValue } from './internal/shown-value.js';

/**
 * The part of `SyncWorker` the metrics use (a structural type, so tests may pass a fake; a
 * `DistributedSync` fits too). `getQuotaUsage`, when present, is read at each scrape for the
 * calls of today in the store's tally (every replica's).
 */
export type MetricsWorker = Pick<SyncWorker, 'on' | 'off' | 'getStatus'> & {
  readonly getQuotaUsage?: (() => Promise<QuotaUsage | undefined>) | undefined;
  /** The worker's options: `dailyCallLimit` and `quotaTimeZone` are the metrics' defaults. */
  readonly options?: { readonly dailyCallLimit?: number | undefined; readonly quotaTimeZone?: string | undefined } | undefined;
};

/** A prom-client registry, in Prometheus text or OpenMetrics format. */
export type MetricsRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

/** Options of {@link registerSyncMetrics}. */
export interface SyncMetricsOptions {
  /** Prefix of every metric name. Letters, digits and `_`, starting with a letter or `_`. @defaultValue `'zoho_redis_sync_'` */
  readonly prefix?: string | undefined;
  /**
   * Your Zoho plan's daily Developer API limit for the user whose refresh token the source uses
   * (Free/Standard 250, Professional 500, Enterprise and Zoho One 1000 per user per day). When
   * set, `<prefix>zoho_quota_remaining` gives the calls left today: this limit minus the calls in
   * the store's daily tally (every replica's), or minus this worker's own calls when the store
   * keeps no tally. Unit: calls.
   * @defaultValue the worker's own `dailyCallLimit` (none: the gauge is not exported)
   */
  readonly dailyCallLimit?: number | undefined;
  /**
   * IANA time zone in which the Zoho day starts, for the remaining-quota estimate: Zoho resets the
   * daily limit at 00:00 in the super admin's time zone. @defaultValue the worker's `quotaTimeZone` (`'UTC'`)
   */
  readonly quotaTimeZone?: string | undefined;
  /** Buckets of `<prefix>run_duration_seconds`. Unit: seconds. @defaultValue `[0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]` */
  readonly durationBuckets?: readonly number[] | undefined;
}

/** What {@link registerSyncMetrics} returns. */
export interface SyncMetrics {
  /** The full names of the registered metrics. */
  readonly names: readonly string[];
  /** Removes the listeners from the worker and the metrics from the registry. Idempotent. */
  unregister(): void;
}

/** Default of {@link SyncMetricsOptions.prefix}. */
export const DEFAULT_METRICS_PREFIX = 'zoho_redis_sync_';

/** Default of {@link SyncMetricsOptions.durationBuckets}. Unit: seconds. */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = Object.freeze([0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]);

const RUN_KIND_VALUES: readonly RunKind[] = ['full', 'incremental', 'force', 'discrepancy-check'];
const OUTCOMES = ['succeeded', 'failed'] as const;
const CALL_KINDS = ['token', 'records', 'ids', 'meta'] as const satisfies readonly (keyof ApiCallCounts)[];
const CHANGES = ['added', 'updated', 'removed'] as const;
const DRIFT_TYPES = ['missing_in_redis', 'extra_in_redis', 'stale'] as const;
const SKIP_REASONS = ['lease-held', 'quota-exhausted', 'quota-budget', 'recently-synced'] as const satisfies readonly RunSkipReason[];

type Listener<K extends keyof SyncWorkerEvents> = (...args: SyncWorkerEvents[K]) => void;

/**
 * Registers the worker's metrics on `registry` and feeds them from the worker's events. Names
 * below use the default prefix `zoho_redis_sync_`:
 *
 * | metric | type | labels | fed by |
 * |---|---|---|---|
 * | `runs_total` | counter | `kind`, `outcome` (`succeeded`/`failed`) | `syncCompleted`, `syncFailed` |
 * | `run_duration_seconds` | histogram | `kind`, `outcome` | `syncCompleted`, `syncFailed` |
 * | `records_total` | counter | `change` (`added`/`updated`/`removed`) | `recordsAdded`, `recordsUpdated`, `recordsRemoved`, `recordSynced` |
 * | `zoho_calls_total` | counter | `kind` (`token`/`records`/`ids`/`meta`) | `getStatus().api_calls.total` at scrape |
 * | `zoho_quota_exhausted` | gauge | | `getStatus().quota` at scrape (1 after Zoho code 4000, until a run succeeds) |
 * | `zoho_calls_today` | gauge | | Zoho calls today in the store's daily tally, every replica's (`getQuotaUsage()` at scrape); this worker's own calls since 00:00 in `quotaTimeZone` when the store keeps no tally |
 * | `zoho_quota_remaining` | gauge | | `dailyCallLimit` minus `zoho_calls_today`, 0 when exhausted (only with `dailyCallLimit`) |
 * | `discrepancy_records` | gauge | `type` (`missing_in_redis`/`extra_in_redis`/`stale`) | the last check's totals (`syncCompleted`'s report, `discrepancyFound`) |
 * | `discrepancy_events` | gauge | | events with differences at the last check |
 * | `discrepancy_records_found_total` | counter | `type` | every `discrepancyFound` |
 * | `event_staleness_seconds` | gauge | `event_id` | seconds since the event's last `eventSynced` |
 * | `dead_lettered_total`, `mass_removal_blocked_total`, `lease_lost_total`, `ticks_skipped_total` | counter | | `recordDeadLettered`, `massRemovalBlocked`, `leaseLost`, `tickSkipped` |
 * | `stale_writes_refused_total` | counter | | `staleWritesRefused` (ids per batch), `recordSynced` with outcome `refused` |
 * | `runs_skipped_total` | counter | `reason` (`lease-held`/`quota-exhausted`/`quota-budget`/`recently-synced`) | `runSkipped` |
 * | `worker_running` | gauge | | `getStatus().is_running` at scrape |
 * | `run_in_progress` | gauge | `kind` | 1 while a run of that kind is in flight |
 * | `last_success_timestamp_seconds` | gauge | | `getStatus().last_sync_time` at scrape |
 *
 * `event_staleness_seconds` has one series per event synced since registration (its cardinality is
 * your number of events).
 *
 * @param worker - the worker to observe.
 * @param registry - the prom-client registry to register on (e.g. `new Registry()` or prom-client's `register`).
 * @param given - see {@link SyncMetricsOptions} (`dailyCallLimit` and `quotaTimeZone` default to the worker's own options).
 * @returns the names and an `unregister()` function.
 * @throws `ConfigError` (code `ERR_SYNC_INVALID_OPTION`) for an invalid option, and (option `prefix`) when a metric
 *   of one of these names is already registered on `registry` — the message names it; call the earlier
 *   `unregister()` first, or use another prefix. Either way nothing is left registered and no listener is attached.
 */
export function registerSyncMetrics(worker: MetricsWorker, registry: MetricsRegistry, given: SyncMetricsOptions = {}): SyncMetrics {
  const options: SyncMetricsOptions = {
    ...given,
    dailyCallLimit: given.dailyCallLimit ?? worker.options?.dailyCallLimit,
    quotaTimeZone: given.quotaTimeZone ?? worker.options?.quotaTimeZone,
  };
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  const planned = METRIC_SUFFIXES.filter((suffix) => suffix !== 'zoho_quota_remaining' || options.dailyCallLimit !== undefined).map((s) => `${prefix}${s}`);
  // All or nothing: refuse before registering anything rather than fail half-way on the first clash.
  const taken = planned.filter((full) => registry.getSingleMetric(full) !== undefined);
  if (taken.length > 0) {
    throw new ConfigError(
      'prefix',
      `A metric named ${taken.map((t) => `\`${t}\``).join(', ')} is already registered on this registry: ` +
        'call unregister() of the earlier registerSyncMetrics() first, or pass another `prefix`. Nothing was registered.',
    );
  }
  try {
    return registerAll(worker, registry, options);
  } catch (error) {
    // None of these names existed before (checked above): whatever was registered is ours to remove.
    for (const full of planned) registry.removeSingleMetric(full);
    throw error;
  }
}

/** Every metric name suffix {@link registerSyncMetrics} registers (`zoho_quota_remaining` only with `dailyCallLimit`). */
const METRIC_SUFFIXES: readonly string[] = Object.freeze([
  'runs_total',
  'run_duration_seconds',
  'records_total',
  'zoho_calls_total',
  'zoho_quota_exhausted',
  'zoho_calls_today',
  'zoho_quota_remaining',
  'discrepancy_records',
  'discrepancy_events',
  'discrepancy_records_found_total',
  'event_staleness_seconds',
  'dead_lettered_total',
  'mass_removal_blocked_total',
  'lease_lost_total',
  'ticks_skipped_total',
  'stale_writes_refused_total',
  'runs_skipped_total',
  'worker_running',
  'run_in_progress',
  'last_success_timestamp_seconds',
]);

function registerAll(worker: MetricsWorker, registry: MetricsRegistry, options: SyncMetricsOptions): SyncMetrics {
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  if (typeof prefix !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) {
    throw new ConfigError('prefix', `Expected \`prefix\` to match [a-zA-Z_][a-zA-Z0-9_]*, got ${shownValue(prefix)}`);
  }
  const dailyLimit = options.dailyCallLimit;
  if (dailyLimit !== undefined && (!Number.isSafeInteger(dailyLimit) || dailyLimit < 1)) {
    throw new ConfigError('dailyCallLimit', `Expected \`dailyCallLimit\` to be a positive integer, got ${shownValue(dailyLimit)}`);
  }
  const dayOf = dayFormatter(options.quotaTimeZone ?? 'UTC');
  const buckets = [...(options.durationBuckets ?? DEFAULT_DURATION_BUCKETS)];
  if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new ConfigError('durationBuckets', 'Expected `durationBuckets` to be positive numbers in increasing order');
  }

  const registers: MetricsRegistry[] = [registry];
  const names: string[] = [];
  const name = (suffix: string): string => {
    // The clash check and the roll-back above only know the names in METRIC_SUFFIXES.
    if (!METRIC_SUFFIXES.includes(suffix)) throw new Error(`metric suffix ${suffix} is missing from METRIC_SUFFIXES`);
    const full = `${prefix}${suffix}`;
    names.push(full);
    return full;
  };

  const runs = new Counter({
    name: name('runs_total'),
    help: 'Sync runs that ended, by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: name('run_duration_seconds'),
    help: 'Wall time of sync runs, by kind and outcome. Unit: seconds.',
    labelNames: ['kind', 'outcome'] as const,
    buckets,
    registers,
  });
  for (const kind of RUN_KIND_VALUES) for (const outcome of OUTCOMES) {
    runs.inc({ kind, outcome }, 0);
    duration.zero({ kind, outcome });
  }

  const records = new Counter({
    name: name('records_total'),
    help: 'Records changed in Redis, by change (added, updated, removed); includes syncRecord().',
    labelNames: ['change'] as const,
    registers,
  });
  for (const change of CHANGES) records.inc({ change }, 0);

  // Zoho calls are read from the worker's own accounting at scrape time, so calls made outside
  // runs (syncRecord) count too. The counter adds what was made since the previous read.
  let counted: ApiCallCounts | undefined;
  const quotaDay: { day: string; calls: number } = { day: dayOf(Date.now()), calls: 0 };
  const readCalls = (): void => {
    const total = worker.getStatus().api_calls.total;
    const previous = counted ?? { token: 0, records: 0, ids: 0, meta: 0, total: 0 };
    const today = dayOf(Date.now());
    if (today !== quotaDay.day) {
      quotaDay.day = today;
      quotaDay.calls = 0;
    }
    for (const kind of CALL_KINDS) {
      const delta = Math.max(0, total[kind] - previous[kind]);
      if (delta > 0) zohoCalls.inc({ kind }, delta);
    }
    quotaDay.calls += Math.max(0, total.total - previous.total);
    counted = { ...total };
  };
  const zohoCalls = new Counter({
    name: name('zoho_calls_total'),
    help: 'Zoho Creator API calls made by the source, by kind (token, records, ids, meta).',
    labelNames: ['kind'] as const,
    registers,
    collect: readCalls,
  });
  for (const kind of CALL_KINDS) zohoCalls.inc({ kind }, 0);

  new Gauge({
    name: name('zoho_quota_exhausted'),
    help: '1 when Zoho answered code 4000 (daily Developer API limit reached) and no run has succeeded since, else 0.',
    registers,
    collect() {
      this.set(worker.getStatus().quota.exhausted ? 1 : 0);
    },
  });
  /**
   * Calls used today: the store's tally (every replica, read now), else the status's last read of
   * it, else this worker's own count since 00:00 in `quotaTimeZone`.
   */
  const callsToday = async (): Promise<number> => {
    readCalls();
    let usage: QuotaUsage | undefined;
    try {
      usage = await worker.getQuotaUsage?.();
    } catch {
      usage = undefined; // Redis failing: the status's last read, or this worker's own count
    }
    if (usage !== undefined) return usage.used.total;
    const last = worker.getStatus().quota.calls_today;
    return last === null || last === undefined ? quotaDay.calls : last.used;
  };
  new Gauge({
    name: name('zoho_calls_today'),
    help: "Zoho Developer API calls made today (from 00:00 in the quota time zone) as the store's daily tally counts them, every replica's; this worker's own when the store keeps no tally. Other clients of the same Zoho user are not counted.",
    registers,
    async collect() {
      this.set(await callsToday());
    },
  });
  if (dailyLimit !== undefined) {
    new Gauge({
      name: name('zoho_quota_remaining'),
      help: "Zoho Developer API calls left today: dailyCallLimit minus the calls in the store's daily tally (every replica's; this worker's own when the store keeps none); 0 when exhausted. Other clients of the same Zoho user also spend this quota.",
      registers,
      async collect() {
        const used = await callsToday();
        const exhausted = worker.getStatus().quota.exhausted;
        this.set(exhausted ? 0 : Math.max(0, dailyLimit - used));
      },
    });
  }

  const discrepancyRecords = new Gauge({
    name: name('discrepancy_records'),
    help: 'Records that differed between Zoho and Redis at the last discrepancy or staleness check (before healing), by type.',
    labelNames: ['type'] as const,
    registers,
  });
  const discrepancyEvents = new Gauge({
    name: name('discrepancy_events'),
    help: 'Events with differences at the last discrepancy or staleness check.',
    registers,
  });
  const discrepancyFound = new Counter({
    name: name('discrepancy_records_found_total'),
    help: 'Records found differing by discrepancy and staleness checks, summed over checks, by type.',
    labelNames: ['type'] as const,
    registers,
  });
  for (const type of DRIFT_TYPES) {
    discrepancyRecords.set({ type }, 0);
    discrepancyFound.inc({ type }, 0);
  }
  discrepancyEvents.set(0);

  const lastSynced = new Map<string, number>();
  new Gauge({
    name: name('event_staleness_seconds'),
    help: 'Seconds since each event was last synced or checked in full (from eventSynced), per event synced since the metrics were registered.',
    labelNames: ['event_id'] as const,
    registers,
    collect() {
      const now = Date.now();
      for (const [eventId, at] of lastSynced) this.set({ event_id: eventId }, Math.max(0, (now - at) / 1000));
    },
  });

  const simpleCounter = (suffix: string, help: string): Counter => {
    const counter = new Counter({ name: name(suffix), help, registers });
    counter.inc(0);
    return counter;
  };
  const deadLettered = simpleCounter('dead_lettered_total', 'Records sent to a dead-letter stream.');
  const massRemovalBlocked = simpleCounter('mass_removal_blocked_total', 'Removals refused by the mass-removal guard.');
  const leaseLost = simpleCounter('lease_lost_total', 'Runs that lost the cross-replica lease mid-run.');
  const ticksSkipped = simpleCounter('ticks_skipped_total', 'Timer ticks skipped because a run was in flight.');
  const staleWritesRefused = simpleCounter(
    'stale_writes_refused_total',
    "Records not written because Redis held a newer version or a delete's tombstone (an older version listed before a push or a delete).",
  );
  const runsSkipped = new Counter({
    name: name('runs_skipped_total'),
    help: 'Automatic runs skipped, by reason (lease-held: another replica is syncing; quota-exhausted: Zoho daily limit hit recently; quota-budget: the planned calls exceed those left today under dailyCallLimit; recently-synced: another replica synced less than half an interval ago).',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of SKIP_REASONS) runsSkipped.inc({ reason }, 0);

  new Gauge({
    name: name('worker_running'),
    help: '1 while the worker is started (automatic syncing on), else 0.',
    registers,
    collect() {
      this.set(worker.getStatus().is_running ? 1 : 0);
    },
  });
  new Gauge({
    name: name('run_in_progress'),
    help: '1 while a run of this kind is in flight, else 0.',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const run = worker.getStatus().current_run;
      for (const kind of RUN_KIND_VALUES) this.set({ kind }, run?.kind === kind ? 1 : 0);
    },
  });
  new Gauge({
    name: name('last_success_timestamp_seconds'),
    help: 'End of the last successful sync run, Unix time in seconds; 0 before the first.',
    registers,
    collect() {
      const last = worker.getStatus().last_sync_time;
      this.set(last === null ? 0 : Date.parse(last) / 1000);
    },
  });

  const applyReport = (report: DiscrepancyReport): void => {
    discrepancyRecords.set({ type: 'missing_in_redis' }, report.totals.missingInRedis);
    discrepancyRecords.set({ type: 'extra_in_redis' }, report.totals.extraInRedis);
    discrepancyRecords.set({ type: 'stale' }, report.totals.stale);
    discrepancyEvents.set(report.totals.eventsWithDiscrepancies);
  };

  const listeners: { [K in keyof SyncWorkerEvents]?: Listener<K> } = {
    syncCompleted: (result) => {
      runs.inc({ kind: result.kind, outcome: 'succeeded' });
      duration.observe({ kind: result.kind, outcome: 'succeeded' }, result.durationMs / 1000);
      if (result.discrepancies) applyReport(result.discrepancies);
      readCalls();
    },
    syncFailed: (payload) => {
      runs.inc({ kind: payload.kind, outcome: 'failed' });
      duration.observe({ kind: payload.kind, outcome: 'failed' }, payload.durationMs / 1000);
      readCalls();
    },
    recordsAdded: (payload) => records.inc({ change: 'added' }, payload.ids.length),
    recordsUpdated: (payload) => records.inc({ change: 'updated' }, payload.ids.length),
    recordsRemoved: (payload) => records.inc({ change: 'removed' }, payload.ids.length),
    staleWritesRefused: (payload) => staleWritesRefused.inc(payload.ids.length),
    recordSynced: (payload) => {
      if (payload.outcome === 'refused') staleWritesRefused.inc();
      if (payload.outcome === 'added' || payload.outcome === 'updated' || payload.outcome === 'removed') {
        records.inc({ change: payload.outcome });
      }
    },
    discrepancyFound: (report) => {
      applyReport(report);
      discrepancyFound.inc({ type: 'missing_in_redis' }, report.totals.missingInRedis);
      discrepancyFound.inc({ type: 'extra_in_redis' }, report.totals.extraInRedis);
      discrepancyFound.inc({ type: 'stale' }, report.totals.stale);
    },
    eventSynced: (payload) => {
      lastSynced.set(payload.eventId, Date.now());
    },
    recordDeadLettered: () => deadLettered.inc(),
    massRemovalBlocked: () => massRemovalBlocked.inc(),
    leaseLost: () => leaseLost.inc(),
    tickSkipped: () => ticksSkipped.inc(),
    runSkipped: (payload) => runsSkipped.inc({ reason: payload.reason }),
  };
  const entries = Object.entries(listeners) as [keyof SyncWorkerEvents, (...args: unknown[]) => void][];
  for (const [event, listener] of entries) (worker.on as (e: string, l: (...args: unknown[]) => void) => unknown)(event, listener);

  let registered = true;
  return {
    names: Object.freeze([...names]),
    unregister() {
      if (!registered) return;
      registered = false;
      for (const [event, listener] of entries) (worker.off as (e: string, l: (...args: unknown[]) => void) => unknown)(event, listener);
      for (const metric of names) registry.removeSingleMetric(metric);
    },
  };
}

/** A function giving the calendar day (YYYY-MM-DD) of an instant in `timeZone`. */
function dayFormatter(timeZone: string): (ms: number) => string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    throw new ConfigError('quotaTimeZone', `Expected \`quotaTimeZone\` to be an IANA time zone, got ${shownValue(timeZone)}`);
  }
  return (ms) => format.format(ms);
}

/** The part of `ZohoPushes` the push metrics use (a structural type, so tests may pass a fake). */
export type MetricsPushes = Pick<ZohoPushes, 'on' | 'off' | 'getStatus'>;

/** Options of {@link registerPushMetrics}. */
export interface PushMetricsOptions {
  /** Prefix of every metric name. @defaultValue `'zoho_redis_sync_'` */
  readonly prefix?: string | undefined;
  /** Buckets of `<prefix>push_lag_seconds`. Unit: seconds. @defaultValue `[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]` */
  readonly lagBuckets?: readonly number[] | undefined;
}

/**
 * Registers the push metrics of a `ZohoPushes` on `registry` (names with the default prefix):
 *
 * | metric | type | labels | fed by |
 * |---|---|---|---|
 * | `pushes_received_total` | counter | `action` | `recordPushed` |
 * | `pushes_rejected_total` | counter | `code` (e.g. `ERR_SYNC_PUSH_SIGNATURE`) | `pushRejected` |
 * | `pushes_applied_total` | counter | `outcome` (`added`/`updated`/`unchanged`/`removed`/`absent`/`rejected`/`refused`) | `pushApplied` |
 * | `push_stale_writes_refused_total` | counter | | `pushApplied` with outcome `refused` (Redis held a newer version or a delete's tombstone) |
 * | `pushes_dead_lettered_total` | counter | | `pushDeadLettered` |
 * | `push_lag_seconds` | histogram | | `pushApplied` (acceptance → committed Redis write) |
 * | `push_lag_p50_seconds`, `push_lag_p99_seconds` | gauge | | `getStatus().lag_ms` at scrape (latest samples) |
 *
 * @throws `ConfigError` for an invalid prefix or buckets; prom-client's own error for a name already registered.
 */
export function registerPushMetrics(pushes: MetricsPushes, registry: MetricsRegistry, options: PushMetricsOptions = {}): SyncMetrics {
  const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
  if (typeof prefix !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(prefix)) {
    throw new ConfigError('prefix', `Expected \`prefix\` to match [a-zA-Z_][a-zA-Z0-9_]*, got ${shownValue(prefix)}`);
  }
  const buckets = [...(options.lagBuckets ?? [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60])];
  if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new ConfigError('lagBuckets', 'Expected `lagBuckets` to be positive numbers in increasing order');
  }
  const registers: MetricsRegistry[] = [registry];
  const names: string[] = [];
  const name = (suffix: string): string => {
    names.push(`${prefix}${suffix}`);
    return `${prefix}${suffix}`;
  };
  const received = new Counter({ name: name('pushes_received_total'), help: 'Zoho pushes accepted into the inbox, by action.', labelNames: ['action'] as const, registers });
  for (const action of ['created', 'edited', 'deleted']) received.inc({ action }, 0);
  const rejected = new Counter({ name: name('pushes_rejected_total'), help: 'Zoho pushes refused, by error code.', labelNames: ['code'] as const, registers });
  const applied = new Counter({ name: name('pushes_applied_total'), help: 'Zoho pushes applied to Redis, by outcome.', labelNames: ['outcome'] as const, registers });
  for (const outcome of ['added', 'updated', 'unchanged', 'removed', 'absent', 'rejected', 'refused']) applied.inc({ outcome }, 0);
  const staleRefused = new Counter({
    name: name('push_stale_writes_refused_total'),
    help: 'Pushed records not written because Redis held a newer version or a delete\'s tombstone.',
    registers,
  });
  staleRefused.inc(0);
  const dead = new Counter({ name: name('pushes_dead_lettered_total'), help: 'Zoho pushes moved to the dead-letter stream after their retries.', registers });
  const lag = new Histogram({ name: name('push_lag_seconds'), help: 'Push-to-Redis lag: from acceptance to the committed write. Unit: seconds.', buckets, registers });
  for (const q of ['p50', 'p99'] as const) {
    new Gauge({
      name: name(`push_lag_${q}_seconds`),
      help: `Push-to-Redis lag, ${q} of the latest samples. Unit: seconds.`,
      registers,
      collect() {
        const value = pushes.getStatus().lag_ms[q];
        if (value !== null) this.set(value / 1000);
      },
    });
  }
  const listeners = {
    recordPushed: (p: { action: string }) => received.inc({ action: p.action }),
    pushRejected: (p: { code: string }) => rejected.inc({ code: p.code }),
    pushApplied: (p: { outcome: string; lagMs: number }) => {
      applied.inc({ outcome: p.outcome });
      if (p.outcome === 'refused') staleRefused.inc();
      lag.observe(p.lagMs / 1000);
    },
    pushDeadLettered: (p: { pushIds: readonly string[] }) => dead.inc(p.pushIds.length),
  };
  const entries = Object.entries(listeners) as [string, (...args: unknown[]) => void][];
  for (const [event, listener] of entries) (pushes.on as (e: string, l: (...args: unknown[]) => void) => unknown)(event, listener);
  let registered = true;
  return {
    names: Object.freeze([...names]),
    unregister() {
      if (!registered) return;
      registered = false;
      for (const [event, listener] of entries) (pushes.off as (e: string, l: (...args: unknown[]) => void) => unknown)(event, listener);
      for (const metric of names) registry.removeSingleMetric(metric);
    },
  };
}
