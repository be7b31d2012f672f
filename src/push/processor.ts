/**
 * The inbox consumer: reads accepted pushes from the stream, coalesces bursts, applies them, and
 * acknowledges them only after the Redis writes committed.
 *
 * One loop per process. Each turn collects up to `maxBatch` entries: first its own failed entries
 * whose backoff has elapsed, then entries abandoned by a dead consumer (`XAUTOCLAIM` after
 * `claimIdleMs`), then new ones (`XREADGROUP … >`). When the first new entry arrives, it keeps
 * reading until `coalesceWindowMs` has passed or the batch is full, so a burst becomes one
 * by-ID listing. A failed batch is retried with exponential backoff (`retryBaseMs` doubling up to
 * `retryMaxMs`); after `maxAttempts` failures its entries go to the dead-letter stream with the reason.
 *
 * Delivery is at least once (a process that dies between the Redis write and `XACK` has its entry
 * applied again by the claimer); applying is idempotent (read by ID, then upsert), so the record
 * ends the same.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { RecordSink } from '../adapters/sink.js';
import type { SourceAdapter } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import { type SyncError, toSyncError } from '../errors.js';
import { applyPushBatch, PushCalls } from './apply.js';
import { silentLogger, type Logger } from '../logger.js';
import { DailyQuota } from '../worker/quota.js';
import type { PushAppliedPayload, PushDeadLetteredPayload } from './events.js';
import type { PushEntry, PushInbox } from './inbox.js';


/** How often the coalescing window looks for more pushes (non-blocking reads). Unit: ms. */
const COALESCE_POLL_MS = 5;
/** Tuning of {@link PushProcessor}. Units: ms unless stated. */
export interface PushProcessorSettings {
  readonly coalesceWindowMs: number;
  /** Unit: entries (≤ 200: one by-ID listing). */
  readonly maxBatch: number;
  readonly claimIdleMs: number;
  /** Unit: attempts. */
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly trusted: boolean;
  /** How long an idle `XREADGROUP` blocks before the loop looks at retries and abandoned entries again. */
  readonly idleBlockMs: number;
  /**
   * IANA zone whose midnight starts the Zoho day of the daily tally (the worker's `quotaTimeZone`):
   * every batch's Zoho calls are added to it. @defaultValue `UTC`
   */
  readonly quotaTimeZone?: string | undefined;
  /** Where a failure to record the tally is logged. @defaultValue silent */
  readonly logger?: Logger | undefined;
}

/** What the processor reports back. */
export interface PushProcessorHooks {
  applied(payload: PushAppliedPayload): void;
  deadLettered(payload: PushDeadLetteredPayload): void;
  failed(error: SyncError): void;
  now(): number;
}

interface Retry {
  readonly entry: PushEntry;
  readonly dueAt: number;
  readonly attempts: number;
}

/** Counters of the processor (monotonic). */
export interface PushProcessorCounts {
  /** Entries applied and acknowledged. */
  applied: number;
  /** Batches that failed (each retried or dead-lettered). */
  failedBatches: number;
  /** Entries moved to the dead-letter stream. */
  deadLettered: number;
  /** Source listings made for pushes (by-ID reads). Unit: calls. */
  batches: number;
  /** Records not written because Redis held a newer version or a delete's tombstone. Unit: records. */
  staleWritesRefused: number;
}

/** Consumes the inbox; see the module documentation. */
export class PushProcessor {
  readonly consumer = `applier-${randomBytes(6).toString('hex')}`;
  readonly counts: PushProcessorCounts = { applied: 0, failedBatches: 0, deadLettered: 0, batches: 0, staleWritesRefused: 0 };
  readonly #inbox: PushInbox;
  readonly #redis: Redis | Cluster;
  readonly #source: SourceAdapter;
  readonly #sink: RecordSink;
  readonly #state: StateStore;
  readonly #settings: PushProcessorSettings;
  readonly #hooks: PushProcessorHooks;
  readonly #retries = new Map<string, Retry>();
  /** The Zoho day's tally in the store, shared with the workers on the same sink. */
  readonly #quota: DailyQuota;
  #reader: Redis | Cluster | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #lastClaimAt = 0;
  #wake: (() => void) | undefined;

  constructor(
    inbox: PushInbox,
    redis: Redis | Cluster,
    source: SourceAdapter,
    sink: RecordSink,
    state: StateStore,
    settings: PushProcessorSettings,
    hooks: PushProcessorHooks,
  ) {
    this.#inbox = inbox;
    this.#redis = redis;
    this.#source = source;
    this.#sink = sink;
    this.#state = state;
    this.#settings = settings;
    this.#hooks = hooks;
    this.#quota = new DailyQuota(state, undefined, settings.quotaTimeZone ?? 'UTC', settings.logger ?? silentLogger);
  }

  /** True while the loop runs. */
  get running(): boolean {
    return this.#loop !== undefined;
  }

  /** Entries of this process waiting for a retry. Unit: entries. */
  get retrying(): number {
    return this.#retries.size;
  }

  /** Starts the loop (idempotent). Resolves once the consumer group exists. */
  async start(): Promise<void> {
    if (this.#loop) return;
    await this.#inbox.ensureGroup();
    this.#stopping = false;
    // Blocking reads get their own connection: a blocked connection stalls every command behind it.
    this.#reader = this.#redis.duplicate();
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  /** Stops after the batch in flight (its writes complete or fail); entries not applied stay in the inbox. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    const reader = this.#reader;
    this.#reader = undefined;
    // Disconnecting ends a blocked XREADGROUP at once.
    reader?.disconnect();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopping) {
      try {
        const batch = await this.#collect();
        if (batch.length > 0) await this.#apply(batch);
        failures = 0;
      } catch (error) {
        if (this.#stopping) break;
        failures++;
        this.#hooks.failed(toSyncError(error));
        await this.#sleep(Math.min(this.#settings.retryMaxMs, this.#settings.retryBaseMs * 2 ** Math.min(failures - 1, 16)));
      }
    }
  }

  async #collect(): Promise<PushEntry[]> {
    const { maxBatch } = this.#settings;
    const now = this.#hooks.now();
    const batch: PushEntry[] = [];
    const ids = new Set<string>();
    const add = (entries: readonly PushEntry[]): void => {
      for (const entry of entries) {
        if (batch.length >= maxBatch || ids.has(entry.id)) continue;
        ids.add(entry.id);
        batch.push(entry);
      }
    };
    for (const retry of this.#retries.values()) {
      if (retry.dueAt <= now) add([retry.entry]);
    }
    if (now - this.#lastClaimAt >= Math.max(10, this.#settings.claimIdleMs / 2) && batch.length < maxBatch) {
      this.#lastClaimAt = now;
      const claimed = await this.#inbox.claimAbandoned(this.consumer, this.#settings.claimIdleMs, maxBatch - batch.length);
      // Our own retries are handled by their backoff, not by the claim.
      add(claimed.filter((e) => !this.#retries.has(e.id) || (this.#retries.get(e.id)?.dueAt ?? 0) <= now));
    }
    const reader = this.#reader;
    if (reader === undefined || this.#stopping) return batch;
    if (batch.length < maxBatch) {
      const block = batch.length > 0 ? 0 : Math.min(this.#settings.idleBlockMs, this.#untilNextRetry(now));
      const fresh = await this.#inbox.readNew(reader, this.consumer, maxBatch - batch.length, block);
      if (fresh.length > 0) {
        add(fresh);
        // Coalesce: keep reading until the window closes or the batch is full. The window is timed
        // here, with non-blocking reads between short sleeps: Redis times out a blocked
        // XREADGROUP only on its server cron (every 1000 / hz ms: 100 ms at the default hz 10), so
        // `BLOCK 50` could hold a push for up to 100 ms more than the window.
        const deadline = this.#hooks.now() + this.#settings.coalesceWindowMs;
        while (batch.length < maxBatch && !this.#stopping) {
          const left = deadline - this.#hooks.now();
          if (left <= 0) break;
          await this.#sleep(Math.min(COALESCE_POLL_MS, left));
          if (this.#stopping) break;
          add(await this.#inbox.readNew(reader, this.consumer, maxBatch - batch.length, 0));
        }
      }
    }
    return batch;
  }

  #untilNextRetry(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const retry of this.#retries.values()) next = Math.min(next, retry.dueAt - now);
    return Math.max(1, next);
  }

  async #apply(batch: readonly PushEntry[]): Promise<void> {
    this.counts.batches++;
    let result: Awaited<ReturnType<typeof applyPushBatch>>;
    const calls = new PushCalls();
    try {
      result = await applyPushBatch(this.#source, this.#sink, this.#state, batch, { trusted: this.#settings.trusted, calls });
    } catch (error) {
      await this.#quota.record(calls.counts());
      await this.#failed(batch, toSyncError(error));
      return;
    }
    // Zoho counted these calls against the day's limit, as it counts a run's.
    await this.#quota.record(calls.counts());
    const ids = batch.map((e) => e.id);
    await this.#inbox.complete(ids);
    this.counts.staleWritesRefused += result.staleWritesRefused;
    const appliedAt = this.#hooks.now();
    for (const entry of batch) {
      const retries = this.#retries.get(entry.id)?.attempts ?? 0;
      this.#retries.delete(entry.id);
      this.counts.applied++;
      this.#hooks.applied({
        pushId: entry.id,
        action: entry.action,
        recordId: entry.recordId,
        eventId: result.eventIds.get(entry.recordId) ?? entry.eventId,
        outcome: result.outcomes.get(entry.recordId) ?? 'absent',
        lagMs: Math.max(0, appliedAt - entry.receivedAt),
        retries,
      });
    }
  }

  async #failed(batch: readonly PushEntry[], error: SyncError): Promise<void> {
    this.counts.failedBatches++;
    this.#hooks.failed(error);
    const ids = batch.map((e) => e.id);
    const attempts = await this.#inbox.recordFailure(ids);
    const now = this.#hooks.now();
    const dead: PushEntry[] = [];
    batch.forEach((entry, i) => {
      const count = attempts[i] ?? 1;
      if (count >= this.#settings.maxAttempts) {
        dead.push(entry);
        this.#retries.delete(entry.id);
      } else {
        const delay = Math.min(this.#settings.retryMaxMs, this.#settings.retryBaseMs * 2 ** (count - 1));
        this.#retries.set(entry.id, { entry, dueAt: now + delay, attempts: count });
      }
    });
    if (dead.length > 0) {
      const reason = `${error.code}: ${error.message}`;
      await this.#inbox.deadLetter(
        dead.map((e) => e.id),
        reason,
        now,
      );
      this.counts.deadLettered += dead.length;
      this.#hooks.deadLettered({ pushIds: dead.map((e) => e.id), recordIds: dead.map((e) => e.recordId), reason, attempts: this.#settings.maxAttempts });
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
