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
import type {
  Checkpoint,
  EventMeta,
  EventMetaPatch,
  FenceOptions,
  Lease,
  SinkAdapter,
  StampComparison,
  SyncMeta,
  SyncMetaPatch,
  UpsertOptions,
  UpsertResult,
} from '../adapters/sink.js';
import type { RecordStamp, RejectedRecord, SourceEvent, SourceRecord } from '../adapters/source.js';
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
 * A {@link SinkAdapter} that forwards to another one and retries calls that failed transiently
 * (see {@link isTransientSinkError}). Streams (`scanRecordIds`, `scanUnseen`) and the lease methods
 * are forwarded without retry: a stream cannot be re-entered midway, and taking a lease twice is not
 * idempotent (the worker handles lease failures itself).
 */
export class RetryingSink implements SinkAdapter {
  readonly name: string;
  readonly acquireLease?: (owner: string, ttlMs: number) => Promise<Lease | undefined>;
  readonly renewLease?: (owner: string, ttlMs: number) => Promise<boolean>;
  readonly releaseLease?: (owner: string) => Promise<void>;

  constructor(
    private readonly inner: SinkAdapter,
    private readonly options: SinkRetryOptions,
  ) {
    this.name = inner.name;
    if (inner.acquireLease) this.acquireLease = inner.acquireLease.bind(inner);
    if (inner.renewLease) this.renewLease = inner.renewLease.bind(inner);
    if (inner.releaseLease) this.releaseLease = inner.releaseLease.bind(inner);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }
  upsertRecords(records: readonly SourceRecord[], options?: UpsertOptions): Promise<UpsertResult> {
    return this.retry('upsertRecords', () => this.inner.upsertRecords(records, options));
  }
  removeRecords(eventId: string, ids: readonly string[]): Promise<string[]> {
    return this.retry('removeRecords', () => this.inner.removeRecords(eventId, ids));
  }
  countRecords(eventId: string): Promise<number> {
    return this.retry('countRecords', () => this.inner.countRecords(eventId));
  }
  scanRecordIds(eventId: string): AsyncIterable<string[]> {
    return this.inner.scanRecordIds(eventId);
  }
  locateRecord(recordId: string, eventIds: readonly string[]): Promise<string | undefined> {
    return this.retry('locateRecord', () => this.inner.locateRecord(recordId, eventIds));
  }
  compareStamps(stamps: readonly RecordStamp[], scope: string): Promise<StampComparison> {
    return this.retry('compareStamps', () => this.inner.compareStamps(stamps, scope));
  }
  scanUnseen(eventId: string, scope: string): AsyncIterable<string[]> {
    return this.inner.scanUnseen(eventId, scope);
  }
  countSeen(eventId: string, scope: string): Promise<number> {
    return this.retry('countSeen', () => this.inner.countSeen(eventId, scope));
  }
  releaseScope(scope: string, eventIds: readonly string[]): Promise<void> {
    return this.retry('releaseScope', () => this.inner.releaseScope(scope, eventIds));
  }
  saveEvents(events: readonly SourceEvent[]): Promise<void> {
    return this.retry('saveEvents', () => this.inner.saveEvents(events));
  }
  listEventIds(): Promise<string[]> {
    return this.retry('listEventIds', () => this.inner.listEventIds());
  }
  getEventMeta(eventId: string): Promise<EventMeta> {
    return this.retry('getEventMeta', () => this.inner.getEventMeta(eventId));
  }
  getEventMetas(eventIds: readonly string[]): Promise<EventMeta[]> {
    return this.retry('getEventMetas', () => this.inner.getEventMetas(eventIds));
  }
  setEventMeta(eventId: string, patch: EventMetaPatch, options?: FenceOptions): Promise<void> {
    return this.retry('setEventMeta', () => this.inner.setEventMeta(eventId, patch, options));
  }
  getSyncMeta(): Promise<SyncMeta> {
    return this.retry('getSyncMeta', () => this.inner.getSyncMeta());
  }
  setSyncMeta(patch: SyncMetaPatch, options?: FenceOptions): Promise<void> {
    return this.retry('setSyncMeta', () => this.inner.setSyncMeta(patch, options));
  }
  advanceWatermark(instant: number, options?: FenceOptions): Promise<number> {
    return this.retry('advanceWatermark', () => this.inner.advanceWatermark(instant, options));
  }
  getCheckpoint(name: string): Promise<Checkpoint | undefined> {
    return this.retry('getCheckpoint', () => this.inner.getCheckpoint(name));
  }
  setCheckpoint(name: string, checkpoint: Checkpoint, options?: FenceOptions): Promise<void> {
    return this.retry('setCheckpoint', () => this.inner.setCheckpoint(name, checkpoint, options));
  }
  clearCheckpoint(name: string, options?: FenceOptions): Promise<void> {
    return this.retry('clearCheckpoint', () => this.inner.clearCheckpoint(name, options));
  }
  /** Retried too: a retry after a lost answer may append an entry twice (a dead letter is a report, not data). */
  deadLetter(entries: readonly RejectedRecord[]): Promise<void> {
    return this.retry('deadLetter', () => this.inner.deadLetter(entries));
  }

  private retry<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const { retries, signal, onRetry } = this.options;
    if (retries <= 0 || signal?.aborted) return call();
    // The run's signal is not handed to p-retry: p-retry would also reject a call that succeeded
    // while the signal aborted, and a committed batch must be counted. An abort stops further
    // retries instead (a backoff wait in progress, at most SINK_RETRY_MAX_DELAY_MS, runs out first).
    return pRetry(call, {
      retries,
      factor: 2,
      minTimeout: this.options.minDelayMs ?? SINK_RETRY_MIN_DELAY_MS,
      maxTimeout: SINK_RETRY_MAX_DELAY_MS,
      randomize: true,
      shouldRetry: ({ error }) => signal?.aborted !== true && isTransientSinkError(error),
      onFailedAttempt: ({ error, retriesLeft }) => {
        if (retriesLeft > 0 && signal?.aborted !== true && isTransientSinkError(error)) onRetry?.(operation, error, retriesLeft);
      },
    });
  }
}
