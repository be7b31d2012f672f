/**
 * {@link RedisStateStore}: the worker's bookkeeping (known events, seen scopes, event and sync
 * metadata, watermark, checkpoints, dead letters, lease and fences) on Redis, usable with any
 * record sink. Key layout: the global and per-event keys of `createKeySchema` (records and their
 * index belong to the record sink).
 */
import type { Cluster, Redis } from 'ioredis';
import type {
  Checkpoint,
  EventMetaPatch,
  EventState,
  DeadLetterOptions,
  FenceOptions,
  Lease,
  LeaseHolder,
  NotedWrites,
  RecordRef,
  StateRepair,
  StateStore,
  SyncMeta,
  SyncMetaPatch,
} from '../adapters/state-store.js';
import type { ApiCallCounts, RejectedRecord, SourceEvent } from '../adapters/source.js';
import { InvalidInputError, SinkError } from '../errors.js';
import { type CommandGroup, checkRedisClient, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_PING_TIMEOUT_MS, RedisCommands } from './commands.js';
import { appendDeadLetters } from './dead-letters.js';
import { type EvictionPolicy, readEvictionPolicy } from './eviction.js';
import { RedisFencing } from './fencing.js';
import { createKeySchema, EVENT_META_FIELDS, type KeySchema, SYNC_META_FIELDS } from './key-schema.js';
import { checkFence, checkInstant, checkInteger, checkOptionKeys, decodeJsonObject, encodeJson, parseNumber, safeJson } from './values.js';

/** Options of {@link RedisStateStore}. */
export interface RedisStateStoreOptions {
  /** The ioredis client (`Redis` or `Cluster`; ioredis-mock works too). The caller owns it. No ioredis `keyPrefix`. */
  readonly redis: Redis | Cluster;
  /** Prefix of every key; default `zrs`. Non-empty, no `{`, `}` or whitespace. */
  readonly keyPrefix?: string | undefined;
  /** Approximate cap of each dead-letter stream (`XADD … MAXLEN ~ n`). Default 1000. Unit: entries. */
  readonly deadLetterMaxLen?: number | undefined;
  /** Time {@link RedisStateStore.ping} waits for the client to be ready and for `PONG`. Default 3000. Unit: milliseconds. */
  readonly pingTimeoutMs?: number | undefined;
  /**
   * Deadline of every Redis call (command, pipeline, script), whatever the client's retry settings
   * (with `maxRetriesPerRequest: null` ioredis would wait forever). Default 10000, 1–2147483647.
   * Unit: milliseconds.
   */
  readonly commandTimeoutMs?: number | undefined;
}

/** The call kinds of a daily tally, in field order. */
const CALL_KINDS = ['token', 'records', 'ids', 'meta'] as const;
/** A daily tally outlives its day by a day (time zones ahead of UTC), then expires. Unit: seconds. */
const QUOTA_DAY_TTL_SECONDS = 2 * 86_400;

/** Expiry given to a lease key found without one by `repairState` (the library always sets one). Unit: ms. */
export const LEASE_WITHOUT_EXPIRY_GRACE_MS = 60_000;

/** Default of {@link RedisStateStoreOptions.deadLetterMaxLen}. Unit: entries. */
export const DEFAULT_DEAD_LETTER_MAX_LEN = 1000;
/**
 * Time-to-live of a seen set, refreshed at each write to it: a safety net if a scope is never
 * released. It must outlive the longest listing (a 1M-record full sync at Zoho's 50 calls a minute
 * takes 20+ minutes), because an expired set would make every record of its event look unseen.
 * Unit: seconds.
 */
export const SEEN_TTL_SECONDS = 24 * 3600;
/** The option names {@link RedisStateStore} accepts. */
export const REDIS_STATE_STORE_OPTION_KEYS: readonly string[] = ['redis', 'keyPrefix', 'deadLetterMaxLen', 'pingTimeoutMs', 'commandTimeoutMs'];

/**
 * The Redis state store. Every method rejects with a {@link SinkError} when Redis fails, with an
 * {@link InvalidInputError} (before any write) for an argument that cannot be stored, and fenced
 * writes reject with a `LeaseError` unless their fence is the fencing counter's current value (an
 * older one: another owner took the lease; a newer one or no counter: Redis lost its data).
 *
 * Per-event keys (`<p>:{e:<eventId>}:…`) share the event's hash slot; global keys share `{g}`.
 *
 * @example
 * ```ts
 * const state = new RedisStateStore({ redis, keyPrefix: 'zrs' });
 * const worker = new SyncWorker({ source, sink: myRecordSink, state });
 * ```
 */
export class RedisStateStore implements StateStore {
  /** The key schema in use. */
  readonly keys: KeySchema;
  private readonly commands: RedisCommands;
  private readonly fencing: RedisFencing;
  private readonly deadLetterMaxLen: number;

  /**
   * @throws {@link ConfigError} for an invalid option (option name in `error.option`).
   */
  constructor(options: RedisStateStoreOptions) {
    checkOptionKeys('RedisStateStore', options, REDIS_STATE_STORE_OPTION_KEYS);
    checkRedisClient(options?.redis);
    this.keys = createKeySchema(options.keyPrefix);
    this.deadLetterMaxLen = checkInteger('deadLetterMaxLen', options.deadLetterMaxLen, DEFAULT_DEAD_LETTER_MAX_LEN, 1, Number.MAX_SAFE_INTEGER);
    const pingTimeoutMs = checkInteger('pingTimeoutMs', options.pingTimeoutMs, DEFAULT_PING_TIMEOUT_MS, 1, 2_147_483_647);
    const commandTimeoutMs = checkInteger('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS, 1, 2_147_483_647);
    this.commands = new RedisCommands(options.redis, pingTimeoutMs, commandTimeoutMs);
    this.fencing = new RedisFencing(this.commands, this.keys);
  }

  /** `PING`, waiting at most `pingTimeoutMs`. @throws {@link SinkError} when Redis does not answer `PONG` in time. */
  ping(): Promise<void> {
    return this.commands.ping();
  }

  /**
   * Registers the records' events in the known-events hash (`HSETNX <p>:{g}:events id {"ID":id}`,
   * keeping a row `saveEvents` wrote) and, with `seenScope`, adds the IDs to each event's seen set
   * (`SADD` + `EXPIRE` {@link SEEN_TTL_SECONDS} s). One pipeline (one round trip on standalone Redis).
   * With a scope, resolves how many IDs per event were newly marked seen (`SADD`'s replies).
   *
   * @throws {@link InvalidInputError} for an unusable event ID or scope. @throws {@link SinkError} on failure.
   */
  async noteWrites(records: readonly RecordRef[], seenScope?: string): Promise<NotedWrites | undefined> {
    const byEvent = groupIds(records);
    if (byEvent.size === 0) return undefined;
    for (const eventId of byEvent.keys()) this.keys.eventStem(eventId);
    const eventsKey = this.keys.events();
    const groups = seenScope === undefined ? [] : this.seenGroups(byEvent, seenScope);
    groups.push({
      label: `register events in ${eventsKey}`,
      add: (p) => {
        for (const eventId of byEvent.keys()) p.hsetnx(eventsKey, eventId, registeredEventRow(eventId));
      },
    });
    const replies = await this.commands.execGroups('noteWrites', groups);
    if (seenScope === undefined) return undefined;
    // One group per event, in byEvent's order, then the events group: SADD's reply is the number added.
    const newlySeen = new Map<string, number>();
    for (const [i, eventId] of [...byEvent.keys()].entries()) newlySeen.set(eventId, Number(replies[i]?.[0] ?? 0));
    return { newlySeen };
  }

  /**
   * Adds IDs to their events' seen sets for `scope` (`SADD` + `EXPIRE` per event, one pipeline).
   * @throws {@link InvalidInputError} for an unusable event ID or scope. @throws {@link SinkError} on failure.
   */
  async markSeen(records: readonly RecordRef[], scope: string): Promise<void> {
    const byEvent = groupIds(records);
    if (byEvent.size === 0) return;
    await this.commands.execGroups('markSeen', this.seenGroups(byEvent, scope));
  }

  /**
   * The IDs not in the scope's seen set (`SMISMEMBER`, or pipelined `SISMEMBER` on servers without it).
   * @throws {@link SinkError} on failure.
   */
  async filterUnseen(eventId: string, scope: string, ids: readonly string[]): Promise<string[]> {
    const seen = await this.commands.membership(this.keys.seen(eventId, scope), ids);
    return ids.filter((_, i) => !seen[i]);
  }

  /**
   * Number of IDs marked seen in `scope` for an event (`SCARD`, O(1)). Unit: records.
   * @throws {@link SinkError} on failure.
   */
  async countSeen(eventId: string, scope: string): Promise<number> {
    const key = this.keys.seen(eventId, scope);
    return this.commands.run(`SCARD ${key}`, (r) => r.scard(key));
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
    await this.commands.execGroups('releaseScope', groups);
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
      fields[event.id] = encodeJson(`event ${event.id}`, event.data);
    }
    if (events.length === 0) return;
    const key = this.keys.events();
    await this.commands.run(`HSET ${key}`, (r) => r.hset(key, fields));
  }

  /**
   * IDs of every known event: the fields of `<p>:{g}:events` (`HKEYS`, one round trip). The worker
   * registers each event before writing its records ({@link RedisStateStore.noteWrites}), so events
   * holding records are always listed.
   *
   * @throws {@link SinkError} on failure.
   */
  async listEventIds(): Promise<string[]> {
    const key = this.keys.events();
    return this.commands.run(`HKEYS ${key}`, (r) => r.hkeys(key));
  }

  /**
   * Reads one saved event row, parsed (`HGET <p>:{g}:events <eventId>`).
   * @returns the row as the source sent it, or `undefined` when the event was never saved.
   * @throws {@link SinkError} on failure or when the stored value is not a JSON object.
   */
  async getEvent(eventId: string): Promise<Record<string, unknown> | undefined> {
    this.keys.eventStem(eventId);
    const key = this.keys.events();
    const json = await this.commands.run(`HGET ${key} ${eventId}`, (r) => r.hget(key, eventId));
    return json === null ? undefined : decodeJsonObject(`${key} ${eventId}`, json);
  }

  /**
   * Reads several events' metadata hashes (`HMGET`), in the order given, in one pipeline (one round
   * trip on standalone Redis). Fields never written are `undefined`.
   * @throws {@link SinkError} on any error reply.
   */
  async getEventStates(eventIds: readonly string[]): Promise<EventState[]> {
    const fields = [EVENT_META_FIELDS.sourceCount, EVENT_META_FIELDS.lastSyncAt, EVENT_META_FIELDS.lastFullSyncAt];
    const groups: CommandGroup[] = eventIds.map((eventId) => {
      const metaKey = this.keys.eventMeta(eventId);
      return { label: `read metadata of event ${eventId} (${metaKey})`, add: (p) => void p.hmget(metaKey, ...fields) };
    });
    const replies = await this.commands.execGroups('getEventStates', groups);
    return replies.map(([values], index) => {
      if (!Array.isArray(values)) throw new SinkError(`Unexpected reply for ${groups[index]!.label}`);
      return { sourceCount: parseNumber(values[0]), lastSyncAt: parseNumber(values[1]), lastFullSyncAt: parseNumber(values[2]) };
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
    const pairs = metaPairs(patch, EVENT_META_FIELDS);
    await this.fencing.hset(key, pairs, checkFence(options), !this.commands.isCluster, this.keys.eventMetaFence(eventId));
  }

  /**
   * Adds calls to one Zoho day's tally: `HINCRBY <p>:{g}:quota:<day>` per kind and `EXPIRE` 2
   * days, in one MULTI (atomic, so replicas adding at once never lose an increment).
   * @throws {@link SinkError} on failure.
   */
  async addDailyCalls(day: string, counts: ApiCallCounts): Promise<void> {
    const key = this.keys.quotaDay(day);
    await this.commands.run(`HINCRBY ${key}`, async (r) => {
      const multi = r.multi();
      for (const kind of CALL_KINDS) if (counts[kind] > 0) multi.hincrby(key, kind, counts[kind]);
      multi.expire(key, QUOTA_DAY_TTL_SECONDS);
      const replies = (await multi.exec()) ?? [];
      for (const [error] of replies) if (error) throw error;
    });
  }

  /**
   * One Zoho day's tally (`HMGET <p>:{g}:quota:<day>`); zeros when nothing was recorded.
   * @throws {@link SinkError} on failure.
   */
  async getDailyCalls(day: string): Promise<ApiCallCounts> {
    const key = this.keys.quotaDay(day);
    const values = await this.commands.run(`HMGET ${key}`, (r) => r.hmget(key, ...CALL_KINDS));
    const [token, records, ids, meta] = values.map((v) => parseNumber(v) ?? 0) as [number, number, number, number];
    return { token, records, ids, meta, total: token + records + ids + meta };
  }

  /**
   * Reads the global metadata (`HMGET <p>:{g}:meta`). Fields never written are `undefined`.
   * @throws {@link SinkError} on failure.
   */
  async getSyncMeta(): Promise<SyncMeta> {
    const key = this.keys.syncMeta();
    const f = SYNC_META_FIELDS;
    const values = await this.commands.run(`HMGET ${key}`, (r) => r.hmget(key, f.watermark, f.lastSyncAt, f.lastFullSyncAt, f.lastStaleCheckAt));
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
    const f = SYNC_META_FIELDS;
    const pairs = metaPairs(
      { lastSyncAt, lastFullSyncAt, lastStaleCheckAt },
      { lastSyncAt: f.lastSyncAt, lastFullSyncAt: f.lastFullSyncAt, lastStaleCheckAt: f.lastStaleCheckAt },
    );
    await this.fencing.hset(key, pairs, checkFence(options), true);
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
    const reply = await this.commands.run(`advance watermark in ${key}`, (r) =>
      r.zrsAdvanceWatermark(key, this.keys.fence(), String(instant), fence === undefined ? '' : fence),
    );
    this.fencing.check(reply, key, fence);
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
    const json = await this.commands.run(`GET ${key}`, (r) => r.get(key));
    return json === null ? undefined : parseCheckpoint(key, json);
  }

  /**
   * Saves a named checkpoint as JSON (`SET`; with `options.fence`, an atomic fenced script).
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async setCheckpoint(name: string, checkpoint: Checkpoint, options?: FenceOptions): Promise<void> {
    const key = this.keys.checkpoint(name);
    await this.fencing.set(key, encodeJson(`checkpoint ${name}`, checkpoint), checkFence(options));
  }

  /**
   * Deletes a named checkpoint (`DEL`; with `options.fence`, an atomic fenced script).
   * @throws {@link LeaseError} when the fence is stale.
   * @throws {@link SinkError} on failure.
   */
  async clearCheckpoint(name: string, options?: FenceOptions): Promise<void> {
    await this.fencing.del(this.keys.checkpoint(name), checkFence(options));
  }

  /**
   * Appends rejected records to their event's dead-letter stream (capped at about
   * `deadLetterMaxLen` entries), each entry holding at most `options.maxRawBytes` of the record's
   * JSON plus its whole size and SHA-256; a record with the same reason and content as an entry
   * still in the stream is not appended again. See `appendDeadLetters`.
   * @throws {@link SinkError} on any error reply.
   */
  async deadLetter(entries: readonly RejectedRecord[], options?: DeadLetterOptions): Promise<void> {
    await appendDeadLetters(this.commands, this.keys, this.deadLetterMaxLen, entries, options);
  }

  /**
   * Length of a dead-letter stream (`XLEN`): the event's, or the global one when `eventId` is omitted.
   * Unit: entries (capped approximately at `deadLetterMaxLen`).
   * @throws {@link SinkError} on failure.
   */
  async countDeadLetters(eventId?: string): Promise<number> {
    const key = eventId === undefined ? this.keys.globalDeadLetters() : this.keys.deadLetters(eventId);
    return this.commands.run(`XLEN ${key}`, (r) => r.xlen(key));
  }

  /**
   * Takes the sync lease if nobody holds it (`SET NX PX` + `INCR fence`, one script).
   * @param owner - a token unique to the caller. @param ttlMs - time-to-live (ms, positive integer).
   * @returns the lease with its fencing token (strictly increasing), or `undefined` when held.
   * @throws {@link SinkError} on failure.
   */
  acquireLease(owner: string, ttlMs: number): Promise<Lease | undefined> {
    return this.fencing.acquire(owner, ttlMs);
  }

  /** Extends the lease if `owner` holds it; `false` when not. @throws {@link SinkError} on failure. */
  renewLease(owner: string, ttlMs: number): Promise<boolean> {
    return this.fencing.renew(owner, ttlMs);
  }

  /** Releases the lease if `owner` holds it. @throws {@link SinkError} on failure. */
  releaseLease(owner: string): Promise<void> {
    return this.fencing.release(owner);
  }

  /**
   * Finds and removes corrupt global state (see `StateStore.repairState`): `TYPE` of the lease key
   * and of each checkpoint, `HGET` of the watermark (one pipeline), then `GET` of each string
   * checkpoint; a lease key that is not a string is deleted, a watermark that is not 1–15 decimal
   * digits or lies more than a day ahead of this host's clock is removed from the hash (`HDEL`), a
   * checkpoint that is not a string or not a checkpoint's JSON is deleted.
   * @returns one entry per repair (none when all is sound).
   * @throws {@link SinkError} on failure.
   */
  async repairState(checkpoints: readonly string[]): Promise<StateRepair[]> {
    // Also: a lease key without expiry gets one (LEASE_WITHOUT_EXPIRY_GRACE_MS), a fencing counter
    // that is not an integer is deleted.
    const lease = this.keys.lease();
    const meta = this.keys.syncMeta();
    const cpKeys = checkpoints.map((name) => this.keys.checkpoint(name));
    const fence = this.keys.fence();
    const [first] = await this.commands.execGroups('repairState', [
      {
        label: `TYPE of ${lease}, ${meta}, ${fence} and the checkpoints; PTTL of ${lease}; GET of ${fence}`,
        add: (p) => {
          p.type(lease);
          p.type(meta);
          p.type(fence);
          p.pttl(lease);
          // GET of a non-string is a WRONGTYPE reply: read the counter only through its TYPE below.
          for (const key of cpKeys) p.type(key);
        },
      },
    ]);
    const [leaseType, metaType, fenceType, leaseTtl, ...cpTypes] = (first ?? []).map(String);
    const repairs: StateRepair[] = [];
    if (leaseType !== 'none' && leaseType !== 'string') {
      await this.commands.run(`DEL ${lease}`, (r) => r.del(lease));
      repairs.push({ key: lease, value: `a ${leaseType}`, problem: 'the lease key is not a string (it would read as held by another replica, forever: it has no TTL)', action: 'deleted; the run takes the lease' });
    } else if (leaseType === 'string' && leaseTtl === '-1') {
      // The library always sets the lease with PX; one without expiry would refuse every run forever.
      await this.commands.run(`PEXPIRE ${lease}`, (r) => r.pexpire(lease, LEASE_WITHOUT_EXPIRY_GRACE_MS));
      const owner = await this.commands.run(`GET ${lease}`, (r) => r.get(lease));
      repairs.push({
        key: lease,
        value: cut(owner ?? ''),
        problem: 'the lease has no expiry (the library always sets one: it would refuse every run, forever)',
        action: `given an expiry of ${LEASE_WITHOUT_EXPIRY_GRACE_MS / 1000} s; runs take the lease after it`,
      });
    }
    let badFence: string | undefined;
    if (fenceType === 'string') {
      const value = await this.commands.run(`GET ${fence}`, (r) => r.get(fence));
      if (value !== null && !/^\d{1,15}$/.test(value)) badFence = cut(value);
    } else if (fenceType !== 'none') badFence = `a ${fenceType}`;
    if (badFence !== undefined) {
      await this.commands.run(`DEL ${fence}`, (r) => r.del(fence));
      repairs.push({
        key: fence,
        value: badFence,
        problem: 'the fencing counter is not a non-negative integer (INCR fails: no run could take the lease)',
        action: 'deleted; the next lease starts a new counter (writes fenced under the old one are refused: a missing counter is no one\'s)',
      });
    }
    if (metaType === 'hash') {
      const watermark = await this.commands.run(`HGET ${meta}`, (r) => r.hget(meta, SYNC_META_FIELDS.watermark));
      if (watermark !== null && !isSoundWatermark(watermark)) {
        await this.commands.run(`HDEL ${meta}`, (r) => r.hdel(meta, SYNC_META_FIELDS.watermark));
        repairs.push({
          key: meta,
          field: SYNC_META_FIELDS.watermark,
          value: cut(watermark),
          problem: 'the watermark is not an epoch-millisecond instant (1–15 decimal digits, at most a day ahead)',
          action: 'discarded; the next incremental sync lists in full and sets a new one',
        });
      }
    } else if (metaType !== 'none') {
      await this.commands.run(`DEL ${meta}`, (r) => r.del(meta));
      repairs.push({ key: meta, value: `a ${metaType}`, problem: 'the sync metadata is not a hash', action: 'deleted; the next runs write it again (a full listing first)' });
    }
    for (const [i, key] of cpKeys.entries()) {
      const type = cpTypes[i];
      let problem: string | undefined;
      let value = `a ${type}`;
      if (type === 'string') {
        const json = await this.commands.run(`GET ${key}`, (r) => r.get(key));
        if (json !== null) {
          try {
            parseCheckpoint(key, json);
          } catch (error) {
            problem = error instanceof Error ? error.message : String(error);
            value = cut(json);
          }
        }
      } else if (type !== 'none') problem = 'the checkpoint is not a string';
      if (problem === undefined) continue;
      await this.commands.run(`DEL ${key}`, (r) => r.del(key));
      repairs.push({ key, value, problem, action: 'deleted; the listing starts from page 1' });
    }
    return repairs;
  }

  /**
   * The server's `maxmemory-policy` and, unless it is `noeviction`, a warning naming what can
   * vanish (see ./eviction.ts). Never rejects.
   */
  evictionPolicy(): Promise<EvictionPolicy> {
    return readEvictionPolicy(this.commands);
  }

  /** Who holds the lease and its remaining time-to-live (`GET` + `PTTL`), or `undefined`. @throws {@link SinkError} on failure. */
  inspectLease(): Promise<LeaseHolder | undefined> {
    return this.fencing.inspect();
  }

  private seenGroups(byEvent: ReadonlyMap<string, string[]>, scope: string): CommandGroup[] {
    return [...byEvent.entries()].map(([eventId, ids]) => {
      const key = this.keys.seen(eventId, scope);
      return {
        label: `mark seen in ${key}`,
        add: (p) => {
          p.sadd(key, ...ids);
          p.expire(key, SEEN_TTL_SECONDS);
        },
      };
    });
  }
}

/**
 * The row an event gets in the events hash when it is registered by a write before its row was
 * saved (`HSETNX`: a saved row is kept): `{"ID":"<eventId>"}`.
 */
export function registeredEventRow(eventId: string): string {
  return JSON.stringify({ ID: eventId });
}

/** Longest quoted value in a repair report. Unit: characters. */
const CUT_CHARS = 80;

function cut(value: string): string {
  return value.length > CUT_CHARS ? `${value.slice(0, CUT_CHARS - 3)}...` : value;
}

/** How far ahead of this host's clock a watermark may be (clock skew). Unit: ms. */
const WATERMARK_MAX_AHEAD_MS = 24 * 3600_000;

/** A stored watermark: 1–15 decimal digits (epoch ms until the year 33658), at most a day ahead. */
function isSoundWatermark(value: string): boolean {
  return /^\d{1,15}$/.test(value) && Number(value) <= Date.now() + WATERMARK_MAX_AHEAD_MS;
}

function groupIds(records: readonly RecordRef[]): Map<string, string[]> {
  const byEvent = new Map<string, string[]>();
  for (const r of records) {
    if (typeof r?.id !== 'string' || r.id.length === 0) throw new InvalidInputError(`record ID must be a non-empty string, got ${safeJson(r?.id)}`);
    const list = byEvent.get(r.eventId);
    if (list === undefined) byEvent.set(r.eventId, [r.id]);
    else list.push(r.id);
  }
  return byEvent;
}

function metaPairs<K extends string>(patch: Partial<Record<K, number | undefined>>, fields: Record<K, string>): string[] {
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

/**
 * Parses a checkpoint's JSON as stored under `key` (internal: the CLI reads checkpoints without failing on a corrupt one).
 * @throws {@link SinkError} naming `key` when `json` is not valid JSON or not a checkpoint.
 */
export function parseCheckpoint(key: string, json: string): Checkpoint {
  const value = decodeJsonObject(key, json);
  const optionalNumber = (v: unknown): v is number | undefined | null => v === undefined || v === null || typeof v === 'number';
  if (
    typeof value.runId !== 'string' ||
    typeof value.kind !== 'string' ||
    typeof value.cursor !== 'string' ||
    typeof value.nextPage !== 'number' ||
    typeof value.startedAt !== 'number' ||
    !optionalNumber(value.maxModifiedAt) ||
    !optionalNumber(value.since) ||
    !optionalNumber(value.fence)
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
    ...(typeof value.fence === 'number' ? { fence: value.fence } : {}),
  };
}
