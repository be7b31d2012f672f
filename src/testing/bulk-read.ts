/**
 * The simulator's Zoho Creator Bulk Read API (v2 / v2.1 "bulk export"): create a job, read its
 * status, download its result as a zip holding one CSV file.
 *
 * Facts (shared Zoho Creator API notes §2.4, §3.7; Zoho's pages
 * https://www.zoho.com/creator/help/api/v2/bulk-api/create-bulk-read-job.html,
 * https://www.zoho.com/creator/help/api/v2.1/bulk-api/get-the-status-of-the-bulk-read-job.html,
 * https://www.zoho.com/creator/help/api/v2.1/bulk-api/download-bulk-read-result.html):
 * - [doc] `POST .../bulk/{owner}/{app}/report/{report}/read`, scope `ZohoCreator.bulk.CREATE`; body
 *   (all optional) `{"query":{"criteria","fields":[...],"max_records","record_cursor"}}`;
 *   `max_records` bounded to 100,000–200,000 by Zoho's OpenAPI file.
 * - [doc] Create answers `{"code":3000,"details":{"id","operation":"read","created_by","created_time","status":"In-progress"}}`.
 * - [doc] `GET .../read/{job_ID}` (scope `ZohoCreator.bulk.READ`): `details.status` is written
 *   "IN PROGRESS" / "COMPLETED" / "FAILED" on the status page but "In-progress" / "Completed" in the
 *   OpenAPI example; both casings are served (option `bulkStatusStyle`). When done, `details.result`
 *   = `{count, download_url, record_cursor}`; `download_url` is a path such as
 *   `/api/bulk/v2.1/{owner}/{app}/report/{report}/read/{job}/result`.
 * - [doc] `GET .../read/{job_ID}/result` → a zip with a single CSV; response header `recordCursor`
 *   (camelCase) for the next job, valid 15 minutes; absent on the last batch.
 * - [inferred] The CSV layout: a header row of field link names in the report's column order, one
 *   row per record in ascending ID order, `\r\n` line ends, RFC 4180 quoting, UTF-8 without BOM;
 *   a lookup cell holds the looked-up record's ID (Deluge types a single lookup as its ID, a NUMBER:
 *   https://www.zoho.com/deluge/help/creator-field-datatype.html); dates and date-times in the app's
 *   `date_format` (+ ` HH:mm:ss`) as in JSON; decision boxes `true`/`false`; multi-select values
 *   joined by `,`; composite fields (Name, Address) as their `zc_display_value`; empty values empty.
 * - [inferred] Error answers: an unknown job → HTTP 404 code 1000; a download before completion →
 *   HTTP 400 code 1000; an unknown or expired `record_cursor` → HTTP 400 code 2950 (as for paged
 *   cursors); `max_records` out of bounds → HTTP 400 code 1060; a bad body → HTTP 400 code 3020
 *   (the code is [doc] for "API request's body is either missing or incomplete").
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import * as zlib from 'node:zlib';

/** Zoho's OpenAPI bounds for `max_records` of a bulk read job [doc]. */
export const BULK_MIN_RECORDS = 100_000;
/** The most records one bulk read job exports [doc]. */
export const BULK_MAX_RECORDS = 200_000;
/** Lifetime of a bulk `record_cursor` [doc: "valid for 15 mins"]. Unit: ms. */
export const BULK_CURSOR_TTL_MS = 15 * 60_000;

/** The two spellings of the job status Zoho's pages use: `doc` = "IN PROGRESS"/"COMPLETED"/"FAILED", `oas` = "In-progress"/"Completed"/"Failed". */
export type BulkStatusStyle = 'doc' | 'oas';

/** What the simulator hands the bulk API: access to a report's rows. */
export interface BulkReportHost {
  /** Current time on the simulator clock. Unit: epoch ms. */
  now(): number;
  /** Formats an instant as the app's date-time (`created_time`). */
  formatDateTime(ms: number): string;
  /**
   * Collects up to `limit` rows after `after` (ascending ID order) matching `criteria`.
   * @returns the rows, the last row's ID, whether more follow; `undefined` for unparsable criteria.
   */
  snapshot(
    report: string,
    criteria: string,
    after: string | undefined,
    limit: number,
  ): { readonly rows: readonly unknown[]; readonly lastId: string | undefined; readonly more: boolean } | undefined;
  /** Serialises a row as the JSON record Get Records would send, restricted to `fields` when given. */
  serialize(report: string, row: unknown, fields: readonly string[] | undefined): Record<string, unknown>;
  /** Answers a Zoho JSON body. */
  sendJson(res: ServerResponse, status: number, body: unknown, headers?: Readonly<Record<string, string>>): void;
  /** Answers a Zoho error `{code, message}`. */
  zoho(res: ServerResponse, status: number, code: number, message?: string): void;
}

/** Options of {@link BulkReadJobs}. */
export interface BulkReadJobsOptions {
  /** Account owner (`created_by`, download path). */
  readonly accountOwner: string;
  /** App link name (download path). */
  readonly appLinkName: string;
  /** How long a job stays "in progress" after creation. Unit: ms. @defaultValue 0 (done at the first status call) */
  readonly jobDurationMs?: number | undefined;
  /** Status spelling. @defaultValue `'doc'` */
  readonly statusStyle?: BulkStatusStyle | undefined;
  /** Records per job at most, whatever `max_records` asks (a test knob; Zoho's is 200,000). @defaultValue 200,000 */
  readonly recordsPerJob?: number | undefined;
  /** Lifetime of a `record_cursor`. Unit: ms. @defaultValue 15 minutes */
  readonly cursorTtlMs?: number | undefined;
}

interface Job {
  readonly id: string;
  readonly report: string;
  readonly createdAt: number;
  readonly fields: readonly string[] | undefined;
  readonly rows: readonly unknown[];
  /** The cursor handed out for the next job (`undefined` on the last batch). */
  readonly nextCursor: string | undefined;
  /** The result file, built in the background from the job's creation on (as Zoho runs a job). */
  readonly zip: ZipBuild;
}

interface BulkCursor {
  readonly key: string;
  readonly lastId: string;
  readonly expiresAt: number;
}

/** The state of the simulator's bulk read jobs and the three endpoints' handlers. */
export class BulkReadJobs {
  private readonly options: BulkReadJobsOptions;
  private readonly jobs = new Map<string, Job>();
  private readonly cursors = new Map<string, BulkCursor>();
  private nextJobId = 4_711_230_000_002_001_003n;

  constructor(options: BulkReadJobsOptions) {
    this.options = options;
  }

  /** Jobs created so far. */
  get jobCount(): number {
    return this.jobs.size;
  }

  /** Expires every bulk `record_cursor` handed out so far (tests of the 15-minute lifetime). */
  expireCursors(): void {
    this.cursors.clear();
  }

  /** `POST .../read`: creates a job over a snapshot of the matching rows. */
  create(host: BulkReportHost, res: ServerResponse, report: string, bodyText: string): void {
    let body: unknown = {};
    if (bodyText.trim() !== '') {
      try {
        body = JSON.parse(bodyText);
      } catch {
      host.zoho(res, 400, 3020);
      return;
      }
    }
    const query = isObject(body) ? (body.query ?? {}) : undefined;
    if (!isObject(query)) {
      host.zoho(res, 400, 3020);
      return;
    }
    const criteria = typeof query.criteria === 'string' ? query.criteria.trim() : '';
    const fields = Array.isArray(query.fields) ? query.fields.filter((f): f is string => typeof f === 'string') : undefined;
    const maxRaw = query.max_records ?? BULK_MAX_RECORDS;
    if (typeof maxRaw !== 'number' || !Number.isInteger(maxRaw) || maxRaw < BULK_MIN_RECORDS || maxRaw > BULK_MAX_RECORDS) {
      host.zoho(res, 400, 1060, 'Invalid request parameter found - max_records');
      return;
    }
    const limit = Math.min(maxRaw, this.options.recordsPerJob ?? BULK_MAX_RECORDS);
    const key = [report, criteria, (fields ?? []).join(',')].join('\u0000');
    let after: string | undefined;
    if (query.record_cursor !== undefined) {
      const cursor = typeof query.record_cursor === 'string' ? this.cursors.get(query.record_cursor) : undefined;
      if (!cursor || cursor.expiresAt <= host.now() || cursor.key !== key) {
      host.zoho(res, 400, 2950);
      return;
    }
      after = cursor.lastId;
    }
    const snap = host.snapshot(report, criteria, after, limit);
    // Malformed criteria → 400/2901, as Get Records answers [inferred].
    if (!snap) {
      host.zoho(res, 400, 2901);
      return;
    }
    const now = host.now();
    this.nextJobId += 4n;
    const id = this.nextJobId.toString();
    let nextCursor: string | undefined;
    if (snap.more && snap.lastId !== undefined) {
      nextCursor = randomBytes(12).toString('hex');
      this.cursors.set(nextCursor, {
        key,
        lastId: snap.lastId,
        expiresAt: now + (this.options.jobDurationMs ?? 0) + (this.options.cursorTtlMs ?? BULK_CURSOR_TTL_MS),
      });
    }
    const zip = new ZipBuild(`${report}.csv`, csvChunks(host, report, snap.rows, fields));
    this.jobs.set(id, { id, report, createdAt: now, fields, rows: snap.rows, nextCursor, zip });
    host.sendJson(res, 200, { code: 3000, details: this.details(host, this.jobs.get(id)!, 'created') });
  }

  /** `GET .../read/{job}`: the job's status, with `result` once completed. */
  status(host: BulkReportHost, res: ServerResponse, report: string, jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job || job.report !== report) {
      host.zoho(res, 404, 1000);
      return;
    }
    host.sendJson(res, 200, { code: 3000, details: this.details(host, job, 'status') });
  }

  /** `GET .../read/{job}/result`: the zip, streamed, with the `recordCursor` header. */
  download(host: BulkReportHost, res: ServerResponse, report: string, jobId: string): number | undefined {
    const job = this.jobs.get(jobId);
    if (!job || job.report !== report) {
      host.zoho(res, 404, 1000);
      return undefined;
    }
    if (!this.done(host, job)) {
      host.zoho(res, 400, 1000, 'The bulk read job is not completed yet.');
      return undefined;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/zip',
      'content-disposition': `attachment; filename="${job.id}.zip"`,
    };
    if (job.nextCursor !== undefined) headers.recordCursor = job.nextCursor;
    res.writeHead(200, headers);
    job.zip.pipeTo(res);
    return job.rows.length;
  }

  private done(host: BulkReportHost, job: Job): boolean {
    return host.now() - job.createdAt >= (this.options.jobDurationMs ?? 0);
  }

  private details(host: BulkReportHost, job: Job, when: 'created' | 'status'): Record<string, unknown> {
    const oas = (this.options.statusStyle ?? 'doc') === 'oas';
    const done = when === 'status' && this.done(host, job);
    const details: Record<string, unknown> = {
      id: job.id,
      operation: 'read',
      created_by: this.options.accountOwner,
      created_time: host.formatDateTime(job.createdAt),
      // The create response shows "In-progress" in the OAS example [doc].
      status: when === 'created' ? 'In-progress' : done ? (oas ? 'Completed' : 'COMPLETED') : oas ? 'In-progress' : 'IN PROGRESS',
    };
    if (done) {
      const result: Record<string, unknown> = {
        count: job.rows.length,
        download_url: `/api/bulk/v2.1/${this.options.accountOwner}/${this.options.appLinkName}/report/${job.report}/read/${job.id}/result`,
      };
      if (job.nextCursor !== undefined) result.record_cursor = job.nextCursor;
      details.result = result;
    }
    return details;
  }
}

/** One CSV cell for a JSON value (see the layout notes at the top; [inferred]). */
export function bulkCsvCell(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (Array.isArray(value)) text = value.map((v) => (isObject(v) ? String(v.ID ?? '') : String(v))).join(',');
  else if (isObject(value)) text = String('ID' in value ? value.ID : (value.zc_display_value ?? value.display_value ?? ''));
  else text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The CSV text of a job, in chunks of about 2,000 rows (an empty string between slices of the first
 * pass, so the builder can give the event loop a turn): a header row with every column any record
 * has (in order of first appearance), then one row per record. Each record is serialised once: its
 * row is rendered with its own columns, and rendered again with the header's only when those differ
 * (a record lacking a column another one has).
 */
function* csvChunks(host: BulkReportHost, report: string, rows: readonly unknown[], fields: readonly string[] | undefined): Generator<string> {
  const columns: string[] = [];
  const known = new Set<string>();
  const lines: string[] = [];
  const layouts: string[][] = [];
  let layout: string[] = [];
  let layoutKey = '';
  for (const row of rows) {
    const record = host.serialize(report, row, fields);
    const names = Object.keys(record);
    const key = names.join('\u0000');
    if (key !== layoutKey) {
      layout = names;
      layoutKey = key;
      for (const name of names) {
        if (!known.has(name)) {
          known.add(name);
          columns.push(name);
        }
      }
    }
    layouts.push(layout);
    let line = '';
    for (let i = 0; i < names.length; i++) line += (i === 0 ? '' : ',') + bulkCsvCell(record[names[i]!]);
    lines.push(line);
    if (lines.length % 2000 === 0) yield '';
  }
  const full = columns.join('\u0000');
  const sameAsHeader = new Map<string[], boolean>();
  let chunk = columns.length > 0 ? `${columns.map(bulkCsvCell).join(',')}\r\n` : '';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const own = layouts[i]!;
    let same = sameAsHeader.get(own);
    if (same === undefined) {
      same = own.join('\u0000') === full;
      sameAsHeader.set(own, same);
    }
    if (!same) {
      const record = host.serialize(report, rows[i], fields);
      line = columns.map((c) => bulkCsvCell(record[c])).join(',');
    }
    chunk += `${line}\r\n`;
    if ((i + 1) % 2000 === 0) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

/**
 * A zip archive of one deflated file, built in slices on the event loop (a slice of CSV, then a
 * turn: the simulator keeps answering while a job runs) with zlib's raw deflate (native, level 1,
 * on libuv's thread pool), and kept once built. Layout (PKWARE APPNOTE 6.3.x §4.3): a local header
 * (flags 0x0808: sizes and CRC-32 in a data descriptor after the data, UTF-8 name), the deflated
 * data, the data descriptor, the central directory entry and the end record. A download streams
 * what is built so far and waits for the rest.
 */
class ZipBuild {
  private readonly parts: Buffer[] = [];
  private done = false;
  private failure: Error | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(name: string, chunks: Iterator<string>) {
    const nameBytes = Buffer.from(name, 'utf8');
    const { time, date } = dosTime(new Date());
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0808, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt16LE(nameBytes.length, 26);
    this.add(Buffer.concat([local, nameBytes]));
    const deflate = zlib.createDeflateRaw({ level: 1 });
    let crc = 0;
    let size = 0;
    let compressed = 0;
    deflate.on('data', (data: Buffer) => {
      compressed += data.length;
      this.add(data);
    });
    deflate.on('error', (error) => this.fail(error));
    deflate.on('end', () => {
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc >>> 0, 4);
      descriptor.writeUInt32LE(compressed, 8);
      descriptor.writeUInt32LE(size, 12);
      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0);
      central.writeUInt16LE(20, 4);
      central.writeUInt16LE(20, 6);
      central.writeUInt16LE(0x0808, 8);
      central.writeUInt16LE(8, 10);
      central.writeUInt16LE(time, 12);
      central.writeUInt16LE(date, 14);
      central.writeUInt32LE(crc >>> 0, 16);
      central.writeUInt32LE(compressed, 20);
      central.writeUInt32LE(size, 24);
      central.writeUInt16LE(nameBytes.length, 28);
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(1, 8);
      end.writeUInt16LE(1, 10);
      end.writeUInt32LE(46 + nameBytes.length, 12);
      end.writeUInt32LE(30 + nameBytes.length + compressed + 16, 16);
      this.add(Buffer.concat([descriptor, central, nameBytes, end]));
      this.done = true;
      this.wake();
    });
    const pump = (): void => {
      try {
        for (;;) {
          const next = chunks.next();
          if (next.done) {
            deflate.end();
            return;
          }
          if (next.value === '') break;
          const bytes = Buffer.from(next.value, 'utf8');
          crc = crc32(bytes, crc);
          size += bytes.length;
          if (!deflate.write(bytes)) {
            deflate.once('drain', () => setImmediate(pump));
            return;
          }
        }
        setImmediate(pump);
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
      }
    };
    setImmediate(pump);
  }

  /** Streams the archive into `res` (what is built, then the rest as it comes) and ends it. */
  pipeTo(res: ServerResponse): void {
    let sent = 0;
    const send = (): void => {
      if (res.destroyed) return;
      if (this.failure) {
        res.destroy(this.failure);
        return;
      }
      while (sent < this.parts.length) {
        if (!res.write(this.parts[sent++]!)) {
          res.once('drain', send);
          return;
        }
      }
      if (this.done) res.end();
      else this.waiters.push(send);
    };
    send();
  }

  private add(part: Buffer): void {
    this.parts.push(part);
    this.wake();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/** MS-DOS time and date of a zip entry (local time, 2-second resolution). */
function dosTime(at: Date): { time: number; date: number } {
  return {
    time: (at.getHours() << 11) | (at.getMinutes() << 5) | Math.floor(at.getSeconds() / 2),
    date: ((Math.max(1980, at.getFullYear()) - 1980) << 9) | ((at.getMonth() + 1) << 5) | at.getDate(),
  };
}

let crcTable: Int32Array | undefined;

/** CRC-32 (as zip uses it) of `bytes`, continuing from `crc`: zlib's where Node has it (20.15+), else by table. */
function crc32(bytes: Uint8Array, crc: number): number {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (typeof native === 'function') return native(bytes, crc >>> 0);
  if (crcTable === undefined) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
