/**
 * Dead-letter streams on Redis: rejected records appended to their event's capped stream
 * (`XADD … MAXLEN ~ n`), or to the global one when they carry no usable event ID.
 *
 * Bounded in bytes: an entry keeps at most `maxRawBytes` of the record's JSON, with the whole
 * record's size and SHA-256, so a 10 MB bad record costs about `maxRawBytes` in Redis, not 10 MB.
 * Not repeated: a record rejected again with the same content (every sync lists it again) is not
 * appended while its entry is still in the stream (see {@link APPEND_DEAD_LETTERS_LUA}).
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import type { RejectedRecord } from '../adapters/source.js';
import type { DeadLetterOptions } from '../adapters/state-store.js';
import type { CommandGroup, RedisCommands } from './commands.js';
import { DEAD_LETTER_FIELDS, type KeySchema } from './key-schema.js';


/** Default of {@link DeadLetterOptions.maxRawBytes}: the worker's default `maxRecordBytes`. Unit: bytes. */
export const DEFAULT_DEAD_LETTER_RAW_BYTES = 256 * 1024;

/** Longest `detail` kept (a detail may quote an offending value of any size). Unit: UTF-16 code units. */
export const MAX_DEAD_LETTER_DETAIL_CHARS = 2048;

/** The digest hash that sits beside a dead-letter stream (same hash tag, so the same slot). */
export function deadLetterDigestsKey(streamKey: string): string {
  return `${streamKey}:digests`;
}

/** `text` cut to at most `maxBytes` bytes of UTF-8, never inside a character. */
export function cutUtf8(text: string, maxBytes: number): { text: string; bytes: number; cut: boolean } {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= maxBytes) return { text, bytes: buffer.length, cut: false };
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that would be split.
  while (end > 0 && (buffer[end]! & 0xc0) === 0x80) end -= 1;
  return { text: buffer.subarray(0, end).toString('utf8'), bytes: buffer.length, cut: true };
}

/**
 * The record as JSON; when it has none (a cycle, a BigInt, nesting past the stack), its
 * `util.inspect` form (depth 20, strings and arrays shortened), so that different bad records stay
 * different entries instead of all reading `"[object Object]"`.
 */
export function rawText(raw: unknown, maxBytes: number): string {
  try {
    const json = JSON.stringify(raw);
    if (json !== undefined) return json;
  } catch {
    // not encodable as JSON: described below
  }
  return inspect(raw, { depth: 20, maxArrayLength: 1000, maxStringLength: maxBytes, breakLength: Number.POSITIVE_INFINITY, compact: true });
}

function shortDetail(detail: string): string {
  if (detail.length <= MAX_DEAD_LETTER_DETAIL_CHARS) return detail;
  const note = `… (${detail.length} characters)`;
  return `${detail.slice(0, MAX_DEAD_LETTER_DETAIL_CHARS - note.length)}${note}`;
}

/**
 * Appends rejected records, one script call per stream (pipelined; see {@link APPEND_DEAD_LETTERS_LUA}).
 * Entries without a usable event ID go to `<p>:{g}:dlq` (an unusable one is quoted in `detail`).
 * Fields: `reason`, `detail` (at most 2,048 characters), `raw` (the record's JSON, cut to
 * `maxRawBytes` on a character boundary), `raw_bytes` and `raw_sha256` (of the whole JSON),
 * `raw_truncated` (`'true'` | `'false'`), `at` (ISO time of the call). An entry whose reason and
 * whole JSON equal an entry still in the stream is not appended again.
 *
 * @param maxLen - approximate cap of each stream. Unit: entries.
 * @returns how many entries were appended and how many were skipped as repeats. Unit: entries.
 * @throws {@link SinkError} on any error reply.
 */
export async function appendDeadLetters(
  commands: RedisCommands,
  keys: KeySchema,
  maxLen: number,
  entries: readonly RejectedRecord[],
  options: DeadLetterOptions = {},
): Promise<{ appended: number; skipped: number }> {
  const maxRawBytes = options.maxRawBytes ?? DEFAULT_DEAD_LETTER_RAW_BYTES;
  const at = new Date().toISOString();
  const byKey = new Map<string, (string | number)[]>();
  for (const entry of entries) {
    let key = keys.globalDeadLetters();
    let detail = String(entry.detail);
    if (entry.eventId !== undefined) {
      try {
        key = keys.deadLetters(entry.eventId);
      } catch {
        detail = `${detail} (event ID ${JSON.stringify(String(entry.eventId).slice(0, 200))} cannot be used in a key)`;
      }
    }
    const json = rawText(entry.raw, maxRawBytes);
    const sha256 = createHash('sha256').update(json, 'utf8').digest('hex');
    const raw = cutUtf8(json, maxRawBytes);
    const reason = String(entry.reason);
    // The repeat check compares reason and content (not the detail, which may carry a time).
    const digest = createHash('sha256').update(reason).update('\0').update(sha256).digest('hex').slice(0, 32);
    const fields = [
      DEAD_LETTER_FIELDS.reason,
      reason,
      DEAD_LETTER_FIELDS.detail,
      shortDetail(detail),
      DEAD_LETTER_FIELDS.raw,
      raw.text,
      DEAD_LETTER_FIELDS.rawBytes,
      raw.bytes,
      DEAD_LETTER_FIELDS.rawSha256,
      sha256,
      DEAD_LETTER_FIELDS.rawTruncated,
      raw.cut ? 'true' : 'false',
      DEAD_LETTER_FIELDS.at,
      at,
    ];
    const list = byKey.get(key);
    const args = [digest, fields.length, ...fields];
    if (list === undefined) byKey.set(key, args);
    else list.push(...args);
  }
  const groups: CommandGroup[] = [...byKey.entries()].map(([key, args]) => ({
    label: `dead letters ${key}`,
    add: (p) => {
      p.zrsAppendDeadLetters(key, deadLetterDigestsKey(key), maxLen, ...args);
    },
  }));
  const replies = await commands.execGroups('deadLetter', groups);
  let appended = 0;
  let skipped = 0;
  for (const group of replies) {
    const reply = group[0] as [number, number] | undefined;
    appended += Number(reply?.[0] ?? 0);
    skipped += Number(reply?.[1] ?? 0);
  }
  return { appended, skipped };
}
