/**
 * {@link RedisSink}: the {@link RecordSink} on ioredis. Records and their per-event index follow the
 * sink's record layout (`layout` option, see ./layout.ts; default: `createKeySchema`'s keys). The
 * worker's bookkeeping lives in a {@link RedisStateStore} (`sink.state` shares the client and prefix).
 */
import type { Cluster, Redis } from 'ioredis';
import type { EventUpsertResult, RecordSink, RecordSinkCapabilities, RemoveOptions, StampComparison, UpsertOptions, UpsertResult } from '../adapters/sink.js';
import type { RecordStamp, SourceRecord } from '../adapters/source.js';
import { ConfigError, InvalidInputError, SinkError } from '../errors.js';
import { takeRecordJson } from '../record-json.js';
import { type CommandGroup, checkRedisClient, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_PING_TIMEOUT_MS, RedisCommands } from './commands.js';
import { createKeySchema, type KeySchema } from './key-schema.js';
import { createRecordLayout, type RecordLayout, type RecordLayoutOptions, toHashFields } from './layout.js';
import { DEFAULT_WAIT_TIMEOUT_MS, ReplicaWait, type WaitForReplicas } from './replica-wait.js';
import { queueScript, type ScriptArg } from './scripts.js';
import { DEFAULT_DEAD_LETTER_MAX_LEN, RedisStateStore, registeredEventRow, SEEN_TTL_SECONDS } from './state-store.js';
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
  /**
   * Where and how records and the per-event index are stored: key templates, encoding (`json` |
   * `hash`) and index type (`hash` | `set`). Default: today's schema (`<prefix>:{e:<eventId>}:rec:<id>`
   * JSON, `<prefix>:{e:<eventId>}:ids` HASH). See the README's "Key layouts".
   */
  readonly layout?: RecordLayoutOptions | undefined;
  /**
   * Deadline of every Redis call the sink and its state store make (one command, one pipeline, one
   * script call): past it the call rejects with a `SinkError` naming the endpoint and the last
   * connection error, whatever the client's own retry settings (with `maxRetriesPerRequest: null`
   * ioredis would wait forever). The command may still run later: every write is idempotent or
   * fenced. Default 10000, 1–2147483647. Unit: milliseconds.
   */
  readonly commandTimeoutMs?: number | undefined;
  /**
   * Replicas that must confirm each record batch and removal (`WAIT numreplicas timeout`, sent in
   * the same pipeline, so to the slot's master on a Cluster) before it counts as committed: a number,
   * or `'auto'` (default) — 1 when the server (on a Cluster, any master) has a connected replica,
   * 0 otherwise (then no `WAIT` is sent). A batch confirmed by fewer fails with a `SinkError`: the
   * run fails and its watermark stays. See https://redis.io/docs/latest/commands/wait/.
   */
  readonly waitForReplicas?: WaitForReplicas | undefined;
  /**
   * Keep every script call within one hash slot, as on a Cluster: one upsert call per event, and the
   * state store's `noteWrites` before each write (no `notesWrites` capability). For a sharded Redis
   * that presents itself as a single server through a proxy and refuses scripts whose keys span
   * slots (`CROSSSLOT`). Default `false` on a standalone client (one call per batch, all its events,
   * with its bookkeeping); always on for an ioredis `Cluster`.
   */
  readonly singleSlotScripts?: boolean | undefined;
  /** Longest `WAIT` per batch; shorter than `commandTimeoutMs`. Default 1000 (at most half of `commandTimeoutMs`), 1–60000. Unit: ms. */
  readonly waitTimeoutMs?: number | undefined;
  /**
   * How long a delete's tombstone lives (`SET … PX`): while it lives, a version of the record no
   * newer than the deleted one (e.g. on a sync page listed before the delete, or in a retried
   * write) is refused instead of bringing the record back. The window to cover is from listing a
   * version to writing it: read-ahead pages and a run's retries take seconds to minutes, a run
   * resumed from its checkpoint or a push inbox backing off while Zoho or Redis is down can take
   * hours; a day covers all of them with margin, and a tombstone is one small key per deleted record
   * (a few dozen bytes). After it expires, the next full sync's sweep still removes a resurrected
   * record. `0`: no tombstones. Default 86400000 (24 h), 0–2147483647. Unit: milliseconds.
   */
  readonly tombstoneTtlMs?: number | undefined;
}

/** Default of {@link RedisSinkOptions.batchSize}. Unit: records. */
export const DEFAULT_BATCH_SIZE = 100;
/** Largest accepted {@link RedisSinkOptions.batchSize} (a script reply lists up to that many IDs with Lua `unpack`). Unit: records. */
export const MAX_BATCH_SIZE = 5000;
/** Default of {@link RedisSinkOptions.tombstoneTtlMs}: 24 h. Unit: milliseconds. */
export const DEFAULT_TOMBSTONE_TTL_MS = 86_400_000;
/** Default of {@link RedisSinkOptions.scanCount}. Unit: elements. */
export const DEFAULT_SCAN_COUNT = 1000;
export { DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_DEAD_LETTER_MAX_LEN, DEFAULT_PING_TIMEOUT_MS };
/** The option names {@link RedisSink} accepts; any other key is a typo and throws `ConfigError`. */
export const REDIS_SINK_OPTION_KEYS: readonly string[] = [
  'redis',
  'keyPrefix',
  'batchSize',
  'deadLetterMaxLen',
  'scanCount',
  'pingTimeoutMs',
  'layout',
  'commandTimeoutMs',
  'waitForReplicas',
  'waitTimeoutMs',
  'tombstoneTtlMs',
  'singleSlotScripts',
];

/**
 * Most events in one standalone upsert call: its reply holds one count per event and one status per
 * record, and Redis's Lua returns it with `unpack`, which fails past about 8,000 values (1,000 events
 * + 5,000 records stay below). Unit: events.
 */
const MAX_EVENTS_PER_CALL = 1000;

interface EventTally {
  readonly eventId: string;
  readonly added: string[];
  readonly updated: string[];
  readonly refused: string[];
  unchanged: number;
  newlySeen: number | undefined;
}

interface PreparedRecord {
  readonly id: string;
  readonly eventId: string;
  /** The record's key and its tombstone's key (built and checked once, in `prepareRecord`). */
  readonly key: string;
  readonly tomb: string;
  readonly modifiedAt: string;
  /** The latest instant the modification time can denote (epoch ms, decimal); `modifiedAt` when unambiguous. */
  readonly latest: string;
  /** When the source read this version (epoch ms, decimal), `''` when unknown. */
  readonly readAt: string;
  /** The JSON text (`json` encoding, one element) or field–value pairs (`hash` encoding). */
  readonly payload: string[];
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
  /**
   * Both optional extras in one round trip; exact round trips with the `json` encoding; ordered writes
   * (Lua) with tombstones; `notesWrites` on a standalone server without `singleSlotScripts`.
   */
  readonly capabilities: RecordSinkCapabilities;
  /** The key schema of the prefix (the state store's keys; with the default layout also the record keys). */
  readonly keys: KeySchema;
  /** The record layout in use (`layout.recordKey(eventId, id)`, `layout.indexKey(eventId)`). */
  readonly layout: RecordLayout;
  /** The worker's bookkeeping on the same client and prefix (`SyncWorker` uses it when given no `state`). */
  readonly state: RedisStateStore;

  private readonly commands: RedisCommands;
  private readonly replicaWait: ReplicaWait;
  /** Where the client connects (`host:port[/db]`, a socket path, or `cluster host:port,…`), named in every error. */
  readonly endpoint: string;
  private readonly batchSize: number;
  private readonly scanCount: number;
  /** One slot per script call (a Cluster, or `singleSlotScripts`). */
  private readonly singleSlot: boolean;
  /** See {@link RedisSinkOptions.tombstoneTtlMs}. Unit: ms. */
  readonly tombstoneTtlMs: number;

  /**
   * @param options - see {@link RedisSinkOptions}.
   * @throws {@link ConfigError} for an invalid option (option name in `error.option`).
   */
  constructor(options: RedisSinkOptions) {
    checkOptionKeys('RedisSink', options, REDIS_SINK_OPTION_KEYS);
    const redis = options?.redis;
    checkRedisClient(redis);
    this.keys = createKeySchema(options.keyPrefix);
    this.layout = createRecordLayout(this.keys.prefix, options.layout);
    const singleSlot = options.singleSlotScripts ?? false;
    if (typeof singleSlot !== 'boolean') throw new ConfigError('singleSlotScripts', `singleSlotScripts must be a boolean, got ${safeJson(singleSlot)}`);
    this.singleSlot = singleSlot || (redis as { isCluster?: unknown }).isCluster === true;
    this.capabilities = Object.freeze({
      compareStamps: true,
      locateRecord: true,
      exactRoundTrip: this.layout.encoding === 'json',
      ordering: true,
      // A Cluster call cannot span the events' slots and the global one of the events hash.
      notesWrites: !this.singleSlot,
    });
    this.batchSize = checkInteger('batchSize', options.batchSize, DEFAULT_BATCH_SIZE, 1, MAX_BATCH_SIZE);
    this.scanCount = checkInteger('scanCount', options.scanCount, DEFAULT_SCAN_COUNT, 1, 1_000_000);
    this.tombstoneTtlMs = checkInteger('tombstoneTtlMs', options.tombstoneTtlMs, DEFAULT_TOMBSTONE_TTL_MS, 0, 2_147_483_647);
    const pingTimeoutMs = checkInteger('pingTimeoutMs', options.pingTimeoutMs, DEFAULT_PING_TIMEOUT_MS, 1, 2_147_483_647);
    const commandTimeoutMs = checkInteger('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, 1, 2_147_483_647);
    this.commands = new RedisCommands(redis, pingTimeoutMs, commandTimeoutMs);
    this.endpoint = this.commands.endpoint;
    // By default WAIT takes at most half the command deadline (1000 ms with the default deadline).
    const waitTimeoutMs = options.waitTimeoutMs ?? Math.max(1, Math.min(DEFAULT_WAIT_TIMEOUT_MS, Math.floor(commandTimeoutMs / 2)));
    this.replicaWait = new ReplicaWait(redis, this.commands.isCluster, options.waitForReplicas, waitTimeoutMs);
    if (this.replicaWait.timeoutMs >= commandTimeoutMs) {
      // WAIT holds the connection: a longer one would surface as a timeout of whatever command waits behind it.
      throw new ConfigError(
        'waitTimeoutMs',
        `waitTimeoutMs (${this.replicaWait.timeoutMs} ms) must be shorter than commandTimeoutMs (${commandTimeoutMs} ms): WAIT blocks the connection it is sent on`,
      );
    }
    this.state = new RedisStateStore({
      redis,
      keyPrefix: options.keyPrefix,
      deadLetterMaxLen: options.deadLetterMaxLen,
      pingTimeoutMs,
      commandTimeoutMs,
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
   * Writes records in chunks of `batchSize`, each grouped by event: on a standalone server one
   * upsert script call per chunk (all its events, up to 1,000), on a Cluster (or with
   * `singleSlotScripts`) one call per event, each in its own pipeline. Each script call is atomic
   * (`EVALSHA`) and compares the stored record with the new one, so the counts are what Redis
   * actually did: writing the same batch twice reports it as unchanged the second time.
   *
   * With `options.noteWrites` (only when `capabilities.notesWrites`) the same calls also do what
   * `state.noteWrites(records, seenScope)` does — register the events, and with a `seenScope` mark
   * the IDs seen in it (`SADD` + `EXPIRE` {@link SEEN_TTL_SECONDS} s) — and each event's result
   * carries `newlySeen` (IDs not seen in the scope before).
   *
   * With the `json` encoding a record is stored as `JSON.stringify(record.data)` (text kept as is,
   * UTF-8 on the wire); with `hash`, as its top-level fields (see `toHashFields`). The index keeps
   * each ID with `modifiedAt` (epoch ms; a SET index: the ID, and the record's stamp field the time).
   * A record listed twice is processed twice, in order.
   *
   * Ordered: a record older under every reading of its time (`modifiedAtLatest ?? modifiedAt`
   * below the held `modifiedAt`) or not newer than a delete's tombstone is refused — not written,
   * counted in `refused` (see `UPSERT_BATCH_LUA` in ./scripts.ts); equal times: the later write wins.
   *
   * Chunks already committed stay committed if a later chunk fails (re-running the call is idempotent).
   *
   * @returns totals and one entry per event, in order of first appearance.
   * @throws {@link InvalidInputError} (before any write) for a record with an empty ID, an unusable
   *   event ID, a non-integer `modifiedAt` or data that cannot be encoded, an unusable `seenScope`,
   *   or `noteWrites` without the `notesWrites` capability.
   * @throws {@link SinkError} when any reply of any pipeline is an error (e.g. `WRONGTYPE`: an index,
   *   seen set, the events hash or, with the `json` encoding, a record key of another type fails its
   *   call before it writes anything; calls already committed stay committed).
   */
  async upsertRecords(records: readonly SourceRecord[], options: UpsertOptions = {}): Promise<UpsertResult> {
    const noting = options?.noteWrites;
    if (noting !== undefined && !this.capabilities.notesWrites) {
      throw new InvalidInputError(
        'upsertRecords: noteWrites needs capabilities.notesWrites (a standalone Redis without singleSlotScripts); otherwise call state.noteWrites first',
      );
    }
    const prepared = records.map((record) => this.prepareRecord(record));
    const tallies = new Map<string, EventTally>();
    // The scope is checked before anything is written (the event IDs were, by prepareRecord).
    if (noting?.seenScope !== undefined && prepared.length > 0) this.keys.seen(prepared[0]!.eventId, noting.seenScope);
    const replicas = await this.replicaWait.required();
    for (let start = 0; start < prepared.length; start += this.batchSize) {
      const byEvent = groupByEvent(prepared.slice(start, start + this.batchSize));
      // A standalone server takes the whole chunk in one script call; a Cluster one call per event
      // (each in its event's slot), one per pipeline: ioredis follows MOVED / ASK (with ASKING) and
      // retries TRYAGAIN for a pipeline whose commands all got the same redirection; the script
      // ran nowhere before, so the retry is never counted half-applied.
      const calls: Map<string, PreparedRecord[]>[] = this.singleSlot ? [...byEvent].map((entry) => new Map([entry])) : chunkEvents(byEvent, MAX_EVENTS_PER_CALL);
      const groups = calls.map((call) => this.upsertGroup(call, noting));
      const replies = await this.commands.execGroups('upsertRecords', groups);
      if (replicas > 0) await this.confirm(calls.map((call) => this.layout.indexKey(call.keys().next().value!)), replicas, groups);
      for (const [i, call] of calls.entries()) tallyUpsert(tallies, call, replies[i]?.[0], noting?.seenScope !== undefined, groups[i]!.label);
    }
    // `refused` appears only when something was refused: results without refusals keep their shape.
    const events: EventUpsertResult[] = [...tallies.values()].map((t) => ({
      eventId: t.eventId,
      added: t.added,
      updated: t.updated,
      unchanged: t.unchanged,
      ...(t.refused.length > 0 ? { refused: t.refused } : {}),
      ...(t.newlySeen !== undefined ? { newlySeen: t.newlySeen } : {}),
    }));
    const refused = events.reduce((n, e) => n + (e.refused?.length ?? 0), 0);
    return {
      added: events.reduce((n, e) => n + e.added.length, 0),
      updated: events.reduce((n, e) => n + e.updated.length, 0),
      unchanged: events.reduce((n, e) => n + e.unchanged, 0),
      ...(refused > 0 ? { refused } : {}),
      events,
    };
  }

  /**
   * One upsert script call for the events of `call` (see `UPSERT_BATCH_LUA` for KEYS and ARGV): the
   * compact record form (4 arguments per record) when every record's time is unambiguous and all
   * were read at the same instant (a page's records), else the full form.
   */
  private upsertGroup(call: ReadonlyMap<string, readonly PreparedRecord[]>, noting: UpsertOptions['noteWrites']): CommandGroup {
    const { encoding, index, stampField } = this.layout;
    const eventIds = [...call.keys()];
    const keys = eventIds.map((eventId) => this.layout.indexKey(eventId));
    const seenScope = noting?.seenScope;
    if (seenScope !== undefined) for (const eventId of eventIds) keys.push(this.keys.seen(eventId, seenScope));
    if (noting !== undefined) keys.push(this.keys.events());
    let compact = encoding === 'json';
    let readAt: string | undefined;
    for (const list of call.values()) {
      for (const r of list) {
        readAt ??= r.readAt;
        if (r.latest !== r.modifiedAt || r.readAt !== readAt) compact = false;
        keys.push(r.key, r.tomb);
      }
    }
    const args: ScriptArg[] = [
      encoding,
      index,
      stampField ?? '',
      eventIds.length,
      seenScope === undefined ? 0 : 1,
      noting === undefined ? 0 : 1,
      SEEN_TTL_SECONDS,
      compact ? 'c' : 'f',
      compact ? (readAt ?? '') : '',
    ];
    if (noting !== undefined) for (const eventId of eventIds) args.push(eventId, registeredEventRow(eventId));
    eventIds.forEach((eventId, i) => {
      const e = String(i + 1);
      for (const r of call.get(eventId)!) {
        if (compact) args.push(e, r.id, r.modifiedAt, r.payload[0]!);
        else args.push(e, r.id, r.modifiedAt, r.latest, r.readAt, String(r.payload.length), ...r.payload);
      }
    });
    const named = eventIds.slice(0, 3).map((eventId, e) => `${eventId} (${keys[e]})`);
    const more = eventIds.length > 3 ? ` and ${eventIds.length - 3} more` : '';
    const label = `upsert into ${eventIds.length === 1 ? 'event' : 'events'} ${named.join(', ')}${more}`;
    return { label, add: (p) => queueScript(p, 'zrsUpsertBatch', keys, args) };
  }

  /**
   * Removes records of one event: one atomic script call per `batchSize` IDs (`DEL` record key +
   * `HDEL`/`SREM` index entry, every key declared), all in one pipeline. With `options.deletedAt`
   * each ID leaves a tombstone for `tombstoneTtlMs`, stamped with the largest of the held
   * `modifiedAt`, `deletedAt` and an earlier tombstone (see `REMOVE_BATCH_LUA` in ./scripts.ts);
   * without it, none.
   *
   * @returns the IDs that were actually held (record key or index entry existed).
   * @throws {@link InvalidInputError} for an unusable event or record ID, or a non-integer `deletedAt` (before any write).
   * @throws {@link SinkError} on any error reply.
   */
  async removeRecords(eventId: string, ids: readonly string[], options: RemoveOptions = {}): Promise<string[]> {
    const indexKey = this.layout.indexKey(eventId);
    const recordKeys = ids.flatMap((id) => [this.layout.recordKey(eventId, id), this.layout.tombstoneKey(eventId, id)]);
    const deletedAt = options?.deletedAt;
    if (deletedAt !== undefined) checkInstant('deletedAt', deletedAt);
    if (ids.length === 0) return [];
    const replicas = await this.replicaWait.required();
    const head: ScriptArg[] = [this.layout.index, this.layout.stampField ?? '', deletedAt === undefined ? '' : deletedAt, this.tombstoneTtlMs];
    // One script call per group (so per pipeline on a Cluster, where a redirection is followed only
    // when every command of the pipeline got it); a standalone server gets them all in one pipeline.
    const groups: CommandGroup[] = [];
    for (let start = 0; start < ids.length; start += this.batchSize) {
      const chunk = ids.slice(start, start + this.batchSize);
      const keys = [indexKey, ...recordKeys.slice(2 * start, 2 * (start + this.batchSize))];
      groups.push({ label: `remove from event ${eventId} (${indexKey})`, add: (p) => queueScript(p, 'zrsRemoveBatch', keys, [...head, ...chunk]) });
    }
    const replies = (await this.commands.execGroups('removeRecords', groups)).flat();
    if (replicas > 0) await this.confirm([indexKey], replicas, groups.slice(0, 1));
    const removed: string[] = [];
    for (const reply of replies) {
      if (!Array.isArray(reply)) throw new SinkError(`Unexpected reply of the remove script for ${indexKey}: ${safeJson(reply)}`);
      for (const id of reply) removed.push(String(id));
    }
    return removed;
  }

  /**
   * `WAIT replicas timeout` after writes, one per written slot, concurrently: a pipeline of a read of
   * the slot's index key (so it goes to the node that took the writes, on the connection that carried
   * them) and `WAIT`. During a slot migration the read is answered `ASK`/`MOVED host:port` (the writes
   * followed that redirection): then `WAIT` is sent to that node's connection instead.
   * @throws {@link SinkError} when any slot's writes were confirmed by fewer than `replicas`.
   */
  private async confirm(indexKeys: readonly string[], replicas: number, written: readonly CommandGroup[]): Promise<void> {
    const timeoutMs = this.replicaWait.timeoutMs;
    await Promise.all(
      indexKeys.map(async (key, i) => {
        const label = written[i]?.label ?? key;
        const reply = await this.commands.run(`WAIT after writes to ${key}`, async (client) => {
          const replies = (await client.pipeline().exists(key).call('WAIT', replicas, timeoutMs).exec()) ?? [];
          const [probeError] = replies[0] ?? [];
          const [waitError, confirmed] = replies[1] ?? [];
          const redirect = probeError ? redirectTarget(probeError) : undefined;
          if (redirect !== undefined && this.commands.isCluster) {
            const node = (client as Cluster).nodes().find((n) => n.options.host === redirect.host && n.options.port === redirect.port);
            if (node !== undefined) return node.call('WAIT', replicas, timeoutMs);
          }
          if (probeError) throw probeError;
          if (waitError) throw waitError;
          return confirmed;
        });
        this.replicaWait.check(reply, replicas, label);
      }),
    );
  }

  /**
   * Number of records held for an event (`HLEN` / `SCARD` of the index, O(1)). Unit: records.
   * @throws {@link SinkError} on failure.
   */
  async countRecords(eventId: string): Promise<number> {
    const key = this.layout.indexKey(eventId);
    if (this.layout.index === 'set') return this.commands.run(`SCARD ${key}`, (r) => r.scard(key));
    return this.commands.run(`HLEN ${key}`, (r) => r.hlen(key));
  }

  /**
   * Streams the IDs held for an event with `HSCAN` / `SSCAN … COUNT scanCount`, one chunk per reply
   * (empty chunks skipped). The scan guarantees every ID held for the whole scan is yielded at least
   * once; an ID may be yielded twice if the index is resized meanwhile.
   *
   * @throws {@link SinkError} on failure.
   */
  async *scanRecordIds(eventId: string): AsyncGenerator<string[], void, undefined> {
    const key = this.layout.indexKey(eventId);
    const isSet = this.layout.index === 'set';
    let cursor = '0';
    do {
      const [next, flat] = await this.commands.run(`${isSet ? 'SSCAN' : 'HSCAN'} ${key}`, (r) =>
        isSet ? r.sscan(key, cursor, 'COUNT', this.scanCount) : r.hscan(key, cursor, 'COUNT', this.scanCount),
      );
      cursor = next;
      const ids = isSet ? flat : flat.filter((_, i) => i % 2 === 0);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /**
   * The modification instants held for records of one event: `HMGET` of a HASH index plus `EXISTS`
   * of each record key, or (SET index) `HGET <record> <stampField>` per ID, in one pipeline.
   * @returns epoch ms per ID, in order; `undefined` for an ID not held (not indexed, or its record key is gone).
   * @throws {@link SinkError} on failure.
   */
  async readStamps(eventId: string, ids: readonly string[]): Promise<(number | undefined)[]> {
    if (ids.length === 0) return [];
    const group = this.stampGroup(eventId, ids);
    const [replies] = await this.commands.execGroups('readStamps', [group]);
    return this.parseStamps(replies ?? [], ids.length, group.label);
  }

  /**
   * Finds the first of `eventIds` (in the order given) whose index holds the record: pipelined
   * `HEXISTS` / `SISMEMBER` over the events (one round trip on standalone Redis).
   *
   * @returns the event ID, or `undefined` when none holds it.
   * @throws {@link SinkError} on any error reply.
   */
  async locateRecord(recordId: string, eventIds: readonly string[]): Promise<string | undefined> {
    if (typeof recordId !== 'string' || recordId.length === 0) throw new InvalidInputError('recordId must be a non-empty string');
    const isSet = this.layout.index === 'set';
    const groups: CommandGroup[] = eventIds.map((eventId) => {
      const key = this.layout.indexKey(eventId);
      return { label: `${isSet ? 'SISMEMBER' : 'HEXISTS'} ${key}`, add: (p) => void (isSet ? p.sismember(key, recordId) : p.hexists(key, recordId)) };
    });
    const replies = await this.commands.execGroups('locateRecord', groups);
    const found = replies.findIndex((r) => r[0] === 1);
    return found < 0 ? undefined : eventIds[found];
  }

  /**
   * Compares source stamps with the held times (see {@link RedisSink.readStamps}: a HASH index's
   * `HMGET` plus `EXISTS` of each record key), all events in one pipeline (one round trip on standalone Redis).
   *
   * @returns `missing`: stamps of records not held (not indexed, or the record key vanished while the
   *   index entry stayed); `stale`: stamps whose held modification instant differs from `modifiedAt`. Both in input order.
   * @throws {@link InvalidInputError} for a stamp with an empty ID, unusable event ID or non-integer `modifiedAt`.
   * @throws {@link SinkError} on any error reply.
   */
  async compareStamps(stamps: readonly RecordStamp[]): Promise<StampComparison> {
    const byEvent = new Map<string, RecordStamp[]>();
    for (const stamp of stamps) {
      checkInstant(`modifiedAt of record ${stamp.id}`, stamp.modifiedAt);
      const list = byEvent.get(stamp.eventId);
      if (list === undefined) byEvent.set(stamp.eventId, [stamp]);
      else list.push(stamp);
    }
    if (byEvent.size === 0) return { missing: [], stale: [] };
    const events = [...byEvent.entries()];
    const groups = events.map(([eventId, list]) => this.stampGroup(eventId, list.map((s) => s.id)));
    const replies = await this.commands.execGroups('compareStamps', groups);
    const missingSet = new Set<RecordStamp>();
    const staleSet = new Set<RecordStamp>();
    events.forEach(([, list], i) => {
      const held = this.parseStamps(replies[i] ?? [], list.length, groups[i]!.label);
      list.forEach((stamp, j) => {
        if (held[j] === undefined) missingSet.add(stamp);
        else if (held[j] !== stamp.modifiedAt) staleSet.add(stamp);
      });
    });
    return {
      missing: stamps.filter((s) => missingSet.has(s)),
      stale: stamps.filter((s) => staleSet.has(s)),
    };
  }

  /**
   * Reads one record: `GET` + `JSON.parse` (`json` encoding: the data as the source sent it), or
   * `HGETALL` (`hash` encoding: every field as stored, i.e. strings, without the stamp field).
   * @returns the record, or `undefined` when not held.
   * @throws {@link SinkError} on failure or when a stored JSON value is not a JSON object.
   */
  async getRecord(eventId: string, recordId: string): Promise<Record<string, unknown> | undefined> {
    const key = this.layout.recordKey(eventId, recordId);
    if (this.layout.encoding === 'json') {
      const json = await this.getRecordJson(eventId, recordId);
      return json === undefined ? undefined : decodeJsonObject(key, json);
    }
    const fields = await this.commands.run(`HGETALL ${key}`, (r) => r.hgetall(key));
    const stampField = this.layout.stampField;
    if (stampField !== undefined) delete fields[stampField];
    return Object.keys(fields).length === 0 ? undefined : fields;
  }

  /**
   * Reads one record's stored JSON text, unparsed (`GET`; `json` encoding only).
   * @returns the JSON exactly as stored, or `undefined` when not held.
   * @throws {@link InvalidInputError} with the `hash` encoding (there is no JSON text; use getRecord).
   * @throws {@link SinkError} on failure.
   */
  async getRecordJson(eventId: string, recordId: string): Promise<string | undefined> {
    if (this.layout.encoding !== 'json') throw new InvalidInputError('getRecordJson needs the json encoding; with layout.encoding hash use getRecord');
    const key = this.layout.recordKey(eventId, recordId);
    const json = await this.commands.run(`GET ${key}`, (r) => r.get(key));
    return json ?? undefined;
  }

  /**
   * All record IDs of an event in one reply (`HKEYS` / `SMEMBERS` of the index). Cost: O(n) time on
   * the server and all IDs in memory at once; for large events use {@link RedisSink.scanRecordIds}.
   * @throws {@link SinkError} on failure.
   */
  async listRecordIds(eventId: string): Promise<string[]> {
    const key = this.layout.indexKey(eventId);
    if (this.layout.index === 'set') return this.commands.run(`SMEMBERS ${key}`, (r) => r.smembers(key));
    return this.commands.run(`HKEYS ${key}`, (r) => r.hkeys(key));
  }

  /** The commands reading one event's held times for `ids` (one slot: the event's hash tag). */
  private stampGroup(eventId: string, ids: readonly string[]): CommandGroup {
    const indexKey = this.layout.indexKey(eventId);
    const recordKeys = ids.map((id) => this.layout.recordKey(eventId, id));
    const stampField = this.layout.stampField;
    if (stampField === undefined) {
      // A record counts as held only when both its index entry and its key exist, so a record key that
      // vanished (evicted under an `allkeys-*` policy, expired, deleted by hand) while its index entry
      // stayed reads as missing, and the discrepancy check finds and heals it.
      return {
        label: `HMGET ${indexKey} and EXISTS of its record keys`,
        add: (p) => {
          p.hmget(indexKey, ...ids);
          for (const key of recordKeys) p.exists(key);
        },
      };
    }
    return {
      label: `read ${stampField} of event ${eventId}'s records`,
      add: (p) => {
        for (const key of recordKeys) p.hget(key, stampField);
      },
    };
  }

  /** The held instants of a {@link RedisSink.stampGroup} reply: `undefined` when not held (not indexed, or the record key is gone). */
  private parseStamps(replies: readonly unknown[], count: number, label: string): (number | undefined)[] {
    if (this.layout.stampField !== undefined) {
      if (replies.length !== count) throw new SinkError(`Unexpected reply for ${label}`);
      return replies.map((v) => parseNumber(v));
    }
    const indexed = replies[0];
    if (!Array.isArray(indexed) || indexed.length !== count || replies.length !== count + 1) throw new SinkError(`Unexpected reply for ${label}`);
    return indexed.map((v, i) => (replies[i + 1] === 1 ? parseNumber(v) : undefined));
  }

  private prepareRecord(record: SourceRecord): PreparedRecord {
    if (typeof record?.id !== 'string' || record.id.length === 0) {
      throw new InvalidInputError(`record ID must be a non-empty string, got ${safeJson(record?.id)}`);
    }
    const key = this.layout.recordKey(record.eventId, record.id);
    const tomb = this.layout.tombstoneKey(record.eventId, record.id);
    // (checked inline: the message is built only for a record that fails)
    if (!Number.isSafeInteger(record.modifiedAt)) checkInstant(`modifiedAt of record ${record.id}`, record.modifiedAt);
    if (record.modifiedAtLatest !== undefined) {
      if (!Number.isSafeInteger(record.modifiedAtLatest)) checkInstant(`modifiedAtLatest of record ${record.id}`, record.modifiedAtLatest);
      if (record.modifiedAtLatest < record.modifiedAt) {
        throw new InvalidInputError(`modifiedAtLatest of record ${record.id} (${record.modifiedAtLatest}) is before its modifiedAt (${record.modifiedAt})`);
      }
    }
    if (this.layout.encoding === 'hash') {
      const fields = toHashFields(`record ${record.id}`, record.data);
      takeRecordJson(record); // offered JSON is not needed: drop it
      const stampField = this.layout.stampField;
      if (fields.length === 0) throw new InvalidInputError(`record ${record.id} has no fields to store as a hash`);
      if (stampField !== undefined && fields.some((f, i) => i % 2 === 0 && f === stampField)) {
        throw new InvalidInputError(`record ${record.id} has a field named like layout.stampField (${stampField}); choose a stamp field the records do not use`);
      }
      return { id: record.id, eventId: record.eventId, key, tomb, modifiedAt: String(record.modifiedAt), latest: latestOf(record), readAt: readAtOf(record), payload: fields };
    }
    return {
      id: record.id,
      eventId: record.eventId,
      key,
      tomb,
      modifiedAt: String(record.modifiedAt),
      latest: latestOf(record),
      readAt: readAtOf(record),
      // The worker's size check already computed the JSON: take it rather than stringify again.
      payload: [takeRecordJson(record) ?? encodeJson(`record ${record.id}`, record.data)],
    };
  }
}

/** `byEvent` cut into maps of at most `size` events, in order. */
function chunkEvents(byEvent: Map<string, PreparedRecord[]>, size: number): Map<string, PreparedRecord[]>[] {
  if (byEvent.size <= size) return [byEvent];
  const entries = [...byEvent];
  const out: Map<string, PreparedRecord[]>[] = [];
  for (let i = 0; i < entries.length; i += size) out.push(new Map(entries.slice(i, i + size)));
  return out;
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

/** When the source read the record, as the script's decimal argument (`''`: unknown). */
function readAtOf(record: SourceRecord): string {
  return typeof record.readAt === 'number' && Number.isSafeInteger(record.readAt) && record.readAt > 0 ? String(record.readAt) : '';
}

/** The latest reading of a record's modification time, as the script's decimal argument. */
function latestOf(record: SourceRecord): string {
  return String(record.modifiedAtLatest ?? record.modifiedAt);
}

/**
 * Adds one upsert script reply (`{newlySeen…, status…}`, see `UPSERT_BATCH_LUA`) to the per-event
 * tallies, mapping each status to the record the call sent in that position.
 * @throws {@link SinkError} for a reply of another shape.
 */
function tallyUpsert(
  tallies: Map<string, EventTally>,
  call: ReadonlyMap<string, readonly PreparedRecord[]>,
  reply: unknown,
  seen: boolean,
  label: string,
): void {
  let records = 0;
  for (const list of call.values()) records += list.length;
  const offset = seen ? call.size : 0;
  if (!Array.isArray(reply) || reply.length !== offset + records) throw new SinkError(`Unexpected reply for ${label}: ${safeJson(reply)}`);
  let e = 0;
  let position = offset;
  for (const [eventId, list] of call) {
    let tally = tallies.get(eventId);
    if (tally === undefined) {
      tally = { eventId, added: [], updated: [], refused: [], unchanged: 0, newlySeen: undefined };
      tallies.set(eventId, tally);
    }
    if (seen) tally.newlySeen = (tally.newlySeen ?? 0) + Number(reply[e]);
    e += 1;
    for (const record of list) {
      const status = reply[position++];
      if (status === 0) tally.unchanged += 1;
      else if (status === 1) tally.added.push(record.id);
      else if (status === 2) tally.updated.push(record.id);
      else if (status === 3) tally.refused.push(record.id);
      else throw new SinkError(`Unexpected reply for ${label}: status ${safeJson(status)} for record ${record.id}`);
    }
  }
}

/** The node named by an `ASK <slot> host:port` / `MOVED <slot> host:port` error, if it is one. */
function redirectTarget(error: Error): { host: string; port: number } | undefined {
  const match = /^(?:ASK|MOVED) \d+ (.+):(\d+)$/.exec(error.message);
  return match ? { host: match[1]!, port: Number(match[2]) } : undefined;
}
