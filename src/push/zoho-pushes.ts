/**
 * Real-time pushes from Zoho Creator workflows: the receiver (`handleZohoPush`), the durable inbox
 * and its applier, events, status. See the README section "Real-time pushes" for the Deluge scripts.
 *
 * @example
 * ```ts
 * const pushes = new ZohoPushes({ redis, source, sink, secret: process.env.ZOHO_PUSH_SECRET! });
 * await pushes.start();                       // applies what the inbox holds, then new pushes
 * app.use('/api/sync-worker', createSyncWorkerRouter(worker, { token, pushes }));
 * // or, any framework: const { status, body } = await pushes.handleZohoPush({ headers, body: rawBuffer });
 * ```
 */
import { EventEmitter } from 'eventemitter3';
import type { Cluster, Redis } from 'ioredis';
import type { RecordSink } from '../adapters/sink.js';
import type { SourceAdapter } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import { ConfigError, SyncError, SyncErrorCode } from '../errors.js';
import type { SyncHttpResponse } from '../http/options.js';
import { IANAZone } from 'luxon';
import { createConsoleLogger, type Logger } from '../logger.js';
import type { ZohoPushEvents } from './events.js';
import { type DeadPushEntry, PushInbox, type PushEntry } from './inbox.js';
import { type LagSummary, LagRing } from './lag.js';
import { PushProcessor } from './processor.js';
import { createPushHandler, type PushRequest } from './receiver.js';
import { createPushVerifier } from './signature.js';
import { shownValue } from '../internal/shown-value.js';

/** Options of {@link ZohoPushes}. Units: ms unless stated. */
export interface ZohoPushesOptions {
  /** ioredis client (standalone or cluster) for the inbox; blocking reads use a duplicate. */
  readonly redis: Redis | Cluster;
  /** Where records are read by ID (the `ZohoCreatorSource` of the worker). */
  readonly source: SourceAdapter;
  /** Where records are written (the worker's sink). */
  readonly sink: RecordSink;
  /** The worker's state store (known events, dead letters). @defaultValue `sink.state` (a `RedisSink` brings one) */
  readonly state?: StateStore | undefined;
  /** HMAC-SHA256 key shared with the Deluge scripts (≥ 16 characters). Required unless `sharedSecret` is given. */
  readonly secret?: string | undefined;
  /**
   * Fallback where a script cannot sign: requests carrying this value in `X-ZRS-Push-Secret` are
   * accepted (constant-time comparison; HTTPS only — there is no replay protection in this mode).
   * @defaultValue undefined (signatures only)
   */
  readonly sharedSecret?: string | undefined;
  /** Key prefix, the same as the sink's. @defaultValue `zrs` */
  readonly keyPrefix?: string | undefined;
  /** Accepted clock difference of a signed push, either way. @defaultValue 300000 (±5 min) */
  readonly toleranceMs?: number | undefined;
  /** Largest accepted body. Unit: bytes. @defaultValue 262144 (256 KiB) */
  readonly maxBodyBytes?: number | undefined;
  /** How long pushes are gathered into one by-ID listing after the first arrives. @defaultValue 50 */
  readonly coalesceWindowMs?: number | undefined;
  /** Largest batch (one listing). Unit: records, 1–200. @defaultValue 200 */
  readonly maxBatch?: number | undefined;
  /** An entry delivered to a consumer that did not acknowledge it for this long is claimed by another (crash recovery). @defaultValue 30000 */
  readonly claimIdleMs?: number | undefined;
  /** Attempts before an entry is dead-lettered. Unit: attempts. @defaultValue 8 */
  readonly maxAttempts?: number | undefined;
  /** First retry delay; doubles per attempt. @defaultValue 1000 */
  readonly retryBaseMs?: number | undefined;
  /** Longest retry delay. @defaultValue 60000 */
  readonly retryMaxMs?: number | undefined;
  /** Store pushed records without reading Zoho (deletes without a read too). @defaultValue false */
  readonly trusted?: boolean | undefined;
  /** Cap of the dead-letter stream. Unit: entries. @defaultValue 10000 */
  readonly deadLetterMaxLength?: number | undefined;
  /** @defaultValue a console logger at level `warn` */
  readonly logger?: Logger | undefined;
  /** Clock (epoch ms), for tests. @defaultValue `Date.now` */
  readonly now?: (() => number) | undefined;
  /**
   * The worker's `quotaTimeZone`: the Zoho calls of every push batch (by-ID reads; a trusted push's
   * settings call) are added to the daily tally of the day that starts at 00:00 there, the tally
   * runs and plans count in. @defaultValue `UTC`
   */
  readonly quotaTimeZone?: string | undefined;
}

/** Push figures (snake_case, like the worker status). Units: pushes unless stated. */
export interface PushStatus {
  readonly running: boolean;
  readonly received: number;
  readonly rejected: number;
  readonly rejected_by_code: Readonly<Record<string, number>>;
  readonly applied: number;
  readonly failed_batches: number;
  readonly dead_lettered: number;
  /** Entries of this process waiting for a retry. */
  readonly retrying: number;
  /** By-ID listings made for pushes. Unit: calls. */
  readonly batches: number;
  /** Pushed records not written because Redis held a newer version or a delete's tombstone. Unit: records. */
  readonly stale_writes_refused: number;
  /** Push-to-Redis lag (acceptance → committed write), latest samples. Unit: ms. */
  readonly lag_ms: LagSummary;
}

const OPTION_KEYS = new Set([
  'redis', 'source', 'sink', 'state', 'secret', 'sharedSecret', 'keyPrefix', 'toleranceMs', 'maxBodyBytes', 'coalesceWindowMs', 'maxBatch',
  'claimIdleMs', 'maxAttempts', 'retryBaseMs', 'retryMaxMs', 'trusted', 'deadLetterMaxLength', 'logger', 'now', 'quotaTimeZone',
]);

/**
 * Receives, queues and applies Zoho pushes. See the module documentation.
 *
 * @throws {@link ConfigError} for an unknown or invalid option, no `secret` and no `sharedSecret`,
 *   a secret shorter than 16 characters, or `trusted` with a source that cannot normalise records.
 */
export class ZohoPushes extends EventEmitter<ZohoPushEvents> {
  /** The inbox streams (for the CLI and tests). */
  readonly inbox: PushInbox;
  /**
   * Answers one push request; framework-neutral (Express and Fastify bindings call it). Never rejects.
   * Pass the RAW body bytes.
   */
  readonly handleZohoPush: (request: PushRequest) => Promise<SyncHttpResponse>;
  readonly #processor: PushProcessor;
  readonly #lag = new LagRing();
  readonly #logger: Logger;
  readonly #counts = { received: 0, rejected: 0 };
  readonly #rejectedByCode: Record<string, number> = {};
  /** The secrets, for redaction. */
  readonly secrets: readonly string[];
  /** Largest accepted body (the bindings stop keeping bytes beyond it). Unit: bytes. */
  readonly maxBodyBytes: number;

  constructor(options: ZohoPushesOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'Expected an options object');
    for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new ConfigError(key, `Unknown option \`${key}\``);
    const { redis, source, sink } = options;
    if (typeof redis?.xadd !== 'function') throw new ConfigError('redis', 'Expected an ioredis client');
    if (typeof source?.getRecord !== 'function') throw new ConfigError('source', 'Expected a SourceAdapter');
    if (typeof sink?.upsertRecords !== 'function') throw new ConfigError('sink', 'Expected a RecordSink');
    const state = options.state ?? sink.state;
    if (typeof state?.listEventIds !== 'function') throw new ConfigError('state', 'Expected `state` (e.g. new RedisStateStore({ redis })): the sink brings no state store of its own');
    checkSecret('secret', options.secret);
    checkSecret('sharedSecret', options.sharedSecret);
    if (options.secret === undefined && options.sharedSecret === undefined) {
      throw new ConfigError('secret', 'Pushes need `secret` (HMAC signatures) or `sharedSecret` (header fallback)');
    }
    const trusted = options.trusted ?? false;
    if (typeof trusted !== 'boolean') throw new ConfigError('trusted', 'Expected `trusted` to be a boolean');
    if (trusted && typeof source.normaliseRecord !== 'function') throw new ConfigError('trusted', 'Trusted mode needs a source with normaliseRecord()');
    const now = options.now ?? Date.now;
    const quotaTimeZone = options.quotaTimeZone ?? 'UTC';
    if (typeof quotaTimeZone !== 'string' || !IANAZone.isValidZone(quotaTimeZone)) {
      throw new ConfigError('quotaTimeZone', `Expected \`quotaTimeZone\` to be an IANA time zone such as Europe/Berlin, got ${shownValue(quotaTimeZone)}`);
    }
    const toleranceMs = int('toleranceMs', options.toleranceMs, 300_000, 1000);
    const maxBodyBytes = int('maxBodyBytes', options.maxBodyBytes, 262_144, 256);
    const maxBatch = int('maxBatch', options.maxBatch, 200, 1);
    if (maxBatch > 200) throw new ConfigError('maxBatch', '`maxBatch` must be at most 200 (one by-ID listing)');
    this.maxBodyBytes = maxBodyBytes;
    this.#logger = options.logger ?? createConsoleLogger('warn', 'zoho-redis-sync:pushes');
    this.secrets = [options.secret, options.sharedSecret].filter((s): s is string => s !== undefined);
    this.inbox = new PushInbox({ redis, keyPrefix: options.keyPrefix, deadLetterMaxLength: int('deadLetterMaxLength', options.deadLetterMaxLength, 10_000, 1) });
    this.handleZohoPush = createPushHandler({
      inbox: this.inbox,
      verify: createPushVerifier({ secret: options.secret, sharedSecret: options.sharedSecret, toleranceMs, now }),
      maxBodyBytes,
      // A signature stays valid while its timestamp is within ±tolerance of now: remember it that long.
      replayTtlMs: 2 * toleranceMs + 1000,
      now,
      accepted: (payload) => {
        this.#counts.received++;
        this.#emit('recordPushed', payload);
      },
      rejected: (response, code, message) => {
        this.#counts.rejected++;
        this.#rejectedByCode[code] = (this.#rejectedByCode[code] ?? 0) + 1;
        if (response.status >= 500) this.#logger.warn(`Push not accepted: ${message}`, { code });
        this.#emit('pushRejected', { code, status: response.status, message, at: now() });
      },
    });
    this.#processor = new PushProcessor(
      this.inbox,
      redis,
      source,
      sink,
      state,
      {
        coalesceWindowMs: int('coalesceWindowMs', options.coalesceWindowMs, 50, 0),
        maxBatch,
        claimIdleMs: int('claimIdleMs', options.claimIdleMs, 30_000, 1),
        maxAttempts: int('maxAttempts', options.maxAttempts, 8, 1),
        retryBaseMs: int('retryBaseMs', options.retryBaseMs, 1000, 1),
        retryMaxMs: int('retryMaxMs', options.retryMaxMs, 60_000, 1),
        trusted,
        idleBlockMs: 1000,
        quotaTimeZone,
        logger: this.#logger,
      },
      {
        now,
        applied: (payload) => {
          this.#lag.add(payload.lagMs);
          this.#emit('pushApplied', payload);
        },
        deadLettered: (payload) => {
          this.#logger.warn(`Dead-lettered ${payload.pushIds.length} push(es) after ${payload.attempts} attempts: ${payload.reason}`);
          this.#emit('pushDeadLettered', payload);
        },
        failed: (error) => {
          if (this.listenerCount('error') === 0) this.#logger.warn(`Push batch failed (will retry): ${error.message}`, { code: error.code });
          else this.#emit('error', error);
        },
      },
    );
  }

  /** Starts applying the inbox (idempotent): entries left by a crashed process are claimed after `claimIdleMs`. */
  async start(): Promise<void> {
    await this.#processor.start();
  }

  /** Stops applying after the batch in flight. Pushes keep being accepted by `handleZohoPush` and wait in the inbox. */
  async stop(): Promise<void> {
    await this.#processor.stop();
  }

  /** Push counts and lag (this process), snake_case. */
  getStatus(): PushStatus {
    const c = this.#processor.counts;
    return {
      running: this.#processor.running,
      received: this.#counts.received,
      rejected: this.#counts.rejected,
      rejected_by_code: { ...this.#rejectedByCode },
      applied: c.applied,
      failed_batches: c.failedBatches,
      dead_lettered: c.deadLettered,
      retrying: this.#processor.retrying,
      batches: c.batches,
      stale_writes_refused: c.staleWritesRefused,
      lag_ms: this.#lag.summary(),
    };
  }

  /** Entries waiting in the inbox (shared by every replica), oldest first. */
  listPending(limit?: number): Promise<PushEntry[]> {
    return this.inbox.listPending(limit);
  }

  /** Dead-lettered entries, oldest first. */
  listDeadLettered(limit?: number): Promise<DeadPushEntry[]> {
    return this.inbox.listDead(limit);
  }

  /** Moves dead-lettered entries (all, or the given IDs) back into the inbox; resolves the new entry IDs. */
  replayDeadLettered(ids?: readonly string[]): Promise<string[]> {
    return this.inbox.replayDead(Date.now(), ids);
  }

  #emit<K extends keyof ZohoPushEvents>(event: K, ...args: ZohoPushEvents[K]): void {
    // A throwing listener must not break the push path (the request is already answered or queued).
    try {
      (this.emit as (e: K, ...a: ZohoPushEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.#listenerFailed(event, error);
    }
  }

  #listenerFailed(event: string, error: unknown): void {
    if (event === 'error' || this.listenerCount('error') === 0) {
      this.#logger.error(`A ${event} listener threw`, { error });
      return;
    }
    this.#emit('error', new SyncError(`A ${event} listener threw`, SyncErrorCode.LISTENER, { cause: error }));
  }
}

function checkSecret(option: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || value.length < 16) throw new ConfigError(option, `\`${option}\` must be a string of at least 16 characters`);
}

function int(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new ConfigError(option, `\`${option}\` must be an integer ≥ ${min}`);
  return value;
}
