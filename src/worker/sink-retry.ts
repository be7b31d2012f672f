/**
 * Retrying a sink call after a transient Redis failure. A run's Redis calls go through
 * {@link RetryingSink}: a call that fails because the connection was lost (killed with
 * `CLIENT KILL`, reset, Redis restarting) is sent again with p-retry (exponential backoff with
 * jitter, at most `maxRetries` times); a call that Redis refused (`WRONGTYPE`, a script error,
 * `OOM`, a stale fence) fails at once.
 *
 * Why a retry is safe: every sink write the worker makes is idempotent (upserts compare the stored
 * JSON, removals and metadata writes converge, the watermark only moves forward). Why counts stay
 * truthful: a call counts only once it resolved, i.e. once Redis committed it and answered. When
 * an attempt committed but its answer was lost with the connection, the retry finds those records
 * identical and reports them as unchanged: counts can then under-report, never over-report.
 */
import pRetry from 'p-retry';
import type { RecordSink, RecordSinkCapabilities, RemoveOptions, StampComparison, UpsertOptions, UpsertResult } from '../adapters/sink.js';
import type { RecordStamp, SourceRecord } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import { isSyncError, SyncErrorCode } from '../errors.js';

/** First backoff delay before retrying a Redis call; doubles per retry, randomised ×1–2. Unit: ms. */
export const SINK_RETRY_MIN_DELAY_MS = 100;
/** Longest backoff delay between two attempts of a Redis call. Unit: ms. */
export const SINK_RETRY_MAX_DELAY_MS = 1000;

/** Node.js socket error codes that mean the connection (not the command) failed. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * Messages of ioredis errors raised for a lost connection rather than by Redis: a pipeline cut by a
 * connection close (`Command aborted due to connection close`), a client that gave up reconnecting
 * for this command (`Reached the max retries per request limit`, class `MaxRetriesPerRequestError`),
 * a closed or unwritable stream, and `commandTimeout`.
 */
const CONNECTION_ERROR_MESSAGES =
  /Command aborted due to connection close|Reached the max retries per request limit|Connection is closed|Stream isn't writeable|Command timed out/i;

/**
 * Redis error replies that are transient by definition (https://redis.io/docs/latest/develop/reference/protocol-spec/#simple-errors
 * and the command pages): `LOADING` (the dataset is being loaded after a restart), `BUSY` (a script
 * runs too long; not `BUSYGROUP`), `TRYAGAIN` / `CLUSTERDOWN` (cluster resharding or failing over),
 * `MASTERDOWN` (a replica lost its master).
 */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)\b/;

/**
 * True when a Redis failure is worth retrying: the connection failed (see the lists above), or Redis
 * answered with a transient error reply. Looks through `cause` chains (a `SinkError` carries the
 * ioredis error as its cause). Never true for a `SyncError` other than a `SinkError` (a stale fence
 * is a `LeaseError`, a bad argument an `InvalidInputError`), nor for error replies such as
 * `WRONGTYPE`, `ERR … script …`, `NOSCRIPT`, `OOM`, `READONLY` or `NOPERM`.
 */
export function isTransientSinkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    if (isSyncError(current) && current.code !== SyncErrorCode.SINK) return false;
    if (typeof current !== 'object') return false;
    const { code, name, message } = current as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
    if (name === 'MaxRetriesPerRequestError') return true;
    if (!isSyncError(current) && typeof message === 'string') {
      if (CONNECTION_ERROR_MESSAGES.test(message)) return true;
      if (TRANSIENT_REPLY.test(message)) return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Options of {@link RetryingSink}. */
export interface SinkRetryOptions {
  /** Retries per call (attempts − 1). Unit: retries. */
  readonly retries: number;
  /** The run's signal: once it aborted, failed calls are not retried any more (calls already aborted run once, unretried). */
  readonly signal?: AbortSignal | undefined;
  /** First backoff delay. Unit: ms. @defaultValue {@link SINK_RETRY_MIN_DELAY_MS} */
  readonly minDelayMs?: number | undefined;
  /** Called before each retry, with the failed call's name, the error and the retries left. */
  readonly onRetry?: ((operation: string, error: unknown, retriesLeft: number) => void) | undefined;
}

/**
 * Runs `call`, retrying it while it fails transiently (see {@link isTransientSinkError}) with
 * exponential backoff, at most `options.retries` times.
 */
export function retryTransient<T>(operation: string, call: () => Promise<T>, options: SinkRetryOptions): Promise<T> {
  const { retries, signal, onRetry } = options;
  if (retries <= 0 || signal?.aborted) return call();
  // The run's signal is not handed to p-retry: p-retry would also reject a call that succeeded
  // while the signal aborted, and a committed batch must be counted. An abort stops further
  // retries instead (a backoff wait in progress, at most SINK_RETRY_MAX_DELAY_MS, runs out first).
  return pRetry(call, {
    retries,
    factor: 2,
    minTimeout: options.minDelayMs ?? SINK_RETRY_MIN_DELAY_MS,
    maxTimeout: SINK_RETRY_MAX_DELAY_MS,
    randomize: true,
    shouldRetry: ({ error }) => signal?.aborted !== true && isTransientSinkError(error),
    onFailedAttempt: ({ error, retriesLeft }) => {
      if (retriesLeft > 0 && signal?.aborted !== true && isTransientSinkError(error)) onRetry?.(operation, error, retriesLeft);
    },
  });
}

/**
 * A {@link RecordSink} that forwards to another one and retries calls that failed transiently
 * (see {@link isTransientSinkError}). `scanRecordIds` is forwarded without retry: a stream cannot
 * be re-entered midway. The optional extras are forwarded when the inner sink declares them.
 */
export class RetryingSink implements RecordSink {
  readonly name: string;
  readonly capabilities: RecordSinkCapabilities;
  /** The run's (retrying) view of the inner sink's own state store, when the run uses that store. */
  readonly state?: StateStore;
  readonly compareStamps?: (stamps: readonly RecordStamp[]) => Promise<StampComparison>;
  readonly locateRecord?: (recordId: string, eventIds: readonly string[]) => Promise<string | undefined>;

  /**
   * @param ownState - the run's retrying wrapper of `inner.state`, when the run's state store is
   *   the sink's own: then `state` is it and `notesWrites` is kept; otherwise `notesWrites` is off
   *   (the run's bookkeeping lives elsewhere).
   */
  constructor(
    private readonly inner: RecordSink,
    private readonly options: SinkRetryOptions,
    ownState?: StateStore,
  ) {
    this.name = inner.name;
    this.capabilities = ownState !== undefined || inner.capabilities.notesWrites !== true ? inner.capabilities : { ...inner.capabilities, notesWrites: false };
    if (ownState !== undefined) this.state = ownState;
    const { compareStamps, locateRecord } = inner;
    if (compareStamps) this.compareStamps = (stamps) => this.retry('compareStamps', () => compareStamps.call(inner, stamps));
    if (locateRecord) this.locateRecord = (id, events) => this.retry('locateRecord', () => locateRecord.call(inner, id, events));
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }
  upsertRecords(records: readonly SourceRecord[], options?: UpsertOptions): Promise<UpsertResult> {
    return this.retry('upsertRecords', () => (options === undefined ? this.inner.upsertRecords(records) : this.inner.upsertRecords(records, options)));
  }
  removeRecords(eventId: string, ids: readonly string[], options?: RemoveOptions): Promise<string[]> {
    return this.retry('removeRecords', () => (options === undefined ? this.inner.removeRecords(eventId, ids) : this.inner.removeRecords(eventId, ids, options)));
  }
  countRecords(eventId: string): Promise<number> {
    return this.retry('countRecords', () => this.inner.countRecords(eventId));
  }
  scanRecordIds(eventId: string): AsyncIterable<string[]> {
    return this.inner.scanRecordIds(eventId);
  }
  readStamps(eventId: string, ids: readonly string[]): Promise<(number | undefined)[]> {
    return this.retry('readStamps', () => this.inner.readStamps(eventId, ids));
  }
  getRecord(eventId: string, recordId: string): Promise<Record<string, unknown> | undefined> {
    return this.retry('getRecord', () => this.inner.getRecord(eventId, recordId));
  }

  private retry<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(operation, call, this.options);
  }
}

/** The state-store methods a run retries (all but the lease ones, which the worker handles itself). */
const RETRIED_STATE_METHODS = [
  'noteWrites',
  'markSeen',
  'filterUnseen',
  'countSeen',
  'releaseScope',
  'saveEvents',
  'listEventIds',
  'getEventStates',
  'setEventMeta',
  'getSyncMeta',
  'setSyncMeta',
  'advanceWatermark',
  'getCheckpoint',
  'setCheckpoint',
  'clearCheckpoint',
  // A retry after a lost answer may append a dead letter twice (a dead letter is a report, not data).
  'deadLetter',
] as const satisfies readonly (keyof StateStore)[];

/**
 * A {@link StateStore} that forwards to another one and retries transient failures of its
 * idempotent methods (every write converges: metadata, checkpoints, seen sets, a forward-only
 * watermark). `ping` and the lease methods are forwarded without retry (taking a lease twice is
 * not idempotent; the worker handles lease failures itself).
 */
export function retryingStateStore(inner: StateStore, options: SinkRetryOptions): StateStore {
  const out: Record<string, unknown> = {
    ping: () => inner.ping(),
  };
  for (const name of RETRIED_STATE_METHODS) {
    const method = inner[name] as (...args: unknown[]) => Promise<unknown>;
    out[name] = (...args: unknown[]) => retryTransient(name, () => method.apply(inner, args), options);
  }
  if (inner.acquireLease && inner.renewLease && inner.releaseLease) {
    out.acquireLease = inner.acquireLease.bind(inner);
    out.renewLease = inner.renewLease.bind(inner);
    out.releaseLease = inner.releaseLease.bind(inner);
  }
  if (inner.inspectLease) out.inspectLease = inner.inspectLease.bind(inner);
  if (inner.repairState) out.repairState = inner.repairState.bind(inner);
  if (inner.evictionPolicy) out.evictionPolicy = inner.evictionPolicy.bind(inner);
  return out as unknown as StateStore;
}
