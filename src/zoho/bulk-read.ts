/**
 * One Zoho Creator Bulk Read job, end to end: create it, poll its status with backoff within a
 * deadline, then stream its result (a zip holding one CSV) row by row — never holding the zip or
 * the CSV whole in memory (fflate's streaming `Unzip`, csv-parse fed chunk by chunk).
 *
 * Sources (shared Zoho Creator API notes §2.4, §3.7):
 * - Create `POST /creator/v2.1/bulk/{owner}/{app}/report/{report}/read`, body
 *   `{"query":{"criteria","fields","max_records","record_cursor"}}`, scope `ZohoCreator.bulk.CREATE`:
 *   https://www.zoho.com/creator/help/api/v2/bulk-api/create-bulk-read-job.html (the v2.1 path
 *   `/creator/v2.1/bulk/...` is the one Zoho's v2.1 bulk pages show). `max_records` 100,000–200,000 [doc: OAS].
 * - Status `GET .../read/{job_ID}`, scope `ZohoCreator.bulk.READ`; `details.status` spelled
 *   "IN PROGRESS"/"COMPLETED"/"FAILED" or "In-progress"/"Completed" — compared ignoring case,
 *   spaces, `-` and `_`; `details.result` = `{count, download_url, record_cursor}`:
 *   https://www.zoho.com/creator/help/api/v2.1/bulk-api/get-the-status-of-the-bulk-read-job.html
 * - Download `GET <api domain> + download_url` → zip of one CSV; header `recordCursor` (valid
 *   15 minutes) for the next job, absent on the last batch:
 *   https://www.zoho.com/creator/help/api/v2.1/bulk-api/download-bulk-read-result.html
 */
import { parse as parseCsv } from 'csv-parse';
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import type { CallBudget } from '../adapters/source.js';
import { SyncErrorCode, ZohoApiError } from '../errors.js';
import { abortableSleep, isPlainObject, type ZohoCallKind, type ZohoHttpClient } from './http-client.js';

/** Records per bulk job Zoho allows at most (and the default asked for) [doc]. Unit: records. */
export const BULK_READ_MAX_RECORDS = 200_000;
/** Default first wait before a status poll; doubled per poll up to {@link DEFAULT_BULK_POLL_MAX_MS}. Unit: ms. */
export const DEFAULT_BULK_POLL_MS = 1_000;
/** Default longest wait between status polls. Unit: ms. */
export const DEFAULT_BULK_POLL_MAX_MS = 30_000;
/**
 * Default deadline for a job to complete. Unit: ms. Zoho documents no processing time; 10 minutes
 * leaves room inside the 15-minute life of the previous job's `record_cursor` — [inferred].
 */
export const DEFAULT_BULK_JOB_TIMEOUT_MS = 10 * 60_000;
/** Default cap on a result zip. Unit: bytes. 200,000 records of a few KB each deflate well below this — [inferred]. */
export const DEFAULT_BULK_MAX_ZIP_BYTES = 512 * 1024 * 1024;

/** Options of {@link ZohoBulkReader}. */
export interface ZohoBulkReaderOptions {
  readonly client: ZohoHttpClient;
  /** API base, e.g. `https://www.zohoapis.com`. */
  readonly apiBaseUrl: string;
  readonly accountOwner: string;
  readonly appLinkName: string;
  /** First poll wait. Unit: ms. */
  readonly pollMs?: number | undefined;
  /** Longest poll wait. Unit: ms. */
  readonly pollMaxMs?: number | undefined;
  /** Deadline per job. Unit: ms. */
  readonly jobTimeoutMs?: number | undefined;
  /** Zip size cap. Unit: bytes. */
  readonly maxZipBytes?: number | undefined;
  /** Download timeout (body included). Unit: ms. @defaultValue the job deadline */
  readonly downloadTimeoutMs?: number | undefined;
}

/** What one job exports. */
export interface BulkJobQuery {
  readonly criteria?: string | undefined;
  /** Field link names; omitted = every field of the report. */
  readonly fields?: readonly string[] | undefined;
  /** The previous job's `record_cursor` (continues after its last record). */
  readonly recordCursor?: string | undefined;
}

/** A completed job's result, streaming. */
export interface BulkJobResult {
  readonly jobId: string;
  /** Records the job exported (`result.count`). */
  readonly count: number | undefined;
  /** The cursor of the next job; `undefined` on the last batch. */
  readonly nextCursor: string | undefined;
  /** The CSV header row (field link names). */
  readonly header: readonly string[];
  /** The CSV rows after the header, in batches of at most `batchSize`. */
  readonly batches: AsyncIterable<string[][]>;
}

/** Per-call options. */
export interface BulkCallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly retries?: number | undefined;
  /** The run's call ceiling, spent before every request. */
  readonly budget?: CallBudget | undefined;
}

/** Runs bulk read jobs through the shared {@link ZohoHttpClient} (same retries, token, counting, error judging). */
/** A completed job, not downloaded yet: its ID and the status answer's `result`. */
export interface PreparedBulkJob {
  readonly id: string;
  readonly result: Readonly<Record<string, unknown>>;
}

export class ZohoBulkReader {
  private readonly options: ZohoBulkReaderOptions;

  constructor(options: ZohoBulkReaderOptions) {
    this.options = options;
  }

  /**
   * Creates a job, waits for it, opens its result.
   *
   * @param report - report link name.
   * @param kind - what the calls count as (`records` or `ids`).
   * @param batchSize - rows per batch of {@link BulkJobResult.batches}. Unit: records.
   * @throws ZohoApiError: from any call (a missing scope is HTTP 401 code 2945 [doc]); code
   *   `ERR_SYNC_ZOHO_API` when the job FAILED; `ERR_SYNC_ZOHO_TIMEOUT` past the deadline;
   *   `ERR_SYNC_ZOHO_MALFORMED_RESPONSE` for an unexpected body, a zip without exactly one file or
   *   a CSV without a header; ZohoAuthError; AbortedError.
   */
  async run(report: string, query: BulkJobQuery, kind: ZohoCallKind, batchSize: number, call: BulkCallOptions): Promise<BulkJobResult> {
    return this.open(report, await this.prepare(report, query, kind, call), kind, batchSize, call);
  }

  /**
   * Creates a job and waits until it completed (the first half of {@link ZohoBulkReader.run}): a
   * listing prepares the next job while it still reads the current one.
   * @throws as {@link ZohoBulkReader.run}, but never for the result file.
   */
  async prepare(report: string, query: BulkJobQuery, kind: ZohoCallKind, call: BulkCallOptions): Promise<PreparedBulkJob> {
    const base = this.jobsUrl(report);
    const body: Record<string, unknown> = { max_records: BULK_READ_MAX_RECORDS };
    if (query.criteria !== undefined) body.criteria = query.criteria;
    if (query.fields !== undefined) body.fields = [...query.fields];
    if (query.recordCursor !== undefined) body.record_cursor = query.recordCursor;
    const created = await this.options.client.get({
      url: base,
      method: 'POST',
      jsonBody: { query: body },
      kind,
      endpoint: `${report} bulk read`,
      signal: call.signal,
      retries: call.retries,
      budget: call.budget,
      // The next job of a listing under way (its cursor lives 15 minutes): admitted first.
      continuation: query.recordCursor !== undefined,
    });
    const jobId = detailsOf(created.body, report).id;
    if (typeof jobId !== 'string' && typeof jobId !== 'number') throw malformed(report, 'the created job has no id');
    const id = String(jobId);
    const result = await this.waitForJob(report, `${base}/${encodeURIComponent(id)}`, kind, call);
    return { id, result };
  }

  /**
   * Downloads a completed job's result and opens its CSV (the second half of {@link ZohoBulkReader.run}).
   * @throws as {@link ZohoBulkReader.run}.
   */
  async open(report: string, job: PreparedBulkJob, kind: ZohoCallKind, batchSize: number, call: BulkCallOptions): Promise<BulkJobResult> {
    const { id, result } = job;
    const downloadUrl = this.downloadUrl(report, id, result.download_url);
    const download = await this.options.client.download({
      url: downloadUrl,
      kind,
      endpoint: `${report} bulk result`,
      signal: call.signal,
      retries: call.retries,
      budget: call.budget,
      maxBytes: this.options.maxZipBytes ?? DEFAULT_BULK_MAX_ZIP_BYTES,
      timeoutMs: this.options.downloadTimeoutMs ?? this.options.jobTimeoutMs ?? DEFAULT_BULK_JOB_TIMEOUT_MS,
    });
    const statusCursor = typeof result.record_cursor === 'string' && result.record_cursor !== '' ? result.record_cursor : undefined;
    const batches = csvBatches(download.body, report, batchSize);
    const first = await batches.next();
    const header = first.done ? undefined : first.value[0];
    if (header === undefined) throw malformed(report, 'the CSV has no header row');
    return {
      jobId: id,
      count: typeof result.count === 'number' ? result.count : undefined,
      nextCursor: download.recordCursor ?? statusCursor,
      header,
      batches: { [Symbol.asyncIterator]: () => batches },
    };
  }

  /** Polls `GET .../read/{job}` until COMPLETED, with doubling waits, within the deadline. */
  private async waitForJob(report: string, url: string, kind: ZohoCallKind, call: BulkCallOptions): Promise<Record<string, unknown>> {
    const deadline = Date.now() + (this.options.jobTimeoutMs ?? DEFAULT_BULK_JOB_TIMEOUT_MS);
    let wait = this.options.pollMs ?? DEFAULT_BULK_POLL_MS;
    const maxWait = this.options.pollMaxMs ?? DEFAULT_BULK_POLL_MAX_MS;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new ZohoApiError(`Zoho's bulk read job for ${report} did not complete within ${this.options.jobTimeoutMs ?? DEFAULT_BULK_JOB_TIMEOUT_MS} ms`, {
          code: SyncErrorCode.ZOHO_TIMEOUT,
          endpoint: `${report} bulk status`,
        });
      }
      await abortableSleep(Math.min(wait, left), call.signal);
      wait = Math.min(wait * 2, maxWait);
      const status = await this.options.client.get({
        url,
        kind,
        endpoint: `${report} bulk status`,
        signal: call.signal,
        retries: call.retries,
        budget: call.budget,
        continuation: true,
      });
      const details = detailsOf(status.body, report);
      const state = normaliseStatus(details.status);
      if (state === 'COMPLETED') {
        if (!isPlainObject(details.result)) throw malformed(report, 'a completed job has no result');
        return details.result;
      }
      if (state === 'FAILED') {
        throw new ZohoApiError(`Zoho's bulk read job for ${report} failed`, { httpStatus: status.httpStatus, zohoCode: 3000, endpoint: `${report} bulk status` });
      }
      if (state !== 'INPROGRESS' && state !== 'CREATED' && state !== 'QUEUED') throw malformed(report, `unknown job status ${String(details.status)}`);
    }
  }

  private jobsUrl(report: string): string {
    const { apiBaseUrl, accountOwner, appLinkName } = this.options;
    return `${apiBaseUrl}/creator/v2.1/bulk/${encodeURIComponent(accountOwner)}/${encodeURIComponent(appLinkName)}/report/${encodeURIComponent(report)}/read`;
  }

  /**
   * The result URL: the status's `download_url` path prefixed with the API domain [doc]; an
   * absolute URL only on the API's own origin (the token is never sent elsewhere); without one,
   * `.../read/{job}/result` [doc].
   */
  private downloadUrl(report: string, jobId: string, downloadUrl: unknown): string {
    const fallback = `${this.jobsUrl(report)}/${encodeURIComponent(jobId)}/result`;
    if (typeof downloadUrl !== 'string' || downloadUrl === '') return fallback;
    const origin = new URL(this.options.apiBaseUrl).origin;
    const url = new URL(downloadUrl, origin);
    if (url.origin !== origin) throw malformed(report, 'the download_url points at another host');
    return url.toString();
  }
}

/** "IN PROGRESS", "In-progress", "in_progress" → `INPROGRESS`; "Completed" → `COMPLETED`. */
export function normaliseStatus(status: unknown): string {
  return typeof status === 'string' ? status.toUpperCase().replace(/[\s_-]+/g, '') : '';
}

function detailsOf(body: Readonly<Record<string, unknown>>, report: string): Record<string, unknown> {
  const details = body.details;
  if (!isPlainObject(details)) throw malformed(report, 'the answer has no details object');
  return details;
}

function malformed(report: string, what: string): ZohoApiError {
  return new ZohoApiError(`Zoho's bulk read of ${report}: ${what}`, {
    code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
    endpoint: `${report} bulk read`,
    httpStatus: 200,
  });
}

/**
 * The CSV file's bytes out of a streamed zip: the one file's inflated chunks, in order. A zip with
 * no file or with more than one fails.
 */
async function* unzippedCsv(zip: AsyncIterable<Uint8Array>, report: string): AsyncGenerator<Uint8Array, void, undefined> {
  const out: Uint8Array[] = [];
  let files = 0;
  let failure: Error | undefined;
  let finished = false;
  const unzip = new Unzip((file: UnzipFile) => {
    files += 1;
    if (files > 1) {
      failure = malformed(report, 'the zip holds more than one file');
      return;
    }
    file.ondata = (error, data, final) => {
      if (error) failure = malformed(report, `the zip cannot be inflated (${error.message})`);
      else if (data.length > 0) out.push(data);
      if (final) finished = true;
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  for await (const chunk of zip) {
    try {
      unzip.push(chunk, false);
    } catch (error) {
      throw malformed(report, `the zip is not readable (${error instanceof Error ? error.message : String(error)})`);
    }
    if (failure) throw failure;
    while (out.length > 0) yield out.shift()!;
  }
  try {
    unzip.push(new Uint8Array(0), true);
  } catch (error) {
    throw malformed(report, `the zip is truncated (${error instanceof Error ? error.message : String(error)})`);
  }
  if (failure) throw failure;
  while (out.length > 0) yield out.shift()!;
  if (files === 0) throw malformed(report, 'the zip holds no file');
  if (!finished) throw malformed(report, 'the zip ends inside its file');
}

/**
 * The zip's CSV as batches of rows (arrays of cells): first the header alone, then batches of
 * `size` rows (the last one shorter). Parsed by csv-parse (https://csv.js.org/parse/: RFC 4180
 * quoting, line breaks and `""` in quoted cells, CRLF / LF / CR, an optional UTF-8 BOM, empty lines
 * skipped, every row with as many cells as the header), fed chunk by chunk as the zip inflates and
 * drained after each chunk — its records are read straight from the parser's buffer, without an
 * async iterator, which would cost a promise per row.
 *
 * @throws ZohoApiError `ERR_SYNC_ZOHO_MALFORMED_RESPONSE` for a CSV csv-parse refuses (naming its reason) or a broken zip.
 */
export async function* csvBatches(zip: AsyncIterable<Uint8Array>, report: string, size: number): AsyncGenerator<string[][], void, undefined> {
  // Column counts are checked here (with our wording); csv-parse checks quoting and line breaks.
  const parser = parseCsv({ bom: true, skip_empty_lines: true, relax_column_count: true });
  let failure: unknown;
  parser.on('error', (error) => {
    failure ??= error;
  });
  let header: string[] | undefined;
  let batch: string[][] = [];
  let rowNumber = 0;
  const ready: string[][][] = [];
  const drain = (): void => {
    for (let row = parser.read() as string[] | null; row !== null; row = parser.read() as string[] | null) {
      rowNumber += 1;
      if (header === undefined) {
        header = row;
        ready.push([row]);
        continue;
      }
      if (row.length !== header.length) {
        throw malformed(report, `the CSV is not readable (row ${rowNumber} has ${row.length} cells, the header ${header.length})`);
      }
      batch.push(row);
      if (batch.length >= size) {
        ready.push(batch);
        batch = [];
      }
    }
  };
  const unreadable = (error: unknown): ZohoApiError =>
    error instanceof ZohoApiError ? error : malformed(report, `the CSV is not readable (${error instanceof Error ? error.message : String(error)})`);
  try {
    for await (const bytes of unzippedCsv(zip, report)) {
      // A Transform parses a written chunk synchronously when nothing is queued, which is always so
      // here: every record is read back before the next write.
      parser.write(bytes);
      if (failure !== undefined) throw unreadable(failure);
      drain();
      while (ready.length > 0) yield ready.shift()!;
    }
    // The last records (and a quote left open) come out when the parser flushes, a tick after end();
    // 'end' follows once every record was read.
    parser.end();
    for (let ticks = 0; !parser.readableEnded; ticks++) {
      if (ticks > 1000) throw malformed(report, 'the CSV parser did not finish');
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (failure !== undefined) throw unreadable(failure);
      drain();
    }
    if (batch.length > 0) ready.push(batch);
    while (ready.length > 0) yield ready.shift()!;
  } finally {
    parser.destroy();
  }
}
