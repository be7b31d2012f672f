/**
 * One Zoho call budget shared by every process of distributed mode: a sliding-window log in Redis
 * (a sorted set of call instants) that admits at most `maxCalls` calls per `windowMs`, plus a
 * shared pause key that a `429`/`2955` answer sets for a minute. BullMQ's own limiter counts jobs,
 * and a job here makes several calls (a partition listing of several pages), so the per-call
 * budget is kept here, in the queue's hash-tag slot, while the queue limiter caps job starts.
 *
 * Zoho facts: the per-minute limit applies per organisation across all callers, and HTTP 429 /
 * code 2955 asks the caller to wait ("Try after one minute",
 * https://www.zoho.com/creator/help/api/v2.1/status-codes.html). Redis: a script runs atomically;
 * `TIME` inside a script is allowed with effects replication (Redis ≥ 5 default, 7 only mode).
 */
import type { Cluster, Redis } from 'ioredis';
import type { ListOptions, RecordStamp, SourceAdapter, SourceCallOptions, SourceEvent, SourcePage, SourceRecord } from '../adapters/source.js';
import { AbortedError, isSyncError, SyncErrorCode } from '../errors.js';

/**
 * KEYS[1] call log (ZSET), KEYS[2] pause key. ARGV[1] max calls, ARGV[2] window (ms), ARGV[3] unique member.
 * Reply: 0 admitted, or the wait in ms before trying again.
 */
const ADMIT = `
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
`;

/** Options of {@link SharedCallLimiter}. */
export interface SharedCallLimiterOptions {
  /** Connection (`Redis` or `Cluster`). */
  readonly redis: Redis | Cluster;
  /** The call log key and the pause key; both must share a hash tag on a cluster. */
  readonly keys: { readonly log: string; readonly pause: string };
  /** Calls admitted per window across all processes. Unit: calls. */
  readonly maxCalls: number;
  /** Window length. Default 60,000 (Zoho's limits are per minute). Unit: ms. */
  readonly windowMs?: number | undefined;
  /** Pause after a 429 / code 2955. Default 60,000. Unit: ms. */
  readonly rateLimitPauseMs?: number | undefined;
}

let sequence = 0;

/** The shared budget. */
export class SharedCallLimiter {
  readonly #redis: Redis | Cluster;
  readonly #keys: { readonly log: string; readonly pause: string };
  readonly #maxCalls: number;
  readonly #windowMs: number;
  readonly #pauseMs: number;
  readonly #token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  /** Calls admitted by this process. Unit: calls. */
  admitted = 0;

  /** @throws RangeError when `maxCalls` is not a positive integer. */
  constructor(options: SharedCallLimiterOptions) {
    if (!Number.isSafeInteger(options.maxCalls) || options.maxCalls < 1) throw new RangeError(`maxCalls must be a positive integer, got ${String(options.maxCalls)}`);
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#maxCalls = options.maxCalls;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#pauseMs = options.rateLimitPauseMs ?? 60_000;
    const r = this.#redis as unknown as { zrsAdmitCall?: unknown } & Pick<Redis, 'defineCommand'>;
    if (typeof r.zrsAdmitCall !== 'function') r.defineCommand('zrsAdmitCall', { numberOfKeys: 2, lua: ADMIT });
  }

  /**
   * Waits until the shared budget admits one call.
   * @throws {@link AbortedError} when `signal` aborts while waiting; the ioredis error when Redis fails.
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw new AbortedError('Aborted while waiting for the shared Zoho call budget');
      sequence += 1;
      const wait = Number(
        await (this.#redis as unknown as { zrsAdmitCall: (...a: unknown[]) => Promise<number> }).zrsAdmitCall(
          this.#keys.log,
          this.#keys.pause,
          this.#maxCalls,
          this.#windowMs,
          `${this.#token}-${sequence}`,
        ),
      );
      if (wait === 0) {
        this.admitted += 1;
        return;
      }
      await sleep(Math.min(wait, 5000), signal);
    }
  }

  /** Pauses every process's calls for `rateLimitPauseMs` (after a 429 / code 2955). */
  async pauseForRateLimit(): Promise<void> {
    await this.#redis.set(this.#keys.pause, '1', 'PX', this.#pauseMs);
  }

  /** Wraps a source so that every call (each page of a listing included) first takes a slot. */
  wrap(source: SourceAdapter): SourceAdapter {
    const guard = async <T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> => {
      await this.acquire(signal);
      try {
        return await call();
      } catch (error) {
        if (isSyncError(error) && error.code === SyncErrorCode.ZOHO_RATE_LIMITED) await this.pauseForRateLimit().catch(() => undefined);
        throw error;
      }
    };
    const pages = <T>(options: ListOptions | undefined, open: () => AsyncIterable<SourcePage<T>>): AsyncIterable<SourcePage<T>> => ({
      [Symbol.asyncIterator]() {
        const it = open()[Symbol.asyncIterator]();
        return {
          next: () => guard(options?.signal, () => it.next()),
          return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
        };
      },
    });
    const wrapped: SourceAdapter = {
      name: source.name,
      listEvents: (options?: SourceCallOptions): Promise<SourceEvent[]> => guard(options?.signal, () => source.listEvents(options)),
      readRecords: (options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>> => pages(options, () => source.readRecords(options)),
      readStamps: (options?: ListOptions): AsyncIterable<SourcePage<RecordStamp>> => pages(options, () => source.readStamps(options)),
      readChangedSince: (since: number, options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>> =>
        pages(options, () => source.readChangedSince(since, options)),
      getRecord: (recordId: string, options?: SourceCallOptions) => guard(options?.signal, () => source.getRecord(recordId, options)),
    };
    if (source.getCallCounts) wrapped.getCallCounts = () => source.getCallCounts!();
    // Estimates make no call: no slot taken.
    if (source.estimateCalls) wrapped.estimateCalls = (request) => source.estimateCalls!(request);
    if (source.close) wrapped.close = () => source.close!();
    return wrapped;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError('Aborted while waiting for the shared Zoho call budget'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
