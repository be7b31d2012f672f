/**
 * SyncWorker configuration: the option names, defaults and environment variables of the original
 * design (`SYNC_INTERVAL_MS`, `SYNC_BATCH_SIZE`, ...), validated once, early.
 */
import type { RecordSink } from '../adapters/sink.js';
import type { SourceAdapter } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import { IANAZone } from 'luxon';
import { ConfigError } from '../errors.js';
import { parseClusterNodes } from '../redis/connection-config.js';
import { checkRecordSink, checkStateStore } from './record-ops.js';
import { createConsoleLogger, type Logger, type LogLevel, parseLogLevel } from '../logger.js';
import { checkRedisUrl } from '../redis/redis-url.js';
import { shownValue } from '../internal/shown-value.js';

/** Options of `new SyncWorker(options)`. Every duration is in milliseconds. */
export interface SyncWorkerOptions {
  /** Where records come from, e.g. a `ZohoCreatorSource`. */
  source: SourceAdapter;
  /** Where records go: a record sink, e.g. a `RedisSink` (see the README's "Plugging in your own sink"). */
  sink: RecordSink;
  /**
   * The worker's bookkeeping (watermark, checkpoints, seen scopes, metadata, lease, dead letters),
   * e.g. a `RedisStateStore`. Default: the sink's own `state` (a `RedisSink` offers one on its
   * client and key prefix); required for a sink that has none.
   */
  state?: StateStore | undefined;
  /** Any object with `debug/info/warn/error` (pino-compatible). Default: a console logger honouring `logLevel`. */
  logger?: Logger | undefined;
  /** Interval between automatic incremental syncs. Unit: ms. @defaultValue 300000 (5 minutes) */
  syncIntervalMs?: number | undefined;
  /**
   * Records per sink write (`upsertRecords` call), and IDs per removal call. Unit: records.
   * @defaultValue 100 (1–5000)
   *
   * A sink may cut a write further: `RedisSink` sends at most its own `batchSize` (default 100)
   * records per pipeline. A value above the sink's therefore does not make Redis batches larger;
   * raise both together.
   */
  batchSize?: number | undefined;
  /**
   * Retries of a failed Zoho call (network, timeout, 5xx, 429, malformed body), or of a Redis call
   * that failed transiently (connection lost, `LOADING`, `BUSY`), before the run fails. Unit: retries. @defaultValue 3
   */
  maxRetries?: number | undefined;
  /** Run a full sync on `start()` and an incremental sync every `syncIntervalMs`. @defaultValue true */
  enableAutoSync?: boolean | undefined;
  /**
   * Publish what staleness checks find: a `discrepancyFound` event and the report in the run's
   * result. The staleness check itself always compares IDs and modification times and heals what
   * differs; this option only decides whether its findings are reported. @defaultValue true
   */
  enableDiscrepancyDetection?: boolean | undefined;
  /** An event whose last complete sync or check is older than this is stale. Unit: ms. @defaultValue 600000 (10 minutes) */
  staleAfterMs?: number | undefined;
  /**
   * Minimum time between two staleness checks (each costs one ID-only listing of the stale events:
   * ceil(records / 1000) Zoho calls). Unit: ms. @defaultValue 3600000 (1 hour)
   */
  staleCheckIntervalMs?: number | undefined;
  /** How far before the watermark an incremental listing starts. Unit: ms. @defaultValue 60000 */
  incrementalOverlapMs?: number | undefined;
  /** Largest share (0–1) of an event's records one run may remove unless forced. @defaultValue 0.5 */
  maxRemovalShare?: number | undefined;
  /** Records whose JSON is larger go to the dead-letter stream. Unit: bytes (UTF-8). @defaultValue 262144 */
  maxRecordBytes?: number | undefined;
  /**
   * How full-record and ID-only listings of the whole report (or of up to 50 events) are read:
   * `auto` uses the source's bulk listing (Zoho Bulk Read) when the expected record count exceeds
   * `bulkReadThreshold`, `bulk` always, `paged` never. @defaultValue 'auto'
   */
  listingStrategy?: 'auto' | 'bulk' | 'paged' | undefined;
  /**
   * Expected records above which `auto` lists in bulk. Unit: records. @defaultValue 20000 — a
   * paged listing costs ceil(N/1000) calls, a Bulk Read job about 4 (create, one or two status polls,
   * download) per 200,000 records plus one 200-record sample call: at 20,000 records that is 20
   * calls against about 5, a saving of three quarters, while below a few thousand records the two
   * cost the same and paged listings finish sooner (no job to wait for).
   */
  bulkReadThreshold?: number | undefined;
  /**
   * The record count `auto` compares with `bulkReadThreshold`. Unit: records.
   * @defaultValue the counts Redis holds from the last complete listing (event metadata)
   */
  expectedRecordCount?: number | undefined;
  /** Redis batches in flight at once, and events processed at once. Unit: operations. @defaultValue 4 */
  concurrency?: number | undefined;
  /**
   * After a run fails with Zoho's daily-limit answer (code 4000), automatic runs (start-up and timer
   * ticks) are skipped for this long — each skip counted in `stats.quota_skipped_runs` and emitted as
   * `runSkipped` — while manual triggers still run. Zoho resets the daily Developer API limit at
   * midnight in the super admin's time zone, which the API does not tell us, so the worker waits a
   * fixed time and then tries again (a new code 4000 starts a new pause). `0` never pauses.
   * Unit: ms. @defaultValue 3600000 (1 hour)
   */
  quotaPauseMs?: number | undefined;
  /**
   * Ceiling on the Zoho requests one run may send (retries included; token grants, which are
   * cached and single-flight, are not counted). Past it the run fails with `CallLimitError`
   * (`ERR_SYNC_CALL_LIMIT`) naming the calls made. The default, 5000, lets an honest full sync
   * list 5 million records at 1000 per page — far more than a Creator app holds — yet stops a
   * looping or endlessly paging server at 5× the largest per-user daily Developer API allowance
   * (1000 calls, https://www.zoho.com/creator/help/api/v2.1/api-limits.html) instead of letting
   * it spend the account's whole day. Honoured by sources that support `callBudget`
   * (`ZohoCreatorSource` does). Unit: calls. @defaultValue 5000
   */
  maxCallsPerRun?: number | undefined;
  /**
   * Zoho Developer API calls allowed per day for the user whose token the source uses (Free and
   * Standard 250, Professional 500, Enterprise and Zoho One 1,000 per user). With it set, a run whose
   * plan needs more calls than are left today (the store's tally, shared by replicas) is refused
   * with `ERR_SYNC_QUOTA_BUDGET` unless forced (`ignoreQuotaBudget`). Unit: calls.
   * @defaultValue undefined (no budget check; calls are still tallied)
   */
  dailyCallLimit?: number | undefined;
  /**
   * IANA zone of the Zoho account's super admin: Zoho resets the daily limit at 00:00 there
   * (https://www.zoho.com/creator/help/api/v2.1/api-limits.html). @defaultValue 'UTC'
   */
  quotaTimeZone?: string | undefined;
  /** Cross-replica lease (needs a sink with `acquireLease`). @defaultValue `{ enabled: true, ttlMs: 30000 }` */
  lease?: { enabled?: boolean | undefined; ttlMs?: number | undefined } | undefined;
  /** Level of the default logger. @defaultValue 'info' */
  logLevel?: LogLevel | undefined;
  /** Level of Redis-side log lines (batches, pipelines). @defaultValue 'warn' */
  redisLogLevel?: LogLevel | undefined;
}

/** Options after defaults were applied and values validated. */
export interface ResolvedSyncWorkerOptions {
  readonly syncIntervalMs: number;
  readonly batchSize: number;
  readonly maxRetries: number;
  readonly enableAutoSync: boolean;
  readonly enableDiscrepancyDetection: boolean;
  readonly staleAfterMs: number;
  readonly staleCheckIntervalMs: number;
  readonly incrementalOverlapMs: number;
  readonly maxRemovalShare: number;
  readonly maxRecordBytes: number;
  readonly concurrency: number;
  readonly listingStrategy: 'auto' | 'bulk' | 'paged';
  readonly bulkReadThreshold: number;
  readonly expectedRecordCount: number | undefined;
  readonly quotaPauseMs: number;
  readonly maxCallsPerRun: number;
  readonly dailyCallLimit: number | undefined;
  readonly quotaTimeZone: string;
  readonly lease: { readonly enabled: boolean; readonly ttlMs: number };
  readonly logLevel: LogLevel;
  readonly redisLogLevel: LogLevel;
}

/** The defaults, as in the original design where it names them. */
export const DEFAULT_SYNC_WORKER_OPTIONS: ResolvedSyncWorkerOptions = Object.freeze({
  syncIntervalMs: 5 * 60 * 1000,
  batchSize: 100,
  maxRetries: 3,
  enableAutoSync: true,
  enableDiscrepancyDetection: true,
  staleAfterMs: 10 * 60 * 1000,
  staleCheckIntervalMs: 60 * 60 * 1000,
  incrementalOverlapMs: 60 * 1000,
  maxRemovalShare: 0.5,
  maxRecordBytes: 256 * 1024,
  concurrency: 4,
  listingStrategy: 'auto',
  bulkReadThreshold: 20_000,
  expectedRecordCount: undefined,
  quotaPauseMs: 60 * 60 * 1000,
  maxCallsPerRun: 5000,
  dailyCallLimit: undefined,
  quotaTimeZone: 'UTC',
  lease: Object.freeze({ enabled: true, ttlMs: 30_000 }),
  logLevel: 'info',
  redisLogLevel: 'warn',
});

const KNOWN_OPTIONS = new Set<string>([
  'source',
  'sink',
  'state',
  'logger',
  ...Object.keys(DEFAULT_SYNC_WORKER_OPTIONS),
]);

function integer(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `Expected \`${name}\` to be an integer from ${min} to ${max}, got ${shownValue(value)}`);
  }
  return value;
}

function boolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(name, `Expected \`${name}\` to be a boolean, got ${shownValue(value)}`);
  return value;
}

function timeZone(name: string, value: unknown): string {
  if (typeof value === 'string' && IANAZone.isValidZone(value)) return value;
  throw new ConfigError(name, `Expected \`${name}\` to be an IANA time zone such as Europe/Berlin, got ${shownValue(value)}`);
}

function listingStrategy(value: unknown): 'auto' | 'bulk' | 'paged' {
  if (value === 'auto' || value === 'bulk' || value === 'paged') return value;
  throw new ConfigError('listingStrategy', `Expected \`listingStrategy\` to be auto, bulk or paged, got ${shownValue(value)}`);
}

function level(name: string, value: unknown): LogLevel {
  const parsed = typeof value === 'string' ? parseLogLevel(value) : undefined;
  if (!parsed) throw new ConfigError(name, `Expected \`${name}\` to be debug, info, warn, error or silent, got ${shownValue(value)}`);
  return parsed;
}

/**
 * Applies defaults and validates every option.
 *
 * @throws {@link ConfigError} naming the option, for a missing source or sink, an unknown option, or a value out of range.
 */
export function resolveOptions(input: SyncWorkerOptions): ResolvedSyncWorkerOptions {
  if (typeof input !== 'object' || input === null) throw new ConfigError('options', 'Expected an options object');
  for (const key of Object.keys(input)) {
    if (!KNOWN_OPTIONS.has(key)) throw new ConfigError(key, `Unknown option \`${key}\``);
  }
  if (!isAdapter(input.source, ['listEvents', 'readRecords', 'readStamps', 'readChangedSince', 'getRecord'])) {
    throw new ConfigError('source', 'Expected `source` to implement SourceAdapter (listEvents, readRecords, readStamps, readChangedSince, getRecord)');
  }
  checkRecordSink(input.sink);
  const state = input.state ?? input.sink.state;
  if (state === undefined) {
    throw new ConfigError('state', 'Expected `state` (e.g. new RedisStateStore({ redis })): the sink brings no state store of its own');
  }
  checkStateStore(state);
  if (input.logger !== undefined && !isAdapter(input.logger, ['debug', 'info', 'warn', 'error'])) {
    throw new ConfigError('logger', 'Expected `logger` to have debug, info, warn and error methods');
  }
  const d = DEFAULT_SYNC_WORKER_OPTIONS;
  const share = input.maxRemovalShare ?? d.maxRemovalShare;
  if (typeof share !== 'number' || !(share >= 0 && share <= 1)) {
    throw new ConfigError('maxRemovalShare', `Expected \`maxRemovalShare\` to be a number from 0 to 1, got ${shownValue(share)}`);
  }
  const lease = input.lease ?? {};
  if (typeof lease !== 'object' || lease === null) throw new ConfigError('lease', 'Expected `lease` to be an object such as { enabled: true, ttlMs: 30000 }');
  for (const key of Object.keys(lease)) {
    if (key !== 'enabled' && key !== 'ttlMs') throw new ConfigError(`lease.${key}`, `Unknown option \`lease.${key}\` (expected enabled, ttlMs)`);
  }
  return Object.freeze({
    syncIntervalMs: integer('syncIntervalMs', input.syncIntervalMs ?? d.syncIntervalMs, 1000),
    // 5000: the largest batch RedisSink accepts (one Lua call's arguments must fit Lua 5.1's unpack).
    batchSize: integer('batchSize', input.batchSize ?? d.batchSize, 1, 5000),
    maxRetries: integer('maxRetries', input.maxRetries ?? d.maxRetries, 0, 100),
    enableAutoSync: boolean('enableAutoSync', input.enableAutoSync ?? d.enableAutoSync),
    enableDiscrepancyDetection: boolean('enableDiscrepancyDetection', input.enableDiscrepancyDetection ?? d.enableDiscrepancyDetection),
    staleAfterMs: integer('staleAfterMs', input.staleAfterMs ?? d.staleAfterMs, 0),
    staleCheckIntervalMs: integer('staleCheckIntervalMs', input.staleCheckIntervalMs ?? d.staleCheckIntervalMs, 0),
    incrementalOverlapMs: integer('incrementalOverlapMs', input.incrementalOverlapMs ?? d.incrementalOverlapMs, 0),
    maxRemovalShare: share,
    maxRecordBytes: integer('maxRecordBytes', input.maxRecordBytes ?? d.maxRecordBytes, 1),
    concurrency: integer('concurrency', input.concurrency ?? d.concurrency, 1, 64),
    listingStrategy: listingStrategy(input.listingStrategy ?? d.listingStrategy),
    bulkReadThreshold: integer('bulkReadThreshold', input.bulkReadThreshold ?? d.bulkReadThreshold, 0),
    expectedRecordCount:
      input.expectedRecordCount === undefined ? undefined : integer('expectedRecordCount', input.expectedRecordCount, 0),
    quotaPauseMs: integer('quotaPauseMs', input.quotaPauseMs ?? d.quotaPauseMs, 0),
    maxCallsPerRun: integer('maxCallsPerRun', input.maxCallsPerRun ?? d.maxCallsPerRun, 1),
    dailyCallLimit: input.dailyCallLimit === undefined ? undefined : integer('dailyCallLimit', input.dailyCallLimit, 1),
    quotaTimeZone: timeZone('quotaTimeZone', input.quotaTimeZone ?? d.quotaTimeZone),
    lease: Object.freeze({
      enabled: boolean('lease.enabled', lease.enabled ?? d.lease.enabled),
      ttlMs: integer('lease.ttlMs', lease.ttlMs ?? d.lease.ttlMs, 1000),
    }),
    logLevel: level('logLevel', input.logLevel ?? d.logLevel),
    redisLogLevel: level('redisLogLevel', input.redisLogLevel ?? d.redisLogLevel),
  });
}

/** The logger a worker uses: the given one, or a console logger at `logLevel`. */
export function resolveLogger(input: SyncWorkerOptions, resolved: ResolvedSyncWorkerOptions): Logger {
  return input.logger ?? createConsoleLogger(resolved.logLevel);
}

function isAdapter(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return methods.every((m) => typeof record[m] === 'function');
}

/** The environment variables {@link configFromEnv} reads, and the option each sets. */
export const ENV_VARIABLES = Object.freeze({
  SYNC_INTERVAL_MS: 'syncIntervalMs',
  SYNC_BATCH_SIZE: 'batchSize',
  SYNC_MAX_RETRIES: 'maxRetries',
  ENABLE_AUTO_SYNC: 'enableAutoSync',
  ENABLE_DISCREPANCY_DETECTION: 'enableDiscrepancyDetection',
  SYNC_STALE_AFTER_MS: 'staleAfterMs',
  SYNC_STALE_CHECK_INTERVAL_MS: 'staleCheckIntervalMs',
  SYNC_QUOTA_PAUSE_MS: 'quotaPauseMs',
  SYNC_MAX_CALLS_PER_RUN: 'maxCallsPerRun',
  SYNC_DAILY_CALL_LIMIT: 'dailyCallLimit',
  SYNC_QUOTA_TIME_ZONE: 'quotaTimeZone',
  SYNC_LISTING_STRATEGY: 'listingStrategy',
  SYNC_BULK_READ_THRESHOLD: 'bulkReadThreshold',
  SYNC_EXPECTED_RECORD_COUNT: 'expectedRecordCount',
  LOG_LEVEL: 'logLevel',
  REDIS_LOG_LEVEL: 'redisLogLevel',
} as const);

const ENV_BOUNDS: Readonly<Record<string, readonly [number, number]>> = {
  syncIntervalMs: [1000, Number.MAX_SAFE_INTEGER],
  batchSize: [1, 5000],
  maxRetries: [0, 100],
  maxCallsPerRun: [1, Number.MAX_SAFE_INTEGER],
  dailyCallLimit: [1, Number.MAX_SAFE_INTEGER],
};

/** Options read from the environment (only the variables that are set). */
export type EnvConfig = Partial<
  Pick<
    ResolvedSyncWorkerOptions,
    | 'syncIntervalMs'
    | 'batchSize'
    | 'maxRetries'
    | 'enableAutoSync'
    | 'enableDiscrepancyDetection'
    | 'staleAfterMs'
    | 'staleCheckIntervalMs'
    | 'quotaPauseMs'
    | 'maxCallsPerRun'
    | 'dailyCallLimit'
    | 'quotaTimeZone'
    | 'listingStrategy'
    | 'bulkReadThreshold'
    | 'expectedRecordCount'
    | 'logLevel'
    | 'redisLogLevel'
  >
>;

/**
 * Reads the original design's environment variables, and the quota and listing ones (see
 * {@link ENV_VARIABLES}): integers in decimal, booleans as `true/false/1/0/yes/no`, log levels and
 * `SYNC_LISTING_STRATEGY` (`auto`, `bulk`, `paged`) case-insensitively, `SYNC_QUOTA_TIME_ZONE` as
 * an IANA zone.
 * Unset or empty variables are left out, so the result spreads over defaults:
 * `new SyncWorker({ source, sink, ...configFromEnv(process.env) })`.
 *
 * Where Redis is (`REDIS_URL`, or a cluster with `REDIS_CLUSTER_NODES=host:port,…`) is not a
 * worker option: `redisConnectionFromEnv` reads it; this function only checks that
 * `REDIS_CLUSTER_NODES` and `REDIS_URL`, when set, are well formed, so a typo fails with the other
 * variables (see `checkRedisUrl`: a URL without a scheme or with `http://` would make ioredis
 * connect somewhere else than meant).
 *
 * @param env - defaults to `process.env`.
 * @throws {@link ConfigError} naming the variable and the bad value, e.g. `SYNC_BATCH_SIZE="ten"`,
 *   or `REDIS_URL="127.0.0.1:6379"` with the expected form (a password in it is blanked).
 */
export function configFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): EnvConfig {
  if (env.REDIS_CLUSTER_NODES?.trim()) parseClusterNodes(env.REDIS_CLUSTER_NODES);
  const out: Record<string, number | boolean | string> = {};
  if (env.REDIS_URL !== undefined && env.REDIS_URL.trim() !== '') checkRedisUrl(env.REDIS_URL.trim(), 'REDIS_URL');
  for (const [variable, option] of Object.entries(ENV_VARIABLES)) {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') continue;
    const value = raw.trim();
    const bad = (expected: string): ConfigError =>
      new ConfigError(variable, `Environment variable ${variable}=${shownValue(raw)} is not ${expected}`);
    if (option === 'enableAutoSync' || option === 'enableDiscrepancyDetection') {
      const lower = value.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) out[option] = true;
      else if (['false', '0', 'no', 'off'].includes(lower)) out[option] = false;
      else throw bad('a boolean (true/false)');
    } else if (option === 'logLevel' || option === 'redisLogLevel') {
      const parsed = parseLogLevel(value);
      if (!parsed) throw bad('a log level (DEBUG, INFO, WARN, ERROR, SILENT)');
      out[option] = parsed;
    } else if (option === 'listingStrategy') {
      const lower = value.toLowerCase();
      if (lower !== 'auto' && lower !== 'bulk' && lower !== 'paged') throw bad('a listing strategy (auto, bulk, paged)');
      out[option] = lower;
    } else if (option === 'quotaTimeZone') {
      if (!IANAZone.isValidZone(value)) throw bad('an IANA time zone such as Europe/Berlin');
      out[option] = value;
    } else {
      if (!/^\d+$/.test(value)) throw bad('a non-negative integer');
      const n = Number(value);
      // The same bounds as resolveOptions(), so the error names the variable rather than the option.
      const [min, max] = ENV_BOUNDS[option] ?? [0, Number.MAX_SAFE_INTEGER];
      if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`an integer from ${min} to ${max}`);
      out[option] = n;
    }
  }
  return out as EnvConfig;
}

/**
 * Validates the options of a run method (`performFullSync`, `checkDiscrepancies`, ...) as the
 * constructor validates its own: an object (or `undefined`) whose keys are all in `booleans`, each
 * `true`, `false` or `undefined`. Nothing else is accepted, so a typo cannot silently turn an option off.
 *
 * @param method - the method's name, for the message (e.g. `performFullSync`).
 * @param booleans - the boolean options the method takes (e.g. `['allowMassRemoval']`).
 * @throws {@link ConfigError} naming the option: an unknown key (with the expected names), a value that
 *   is not a boolean, or options that are not an object.
 */
export function checkRunOptions(method: string, options: unknown, booleans: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError('options', `Expected the options of ${method}() to be an object such as { ${booleans[0]}: true }, got ${shownValue(options)}`);
  }
  for (const [key, value] of Object.entries(options)) {
    if (!booleans.includes(key)) {
      throw new ConfigError(key, `Unknown option \`${key}\` of ${method}() (expected ${booleans.map((b) => `\`${b}\``).join(', ')})`);
    }
    if (value !== undefined && typeof value !== 'boolean') {
      throw new ConfigError(key, `Expected \`${key}\` of ${method}() to be true or false, got ${shownValue(value)}`);
    }
  }
}
