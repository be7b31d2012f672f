/**
 * Hands a record's JSON text from the worker to the sink, so that it is computed once per write.
 *
 * The worker must know each record's JSON size before writing (records over `maxRecordBytes` go
 * to the dead-letter stream) and the sink stores that same JSON: stringifying twice cost about a
 * tenth of the CPU a page takes. The worker offers the text it computed; `RedisSink` takes it
 * (once: the entry is dropped when taken, so a later write of the same object stringifies again
 * and never sees stale text) and falls back to `JSON.stringify` when nothing was offered (any
 * other caller, or a retried call). Internal: not part of the public API.
 */
import type { SourceRecord } from './adapters/source.js';

const offered = new WeakMap<SourceRecord, string>();

/** Records `json` (which must be `JSON.stringify(record.data)`) for the next {@link takeRecordJson}. */
export function offerRecordJson(record: SourceRecord, json: string): void {
  offered.set(record, json);
}

/** The JSON offered for `record`, then forgotten; `undefined` when none was offered. */
export function takeRecordJson(record: SourceRecord): string | undefined {
  const json = offered.get(record);
  if (json !== undefined) offered.delete(record);
  return json;
}
