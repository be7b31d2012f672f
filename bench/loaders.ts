/**
 * The baselines of the write-throughput figure. All three read the same pages as the library (Get
 * Records v2.1, `field_config=all`, `max_records=1000`, chained by the `record_cursor` header)
 * with plain `fetch` + `JSON.parse` ((c): the library's bigint-safe `parseZohoJson`), and write the same keys as `RedisSink`: the record JSON at
 * `<p>:{e:<eventId>}:rec:<id>` and the field `<id>` = `<modifiedAt ms>` of the hash `<p>:{e:<eventId>}:ids`.
 *
 * - {@link ceilingLoad}: hand-tuned — fetches page n+1 while writing page n, one pipeline per page
 *   holding one `MSET` of the page's records and one multi-field `HSET` per event (about 40
 *   commands for 1,000 records: per command, ioredis costs more than Redis), no change detection,
 *   no validation, no bookkeeping: the ceiling for Node + HTTP + ioredis + this Redis on this machine.
 * - {@link naiveLoad}: awaits one Redis command at a time (2 round trips per record).
 * - {@link minimalLoad}: the ceiling plus only the work issue 11 says the library must keep
 *   (validation, truthful added/updated/unchanged counts, the seen sets and the sweep they serve),
 *   still without any of the library's guarantees: the most a loader doing that work can reach.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { ZohoDateTimeCodec } from '../src/zoho/date-time.js';
import { parseZohoJson } from '../src/zoho/json.js';
import { ZohoRecordNormaliser } from '../src/zoho/record-normaliser.js';
import type { SimInfo } from './common.js';

/** What a loader did. */
export interface LoadResult {
  /** Unit: records. */
  readonly records: number;
  /** Unit: pages (HTTP calls for records). */
  readonly pages: number;
  /** Wall time, token mint included. Unit: ms. */
  readonly ms: number;
}

interface Page {
  readonly rows: readonly Record<string, unknown>[];
  readonly cursor: string | undefined;
}

/** One record as `RedisSink` writes it with the default layout. */
export interface Row {
  readonly key: string;
  readonly idsKey: string;
  readonly id: string;
  readonly at: string;
  readonly json: string;
}

async function mintToken(info: SimInfo): Promise<string> {
  const { clientId, clientSecret, refreshToken } = info.credentials;
  const query = new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken });
  const response = await fetch(`${info.accountsBaseUrl}/oauth/v2/token?${query.toString()}`, { method: 'POST' });
  const body = (await response.json()) as { access_token?: string };
  if (typeof body.access_token !== 'string') throw new Error('The simulator minted no token');
  return body.access_token;
}

function listUrl(info: SimInfo): string {
  const { accountOwner, appLinkName, registrationsReport } = info.config;
  return `${info.apiBaseUrl}/creator/v2.1/data/${accountOwner}/${appLinkName}/report/${registrationsReport}?max_records=1000&field_config=all`;
}

/** The headers of a Get Records request: the OAuth token, and the cursor of the page to fetch. */
function pageHeaders(token: string, cursor: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { Authorization: `Zoho-oauthtoken ${token}`, accept: 'application/json' };
  if (cursor !== undefined) headers.record_cursor = cursor;
  return headers;
}

/**
 * One page of the cursor chain, its body read with `parse` (`JSON.parse`, or the library's
 * bigint-safe `parseZohoJson` for (c)). Code 3100 (no records) is an empty last page.
 * @throws Error for any other code than 3000, or a body without a `data` array.
 */
async function fetchPage(url: string, token: string, cursor: string | undefined, parse: (text: string) => unknown = JSON.parse): Promise<Page> {
  const response = await fetch(url, { headers: pageHeaders(token, cursor) });
  const body = parse(await response.text()) as { code?: number; data?: Record<string, unknown>[] };
  if (body.code === 3100) return { rows: [], cursor: undefined };
  if (body.code !== 3000 || !Array.isArray(body.data)) throw new Error(`Unexpected page: HTTP ${response.status} code ${String(body.code)}`);
  return { rows: body.data, cursor: response.headers.get('record_cursor') ?? undefined };
}

/** Turns a row into the keys and values `RedisSink` writes for it. */
function rowWriter(info: SimInfo, prefix: string): (row: Record<string, unknown>) => Row {
  const codec = new ZohoDateTimeCodec(info.config.dateFormat, info.config.timeZone);
  const lookup = info.config.eventLookupField;
  return (row) => {
    const id = row.ID as string;
    const eventId = (row[lookup] as { ID: string }).ID;
    const at = codec.parse(row.Modified_Time);
    if (at === undefined) throw new Error(`Record ${id} has an unreadable Modified_Time`);
    return toRow(prefix, eventId, id, at, JSON.stringify(row));
  };
}

/** A record's keys (`RedisSink`'s default layout) and values. */
function toRow(prefix: string, eventId: string, id: string, at: number, json: string): Row {
  return { key: `${prefix}:{e:${eventId}}:rec:${id}`, idsKey: `${prefix}:{e:${eventId}}:ids`, id, at: String(at), json };
}

/** The index fields of `rows`, by index key: `idsKey → [id, at, id, at, …]`, in row order. */
export function indexFields(rows: readonly Row[]): Map<string, string[]> {
  const byIndex = new Map<string, string[]>();
  for (const row of rows) {
    const fields = byIndex.get(row.idsKey);
    if (fields === undefined) byIndex.set(row.idsKey, [row.id, row.at]);
    else fields.push(row.id, row.at);
  }
  return byIndex;
}

/**
 * The ceiling's writes for `rows`: one `MSET` of the records and one multi-field `HSET` per event
 * index — the fewest commands (ioredis' cost is mostly per command), for one pipeline (one round trip).
 */
export function queueCeilingWrites(pipeline: ChainableCommander, rows: readonly Row[]): void {
  const pairs: string[] = [];
  for (const row of rows) pairs.push(row.key, row.json);
  pipeline.mset(...pairs);
  for (const [idsKey, fields] of indexFields(rows)) pipeline.hset(idsKey, ...fields);
}

/**
 * The hand-tuned ceiling: one-page read-ahead, one pipeline per page ({@link queueCeilingWrites}).
 * @param maxPages - stop after this many pages (warm-up runs).
 */
export async function ceilingLoad(info: SimInfo, redis: Redis, prefix: string, maxPages = Number.POSITIVE_INFINITY): Promise<LoadResult> {
  const started = performance.now();
  const rowOf = rowWriter(info, prefix);
  const url = listUrl(info);
  const token = await mintToken(info);
  let next: Promise<Page> | undefined = fetchPage(url, token, undefined);
  let pages = 0;
  let records = 0;
  while (next !== undefined) {
    const page: Page = await next;
    if (page.rows.length === 0) break;
    pages += 1;
    next = page.cursor !== undefined && pages < maxPages ? fetchPage(url, token, page.cursor) : undefined;
    const pipeline = redis.pipeline();
    queueCeilingWrites(pipeline, page.rows.map(rowOf));
    const replies = await pipeline.exec();
    for (const [error] of replies ?? []) if (error) throw error;
    records += page.rows.length;
  }
  return { records, pages, ms: performance.now() - started };
}

/** A validated row, as `ZohoRecordNormaliser` gives it. */
interface MinimalItem {
  readonly id: string;
  readonly eventId: string;
  readonly modifiedAt: number;
  readonly data: Record<string, unknown>;
}

/** What {@link minimalLoad} counted. Unit: records. */
export interface MinimalLoadResult extends LoadResult {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  /** IDs in an index that the listing did not see (what a sweep would delete). */
  readonly unseen: number;
}

/**
 * The least any loader can do and still give what the issue keeps (truthful added / updated /
 * unchanged counts, validation, the seen-set bookkeeping and the sweep it serves), hand-tuned like
 * {@link ceilingLoad} and with none of the library's guarantees (no atomic per-record ordering, no
 * tombstones, no checkpoints, no retries, no events). Per page, read one page ahead: the library's
 * bigint-safe parse and `ZohoRecordNormaliser` (validation), `JSON.stringify` of each record, one
 * `MGET` of the record keys (the held JSON, for the counts), then one pipeline of `MSET` (changed
 * records only), one `HSET` of index fields and one `SADD` + `EXPIRE` of the run's seen set per
 * event. At the end, the sweep: per event `HSCAN` of the index and `SMISMEMBER` against the run's
 * seen set, then `UNLINK` of the run's seen sets (each run has a scope of its own, as the library's
 * full sync does, so IDs seen by an earlier run never hide a deletion).
 * @param maxPages - stop after this many pages (warm-up runs; no sweep then).
 */
export async function minimalLoad(info: SimInfo, redis: Redis, prefix: string, maxPages = Number.POSITIVE_INFINITY): Promise<MinimalLoadResult> {
  const started = performance.now();
  const codec = new ZohoDateTimeCodec(info.config.dateFormat, info.config.timeZone);
  const normaliser = new ZohoRecordNormaliser({ codec, eventLookupField: info.config.eventLookupField });
  const url = listUrl(info);
  const token = await mintToken(info);
  const fetchRows = (cursor: string | undefined): Promise<Page> => fetchPage(url, token, cursor, parseZohoJson);
  const scope = `minimal-${randomUUID()}`;
  const seenKey = (eventId: string): string => `${prefix}:{e:${eventId}}:seen:${scope}`;
  const idsKey = (eventId: string): string => `${prefix}:{e:${eventId}}:ids`;
  const events = new Set<string>();
  let next: Promise<Page> | undefined = fetchRows(undefined);
  let pages = 0;
  let records = 0;
  let added = 0;
  let updated = 0;
  let unchanged = 0;
  // A warm-up stopped by maxPages has listed part of the report: no sweep then.
  let complete = true;
  while (next !== undefined) {
    const page: Page = await next;
    if (page.rows.length === 0) break;
    pages += 1;
    if (page.cursor !== undefined && pages >= maxPages) complete = false;
    next = page.cursor !== undefined && pages < maxPages ? fetchRows(page.cursor) : undefined;
    const { items, rejected }: { items: readonly MinimalItem[]; rejected: readonly unknown[] } = normaliser.toRecords(page.rows);
    if (rejected.length > 0) throw new Error(`${rejected.length} rows of page ${pages} failed validation`);
    const rows = items.map((r) => toRow(prefix, r.eventId, r.id, r.modifiedAt, JSON.stringify(r.data)));
    const held = await redis.mget(...rows.map((row) => row.key));
    const sets: string[] = [];
    const seen = new Map<string, string[]>();
    rows.forEach((row, i) => {
      if (held[i] === row.json) unchanged += 1;
      else {
        if (held[i] === null) added += 1;
        else updated += 1;
        sets.push(row.key, row.json);
      }
      const eventId = items[i]!.eventId;
      events.add(eventId);
      const s = seen.get(eventId);
      if (s === undefined) seen.set(eventId, [row.id]);
      else s.push(row.id);
    });
    const pipeline = redis.pipeline();
    if (sets.length > 0) pipeline.mset(...sets);
    for (const [key, fields] of indexFields(rows)) pipeline.hset(key, ...fields);
    for (const [eventId, ids] of seen) pipeline.sadd(seenKey(eventId), ...ids).expire(seenKey(eventId), 86_400);
    const replies = await pipeline.exec();
    for (const [error] of replies ?? []) if (error) throw error;
    records += items.length;
  }
  let unseen = 0;
  for (const eventId of complete ? events : []) {
    let cursor = '0';
    do {
      const [nextCursor, flat] = await redis.hscan(idsKey(eventId), cursor, 'COUNT', 1000);
      cursor = nextCursor;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length > 0) {
        const flags = await redis.smismember(seenKey(eventId), ...ids);
        for (const flag of flags) if (flag === 0) unseen += 1;
      }
    } while (cursor !== '0');
  }
  if (events.size > 0) await redis.unlink(...[...events].map(seenKey));
  return { records, pages, ms: performance.now() - started, added, updated, unchanged, unseen };
}

/** The naive loader: same pages, no read-ahead, one awaited Redis command at a time. */
export async function naiveLoad(info: SimInfo, redis: Redis, prefix: string, maxPages = Number.POSITIVE_INFINITY): Promise<LoadResult> {
  const started = performance.now();
  const rowOf = rowWriter(info, prefix);
  const url = listUrl(info);
  const token = await mintToken(info);
  let cursor: string | undefined;
  let pages = 0;
  let records = 0;
  for (;;) {
    const page = await fetchPage(url, token, cursor);
    if (page.rows.length === 0) break;
    pages += 1;
    for (const raw of page.rows) {
      const row = rowOf(raw);
      await redis.set(row.key, row.json);
      await redis.hset(row.idsKey, row.id, row.at);
    }
    records += page.rows.length;
    if (page.cursor === undefined || pages >= maxPages) break;
    cursor = page.cursor;
  }
  return { records, pages, ms: performance.now() - started };
}

/**
 * Walks a report's cursor chain with plain `fetch`, reading each body as text and parsing only the
 * cursor header: the time the chain itself takes on this simulator (latency + the simulator's own
 * work + transfer), i.e. what no client can beat. The token is minted before the clock starts.
 */
export async function chainWalk(info: SimInfo, report: 'registrations' | 'events'): Promise<{ pages: number; ms: number }> {
  const token = await mintToken(info);
  const { accountOwner, appLinkName, registrationsReport, eventsReport } = info.config;
  const name = report === 'registrations' ? registrationsReport : eventsReport;
  const url = `${info.apiBaseUrl}/creator/v2.1/data/${accountOwner}/${appLinkName}/report/${name}?max_records=1000&field_config=all`;
  const started = performance.now();
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const response = await fetch(url, { headers: pageHeaders(token, cursor) });
    await response.text();
    if (response.status !== 200) throw new Error(`Unexpected HTTP ${response.status} walking ${name}`);
    pages += 1;
    cursor = response.headers.get('record_cursor') ?? undefined;
    if (cursor === undefined) break;
  }
  return { pages, ms: performance.now() - started };
}

/** Mean duration of the library's synchronous steps on one page. Unit: ms. */
export interface PageSteps {
  /** UTF-8 decode + `parseZohoJson` + `ZohoRecordNormaliser.toRecords` of a 1,000-record page: one uninterrupted step. */
  readonly readPage: number;
  /** `JSON.stringify` of one batch of `batchSize` records (the size check; its text is what the sink stores). */
  readonly sizeBatch: number;
}

/**
 * Times the library's own synchronous steps on the first page of the simulator (the longest pieces
 * of work the sync runs between two turns of the event loop), averaged over `rounds`.
 */
export async function timePageSteps(info: SimInfo, batchSize: number, rounds = 20): Promise<PageSteps> {
  const token = await mintToken(info);
  const response = await fetch(listUrl(info), { headers: pageHeaders(token, undefined) });
  const bytes = Buffer.from(await response.arrayBuffer());
  const normaliser = new ZohoRecordNormaliser({
    codec: new ZohoDateTimeCodec(info.config.dateFormat, info.config.timeZone),
    eventLookupField: info.config.eventLookupField,
  });
  const decoder = new TextDecoder();
  let readPage = 0;
  let sizeBatch = 0;
  let batches = 0;
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const body = parseZohoJson(decoder.decode(bytes)) as { data: unknown[] };
    const { items } = normaliser.toRecords(body.data);
    const read = performance.now();
    readPage += read - started;
    for (let i = 0; i < items.length; i += batchSize) {
      const t = performance.now();
      for (const record of items.slice(i, i + batchSize)) JSON.stringify(record.data);
      sizeBatch += performance.now() - t;
      batches += 1;
    }
  }
  return { readPage: readPage / rounds, sizeBatch: sizeBatch / Math.max(1, batches) };
}
