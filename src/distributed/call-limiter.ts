/**
 * One Zoho call budget shared by every process of distributed mode: a sliding-window log in Redis
 * (a sorted set of call instants) that admits at most `maxCalls` calls per `windowMs`, plus a
 * shared pause key that a `429`/`2955` answer sets for a minute. BullMQ's own limiter counts jobs,
 * and a job here makes several calls (a partition listing of several pages, a Bulk Read job's
 * create, polls and download), so the per-request budget is kept here, in the queue's hash-tag
 * slot, while the queue limiter caps job starts. Continuations go first (see the class notes).
 *
 * Zoho facts: the per-minute limit applies per organisation across all callers, and HTTP 429 /
 * code 2955 asks the caller to wait ("Try after one minute",
 * https://www.zoho.com/creator/help/api/v2.1/status-codes.html). Redis: a script runs atomically;
 * `TIME` inside a script is allowed with effects replication (Redis ≥ 5 default, 7 only mode).
 */
import type { Cluster, Redis } from 'ioredis';
import type { CallBudget, ListOptions, RecordStamp, SourceAdapter, SourceCallOptions, SourceEvent, SourcePage, SourceRecord } from '../adapters/source.js';
import { AbortedError, isSyncError, SyncErrorCode } from '../errors.js';

/**
 * KEYS[1] call log (ZSET of admission instants), KEYS[2] pause key, KEYS[3] queue of waiting
 * continuations (ZSET, score = when each started waiting: first come, first served), KEYS[4] their
 * last polls (ZSET; a waiter silent for `staleMs` — its process died — is dropped).
 * ARGV[1] max calls, ARGV[2] window (ms), ARGV[3] unique log member, ARGV[4] `1` for a
 * continuation, ARGV[5] the waiter's token, ARGV[6] staleMs.
 * A continuation is admitted when fewer than (free slots) continuations queue ahead of it; any
 * other call only when the free slots exceed the continuations waiting, so a listing's next page
 * never waits behind new work. Reply: 0 admitted, or the wait in ms before trying again.
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[6])
local dead = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - stale)
if #dead > 0 then
  for _, m in ipairs(dead) do redis.call('ZREM', KEYS[3], m) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - stale)
end
local continuation = ARGV[4] == '1'
if continuation then
  redis.call('ZADD', KEYS[3], 'NX', now, ARGV[5])
  redis.call('ZADD', KEYS[4], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[3], stale)
  redis.call('PEXPIRE', KEYS[4], stale)
end
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local free = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
local ok
if continuation then
  ok = redis.call('ZRANK', KEYS[3], ARGV[5]) < free
else
  ok = redis.call('ZCARD', KEYS[3]) < free
end
if ok then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  if continuation then
    redis.call('ZREM', KEYS[3], ARGV[5])
    redis.call('ZREM', KEYS[4], ARGV[5])
  end
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] == nil then return 50 end
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
`;

/** Longest sleep between two admission attempts (a waiting continuation polls at least this often). Unit: ms. */
const MAX_POLL_MS = 5000;
/** A queued continuation that has not polled for this long is dropped (its process died). Unit: ms. */
const STALE_WAITER_MS = 3 * MAX_POLL_MS;

/** Admission waits seen by one process (see {@link SharedCallLimiter.waits}). Units: ms, calls. */
export interface CallWaits {
  /** Longest wait of a continuation (a listing's next page, a bulk job's poll, download or next job). Unit: ms. */
  readonly maxContinuationMs: number;
  /** Longest wait of any other call. Unit: ms. */
  readonly maxOtherMs: number;
  /** Continuations admitted. Unit: calls. */
  readonly continuations: number;
}

/** Options of {@link SharedCallLimiter}. */
export interface SharedCallLimiterOptions {
  /** Connection (`Redis` or `Cluster`). */
  readonly redis: Redis | Cluster;
  /**
   * The call log key and the pause key, and optionally the continuation queue's two keys (default
   * `<log>:waiting` and `<log>:polls`); all must share a hash tag on a cluster.
   */
  readonly keys: { readonly log: string; readonly pause: string; readonly waiting?: string | undefined; readonly polls?: string | undefined };
  /** Calls admitted per window across all processes. Unit: calls. */
  readonly maxCalls: number;
  /** Window length. Default 60,000 (Zoho's limits are per minute). Unit: ms. */
  readonly windowMs?: number | undefined;
  /** Pause after a 429 / code 2955. Default 60,000. Unit: ms. */
  readonly rateLimitPauseMs?: number | undefined;
}

let sequence = 0;

/**
 * The shared budget.
 *
 * **Cursor freshness.** Continuations (a listing's next page, a Bulk Read job's status polls,
 * download and next job) are admitted before any other call and first come, first served among
 * themselves. A continuation with `r` continuations queued ahead of it is admitted within
 * `ceil((r + 1) / maxCalls) × windowMs` (plus any 429 pause in force, plus a Redis round trip):
 * the window holds at most `maxCalls` calls, all gone one window later, and meanwhile only the
 * continuations ahead of it may take a slot. Each running job waits for at most one continuation
 * at a time, so with the total job concurrency of every process at most `maxCalls`, a cursor
 * waits at most one window (60 s by default) before it is used — far inside a Bulk Read cursor's
 * 15 minutes (Zoho documents no lifetime for a records cursor; the simulator's default is 10
 * minutes). Other calls may wait longer while continuations keep arriving.
 */
export class SharedCallLimiter {
  readonly #redis: Redis | Cluster;
  readonly #keys: { readonly log: string; readonly pause: string; readonly waiting: string; readonly polls: string };
  readonly #maxCalls: number;
  readonly #windowMs: number;
  readonly #pauseMs: number;
  readonly #token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  #waits = { maxContinuationMs: 0, maxOtherMs: 0, continuations: 0 };
  /** Calls admitted by this process. Unit: calls. */
  admitted = 0;

  /** @throws RangeError when `maxCalls` is not a positive integer. */
  constructor(options: SharedCallLimiterOptions) {
    if (!Number.isSafeInteger(options.maxCalls) || options.maxCalls < 1) throw new RangeError(`maxCalls must be a positive integer, got ${String(options.maxCalls)}`);
    this.#redis = options.redis;
    this.#keys = {
      log: options.keys.log,
      pause: options.keys.pause,
      waiting: options.keys.waiting ?? `${options.keys.log}:waiting`,
      polls: options.keys.polls ?? `${options.keys.log}:polls`,
    };
    this.#maxCalls = options.maxCalls;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#pauseMs = options.rateLimitPauseMs ?? 60_000;
    const r = this.#redis as unknown as { zrsAdmitCall2?: unknown } & Pick<Redis, 'defineCommand'>;
    if (typeof r.zrsAdmitCall2 !== 'function') r.defineCommand('zrsAdmitCall2', { numberOfKeys: 4, lua: ADMIT });
  }

  /** The longest admission waits this process saw, and the continuations it admitted. */
  get waits(): CallWaits {
    return { ...this.#waits };
  }

  /**
   * Waits until the shared budget admits one call; a `continuation` (see the class notes) goes first.
   * @throws {@link AbortedError} when `signal` aborts while waiting; the ioredis error when Redis fails.
   */
  async acquire(signal?: AbortSignal, options: { readonly continuation?: boolean | undefined } = {}): Promise<void> {
    const continuation = options.continuation === true;
    const started = Date.now();
    sequence += 1;
    const waiter = `${this.#token}-w${sequence}`;
    try {
      for (;;) {
        if (signal?.aborted) throw new AbortedError('Aborted while waiting for the shared Zoho call budget');
        sequence += 1;
        const wait = Number(
          await (this.#redis as unknown as { zrsAdmitCall2: (...a: unknown[]) => Promise<number> }).zrsAdmitCall2(
            this.#keys.log,
            this.#keys.pause,
            this.#keys.waiting,
            this.#keys.polls,
            this.#maxCalls,
            this.#windowMs,
            `${this.#token}-${sequence}`,
            continuation ? 1 : 0,
            waiter,
            STALE_WAITER_MS,
          ),
        );
        if (wait === 0) {
          this.admitted += 1;
          const waited = Date.now() - started;
          if (continuation) {
            this.#waits.continuations += 1;
            this.#waits.maxContinuationMs = Math.max(this.#waits.maxContinuationMs, waited);
          } else this.#waits.maxOtherMs = Math.max(this.#waits.maxOtherMs, waited);
          return;
        }
        await sleep(Math.min(wait, MAX_POLL_MS), signal);
      }
    } catch (error) {
      // Leave the queue at once, so the continuations behind this one do not wait for it to go stale.
      if (continuation) await this.#redis.multi().zrem(this.#keys.waiting, waiter).zrem(this.#keys.polls, waiter).exec().catch(() => undefined);
      throw error;
    }
  }

  /** Pauses every process's calls for `rateLimitPauseMs` (after a 429 / code 2955). */
  async pauseForRateLimit(): Promise<void> {
    await this.#redis.set(this.#keys.pause, '1', 'PX', this.#pauseMs);
  }

  /**
   * Wraps a source so that its Zoho calls take slots. A source that gates each request
   * (`gatesEachRequest`, as `ZohoCreatorSource`) gets a call budget whose `admit()` takes one slot
   * per HTTP request — every page, retry and Bulk Read create / status poll / download — and whose
   * `rateLimited()` pauses every process at Zoho's first 429; any other source takes one slot per
   * call or page.
   */
  wrap(source: SourceAdapter): SourceAdapter {
    const perRequest = source.gatesEachRequest === true;
    const onRateLimited = (): void => void this.pauseForRateLimit().catch(() => undefined);
    const gated = <O extends SourceCallOptions>(options: O | undefined): O => {
      const inner = options?.callBudget;
      const budget: CallBudget = {
        spend: () => inner?.spend(),
        admit: ({ signal, continuation }) => this.acquire(signal ?? options?.signal, { continuation }),
        rateLimited: () => {
          onRateLimited();
          inner?.rateLimited?.();
        },
      };
      return { ...(options ?? ({} as O)), callBudget: budget };
    };
    const guard = async <T>(signal: AbortSignal | undefined, call: () => Promise<T>, continuation = false): Promise<T> => {
      if (!perRequest) await this.acquire(signal, { continuation });
      try {
        return await call();
      } catch (error) {
        if (isSyncError(error) && error.code === SyncErrorCode.ZOHO_RATE_LIMITED) await this.pauseForRateLimit().catch(() => undefined);
        throw error;
      }
    };
    const pages = <T>(options: ListOptions | undefined, open: (o: ListOptions | undefined) => AsyncIterable<SourcePage<T>>): AsyncIterable<SourcePage<T>> => ({
      [Symbol.asyncIterator]() {
        const it = open(perRequest ? gated(options) : options)[Symbol.asyncIterator]();
        // Without per-request gating: every page after the first (or after a resumed cursor's first) continues the listing.
        let first = options?.cursor === undefined;
        return {
          next: () => {
            const continuation = !first;
            first = false;
            return guard(options?.signal, () => it.next(), continuation);
          },
          return: async (value?: unknown) => (it.return ? it.return(value) : { done: true as const, value: undefined }),
        };
      },
    });
    const callOptions = <O extends SourceCallOptions>(options: O | undefined): O | undefined => (perRequest ? gated(options) : options);
    const wrapped: SourceAdapter = {
      name: source.name,
      listEvents: (options?: SourceCallOptions): Promise<SourceEvent[]> => guard(options?.signal, () => source.listEvents(callOptions(options))),
      readRecords: (options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>> => pages(options, (o) => source.readRecords(o)),
      readStamps: (options?: ListOptions): AsyncIterable<SourcePage<RecordStamp>> => pages(options, (o) => source.readStamps(o)),
      readChangedSince: (since: number, options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>> => pages(options, (o) => source.readChangedSince(since, o)),
      getRecord: (recordId: string, options?: SourceCallOptions) => guard(options?.signal, () => source.getRecord(recordId, callOptions(options))),
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
