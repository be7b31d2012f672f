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
import { Zip, ZipDeflate } from 'fflate';

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
    this.jobs.set(id, { id, report, createdAt: now, fields, rows: snap.rows, nextCursor });
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
    const columns = new Set<string>();
    for (const row of job.rows) for (const name of Object.keys(host.serialize(report, row, job.fields))) columns.add(name);
    streamZip(res, `${report}.csv`, csvLines([...columns], mapIterable(job.rows, (row) => host.serialize(report, row, job.fields))));
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

function* mapIterable<T, U>(items: Iterable<T>, map: (item: T) => U): Generator<U> {
  for (const item of items) yield map(item);
}

/**
 * CSV text in chunks of about 1,000 lines: a header row (every field of the report, in order; a
 * record without a field has an empty cell), then one line per record.
 */
function* csvLines(columns: readonly string[], records: Iterable<Record<string, unknown>>): Generator<string> {
  let chunk: string[] = [];
  if (columns.length > 0) chunk.push(columns.map(bulkCsvCell).join(','));
  for (const record of records) {
    chunk.push(columns.map((c) => bulkCsvCell(record[c])).join(','));
    if (chunk.length >= 1000) {
      yield `${chunk.join('\r\n')}\r\n`;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield `${chunk.join('\r\n')}\r\n`;
}

/**
 * Writes a zip of one deflated file to `res` as it is produced (fflate's streaming `Zip`), waiting
 * for the socket to drain between chunks so that a 200,000-record export is never held whole.
 */
function streamZip(res: ServerResponse, name: string, chunks: Iterator<string>): void {
  const zip = new Zip((error, data, final) => {
    if (error) {
      res.destroy(error);
      return;
    }
    if (data.length > 0) res.write(data);
    if (final) res.end();
  });
  const file = new ZipDeflate(name, { level: 1 });
  zip.add(file);
  const encoder = new TextEncoder();
  const pump = (): void => {
    for (;;) {
      if (res.destroyed) return;
      const next = chunks.next();
      if (next.done) {
        file.push(new Uint8Array(0), true);
        zip.end();
        return;
      }
      file.push(encoder.encode(next.value));
      if (res.writableNeedDrain) {
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
