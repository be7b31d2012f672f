/**
 * Dead-letter streams on Redis: rejected records appended to their event's capped stream
 * (`XADD … MAXLEN ~ n`), or to the global one when they carry no usable event ID.
 */
import type { RejectedRecord } from '../adapters/source.js';
import type { CommandGroup, RedisCommands } from './commands.js';
import { DEAD_LETTER_FIELDS, type KeySchema } from './key-schema.js';
import { safeJson } from './values.js';

/**
 * Appends rejected records (`XADD key MAXLEN ~ maxLen * reason … detail … raw … at …`, pipelined).
 * Entries without a usable event ID go to `<p>:{g}:dlq` (an unusable one is quoted in `detail`).
 * `raw` is the record as JSON; `at` the ISO time of the call.
 *
 * @param maxLen - approximate cap of each stream. Unit: entries.
 * @throws {@link SinkError} on any error reply.
 */
export async function appendDeadLetters(
  commands: RedisCommands,
  keys: KeySchema,
  maxLen: number,
  entries: readonly RejectedRecord[],
): Promise<void> {
  const at = new Date().toISOString();
  const byKey = new Map<string, string[][]>();
  for (const entry of entries) {
    let key = keys.globalDeadLetters();
    let detail = String(entry.detail);
    if (entry.eventId !== undefined) {
      try {
        key = keys.deadLetters(entry.eventId);
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
      for (const fields of list) p.xadd(key, 'MAXLEN', '~', maxLen, '*', ...fields);
    },
  }));
  await commands.execGroups('deadLetter', groups);
}
