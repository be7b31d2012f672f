/**
 * The durable push inbox: a Redis Stream with one consumer group. A push is answered 2xx only
 * after its entry is in the stream (`XADD`, acknowledged by Redis), and leaves the stream only
 * after it was applied (`XACK` + `XDEL`) or dead-lettered. An entry delivered to a process that
 * died stays in the group's pending list and is claimed by a live process after `claimIdleMs`
 * (`XAUTOCLAIM`, Redis ≥ 6.2: https://redis.io/docs/latest/commands/xautoclaim/).
 *
 * Keys (all in the `{push}` hash-tag slot, so the Lua scripts may touch them together on Redis Cluster):
 *
 * | Key | Type | Holds |
 * | --- | --- | --- |
 * | `<p>:{push}:inbox` | STREAM | accepted pushes; fields `action`, `record_id`, `event_id`, `record` (JSON or empty), `received_at` (epoch ms) |
 * | `<p>:{push}:dead` | STREAM | pushes that failed every attempt: the same fields plus `reason`, `attempts`, `dead_at` (epoch ms), `inbox_id`; capped (`MAXLEN ~`) |
 * | `<p>:{push}:attempts` | HASH | inbox entry ID → failed attempts so far |
 * | `<p>:{push}:sig:<hex>` | STRING | a signature accepted within the replay window (PX time-to-live) |
 */
import type { Cluster, Redis } from 'ioredis';
import { SinkError } from '../errors.js';
import { createKeySchema } from '../redis/key-schema.js';
import type { PushAction, PushPayload } from './payload.js';

/** Name of the consumer group every applier joins. */
export const PUSH_CONSUMER_GROUP = 'appliers';

/** One inbox (or dead-letter) entry. */
export interface PushEntry {
  /** The stream entry ID (`<ms>-<seq>`). */
  readonly id: string;
  readonly action: PushAction;
  readonly recordId: string;
  readonly eventId: string | undefined;
  /** The pushed record's JSON text, or `undefined`. */
  readonly recordJson: string | undefined;
  /** When the push was accepted (epoch ms). */
  readonly receivedAt: number;
}

/** A dead-lettered entry: the push plus why it failed. */
export interface DeadPushEntry extends PushEntry {
  readonly reason: string;
  /** Unit: attempts. */
  readonly attempts: number;
  /** Epoch ms. */
  readonly deadAt: number;
}

/**
 * Checks the replay cache and appends in one atomic step. KEYS: `[1]` the signature key (or the
 * inbox key again when unsigned), `[2]` the inbox. ARGV: `[1]` replay TTL in ms (`0`: unsigned,
 * no check), then field/value pairs. Reply: `{0}` replayed, `{1, entryId}` appended.
 */
const ACCEPT_LUA = `
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ttl) then return {0} end
end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
return {1, id}
`;

/**
 * Moves inbox entries to the dead-letter stream. KEYS: `[1]` inbox, `[2]` dead stream, `[3]` attempts hash.
 * ARGV: `[1]` group, `[2]` MAXLEN of the dead stream, `[3]` dead_at, `[4]` reason, then entry IDs.
 * Entries that are gone (applied meanwhile by another process) are skipped. Reply: the number moved.
 */
const DEAD_LETTER_LUA = `
local moved = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local rows = redis.call('XRANGE', KEYS[1], id, id)
  if #rows == 1 then
    local fields = rows[1][2]
    local attempts = redis.call('HGET', KEYS[3], id)
    if not attempts then attempts = '0' end
    fields[#fields + 1] = 'reason'
    fields[#fields + 1] = ARGV[4]
    fields[#fields + 1] = 'attempts'
    fields[#fields + 1] = attempts
    fields[#fields + 1] = 'dead_at'
    fields[#fields + 1] = ARGV[3]
    fields[#fields + 1] = 'inbox_id'
    fields[#fields + 1] = id
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
    moved = moved + 1
  end
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[3], id)
end
return moved
`;

/**
 * Moves dead-lettered entries back into the inbox (fresh attempts). KEYS: `[1]` dead stream, `[2]` inbox.
 * ARGV: `[1]` received_at to stamp (epoch ms), then dead entry IDs. Reply: the new inbox entry IDs.
 */
const REPLAY_LUA = `
local out = {}
for i = 2, #ARGV do
  local rows = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #rows == 1 then
    local f = rows[1][2]
    local keep = {}
    for j = 1, #f, 2 do
      local name = f[j]
      if name == 'action' or name == 'record_id' or name == 'event_id' or name == 'record' then
        keep[#keep + 1] = name
        keep[#keep + 1] = f[j + 1]
      end
    end
    keep[#keep + 1] = 'received_at'
    keep[#keep + 1] = ARGV[1]
    out[#out + 1] = redis.call('XADD', KEYS[2], '*', unpack(keep))
    redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
return out
`;

interface InboxScripts {
  zrsPushAccept(sigKey: string, inbox: string, ttlMs: number, ...fields: string[]): Promise<[number, string?]>;
  zrsPushDeadLetter(inbox: string, dead: string, attempts: string, group: string, maxLen: number, deadAt: number, reason: string, ...ids: string[]): Promise<number>;
  zrsPushReplay(dead: string, inbox: string, receivedAt: number, ...ids: string[]): Promise<string[]>;
}

type ScriptedRedis = (Redis | Cluster) & InboxScripts;

/** Options of {@link PushInbox}. */
export interface PushInboxOptions {
  /** The ioredis client (standalone or cluster). Blocking reads use a duplicate of it. */
  readonly redis: Redis | Cluster;
  /** Key prefix, as for `RedisSink`. @defaultValue `zrs` */
  readonly keyPrefix?: string | undefined;
  /** Cap of the dead-letter stream (approximate, `MAXLEN ~`). Unit: entries. @defaultValue 10000 */
  readonly deadLetterMaxLength?: number | undefined;
}

/**
 * The inbox streams and their commands. Every method rejects with {@link SinkError} when Redis fails.
 */
export class PushInbox {
  readonly keys: { readonly inbox: string; readonly dead: string; readonly attempts: string; readonly signaturePrefix: string };
  readonly #redis: ScriptedRedis;
  readonly #deadMax: number;
  #groupReady = false;

  constructor(options: PushInboxOptions) {
    const prefix = createKeySchema(options.keyPrefix).prefix;
    const stem = `${prefix}:{push}`;
    this.keys = { inbox: `${stem}:inbox`, dead: `${stem}:dead`, attempts: `${stem}:attempts`, signaturePrefix: `${stem}:sig:` };
    this.#deadMax = options.deadLetterMaxLength ?? 10_000;
    const redis = options.redis;
    redis.defineCommand('zrsPushAccept', { numberOfKeys: 2, lua: ACCEPT_LUA });
    redis.defineCommand('zrsPushDeadLetter', { numberOfKeys: 3, lua: DEAD_LETTER_LUA });
    redis.defineCommand('zrsPushReplay', { numberOfKeys: 2, lua: REPLAY_LUA });
    this.#redis = redis as ScriptedRedis;
  }

  /**
   * Appends a push, after checking (and recording) its signature in the replay cache: one atomic script.
   *
   * @param signature - lower-case hex signature, or `undefined` for an unsigned (shared-secret) push.
   * @param replayTtlMs - how long the signature is remembered. Unit: ms.
   * @returns the entry ID, or `undefined` when the signature was already seen (a replay: nothing appended).
   */
  async append(push: PushPayload, receivedAt: number, signature: string | undefined, replayTtlMs: number): Promise<string | undefined> {
    const fields = [
      'action',
      push.action,
      'record_id',
      push.recordId,
      'event_id',
      push.eventId ?? '',
      'record',
      push.record === undefined ? '' : JSON.stringify(push.record),
      'received_at',
      String(receivedAt),
    ];
    const sigKey = signature === undefined ? this.keys.inbox : `${this.keys.signaturePrefix}${signature}`;
    const reply = await this.#call('append a push to the inbox', () =>
      this.#redis.zrsPushAccept(sigKey, this.keys.inbox, signature === undefined ? 0 : Math.max(1, Math.ceil(replayTtlMs)), ...fields),
    );
    return Number(reply[0]) === 1 ? String(reply[1]) : undefined;
  }

  /** Creates the consumer group (and the stream) if absent. Idempotent. */
  async ensureGroup(): Promise<void> {
    if (this.#groupReady) return;
    try {
      await this.#redis.xgroup('CREATE', this.keys.inbox, PUSH_CONSUMER_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw new SinkError(`Could not create the push consumer group: ${message(error)}`, { cause: error });
    }
    this.#groupReady = true;
  }

  /**
   * Reads new entries for `consumer` (`XREADGROUP … >`), waiting up to `blockMs` when there are none.
   *
   * @param client - a connection that may block (not the shared client: a blocked connection stalls every command queued behind it).
   */
  async readNew(client: Redis | Cluster, consumer: string, count: number, blockMs: number): Promise<PushEntry[]> {
    await this.ensureGroup();
    const args: (string | number)[] = ['GROUP', PUSH_CONSUMER_GROUP, consumer, 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', Math.ceil(blockMs));
    args.push('STREAMS', this.keys.inbox, '>');
    const reply = (await this.#call('read the push inbox', () =>
      (client as Redis).call('XREADGROUP', ...args.map(String)),
    ));
    return streamEntriesOf(reply).map(([id, fields]) => toEntry(id, fields));
  }

  /** Claims entries pending for longer than `minIdleMs` (their consumer died or stalled) for `consumer` (`XAUTOCLAIM`). */
  async claimAbandoned(consumer: string, minIdleMs: number, count: number): Promise<PushEntry[]> {
    await this.ensureGroup();
    const reply = (await this.#call('claim abandoned pushes', () =>
      (this.#redis as Redis).call('XAUTOCLAIM', this.keys.inbox, PUSH_CONSUMER_GROUP, consumer, String(Math.ceil(minIdleMs)), '0-0', 'COUNT', String(count)),
    )) as [string, ([string, string[]] | null)[]];
    return (reply[1] ?? []).filter((row): row is [string, string[]] => Array.isArray(row) && Array.isArray(row[1])).map(([id, fields]) => toEntry(id, fields));
  }

  /** Marks entries applied: `XACK`, `XDEL` and the attempts counters, in one `MULTI`. */
  async complete(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#call('acknowledge applied pushes', async () => {
      const replies = await this.#redis.multi().xack(this.keys.inbox, PUSH_CONSUMER_GROUP, ...ids).xdel(this.keys.inbox, ...ids).hdel(this.keys.attempts, ...ids).exec();
      const failed = replies?.find(([error]) => error !== null);
      if (replies === null || failed) throw failed?.[0] ?? new Error('MULTI aborted');
    });
  }

  /** Counts one more failed attempt per entry (`HINCRBY`); resolves the counts, in order. */
  async recordFailure(ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    return this.#call('count failed push attempts', async () => {
      const pipeline = this.#redis.pipeline();
      for (const id of ids) pipeline.hincrby(this.keys.attempts, id, 1);
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([error, value]) => {
        if (error) throw error;
        return Number(value);
      });
    });
  }

  /** Moves entries to the dead-letter stream with `reason` (atomic); resolves how many were moved. */
  async deadLetter(ids: readonly string[], reason: string, now: number): Promise<number> {
    if (ids.length === 0) return 0;
    return this.#call('dead-letter pushes', () =>
      this.#redis.zrsPushDeadLetter(this.keys.inbox, this.keys.dead, this.keys.attempts, PUSH_CONSUMER_GROUP, this.#deadMax, now, reason.slice(0, 1000), ...ids),
    );
  }

  /**
   * Moves dead-lettered entries back into the inbox with fresh attempts.
   *
   * @param ids - dead entry IDs; omitted: every dead entry (oldest first, up to `limit`).
   * @returns the new inbox entry IDs.
   */
  async replayDead(now: number, ids?: readonly string[], limit = 10_000): Promise<string[]> {
    const targets = ids ?? (await this.listDead(limit)).map((e) => e.id);
    const out: string[] = [];
    for (let i = 0; i < targets.length; i += 200) {
      const chunk = targets.slice(i, i + 200);
      out.push(...(await this.#call('replay dead-lettered pushes', () => this.#redis.zrsPushReplay(this.keys.dead, this.keys.inbox, now, ...chunk))));
    }
    return out;
  }

  /** Entries not yet applied (delivered or not), oldest first. */
  async listPending(limit = 100): Promise<PushEntry[]> {
    const rows = await this.#call('list pending pushes', () => this.#redis.xrange(this.keys.inbox, '-', '+', 'COUNT', limit));
    return rows.map(([id, fields]) => toEntry(id, fields));
  }

  /** Dead-lettered entries, oldest first. */
  async listDead(limit = 100): Promise<DeadPushEntry[]> {
    const rows = await this.#call('list dead-lettered pushes', () => this.#redis.xrange(this.keys.dead, '-', '+', 'COUNT', limit));
    return rows.map(([id, fields]) => {
      const entry = toEntry(id, fields);
      const map = fieldMap(fields);
      return { ...entry, reason: map.reason ?? '', attempts: Number(map.attempts ?? 0), deadAt: Number(map.dead_at ?? 0) };
    });
  }

  /** Entries in the inbox and in the dead-letter stream (`XLEN` each). Unit: entries. */
  async counts(): Promise<{ pending: number; dead: number }> {
    return this.#call('count pushes', async () => {
      const [pending, dead] = await Promise.all([this.#redis.xlen(this.keys.inbox), this.#redis.xlen(this.keys.dead)]);
      return { pending, dead };
    });
  }

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SinkError) throw error;
      throw new SinkError(`Redis failed to ${what}: ${message(error)}`, { cause: error });
    }
  }
}

function fieldMap(fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
  return out;
}

function toEntry(id: string, fields: readonly string[]): PushEntry {
  const map = fieldMap(fields);
  return {
    id,
    action: (map.action ?? 'edited') as PushAction,
    recordId: map.record_id ?? '',
    eventId: map.event_id ? map.event_id : undefined,
    recordJson: map.record ? map.record : undefined,
    receivedAt: Number(map.received_at ?? 0),
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The entries of a one-stream `XREADGROUP` reply, whatever the protocol: RESP2 answers
 * `[[key, entries]]`; RESP3 (ioredis 6's default) answers a map, which ioredis's `call()` hands back
 * flattened as `[key, entries]` (or as a `Map`/object). `null` (nothing new) gives `[]`.
 * Source: https://redis.io/docs/latest/commands/xreadgroup/ (RESP2 array / RESP3 map replies).
 */
function streamEntriesOf(reply: unknown): [string, string[]][] {
  if (reply === null || reply === undefined) return [];
  if (reply instanceof Map) return ([...reply.values()][0] as [string, string[]][] | undefined) ?? [];
  if (Array.isArray(reply)) {
    if (reply.length === 0) return [];
    // RESP3 map flattened: [key, entries, key2, entries2, …]
    if (typeof reply[0] === 'string' || Buffer.isBuffer(reply[0])) return (reply[1] as [string, string[]][] | undefined) ?? [];
    return ((reply[0] as [string, [string, string[]][]] | undefined)?.[1]) ?? [];
  }
  if (typeof reply === 'object') return (Object.values(reply)[0] as [string, string[]][] | undefined) ?? [];
  return [];
}
