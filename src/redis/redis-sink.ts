/**
 * {@link RedisSink}: the {@link SinkAdapter} on ioredis. Key layout: see `createKeySchema`.
 */
import type { Cluster, Redis } from 'ioredis';
import type {
  Checkpoint,
  EventMeta,
  EventMetaPatch,
  EventUpsertResult,
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
import { ConfigError, InvalidInputError, isSyncError, LeaseError, SinkError, type SyncError } from '../errors.js';
import { takeRecordJson } from '../record-json.js';
import { createKeySchema, DEAD_LETTER_FIELDS, EVENT_META_FIELDS, type KeySchema, SYNC_META_FIELDS } from './key-schema.js';
import { registerScripts, type ScriptArg, type ScriptedClient, type ScriptedPipeline } from './scripts.js';

/** Options of {@link RedisSink}. */
export interface RedisSinkOptions {
  /**
   * The ioredis client (`Redis` or `Cluster`; ioredis-mock works too). The caller owns it: the sink
   * never closes it. It must not have its own ioredis `keyPrefix` option (use `keyPrefix` here).
   * The sink registers its Lua scripts on it with `defineCommand` (names start with `zrs`).
   */
  readonly redis: Redis | Cluster;
  /** Prefix of every key; default `zrs`. Non-empty, no `{`, `}` or whitespace. */
  readonly keyPrefix?: string | undefined;
  /** Records per pipeline in {@link RedisSink.upsertRecords} (and IDs per script call in removals). Default 100, 1–5000. Unit: records. */
  readonly batchSize?: number | undefined;
  /** Approximate cap of each dead-letter stream (`XADD … MAXLEN ~ n`). Default 1000. Unit: entries. */
  readonly deadLetterMaxLen?: number | undefined;
  /** `COUNT` hint of `HSCAN` / `SCAN` (roughly the IDs per yielded chunk). Default 1000. Unit: elements. */
  readonly scanCount?: number | undefined;
  /** Time {@link RedisSink.ping} waits for `PONG`. Default 3000. Unit: milliseconds. */
  readonly pingTimeoutMs?: number | undefined;
}

/** Default of {@link RedisSinkOptions.batchSize}. Unit: records. */
export const DEFAULT_BATCH_SIZE = 100;
/** Largest accepted {@link RedisSinkOptions.batchSize} (a script reply lists up to that many IDs with Lua `unpack`). Unit: records. */
export const MAX_BATCH_SIZE = 5000;
/** Default of {@link RedisSinkOptions.deadLetterMaxLen}. Unit: entries. */
export const DEFAULT_DEAD_LETTER_MAX_LEN = 1000;
/** Default of {@link RedisSinkOptions.scanCount}. Unit: elements. */
export const DEFAULT_SCAN_COUNT = 1000;
/** Default of {@link RedisSinkOptions.pingTimeoutMs}. Unit: milliseconds. */
export const DEFAULT_PING_TIMEOUT_MS = 3000;
/**
 * Time-to-live of a seen set, refreshed at each write to it: a safety net if a scope is never
 * released. It must outlive the longest listing (a 1M-record full sync at Zoho's 50 calls a minute
 * takes 20+ minutes), because an expired set would make every record of its event look unseen.
 * Unit: seconds.
 */
export const SEEN_TTL_SECONDS = 24 * 3600;
/** The option names {@link RedisSink} accepts; any other key is a typo and throws `ConfigError`. */
export const REDIS_SINK_OPTION_KEYS: readonly string[] = ['redis', 'keyPrefix', 'batchSize', 'deadLetterMaxLen', 'scanCount', 'pingTimeoutMs'];

/** One group of pipelined commands that touch a single Redis Cluster slot. */
interface CommandGroup {
  /** Names the keys/event for error messages. */
  readonly label: string;
  /** Queues the group's commands. */
  readonly add: (pipeline: ScriptedPipeline) => void;
}

interface EventTally {
  readonly eventId: string;
  readonly added: string[];
  readonly updated: string[];
  unchanged: number;
}

interface PreparedRecord {
  readonly id: string;
  readonly eventId: string;
  readonly modifiedAt: string;
  readonly json: string;
}

function checkInteger(option: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(option, `${option} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function parseNumber(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return JSON.stringify(String(value));
  }
}

function checkFence(options: FenceOptions | undefined): number | undefined {
  const fence = options?.fence;
  if (fence === undefined) return undefined;
  if (!Number.isSafeInteger(fence) || fence < 0) {
    throw new InvalidInputError(`fence must be a non-negative integer, got ${String(fence)}`);
  }
  return fence;
}

function checkInstant(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidInputError(`${what} must be an integer number of epoch milliseconds, got ${String(value)}`);
  }
  return value;
}

function isUnknownCommand(error: unknown): boolean {
  return /unknown command/i.test(errorMessage(error));
}

/**
 * The Redis sink: stores records, their per-event index, metadata, checkpoints, dead letters and the
 * sync lease in Redis through ioredis, following the key schema of `createKeySchema`.
 *
 * Guarantees relied on:
 * - each Lua script runs atomically (`EVALSHA`; ioredis resends the body on `NOSCRIPT`);
 * - one event's keys share a Redis Cluster hash slot (`{e:<eventId>}`), global keys share `{g}`;
 * - every reply of every pipeline is checked: any error reply rejects the call with a
 *   {@link SinkError} naming the key or event, with the Redis error as `cause`;
 * - writes are bounded: at most `batchSize` records per pipeline.
 *
 * On a standalone Redis the per-event commands of one call go in one pipeline (one round trip); on a
 * Cluster they go in one pipeline per event, sent concurrently (a Cluster pipeline must stay on one node).
 *
 * Every method rejects with a {@link SinkError} when Redis fails, with an {@link InvalidInputError}
 * (before any write) for an argument that cannot be stored, and fenced writes reject with a
 * {@link LeaseError} when their fence is older than the newest issued one.
 *
 * @example
 * ```ts
 * const sink = new RedisSink({ redis: new Redis(process.env.REDIS_URL!), keyPrefix: 'zrs' });
 * await sink.ping();
 * const result = await sink.upsertRecords(records); // { added, updated, unchanged, events }
 * ```
 */
export class RedisSink implements SinkAdapter {
  /** Name for logs. */
  readonly name = 'redis';
  /** The key schema in use (every key this sink reads or writes). */
  readonly keys: KeySchema;

  private readonly redis: ScriptedClient;
  private readonly isCluster: boolean;
  private readonly batchSize: number;
  private readonly deadLetterMaxLen: number;
  private readonly scanCount: number;
  private readonly pingTimeoutMs: number;
  /** Whether the server knows `SMISMEMBER` (Redis ≥ 6.2); `undefined` until the first call tells. */
  private smismemberSupported: boolean | undefined;

  /**
   * @param options - see {@link RedisSinkOptions}.
   * @throws {@link ConfigError} for an invalid option (option name in `error.option`).
   */
  constructor(options: RedisSinkOptions) {
    for (const key of Object.keys(options ?? {})) {
      if (!REDIS_SINK_OPTION_KEYS.includes(key)) {
        throw new ConfigError(key, `Unknown RedisSink option \`${key}\` (expected ${REDIS_SINK_OPTION_KEYS.join(', ')})`);
      }
    }
    const redis = options?.redis;
    if (redis === undefined || redis === null || typeof redis.pipeline !== 'function' || typeof redis.defineCommand !== 'function') {
      throw new ConfigError('redis', 'redis must be an ioredis Redis or Cluster instance');
    }
    const clientOptions = redis.options as { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } } | undefined;
    const clientPrefix = clientOptions?.keyPrefix || clientOptions?.redisOptions?.keyPrefix;
    if (typeof clientPrefix === 'string' && clientPrefix.length > 0) {
      throw new ConfigError('redis', 'the ioredis client must not have its own keyPrefix option; pass keyPrefix to RedisSink instead');
    }
    this.keys = createKeySchema(options.keyPrefix);
    this.batchSize = checkInteger('batchSize', options.batchSize, DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
    this.deadLetterMaxLen = checkInteger('deadLetterMaxLen', options.deadLetterMaxLen, DEFAULT_DEAD_LETTER_MAX_LEN, 1, Number.MAX_SAFE_INTEGER);
    this.scanCount = checkInteger('scanCount', options.scanCount, DEFAULT_SCAN_COUNT, 1, 1_000_000);
    this.pingTimeoutMs = checkInteger('pingTimeoutMs', options.pingTimeoutMs, DEFAULT_PING_TIMEOUT_MS, 1, 2_147_483_647);
    this.isCluster = (redis as { isCluster?: unknown }).isCluster === true;
    this.redis = registerScripts(redis);
    if (typeof (redis as { smismember?: unknown }).smismember !== 'function') this.smismemberSupported = false;
  }

  /**
   * Sends `PING` and waits at most `pingTimeoutMs` for `PONG`.
   *
   * @throws {@link SinkError} when Redis answers with an error, anything but `PONG`, or not in time
   *   (e.g. a client whose offline queue holds the command while it cannot connect).
   */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SinkError(`Redis did not answer PING within ${this.pingTimeoutMs} ms`)), this.pingTimeoutMs);
    });
    try {
      const pinging = this.redis.ping();
      pinging.catch(() => undefined); // it may settle after the timeout: never an unhandled rejection
      const reply = await Promise.race([pinging, timeout]);
      if (reply !== 'PONG') throw new SinkError(`Redis answered PING with ${JSON.stringify(reply)}`);
    } catch (error) {
      throw this.wrap('PING', error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Writes records in chunks of `batchSize`: each chunk is grouped by event and sent as one pipeline
   * holding one upsert script call per event (standalone Redis: one round trip per chunk). Each
   * script call is atomic (`EVALSHA`) and compares the stored JSON with the new one, so the counts
   * are what Redis actually did: writing the same batch twice reports it as unchanged the second time.
   *
   * Records are stored as `JSON.stringify(record.data)` (text kept as is, UTF-8 on the wire), the
   * index maps each ID to `modifiedAt` (epoch ms). With `seenScope`, IDs are also added to the
   * scope's seen set (TTL {@link SEEN_TTL_SECONDS} s). A record listed twice is processed twice, in order.
   *
   * Chunks already committed stay committed if a later chunk fails (re-running the call is idempotent).
   *
   * @returns totals and one entry per event, in order of first appearance.
   * @throws {@link InvalidInputError} (before any write) for a record with an empty ID, an unusable
   *   event ID, a non-integer `modifiedAt` or data that JSON cannot encode.
   * @throws {@link SinkError} when any reply of any pipeline is an error (e.g. `WRONGTYPE`).
   */
  async upsertRecords(records: readonly SourceRecord[], options: UpsertOptions = {}): Promise<UpsertResult> {
    const scope = options.seenScope;
    const prepared = records.map((record) => this.prepareRecord(record));
    if (scope !== undefined) for (const r of prepared) this.keys.seen(r.eventId, scope);
    const tallies = new Map<string, EventTally>();
    for (let start = 0; start < prepared.length; start += this.batchSize) {
      const byEvent = new Map<string, PreparedRecord[]>();
      for (const record of prepared.slice(start, start + this.batchSize)) {
        const list = byEvent.get(record.eventId);
        if (list === undefined) byEvent.set(record.eventId, [record]);
        else list.push(record);
      }
      const events = [...byEvent.entries()];
      const groups: CommandGroup[] = events.map(([eventId, list]) => {
        const idsKey = this.keys.ids(eventId);
        const seenKey = scope === undefined ? idsKey : this.keys.seen(eventId, scope);
        const args: ScriptArg[] = [];
        for (const r of list) args.push(r.id, r.modifiedAt, r.json);
        return {
          label: `upsert into event ${eventId} (${idsKey})`,
          add: (p) => {
            p.zrsUpsertBatch(idsKey, seenKey, this.keys.recordStem(eventId), scope === undefined ? 0 : SEEN_TTL_SECONDS, ...args);
          },
        };
      });
      // Register each event in the known-events hash (HSETNX keeps a row saveEvents wrote), so
      // listEventIds() is one HKEYS and never has to walk the keyspace.
      const eventsKey = this.keys.events();
      groups.push({
        label: `register events in ${eventsKey}`,
        add: (p) => {
          for (const [eventId] of events) p.hsetnx(eventsKey, eventId, JSON.stringify({ ID: eventId }));
        },
      });
      const replies = await this.execGroups('upsertRecords', groups);
      events.forEach(([eventId], index) => {
        const reply = this.parseUpsertReply(replies[index]?.[0], groups[index]!.label);
        let tally = tallies.get(eventId);
        if (tally === undefined) {
          tally = { eventId, added: [], updated: [], unchanged: 0 };
          tallies.set(eventId, tally);
        }
        tally.added.push(...reply.added);
        tally.updated.push(...reply.updated);
        tally.unchanged += reply.unchanged;
      });
    }
    const events: EventUpsertResult[] = [...tallies.values()].map((t) => ({
      eventId: t.eventId,
      added: t.added,
      updated: t.updated,
      unchanged: t.unchanged,
    }));
    return {
      added: events.reduce((n, e) => n + e.added.length, 0),
      updated: events.reduce((n, e) => n + e.updated.length, 0),
      unchanged: events.reduce((n, e) => n + e.unchanged, 0),
      events,
    };
  }

  /**
   * Removes records of one event: one atomic script call per `batchSize` IDs (`DEL` record key +
   * `HDEL` index field), all in one pipeline.
   *
   * @returns the IDs that were actually held (record key or index field existed).
   * @throws {@link SinkError} on any error reply.
   */
  async removeRecords(eventId: string, ids: readonly string[]): Promise<string[]> {
    const idsKey = this.keys.ids(eventId);
    const stem = this.keys.recordStem(eventId);
    for (const id of ids) this.keys.record(eventId, id);
    if (ids.length === 0) return [];
    const chunks: string[][] = [];
    for (let start = 0; start < ids.length; start += this.batchSize) chunks.push(ids.slice(start, start + this.batchSize));
    const [replies] = await this.execGroups('removeRecords', [
      {
        label: `remove from event ${eventId} (${idsKey})`,
        add: (p) => {
          for (const chunk of chunks) p.zrsRemoveBatch(idsKey, stem, ...chunk);
        },
      },
    ]);
    const removed: string[] = [];
    for (const reply of replies ?? []) {
      if (!Array.isArray(reply)) throw new SinkError(`Unexpected reply of the remove script for ${idsKey}: ${safeJson(reply)}`);
      for (const id of reply) removed.push(String(id));
    }
    return removed;
  }

  /**
   * Number of records held for an event (`HLEN` of the index, O(1)). Unit: records.
   * @throws {@link SinkError} on failure.
   */
  async countRecords(eventId: string): Promise<number> {
    const key = this.keys.ids(eventId);
    return this.run(`HLEN ${key}`, () => this.redis.hlen(key));
  }

  /**
   * Streams the IDs held for an event with `HSCAN … COUNT scanCount`, one chunk per reply (empty
   * chunks skipped). `HSCAN` guarantees every ID held for the whole scan is yielded at least once;
   * an ID may be yielded twice if the hash is resized meanwhile.
   *
   * @throws {@link SinkError} on failure.
   */
  async *scanRecordIds(eventId: string): AsyncGenerator<string[], void, undefined> {
    const key = this.keys.ids(eventId);
    let cursor = '0';
    do {
      const [next, flat] = await this.run(`HSCAN ${key}`, () => this.redis.hscan(key, cursor, 'COUNT', this.scanCount));
      cursor = next;
      const ids: string[] = [];
      for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /**
   * Finds the first of `eventIds` (in the order given) whose index holds the record: pipelined
   * `HEXISTS` over the events (one round trip on standalone Redis).
   *
   * @returns the event ID, or `undefined` when none holds it.
   * @throws {@link SinkError} on any error reply.
   */
  async locateRecord(recordId: string, eventIds: readonly string[]): Promise<string | undefined> {
    if (typeof recordId !== 'string' || recordId.length === 0) throw new InvalidInputError('recordId must be a non-empty string');
    const groups: CommandGroup[] = eventIds.map((eventId) => {
      const key = this.keys.ids(eventId);
      return { label: `HEXISTS ${key}`, add: (p) => void p.hexists(key, recordId) };
    });
    const replies = await this.execGroups('locateRecord', groups);
    const index = replies.findIndex((r) => r[0] === 1);
    return index < 0 ? undefined : eventIds[index];
  }

  /**
   * Compares source stamps with the index and marks them seen in `scope`. Per event: `HMGET` of the
   * index, `SADD` to the seen set and `EXPIRE` (TTL {@link SEEN_TTL_SECONDS} s); all events in one
   * pipeline (one round trip on standalone Redis).
   *
   * @returns `missing`: stamps whose ID the index lacks; `stale`: stamps whose indexed modification
   *   instant differs from `modifiedAt`. Both in input order.
   * @throws {@link InvalidInputError} for a stamp with an empty ID, unusable event ID or non-integer `modifiedAt`.
   * @throws {@link SinkError} on any error reply.
   */
  async compareStamps(stamps: readonly RecordStamp[], scope: string): Promise<StampComparison> {
    const byEvent = new Map<string, RecordStamp[]>();
    for (const stamp of stamps) {
      this.keys.seen(stamp.eventId, scope);
      this.keys.record(stamp.eventId, stamp.id);
      checkInstant(`modifiedAt of record ${stamp.id}`, stamp.modifiedAt);
      const list = byEvent.get(stamp.eventId);
      if (list === undefined) byEvent.set(stamp.eventId, [stamp]);
      else list.push(stamp);
    }
    if (byEvent.size === 0) return { missing: [], stale: [] };
    const events = [...byEvent.entries()];
    const groups: CommandGroup[] = events.map(([eventId, list]) => {
      const idsKey = this.keys.ids(eventId);
      const seenKey = this.keys.seen(eventId, scope);
      const ids = list.map((s) => s.id);
      return {
        label: `compare stamps of event ${eventId} (${idsKey}, ${seenKey})`,
        add: (p) => {
          p.hmget(idsKey, ...ids);
          p.sadd(seenKey, ...ids);
          p.expire(seenKey, SEEN_TTL_SECONDS);
        },
      };
    });
    const replies = await this.execGroups('compareStamps', groups);
    const missingSet = new Set<RecordStamp>();
    const staleSet = new Set<RecordStamp>();
    events.forEach(([, list], index) => {
      const held = replies[index]?.[0];
      if (!Array.isArray(held) || held.length !== list.length) {
        throw new SinkError(`Unexpected HMGET reply for ${groups[index]!.label}`);
      }
      list.forEach((stamp, i) => {
        const value: unknown = held[i];
        if (value === null || value === undefined) missingSet.add(stamp);
        else if (parseNumber(value) !== stamp.modifiedAt) staleSet.add(stamp);
      });
    });
    return {
      missing: stamps.filter((s) => missingSet.has(s)),
      stale: stamps.filter((s) => staleSet.has(s)),
    };
  }

  /**
   * Streams IDs held for an event that are not in the scope's seen set: `HSCAN` chunks of the index
   * (`COUNT scanCount`), each checked with one `SMISMEMBER` (or pipelined `SISMEMBER` on servers
   * without it, detected once). Never holds more than one chunk in memory. Empty chunks are skipped.
   *
   * @throws {@link SinkError} on failure.
   */
  async *scanUnseen(eventId: string, scope: string): AsyncGenerator<string[], void, undefined> {
    const seenKey = this.keys.seen(eventId, scope);
    for await (const ids of this.scanRecordIds(eventId)) {
      const seen = await this.membership(seenKey, ids);
      const unseen = ids.filter((_, i) => !seen[i]);
      if (unseen.length > 0) yield unseen;
    }
  }

  /**
   * Number of IDs marked seen in `scope` for an event (`SCARD`, O(1)). Unit: records.
   * @throws {@link SinkError} on failure.
   */
  async countSeen(eventId: string, scope: string): Promise<number> {
    const key = this.keys.seen(eventId, scope);
    return this.run(`SCARD ${key}`, () => this.redis.scard(key));
  }

  /**
   * Deletes the scope's seen sets of the given events (pipelined `DEL`).
   * @throws {@link SinkError} on any error reply.
   */
  async releaseScope(scope: string, eventIds: readonly string[]): Promise<void> {
    const groups: CommandGroup[] = eventIds.map((eventId) => {
      const key = this.keys.seen(eventId, scope);
      return { label: `DEL ${key}`, add: (p) => void p.del(key) };
    });
    await this.execGroups('releaseScope', groups);
  }

  /**
   * Stores the events' rows (`HSET <p>:{g}:events id json …`, one command).
   * @throws {@link InvalidInputError} for an unusable event ID or a row JSON cannot encode.
   * @throws {@link SinkError} on failure.
   */
  async saveEvents(events: readonly SourceEvent[]): Promise<void> {
    const fields: Record<string, string> = {};
    for (const event of events) {
      this.keys.eventStem(event.id);
      fields[event.id] = this.encodeJson(`event ${event.id}`, event.data);
    }
    if (events.length === 0) return;
    const key = this.keys.events();
    await this.run(`HSET ${key}`, () => this.redis.hset(key, fields));
  }

  /**
   * IDs of every known event: the fields of `<p>:{g}:events` (`HKEYS`, one round trip). Every
   * upsert registers its events there (`HSETNX`), so events holding records are always listed.
   *
   * @throws {@link SinkError} on failure.
   */
  async listEventIds(): Promise<string[]> {
    const key = this.keys.events();
    return this.run(`HKEYS ${key}`, () => this.redis.hkeys(key));
  }

  /**
   * Reads one event's metadata (`HLEN` of the index + `HMGET` of the meta hash, pipelined).
   * @throws {@link SinkError} on failure.
   */
  async getEventMeta(eventId: string): Promise<EventMeta> {
    const [meta] = await this.getEventMetas([eventId]);
    return meta!;
  }

  /**
   * Reads several events' metadata, in the order given, in one pipeline (one round trip on
   * standalone Redis). Fields never written are `undefined`.
   * @throws {@link SinkError} on any error reply.
   */
  async getEventMetas(eventIds: readonly string[]): Promise<EventMeta[]> {
    const fields = [EVENT_META_FIELDS.sourceCount, EVENT_META_FIELDS.lastSyncAt, EVENT_META_FIELDS.lastFullSyncAt];
    const groups: CommandGroup[] = eventIds.map((eventId) => {
      const idsKey = this.keys.ids(eventId);
      const metaKey = this.keys.eventMeta(eventId);
      return {
        label: `read metadata of event ${eventId} (${metaKey})`,
        add: (p) => {
          p.hlen(idsKey);
          p.hmget(metaKey, ...fields);
        },
      };
    });
    const replies = await this.execGroups('getEventMetas', groups);
    return replies.map(([count, values], index) => {
      if (typeof count !== 'number' || !Array.isArray(values)) {
        throw new SinkError(`Unexpected reply for ${groups[index]!.label}`);
      }
      return {
        recordCount: count,
        sourceCount: parseNumber(values[0]),
        lastSyncAt: parseNumber(values[1]),
        lastFullSyncAt: parseNumber(values[2]),
      };
    });
  }

  /**
   * Updates one event's metadata hash (`HSET`; fields left `undefined` are not touched).
   *
   * With `options.fence`, the write is refused when the fence is lower than the fence counter: on
   * standalone Redis one atomic script reads the counter and writes; on a Cluster (the counter and
   * the event live in different slots) the counter is read first, then the hash is written.
   *
   * @throws {@link InvalidInputError} for a non-finite value or an invalid fence.
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async setEventMeta(eventId: string, patch: EventMetaPatch, options?: FenceOptions): Promise<void> {
    const key = this.keys.eventMeta(eventId);
    const pairs = this.metaPairs(patch, EVENT_META_FIELDS);
    await this.writeHash(key, pairs, checkFence(options), !this.isCluster);
  }

  /**
   * Reads the global metadata (`HMGET <p>:{g}:meta`). Fields never written are `undefined`.
   * @throws {@link SinkError} on failure.
   */
  async getSyncMeta(): Promise<SyncMeta> {
    const key = this.keys.syncMeta();
    const values = await this.run(`HMGET ${key}`, () =>
      this.redis.hmget(key, SYNC_META_FIELDS.watermark, SYNC_META_FIELDS.lastSyncAt, SYNC_META_FIELDS.lastFullSyncAt, SYNC_META_FIELDS.lastStaleCheckAt),
    );
    return {
      watermark: parseNumber(values[0]),
      lastSyncAt: parseNumber(values[1]),
      lastFullSyncAt: parseNumber(values[2]),
      lastStaleCheckAt: parseNumber(values[3]),
    };
  }

  /**
   * Updates the global metadata (`HSET <p>:{g}:meta`; fields left `undefined` are not touched).
   * With `options.fence`, one atomic script refuses the write when the fence is lower than the
   * fence counter (same `{g}` slot).
   *
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async setSyncMeta(patch: SyncMetaPatch, options?: FenceOptions): Promise<void> {
    const key = this.keys.syncMeta();
    const { lastSyncAt, lastFullSyncAt, lastStaleCheckAt } = patch;
    const pairs = this.metaPairs(
      { lastSyncAt, lastFullSyncAt, lastStaleCheckAt },
      { lastSyncAt: SYNC_META_FIELDS.lastSyncAt, lastFullSyncAt: SYNC_META_FIELDS.lastFullSyncAt, lastStaleCheckAt: SYNC_META_FIELDS.lastStaleCheckAt },
    );
    await this.writeHash(key, pairs, checkFence(options), true);
  }

  /**
   * Moves the watermark to `max(stored, instant)` in one atomic script (so concurrent writers can
   * never move it backwards); with `options.fence`, refused when the fence is stale.
   *
   * @param instant - epoch milliseconds (integer).
   * @returns the stored watermark after the call (epoch ms).
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async advanceWatermark(instant: number, options?: FenceOptions): Promise<number> {
    checkInstant('instant', instant);
    const fence = checkFence(options);
    const key = this.keys.syncMeta();
    const reply = await this.run(`advance watermark in ${key}`, () =>
      this.redis.zrsAdvanceWatermark(key, this.keys.fence(), String(instant), fence === undefined ? '' : fence),
    );
    this.checkFencedReply(reply, key, fence);
    const stored = Array.isArray(reply) ? parseNumber(String(reply[1])) : undefined;
    if (stored === undefined) throw new SinkError(`Unexpected reply advancing the watermark in ${key}: ${safeJson(reply)}`);
    return stored;
  }

  /**
   * Reads a named checkpoint (`GET <p>:{g}:checkpoint:<name>`, JSON).
   * @returns the checkpoint, or `undefined` when none is saved.
   * @throws {@link SinkError} on failure or when the stored value is not a checkpoint.
   */
  async getCheckpoint(name: string): Promise<Checkpoint | undefined> {
    const key = this.keys.checkpoint(name);
    const json = await this.run(`GET ${key}`, () => this.redis.get(key));
    if (json === null) return undefined;
    const value = this.decodeJson(key, json);
    const optionalNumber = (v: unknown): v is number | undefined | null => v === undefined || v === null || typeof v === 'number';
    if (
      typeof value.runId !== 'string' ||
      typeof value.kind !== 'string' ||
      typeof value.cursor !== 'string' ||
      typeof value.nextPage !== 'number' ||
      typeof value.startedAt !== 'number' ||
      !optionalNumber(value.maxModifiedAt) ||
      !optionalNumber(value.since)
    ) {
      throw new SinkError(`The value of ${key} is not a checkpoint`);
    }
    return {
      runId: value.runId,
      kind: value.kind,
      cursor: value.cursor,
      nextPage: value.nextPage,
      maxModifiedAt: value.maxModifiedAt ?? undefined,
      since: value.since ?? undefined,
      startedAt: value.startedAt,
    };
  }

  /**
   * Saves a named checkpoint as JSON (`SET`; with `options.fence`, an atomic fenced script).
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async setCheckpoint(name: string, checkpoint: Checkpoint, options?: FenceOptions): Promise<void> {
    const key = this.keys.checkpoint(name);
    const json = this.encodeJson(`checkpoint ${name}`, checkpoint);
    const fence = checkFence(options);
    if (fence === undefined) {
      await this.run(`SET ${key}`, () => this.redis.set(key, json));
      return;
    }
    const reply = await this.run(`fenced SET ${key}`, () => this.redis.zrsFencedSet(this.keys.fence(), key, fence, json));
    this.checkFencedReply(reply, key, fence);
  }

  /**
   * Deletes a named checkpoint (`DEL`; with `options.fence`, an atomic fenced script).
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async clearCheckpoint(name: string, options?: FenceOptions): Promise<void> {
    const key = this.keys.checkpoint(name);
    const fence = checkFence(options);
    if (fence === undefined) {
      await this.run(`DEL ${key}`, () => this.redis.del(key));
      return;
    }
    const reply = await this.run(`fenced DEL ${key}`, () => this.redis.zrsFencedDel(this.keys.fence(), key, fence));
    this.checkFencedReply(reply, key, fence);
  }

  /**
   * Appends rejected records to their event's dead-letter stream (`XADD key MAXLEN ~ deadLetterMaxLen *
   * reason … detail … raw … at …`, pipelined). Entries without a usable event ID go to `<p>:{g}:dlq`
   * (an unusable one is quoted in `detail`). `raw` is the record as JSON; `at` the ISO time of the call.
   *
   * @throws {@link SinkError} on any error reply.
   */
  async deadLetter(entries: readonly RejectedRecord[]): Promise<void> {
    const at = new Date().toISOString();
    const byKey = new Map<string, string[][]>();
    for (const entry of entries) {
      let key = this.keys.globalDeadLetters();
      let detail = String(entry.detail);
      if (entry.eventId !== undefined) {
        try {
          key = this.keys.deadLetters(entry.eventId);
        } catch {
          detail = `${detail} (event ID ${JSON.stringify(entry.eventId)} cannot be used in a key)`;
        }
      }
      const fields = [
        DEAD_LETTER_FIELDS.reason,
        String(entry.reason),
        DEAD_LETTER_FIELDS.detail,
        detail,
        DEAD_LETTER_FIELDS.raw,
        safeJson(entry.raw),
        DEAD_LETTER_FIELDS.at,
        at,
      ];
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [fields]);
      else list.push(fields);
    }
    const groups: CommandGroup[] = [...byKey.entries()].map(([key, list]) => ({
      label: `XADD ${key}`,
      add: (p) => {
        for (const fields of list) p.xadd(key, 'MAXLEN', '~', this.deadLetterMaxLen, '*', ...fields);
      },
    }));
    await this.execGroups('deadLetter', groups);
  }

  /**
   * Takes the sync lease if nobody holds it: one atomic script runs `SET lease owner NX PX ttlMs`
   * (set only if absent, expiring after `ttlMs`) and, on success, `INCR fence`.
   *
   * @param owner - a token unique to the caller (e.g. host name + PID + random).
   * @param ttlMs - lease time-to-live in milliseconds (positive integer).
   * @returns the lease with its fencing token (strictly increasing across acquisitions), or
   *   `undefined` when the lease is held (by anyone, the same owner included).
   * @throws {@link SinkError} on failure.
   */
  async acquireLease(owner: string, ttlMs: number): Promise<Lease | undefined> {
    this.checkLeaseArgs(owner, ttlMs);
    const key = this.keys.lease();
    const reply = await this.run(`acquire lease ${key}`, () => this.redis.zrsAcquireLease(key, this.keys.fence(), owner, ttlMs));
    if (!Array.isArray(reply)) throw new SinkError(`Unexpected reply acquiring the lease ${key}: ${safeJson(reply)}`);
    if (reply[0] !== 1) return undefined;
    const fence = Number(reply[1]);
    if (!Number.isSafeInteger(fence)) throw new SinkError(`Unexpected fence acquiring the lease ${key}: ${safeJson(reply)}`);
    return { owner, fence };
  }

  /**
   * Extends the lease to `ttlMs` from now if `owner` holds it (atomic compare, then `PEXPIRE`).
   * @returns `true` when renewed, `false` when the lease is not (or no longer) this owner's.
   * @throws {@link SinkError} on failure.
   */
  async renewLease(owner: string, ttlMs: number): Promise<boolean> {
    this.checkLeaseArgs(owner, ttlMs);
    const key = this.keys.lease();
    const reply = await this.run(`renew lease ${key}`, () => this.redis.zrsRenewLease(key, owner, ttlMs));
    return reply === 1;
  }

  /**
   * Releases the lease if `owner` holds it (atomic compare, then `DEL`); does nothing otherwise.
   * @throws {@link SinkError} on failure.
   */
  async releaseLease(owner: string): Promise<void> {
    this.checkLeaseArgs(owner, 1);
    const key = this.keys.lease();
    await this.run(`release lease ${key}`, () => this.redis.zrsReleaseLease(key, owner));
  }

  /**
   * Reads one record, parsed (`GET` of its key, then `JSON.parse`).
   * @returns the record data as the source sent it, or `undefined` when not held.
   * @throws {@link SinkError} on failure or when the stored value is not a JSON object.
   */
  async getRecord(eventId: string, recordId: string): Promise<Record<string, unknown> | undefined> {
    const json = await this.getRecordJson(eventId, recordId);
    return json === undefined ? undefined : this.decodeJson(this.keys.record(eventId, recordId), json);
  }

  /**
   * Reads one record's stored JSON text, unparsed (`GET`).
   * @returns the JSON exactly as stored, or `undefined` when not held.
   * @throws {@link SinkError} on failure.
   */
  async getRecordJson(eventId: string, recordId: string): Promise<string | undefined> {
    const key = this.keys.record(eventId, recordId);
    const json = await this.run(`GET ${key}`, () => this.redis.get(key));
    return json ?? undefined;
  }

  /**
   * All record IDs of an event in one reply (`HKEYS` of the index). Cost: O(n) time on the server
   * and all IDs in memory at once; for large events use {@link RedisSink.scanRecordIds}.
   * @throws {@link SinkError} on failure.
   */
  async listRecordIds(eventId: string): Promise<string[]> {
    const key = this.keys.ids(eventId);
    return this.run(`HKEYS ${key}`, () => this.redis.hkeys(key));
  }

  /**
   * Reads one saved event row, parsed (`HGET <p>:{g}:events <eventId>`).
   * @returns the row as the source sent it, or `undefined` when the event was never saved.
   * @throws {@link SinkError} on failure or when the stored value is not a JSON object.
   */
  async getEvent(eventId: string): Promise<Record<string, unknown> | undefined> {
    this.keys.eventStem(eventId);
    const key = this.keys.events();
    const json = await this.run(`HGET ${key} ${eventId}`, () => this.redis.hget(key, eventId));
    return json === null ? undefined : this.decodeJson(`${key} ${eventId}`, json);
  }

  /**
   * Length of a dead-letter stream (`XLEN`): the event's, or the global one when `eventId` is omitted.
   * Unit: entries (capped approximately at `deadLetterMaxLen`).
   * @throws {@link SinkError} on failure.
   */
  async countDeadLetters(eventId?: string): Promise<number> {
    const key = eventId === undefined ? this.keys.globalDeadLetters() : this.keys.deadLetters(eventId);
    return this.run(`XLEN ${key}`, () => this.redis.xlen(key));
  }

  // ---------------------------------------------------------------------------------------------

  private prepareRecord(record: SourceRecord): PreparedRecord {
    if (typeof record?.id !== 'string' || record.id.length === 0) {
      throw new InvalidInputError(`record ID must be a non-empty string, got ${safeJson(record?.id)}`);
    }
    this.keys.record(record.eventId, record.id);
    checkInstant(`modifiedAt of record ${record.id}`, record.modifiedAt);
    return {
      id: record.id,
      eventId: record.eventId,
      modifiedAt: String(record.modifiedAt),
      // The worker's size check already computed the JSON: take it rather than stringify again.
      json: takeRecordJson(record) ?? this.encodeJson(`record ${record.id}`, record.data),
    };
  }

  private encodeJson(what: string, value: unknown): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch (error) {
      throw new InvalidInputError(`${what} cannot be encoded as JSON: ${errorMessage(error)}`);
    }
    if (json === undefined) throw new InvalidInputError(`${what} cannot be encoded as JSON`);
    return json;
  }

  private decodeJson(where: string, json: string): Record<string, unknown> {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (error) {
      throw new SinkError(`The value of ${where} is not valid JSON`, { cause: error });
    }
    if (!isPlainObject(value)) throw new SinkError(`The value of ${where} is not a JSON object`);
    return value;
  }

  private metaPairs<K extends string>(patch: Partial<Record<K, number | undefined>>, fields: Record<K, string>): string[] {
    const pairs: string[] = [];
    for (const name of Object.keys(fields) as K[]) {
      const value = patch[name];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new InvalidInputError(`${name} must be a finite number, got ${String(value)}`);
      }
      pairs.push(fields[name], String(value));
    }
    return pairs;
  }

  /** Writes hash fields, fenced when `fence` is given (atomically when `atomic`, i.e. the hash shares a slot with the counter or Redis is standalone). */
  private async writeHash(key: string, pairs: string[], fence: number | undefined, atomic: boolean): Promise<void> {
    if (fence === undefined) {
      if (pairs.length === 0) return;
      await this.run(`HSET ${key}`, () => this.redis.hset(key, ...pairs));
      return;
    }
    if (atomic) {
      const reply = await this.run(`fenced HSET ${key}`, () => this.redis.zrsFencedHset(this.keys.fence(), key, fence, ...pairs));
      this.checkFencedReply(reply, key, fence);
      return;
    }
    const fenceKey = this.keys.fence();
    const current = parseNumber(await this.run(`GET ${fenceKey}`, () => this.redis.get(fenceKey))) ?? 0;
    if (fence < current) this.refuse(key, fence, current);
    if (pairs.length > 0) await this.run(`HSET ${key}`, () => this.redis.hset(key, ...pairs));
  }

  private checkFencedReply(reply: unknown, key: string, fence: number | undefined): void {
    if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) {
      throw new SinkError(`Unexpected reply of a fenced write to ${key}: ${safeJson(reply)}`);
    }
    if (reply[0] === 0) this.refuse(key, fence, Number(reply[1]));
  }

  private refuse(key: string, fence: number | undefined, current: number): never {
    throw new LeaseError(
      `Refused to write ${key}: fence ${String(fence)} is older than the current fence ${current} (another owner took the lease)`,
    );
  }

  private checkLeaseArgs(owner: string, ttlMs: number): void {
    if (typeof owner !== 'string' || owner.length === 0) throw new InvalidInputError('lease owner must be a non-empty string');
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidInputError(`lease ttlMs must be a positive integer, got ${String(ttlMs)}`);
  }

  private parseUpsertReply(reply: unknown, label: string): { added: string[]; updated: string[]; unchanged: number } {
    if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number') {
      throw new SinkError(`Unexpected reply for ${label}: ${safeJson(reply)}`);
    }
    const addedCount = reply[1];
    const ids = reply.slice(2).map(String);
    return { unchanged: reply[0], added: ids.slice(0, addedCount), updated: ids.slice(addedCount) };
  }

  /** `SMISMEMBER`, or pipelined `SISMEMBER` when the server lacks it (detected on the first call). */
  private async membership(key: string, ids: string[]): Promise<boolean[]> {
    if (this.smismemberSupported !== false) {
      try {
        const replies = await this.redis.smismember(key, ...ids);
        this.smismemberSupported = true;
        return replies.map((r) => r === 1);
      } catch (error) {
        if (this.smismemberSupported !== undefined || !isUnknownCommand(error)) throw this.wrap(`SMISMEMBER ${key}`, error);
        this.smismemberSupported = false;
      }
    }
    const [replies] = await this.execGroups('scanUnseen', [
      {
        label: `SISMEMBER ${key}`,
        add: (p) => {
          for (const id of ids) p.sismember(key, id);
        },
      },
    ]);
    return (replies ?? []).map((r) => r === 1);
  }

  /**
   * Sends command groups and checks every reply. Standalone: one pipeline for all groups. Cluster:
   * one pipeline per group (each group stays in one slot), sent concurrently.
   *
   * @returns the replies of each group, in order.
   * @throws {@link SinkError} naming the group when any reply is an error or the pipeline fails.
   */
  private async execGroups(op: string, groups: readonly CommandGroup[]): Promise<unknown[][]> {
    if (groups.length === 0) return [];
    if (this.isCluster) {
      return Promise.all(groups.map(async (group) => (await this.execPipeline(op, [group]))[0]!));
    }
    return this.execPipeline(op, groups);
  }

  private async execPipeline(op: string, groups: readonly CommandGroup[]): Promise<unknown[][]> {
    let pipeline: ScriptedPipeline;
    const sizes: number[] = [];
    try {
      pipeline = this.redis.pipeline() as ScriptedPipeline;
      for (const group of groups) {
        const before = pipeline.length;
        group.add(pipeline);
        sizes.push(pipeline.length - before);
      }
    } catch (error) {
      throw this.wrap(`${op}: queueing commands`, error);
    }
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (error) {
      throw this.wrap(`${op}: ${groups.map((g) => g.label).join('; ')}`, error);
    }
    if (replies === null) throw new SinkError(`${op}: the pipeline was discarded`);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (replies.length !== total) {
      throw new SinkError(`${op}: expected ${total} pipeline replies, got ${replies.length}`);
    }
    const out: unknown[][] = [];
    let offset = 0;
    groups.forEach((group, index) => {
      const size = sizes[index]!;
      const slice = replies.slice(offset, offset + size);
      offset += size;
      for (const [error] of slice) {
        if (error) throw new SinkError(`Redis ${op} failed: ${group.label}: ${error.message}`, { cause: error });
      }
      out.push(slice.map(([, value]) => value));
    });
    return out;
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.wrap(what, error);
    }
  }

  private wrap(what: string, error: unknown): SyncError {
    if (isSyncError(error)) return error;
    return new SinkError(`Redis ${what} failed: ${errorMessage(error)}`, { cause: error });
  }
}
