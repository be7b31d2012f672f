/**
 * The Redis key schema of {@link RedisSink}: every key the library reads or writes, built from one
 * prefix.
 *
 * | Key | Type | Holds |
 * | --- | --- | --- |
 * | `<p>:{e:<eventId>}:rec:<recordId>` | STRING | the record's JSON, exactly as the source sent it (UTF-8, byte for byte) |
 * | `<p>:{e:<eventId>}:ids` | HASH | the per-event index: recordId → modification instant (epoch ms, decimal string) |
 * | `<p>:{e:<eventId>}:meta` | HASH | `source_count`, `last_sync_at`, `last_full_sync_at` (epoch ms, decimal strings) |
 * | `<p>:{e:<eventId>}:meta:fence` | STRING | Redis Cluster only: the highest lease fence that wrote the event's metadata (a write with an older one is refused atomically) |
 * | `<p>:{e:<eventId>}:seen:<scope>` | SET | record IDs seen by a reconciliation scope (TTL 24 h as a safety net) |
 * | `<p>:{e:<eventId>}:dlq` | STREAM | dead letters of the event, capped (`XADD … MAXLEN ~ n`); fields `reason`, `detail`, `raw` (JSON, at most `maxRecordBytes`), `raw_bytes`, `raw_sha256`, `raw_truncated`, `at` (ISO time) |
 * | `<p>:{e:<eventId>}:dlq:digests` | HASH | content digest → stream entry ID of the event's dead letters (an entry still in the stream is not appended again) |
 * | `<p>:{e:<eventId>}:tomb:<recordId>` | STRING | a delete's tombstone: the deleted version's instant (epoch ms), with a PX time-to-live (`tombstoneTtlMs`); with custom key templates `<index key>:tomb:<recordId>` (same hash tag) |
 * | `<p>:{g}:events` | HASH | the known-events set: eventId → event row JSON |
 * | `<p>:{g}:meta` | HASH | `watermark`, `last_sync_at`, `last_full_sync_at`, `last_stale_check_at` (epoch ms, decimal strings) |
 * | `<p>:{g}:checkpoint:<name>` | STRING | a checkpoint's JSON |
 * | `<p>:{g}:lease` | STRING | the sync lease: owner token, with a PX time-to-live |
 * | `<p>:{g}:fence` | STRING | the fencing counter (`INCR` on each lease acquisition) |
 * | `<p>:{g}:quota:<day>` | HASH | Zoho calls of one Zoho day (`yyyy-mm-dd` in the quota time zone) by kind; expires after 2 days |
 * | `<p>:{g}:dlq` | STREAM | dead letters that carry no event ID (same fields as the per-event stream) |
 * | `<p>:{g}:dlq:digests` | HASH | content digest → entry ID of `<p>:{g}:dlq` |
 *
 * The `{…}` parts are Redis Cluster hash tags: all keys of one event hash to one slot (so one Lua
 * script may touch them all), and all global keys hash to the `{g}` slot.
 */
import { ConfigError, InvalidInputError } from '../errors.js';
import { shownValue } from '../internal/shown-value.js';

/** The default key prefix. */
export const DEFAULT_KEY_PREFIX = 'zrs';

/** Field names of the per-event metadata hash `<p>:{e:<eventId>}:meta`. Values are epoch ms or counts as decimal strings. */
export const EVENT_META_FIELDS = {
  /** Records the source listed at the last complete listing of the event. Unit: records. */
  sourceCount: 'source_count',
  /** When the event was last synced completely or checked (epoch ms). */
  lastSyncAt: 'last_sync_at',
  /** When the event was last synced completely (epoch ms). */
  lastFullSyncAt: 'last_full_sync_at',
} as const;

/** Field names of the global metadata hash `<p>:{g}:meta`. Values are epoch ms as decimal strings. */
export const SYNC_META_FIELDS = {
  /** Highest committed source modification instant (epoch ms). */
  watermark: 'watermark',
  /** When any run last succeeded (epoch ms). */
  lastSyncAt: 'last_sync_at',
  /** When a full sync last succeeded (epoch ms). */
  lastFullSyncAt: 'last_full_sync_at',
  /** When the last staleness check ran (epoch ms). */
  lastStaleCheckAt: 'last_stale_check_at',
} as const;

/** Field names of every dead-letter stream entry. */
export const DEAD_LETTER_FIELDS = {
  /** The rejection reason, e.g. `invalid-id`. */
  reason: 'reason',
  /** Human-readable detail. */
  detail: 'detail',
  /** The raw record as JSON, cut to at most `maxRecordBytes` bytes (UTF-8, on a character boundary). */
  raw: 'raw',
  /** The size of the whole raw record's JSON. Unit: bytes (UTF-8), decimal string. */
  rawBytes: 'raw_bytes',
  /** SHA-256 of the whole raw record's JSON, lowercase hex. */
  rawSha256: 'raw_sha256',
  /** `'true'` when `raw` was cut (then `raw` is not valid JSON), else `'false'`. */
  rawTruncated: 'raw_truncated',
  /** When the entry was written (ISO 8601, UTC). */
  at: 'at',
} as const;

/**
 * Functions that build every key of the schema (see the table in this module's documentation).
 * Every function throws {@link InvalidInputError} for an argument that would break the layout
 * (empty, or an event ID / scope containing `{`, `}` or whitespace).
 */
export interface KeySchema {
  /** The validated prefix (`<p>`). */
  readonly prefix: string;
  /** `<p>:{e:<eventId>}` — the hash-tagged stem every key of the event starts with. */
  eventStem(eventId: string): string;
  /** `<p>:{e:<eventId>}:rec:<recordId>` — STRING, the record's JSON. */
  record(eventId: string, recordId: string): string;
  /** `<p>:{e:<eventId>}:rec:` — the stem of the event's record keys (a script appends the record ID). */
  recordStem(eventId: string): string;
  /** `<p>:{e:<eventId>}:ids` — HASH, recordId → modification instant (epoch ms). */
  ids(eventId: string): string;
  /** `<p>:{e:<eventId>}:meta` — HASH, see {@link EVENT_META_FIELDS}. */
  eventMeta(eventId: string): string;
  /** `<p>:{e:<eventId>}:seen:<scope>` — SET of record IDs seen by a reconciliation scope. */
  seen(eventId: string, scope: string): string;
  /** `<p>:{e:<eventId>}:meta:fence` — STRING, the highest fence that wrote the event's metadata (Cluster only). */
  eventMetaFence(eventId: string): string;
  /** `<p>:{e:<eventId>}:dlq` — STREAM of the event's dead letters. */
  deadLetters(eventId: string): string;
  /** `<p>:{g}:dlq` — STREAM of dead letters without an event ID. */
  globalDeadLetters(): string;
  /** `<p>:{g}:events` — HASH, eventId → event row JSON. */
  events(): string;
  /** `<p>:{g}:meta` — HASH, see {@link SYNC_META_FIELDS}. */
  syncMeta(): string;
  /** `<p>:{g}:checkpoint:<name>` — STRING, a checkpoint's JSON. */
  checkpoint(name: string): string;
  /** `<p>:{g}:lease` — STRING, the lease owner token (with a PX time-to-live). */
  lease(): string;
  /** `<p>:{g}:fence` — STRING, the fencing counter. */
  fence(): string;
  /** `<p>:{g}:quota:<yyyy-mm-dd>` — HASH, Zoho calls of one Zoho day by kind (`token`, `records`, `ids`, `meta`); expires after 2 days. */
  quotaDay(day: string): string;
  /** A `SCAN MATCH` pattern matching every event's index hash (`<p>:{e:*}:ids`, prefix glob-escaped). */
  idsPattern(): string;
  /** Reads the event ID back from an index key built by {@link KeySchema.ids}; `undefined` for any other key. */
  eventIdOfIdsKey(key: string): string | undefined;
}

const FORBIDDEN_IN_PREFIX = /[{}\s]/;
const FORBIDDEN_IN_TAG = /[{}\s]/;

/**
 * `value` when it can go inside a key's hash tag (`{e:<value>}`): a non-empty string without `{`,
 * `}` or whitespace. Shared with the record layout (./layout.ts), so both name a bad part alike.
 * @throws {@link InvalidInputError} naming `kind` otherwise.
 */
export function checkTagPart(kind: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(`${kind} must be a non-empty string`);
  }
  if (FORBIDDEN_IN_TAG.test(value)) {
    throw new InvalidInputError(`${kind} ${JSON.stringify(value)} must not contain '{', '}' or whitespace`);
  }
  return value;
}

/**
 * `value` when it is a non-empty string.
 * @throws {@link InvalidInputError} naming `kind` otherwise.
 */
export function checkNonEmpty(kind: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidInputError(`${kind} must be a non-empty string`);
  }
  return value;
}

function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Creates the key schema for a prefix.
 *
 * @param prefix - the `<p>` of every key; default `zrs`. Must be non-empty and contain no `{`, `}`
 *   or whitespace (braces would break the hash tags).
 * @returns the key builders.
 * @throws {@link ConfigError} (option `keyPrefix`) when the prefix is invalid.
 *
 * @example
 * ```ts
 * const keys = createKeySchema('app');
 * keys.record('4433256000013547003', '4433256000013999001'); // 'app:{e:4433256000013547003}:rec:4433256000013999001'
 * ```
 */
export function createKeySchema(prefix: string = DEFAULT_KEY_PREFIX): KeySchema {
  if (typeof prefix !== 'string' || prefix.length === 0) {
    throw new ConfigError('keyPrefix', 'keyPrefix must be a non-empty string');
  }
  if (FORBIDDEN_IN_PREFIX.test(prefix)) {
    throw new ConfigError('keyPrefix', `keyPrefix ${shownValue(prefix)} must not contain '{', '}' or whitespace`);
  }
  const global = `${prefix}:{g}`;
  const eventStem = (eventId: string): string => `${prefix}:{e:${checkTagPart('eventId', eventId)}}`;
  const idsStart = `${prefix}:{e:`;
  const idsEnd = '}:ids';
  return {
    prefix,
    eventStem,
    record: (eventId, recordId) => `${eventStem(eventId)}:rec:${checkNonEmpty('recordId', recordId)}`,
    recordStem: (eventId) => `${eventStem(eventId)}:rec:`,
    ids: (eventId) => `${eventStem(eventId)}:ids`,
    eventMeta: (eventId) => `${eventStem(eventId)}:meta`,
    eventMetaFence: (eventId) => `${eventStem(eventId)}:meta:fence`,
    seen: (eventId, scope) => `${eventStem(eventId)}:seen:${checkTagPart('seenScope', scope)}`,
    deadLetters: (eventId) => `${eventStem(eventId)}:dlq`,
    globalDeadLetters: () => `${global}:dlq`,
    events: () => `${global}:events`,
    syncMeta: () => `${global}:meta`,
    checkpoint: (name) => `${global}:checkpoint:${checkNonEmpty('checkpoint name', name)}`,
    lease: () => `${global}:lease`,
    fence: () => `${global}:fence`,
    quotaDay: (day) => `${global}:quota:${checkNonEmpty('day', day)}`,
    idsPattern: () => `${escapeGlob(idsStart)}*${idsEnd}`,
    eventIdOfIdsKey: (key) => {
      if (!key.startsWith(idsStart) || !key.endsWith(idsEnd)) return undefined;
      const id = key.slice(idsStart.length, key.length - idsEnd.length);
      return id.length > 0 && !FORBIDDEN_IN_TAG.test(id) ? id : undefined;
    },
  };
}
