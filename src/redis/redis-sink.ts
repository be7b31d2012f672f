/**
 * {@link RedisSink}: the {@link RecordSink} on ioredis. Key layout: see `createKeySchema`. The
 * worker's bookkeeping lives in a {@link RedisStateStore} (`sink.state` shares the client and prefix).
 */
import type { Cluster, Redis } from 'ioredis';
import type { EventUpsertResult, RecordSink, RecordSinkCapabilities, StampComparison, UpsertResult } from '../adapters/sink.js';
import type { RecordStamp, SourceRecord } from '../adapters/source.js';
import { InvalidInputError, SinkError } from '../errors.js';
import { takeRecordJson } from '../record-json.js';
import { type CommandGroup, checkRedisClient, DEFAULT_PING_TIMEOUT_MS, RedisCommands } from './commands.js';
import { createKeySchema, type KeySchema } from './key-schema.js';
import { queueScript, type ScriptArg } from './scripts.js';
import { DEFAULT_DEAD_LETTER_MAX_LEN, RedisStateStore } from './state-store.js';
import { checkInstant, checkInteger, checkOptionKeys, decodeJsonObject, encodeJson, parseNumber, safeJson } from './values.js';

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
  /** Approximate cap of each dead-letter stream of {@link RedisSink.state} (`XADD … MAXLEN ~ n`). Default 1000. Unit: entries. */
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
/** Default of {@link RedisSinkOptions.scanCount}. Unit: elements. */
export const DEFAULT_SCAN_COUNT = 1000;
export { DEFAULT_DEAD_LETTER_MAX_LEN, DEFAULT_PING_TIMEOUT_MS };
/** The option names {@link RedisSink} accepts; any other key is a typo and throws `ConfigError`. */
export const REDIS_SINK_OPTION_KEYS: readonly string[] = ['redis', 'keyPrefix', 'batchSize', 'deadLetterMaxLen', 'scanCount', 'pingTimeoutMs'];

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

/**
 * The Redis record sink: stores records and their per-event index in Redis through ioredis,
 * following the key schema of `createKeySchema`.
 *
 * Guarantees relied on:
 * - each Lua script runs atomically (`EVALSHA`; ioredis resends the body on `NOSCRIPT`) and declares
 *   every key it touches in KEYS;
 * - one event's keys share a Redis Cluster hash slot (`{e:<eventId>}`);
 * - every reply of every pipeline is checked: any error reply rejects the call with a
 *   {@link SinkError} naming the key or event, with the Redis error as `cause`;
 * - writes are bounded: at most `batchSize` records per pipeline.
 *
 * On a standalone Redis the per-event commands of one call go in one pipeline (one round trip); on a
 * Cluster they go in one pipeline per event, sent concurrently (a Cluster pipeline must stay on one node).
 *
 * Every method rejects with a {@link SinkError} when Redis fails and with an {@link InvalidInputError}
 * (before any write) for an argument that cannot be stored.
 *
 * @example
 * ```ts
 * const sink = new RedisSink({ redis: new Redis(process.env.REDIS_URL!), keyPrefix: 'zrs' });
 * await sink.ping();
 * const result = await sink.upsertRecords(records); // { added, updated, unchanged, events }
 * const worker = new SyncWorker({ source, sink }); // bookkeeping in sink.state (same Redis, same prefix)
 * ```
 */
export class RedisSink implements RecordSink {
  /** Name for logs. */
  readonly name = 'redis';
  /** Both optional extras in one round trip; JSON kept exactly. */
  readonly capabilities: RecordSinkCapabilities = Object.freeze({ compareStamps: true, locateRecord: true, exactRoundTrip: true });
  /** The key schema in use (every key this sink and its state store read or write). */
  readonly keys: KeySchema;
  /** The worker's bookkeeping on the same client and prefix (`SyncWorker` uses it when given no `state`). */
  readonly state: RedisStateStore;

  private readonly commands: RedisCommands;
  private readonly batchSize: number;
  private readonly scanCount: number;

  /**
   * @param options - see {@link RedisSinkOptions}.
   * @throws {@link ConfigError} for an invalid option (option name in `error.option`).
   */
  constructor(options: RedisSinkOptions) {
    checkOptionKeys('RedisSink', options, REDIS_SINK_OPTION_KEYS);
    const redis = options?.redis;
    checkRedisClient(redis);
    this.keys = createKeySchema(options.keyPrefix);
    this.batchSize = checkInteger('batchSize', options.batchSize, DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
    this.scanCount = checkInteger('scanCount', options.scanCount, DEFAULT_SCAN_COUNT, 1, 1_000_000);
    const pingTimeoutMs = checkInteger('pingTimeoutMs', options.pingTimeoutMs, DEFAULT_PING_TIMEOUT_MS, 1, 2_147_483_647);
    this.commands = new RedisCommands(redis, pingTimeoutMs);
    this.state = new RedisStateStore({
      redis,
      keyPrefix: options.keyPrefix,
      deadLetterMaxLen: options.deadLetterMaxLen,
      pingTimeoutMs,
    });
  }

  /**
   * Sends `PING` and waits at most `pingTimeoutMs` for `PONG`.
   *
   * @throws {@link SinkError} when Redis answers with an error, anything but `PONG`, or not in time.
   */
  ping(): Promise<void> {
    return this.commands.ping();
  }

  /**
   * Writes records in chunks of `batchSize`: each chunk is grouped by event and sent as one pipeline
   * holding one upsert script call per event (standalone Redis: one round trip per chunk). Each
   * script call is atomic (`EVALSHA`) and compares the stored JSON with the new one, so the counts
   * are what Redis actually did: writing the same batch twice reports it as unchanged the second time.
   *
   * Records are stored as `JSON.stringify(record.data)` (text kept as is, UTF-8 on the wire), the
   * index maps each ID to `modifiedAt` (epoch ms). A record listed twice is processed twice, in order.
   *
   * Chunks already committed stay committed if a later chunk fails (re-running the call is idempotent).
   *
   * @returns totals and one entry per event, in order of first appearance.
   * @throws {@link InvalidInputError} (before any write) for a record with an empty ID, an unusable
   *   event ID, a non-integer `modifiedAt` or data that JSON cannot encode.
   * @throws {@link SinkError} when any reply of any pipeline is an error (e.g. `WRONGTYPE`).
   */
  async upsertRecords(records: readonly SourceRecord[]): Promise<UpsertResult> {
    const prepared = records.map((record) => this.prepareRecord(record));
    const tallies = new Map<string, EventTally>();
    for (let start = 0; start < prepared.length; start += this.batchSize) {
      const byEvent = groupByEvent(prepared.slice(start, start + this.batchSize));
      const events = [...byEvent.entries()];
      const groups: CommandGroup[] = events.map(([eventId, list]) => {
        const idsKey = this.keys.ids(eventId);
        const keys = [idsKey];
        const args: ScriptArg[] = [];
        for (const r of list) {
          keys.push(this.keys.record(eventId, r.id));
          args.push(r.id, r.modifiedAt, r.json);
        }
        return { label: `upsert into event ${eventId} (${idsKey})`, add: (p) => queueScript(p, 'zrsUpsertBatch', keys, args) };
      });
      const replies = await this.commands.execGroups('upsertRecords', groups);
      events.forEach(([eventId], index) => {
        const reply = parseUpsertReply(replies[index]?.[0], groups[index]!.label);
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
   * `HDEL` index field, every key declared), all in one pipeline.
   *
   * @returns the IDs that were actually held (record key or index field existed).
   * @throws {@link InvalidInputError} for an unusable event or record ID (before any write).
   * @throws {@link SinkError} on any error reply.
   */
  async removeRecords(eventId: string, ids: readonly string[]): Promise<string[]> {
    const idsKey = this.keys.ids(eventId);
    const recordKeys = ids.map((id) => this.keys.record(eventId, id));
    if (ids.length === 0) return [];
    const [replies] = await this.commands.execGroups('removeRecords', [
      {
        label: `remove from event ${eventId} (${idsKey})`,
        add: (p) => {
          for (let start = 0; start < ids.length; start += this.batchSize) {
            const chunk = ids.slice(start, start + this.batchSize);
            queueScript(p, 'zrsRemoveBatch', [idsKey, ...recordKeys.slice(start, start + this.batchSize)], chunk);
          }
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
    return this.commands.run(`HLEN ${key}`, (r) => r.hlen(key));
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
      const [next, flat] = await this.commands.run(`HSCAN ${key}`, (r) => r.hscan(key, cursor, 'COUNT', this.scanCount));
      cursor = next;
      const ids: string[] = [];
      for (let i = 0; i < flat.length; i += 2) ids.push(flat[i]!);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /**
   * The indexed modification instants of records of one event (`HMGET` of the index).
   * @returns epoch ms per ID, in order; `undefined` for an ID the index lacks.
   * @throws {@link SinkError} on failure.
   */
  async readStamps(eventId: string, ids: readonly string[]): Promise<(number | undefined)[]> {
    const key = this.keys.ids(eventId);
    for (const id of ids) this.keys.record(eventId, id);
    if (ids.length === 0) return [];
    const values = await this.commands.run(`HMGET ${key}`, (r) => r.hmget(key, ...ids));
    return values.map((v) => parseNumber(v));
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
    const replies = await this.commands.execGroups('locateRecord', groups);
    const index = replies.findIndex((r) => r[0] === 1);
    return index < 0 ? undefined : eventIds[index];
  }

  /**
   * Compares source stamps with the index: `HMGET` of each event's index, all events in one pipeline
   * (one round trip on standalone Redis).
   *
   * @returns `missing`: stamps whose ID the index lacks; `stale`: stamps whose indexed modification
   *   instant differs from `modifiedAt`. Both in input order.
   * @throws {@link InvalidInputError} for a stamp with an empty ID, unusable event ID or non-integer `modifiedAt`.
   * @throws {@link SinkError} on any error reply.
   */
  async compareStamps(stamps: readonly RecordStamp[]): Promise<StampComparison> {
    const byEvent = new Map<string, RecordStamp[]>();
    for (const stamp of stamps) {
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
      const ids = list.map((s) => s.id);
      return { label: `compare stamps of event ${eventId} (${idsKey})`, add: (p) => void p.hmget(idsKey, ...ids) };
    });
    const replies = await this.commands.execGroups('compareStamps', groups);
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
   * Reads one record, parsed (`GET` of its key, then `JSON.parse`).
   * @returns the record data as the source sent it, or `undefined` when not held.
   * @throws {@link SinkError} on failure or when the stored value is not a JSON object.
   */
  async getRecord(eventId: string, recordId: string): Promise<Record<string, unknown> | undefined> {
    const json = await this.getRecordJson(eventId, recordId);
    return json === undefined ? undefined : decodeJsonObject(this.keys.record(eventId, recordId), json);
  }

  /**
   * Reads one record's stored JSON text, unparsed (`GET`).
   * @returns the JSON exactly as stored, or `undefined` when not held.
   * @throws {@link SinkError} on failure.
   */
  async getRecordJson(eventId: string, recordId: string): Promise<string | undefined> {
    const key = this.keys.record(eventId, recordId);
    const json = await this.commands.run(`GET ${key}`, (r) => r.get(key));
    return json ?? undefined;
  }

  /**
   * All record IDs of an event in one reply (`HKEYS` of the index). Cost: O(n) time on the server
   * and all IDs in memory at once; for large events use {@link RedisSink.scanRecordIds}.
   * @throws {@link SinkError} on failure.
   */
  async listRecordIds(eventId: string): Promise<string[]> {
    const key = this.keys.ids(eventId);
    return this.commands.run(`HKEYS ${key}`, (r) => r.hkeys(key));
  }

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
      json: takeRecordJson(record) ?? encodeJson(`record ${record.id}`, record.data),
    };
  }
}

function groupByEvent(records: readonly PreparedRecord[]): Map<string, PreparedRecord[]> {
  const byEvent = new Map<string, PreparedRecord[]>();
  for (const record of records) {
    const list = byEvent.get(record.eventId);
    if (list === undefined) byEvent.set(record.eventId, [record]);
    else list.push(record);
  }
  return byEvent;
}

function parseUpsertReply(reply: unknown, label: string): { added: string[]; updated: string[]; unchanged: number } {
  if (!Array.isArray(reply) || typeof reply[0] !== 'number' || typeof reply[1] !== 'number') {
    throw new SinkError(`Unexpected reply for ${label}: ${safeJson(reply)}`);
  }
  const addedCount = reply[1];
  const ids = reply.slice(2).map(String);
  return { unchanged: reply[0], added: ids.slice(0, addedCount), updated: ids.slice(addedCount) };
}
