/**
 * {@link ZohoCreatorSource}: the {@link SourceAdapter} for Zoho Creator (REST API v2.1).
 *
 * Sources (see /work/shared/reference/zoho-creator-api.md §3, §4):
 * - Get Records v2.1 `GET /creator/v2.1/data/{owner}/{app}/report/{report}` with `max_records`
 *   (≤ 1000), `field_config`, `fields`, `criteria`; cursor paging through the `record_cursor`
 *   header: https://www.zoho.com/creator/help/api/v2.1/get-records.html and
 *   https://zoho.com/creator/help/api/v2.1/what-is-new-in-v2.1.html
 * - Get Record by ID `GET .../report/{report}/{ID}` ([code]: public clients) and code 3190.
 * - Criteria syntax: https://www.zoho.com/creator/help/script/search-by-criteria-date.html
 */
import type {
  ApiCallCounts,
  CallEstimate,
  CallEstimateRequest,
  ListOptions,
  RecordStamp,
  RejectedRecord,
  SourceAdapter,
  SourceCallOptions,
  SourceEvent,
  SourcePage,
  SourceRecord,
} from '../adapters/source.js';
import { ConfigError, InvalidInputError, SyncErrorCode, ZohoApiError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { resolveDataCentreHosts } from './data-centres.js';
import { ZohoDateTimeCodec, quotedCriteriaLiteral } from './date-time.js';
import {
  DEFAULT_ZOHO_MIN_RETRY_DELAY_MS,
  DEFAULT_ZOHO_RATE_LIMIT_PAUSE_MS,
  DEFAULT_ZOHO_RETRIES,
  DEFAULT_ZOHO_TIMEOUT_MS,
  type ZohoCallKind,
  type ZohoGetRequest,
  type ZohoGetResult,
  ZohoHttpClient,
  type ZohoQuotaState,
  isPlainObject,
} from './http-client.js';
import { ListingGuard } from './listing-guard.js';
import {
  MODIFIED_TIME_FIELD,
  type NormalisedRows,
  ZohoRecordNormaliser,
  isZohoId,
  toSourceEvents,
  withStringIds,
} from './record-normaliser.js';
import { SecretScrubber } from './secret-scrubber.js';
import { type ZohoCreatorSourceOptions, type ZohoPageSize, validateSourceOptions } from './source-options.js';
import { ZohoTokenManager } from './token-manager.js';
import { BulkRecordShape, BulkShapeError } from './bulk-csv.js';
import { BULK_READ_MAX_RECORDS, type BulkJobResult, type PreparedBulkJob, ZohoBulkReader } from './bulk-read.js';

export type { ZohoCreatorSourceOptions, ZohoPageSize } from './source-options.js';

/** At most this many record IDs go into one by-ID listing ({@link ZohoCreatorSource.getRecordsById}). */
export const MAX_IDS_PER_LISTING = 200;

/**
 * At most this many event IDs go into one `criteria` value; longer lists are split into chunks
 * read one after another. Zoho documents no criteria length limit; public code chunks ID lists
 * to 60 ([code]), so 50 keeps a margin — [inferred].
 */
export const MAX_EVENT_IDS_PER_CRITERIA = 50;

/**
 * Reads events and registrations from Zoho Creator.
 *
 * - IDs are exact digit strings (bare numeric IDs beyond 2^53 are parsed losslessly).
 * - Listings are lazy: one request per page, `record_cursor` header chained.
 * - Failures are typed: `ZohoApiError` (HTTP status, Zoho code/message, report name),
 *   `ZohoAuthError` (token refused), `AbortedError`, `InvalidInputError` (bad IDs),
 *   `CallLimitError` (the run's `callBudget` is spent); code 3100 is an empty listing, never an
 *   error, and no error is ever read as "no records".
 * - Secrets: requests never follow redirects, so credentials and tokens go only to the configured
 *   accounts and API hosts; every error leaving the source and every line it logs passes one
 *   {@link SecretScrubber} that knows the client secret, the refresh token and every access token
 *   minted.
 * - Listings stop with `ERR_SYNC_ZOHO_LISTING_LOOP` when a cursor comes again or a page brings
 *   no new record ID (see {@link ListingGuard}).
 *
 * @example
 * ```ts
 * const source = new ZohoCreatorSource({
 *   accountOwner: 'jason18', appLinkName: 'events', eventsReport: 'All_Events',
 *   registrationsReport: 'All_Registrations', eventLookupField: 'Event',
 *   clientId, clientSecret, refreshToken, dataCentre: 'eu',
 * });
 * for await (const page of source.readRecords({ eventIds: ['4085713000000012345'] })) { ... }
 * ```
 * @see https://www.zoho.com/creator/help/api/v2.1/get-records.html
 * @see https://zoho.com/creator/help/api/v2.1/what-is-new-in-v2.1.html (record_cursor)
 */
export class ZohoCreatorSource implements SourceAdapter {
  /** Short name for logs. */
  readonly name = 'zoho-creator';
  /** Every HTTP request (retries, bulk create / poll / download included) awaits `callBudget.admit()` first. */
  readonly gatesEachRequest = true;

  private readonly options: ZohoCreatorSourceOptions;
  private readonly apiBaseUrl: string;
  private readonly pageSize: ZohoPageSize;
  private readonly logger: Logger;
  private readonly scrubber: SecretScrubber;
  private readonly tokens: ZohoTokenManager;
  private readonly client: ZohoHttpClient;
  private codec: ZohoDateTimeCodec | undefined;
  private codecPromise: Promise<ZohoDateTimeCodec> | undefined;
  private recordNormaliser: ZohoRecordNormaliser | undefined;
  private readonly bulk: ZohoBulkReader;
  /** Why Bulk Read is not used (warned once), or `undefined` while it is available. */
  private bulkUnavailable: string | undefined;
  /** The record shape learned from a JSON sample, for rebuilding records from bulk CSV rows. */
  private bulkShape: BulkRecordShape | undefined;
  /** The events of the last {@link listEvents}, by ID: where bulk records get their lookup's display values. */
  private eventRows: Map<string, Readonly<Record<string, unknown>>> | undefined;

  /**
   * @throws ConfigError naming the first invalid option (missing names or credentials, unknown
   *   `dataCentre`, a base URL that is not http(s), an unsupported `dateFormat`, an unknown
   *   `timeZone`, `pageSize` not 200/500/1000, negative or non-integer numbers).
   */
  constructor(options: ZohoCreatorSourceOptions) {
    const { pageSize, dataCentre } = validateSourceOptions(options);
    this.options = options;
    this.pageSize = pageSize;
    this.scrubber = new SecretScrubber([options.clientSecret, options.refreshToken]);
    this.logger = this.scrubber.logger(options.logger ?? silentLogger);
    const hosts = resolveDataCentreHosts(dataCentre, options);
    this.apiBaseUrl = hosts.apiBaseUrl;
    const common = {
      fetch: options.fetch,
      timeoutMs: options.timeoutMs ?? DEFAULT_ZOHO_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_ZOHO_RETRIES,
      minRetryDelayMs: options.minRetryDelayMs ?? DEFAULT_ZOHO_MIN_RETRY_DELAY_MS,
      logger: this.logger,
      scrubber: this.scrubber,
    };
    this.tokens = new ZohoTokenManager({
      ...common,
      accountsBaseUrl: hosts.accountsBaseUrl,
      apiBaseUrl: hosts.apiBaseUrl,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      refreshToken: options.refreshToken,
    });
    this.client = new ZohoHttpClient({
      ...common,
      tokens: this.tokens,
      rateLimitPauseMs: options.rateLimitPauseMs ?? DEFAULT_ZOHO_RATE_LIMIT_PAUSE_MS,
      maxResponseBytes: options.maxResponseBytes,
      hostOptions: options.apiBaseUrl === undefined ? ['dataCentre'] : ['dataCentre', 'apiBaseUrl'],
    });
    if (options.dateFormat !== undefined && options.timeZone !== undefined) {
      this.codec = new ZohoDateTimeCodec(options.dateFormat, options.timeZone);
    }
    this.bulk = new ZohoBulkReader({
      client: this.client,
      apiBaseUrl: this.apiBaseUrl,
      accountOwner: options.accountOwner,
      appLinkName: options.appLinkName,
      pollMs: options.bulkPollMs,
      jobTimeoutMs: options.bulkJobTimeoutMs,
      maxZipBytes: options.bulkMaxZipBytes,
    });
  }

  /**
   * Lists every event: all pages of the events report (`field_config=all`). Rows without a
   * valid `ID` are skipped with a warning. Counted as `meta` calls.
   *
   * @throws ZohoApiError (`ERR_SYNC_ZOHO_LISTING_LOOP` when a cursor comes again or a page brings
   *   no new event ID), ZohoAuthError, CallLimitError, AbortedError.
   */
  async listEvents(options: SourceCallOptions = {}): Promise<SourceEvent[]> {
    try {
      return await this.readEvents(options);
    } catch (error) {
      throw this.scrubber.scrubError(error);
    }
  }

  private async readEvents(options: SourceCallOptions): Promise<SourceEvent[]> {
    const retries = checkRetries(options.retries);
    const events: SourceEvent[] = [];
    const report = this.options.eventsReport;
    const url = this.reportUrl(report, { field_config: 'all' });
    const guard = new ListingGuard(report);
    let cursor: string | undefined;
    for (let pageNumber = 1; ; pageNumber++) {
      const result = await this.get(options, { url, kind: 'meta', endpoint: report, cursor, retries, expectData: 'array' });
      const rows = result.outcome === 'ok' ? (result.body.data as unknown[]) : [];
      guard.page(rows, pageNumber);
      const page = toSourceEvents(rows);
      events.push(...page.events);
      if (page.invalid.length > 0) {
        this.logger.warn('zoho events without a valid ID skipped', {
          report: this.options.eventsReport,
          skipped: page.invalid.length,
        });
      }
      cursor = result.outcome === 'ok' ? result.recordCursor : undefined;
      if (cursor === undefined || rows.length === 0) {
        this.eventRows = new Map(events.map((e) => [e.id, e.data]));
        return events;
      }
      guard.follow(cursor, pageNumber);
    }
  }

  /**
   * Streams full records of the registrations report (`field_config=all`), page by page.
   * An empty listing (code 3100, or `eventIds: []`) yields one empty page.
   *
   * Event filter: `criteria=(<lookup> == id1 || <lookup> == id2 ...)`. With more than 50
   * `eventIds` (see {@link MAX_EVENT_IDS_PER_CRITERIA}) the listing runs one cursor chain per chunk
   * of 50, one chunk after another; `pageNumber` keeps counting across chunks, but `nextCursor` is
   * only meaningful within its chunk (it is `undefined` on the last page of every chunk), so such
   * a listing cannot be resumed with `cursor` (that combination throws `InvalidInputError`).
   *
   * A cursor that comes again in its chain, or a page that brings no record ID the listing has
   * not listed already, ends the listing with `ZohoApiError` `ERR_SYNC_ZOHO_LISTING_LOOP`.
   *
   * @throws InvalidInputError (bad `eventIds`, `cursor` with more than 50 `eventIds`),
   *   ZohoApiError, ZohoAuthError, ConfigError (app not found by the meta call, unsafe
   *   `date_format`), CallLimitError, AbortedError — all through the iteration.
   */
  readRecords(options: ListOptions = {}): AsyncIterable<SourcePage<SourceRecord>> {
    return this.list(options, {
      kind: 'records',
      params: { field_config: 'all' },
      bulk: 'records',
      normalise: (n, rows, readAt) => n.toRecords(rows, readAt),
    });
  }

  /**
   * Streams `{id, eventId, modifiedAt}` only (`field_config=custom&fields=ID,Modified_Time,<lookup>`),
   * page by page. Counted as `ids` calls. Same options and errors as {@link readRecords}.
   */
  readStamps(options: ListOptions = {}): AsyncIterable<SourcePage<RecordStamp>> {
    return this.list(options, {
      kind: 'ids',
      params: { field_config: 'custom', fields: `ID,${MODIFIED_TIME_FIELD},${this.options.eventLookupField}` },
      bulk: 'stamps',
      normalise: (n, rows) => n.toStamps(rows),
    });
  }

  /**
   * Streams full records modified at or after `since`: criteria
   * `(Modified_Time >= '<since in the app's format and zone>')`, combined with the event filter
   * by `&&`. `since` is floored to the second (Zoho's resolution), which keeps the bound inclusive.
   *
   * `>=` rather than `>` so that records modified in the watermark's own second are not missed —
   * [inferred]. Zoho reads the literal in the app's time zone — [inferred]; at a DST fall-back the
   * earlier reading applies, so keep the caller's overlap ≥ 1 h.
   *
   * @param since - epoch ms.
   * @throws InvalidInputError when `since` is not a finite number (before any call); otherwise as
   *   {@link readRecords}.
   */
  readChangedSince(since: number, options: ListOptions = {}): AsyncIterable<SourcePage<SourceRecord>> {
    return this.list(options, {
      kind: 'records',
      params: { field_config: 'all' },
      validate: () => {
        if (typeof since !== 'number' || !Number.isFinite(since)) {
          throw new InvalidInputError(`\`since\` must be epoch milliseconds, got ${String(since)}`);
        }
      },
      criteria: (codec) => `(${MODIFIED_TIME_FIELD} >= ${quotedCriteriaLiteral(codec.format(since))})`,
      normalise: (n, rows, readAt) => n.toRecords(rows, readAt),
    });
  }

  /**
   * Reads one registration by ID (`GET .../report/{registrationsReport}/{id}`).
   *
   * @param recordId - 1–19 digits.
   * @returns the record, or `undefined` on code 3190 (no such record; also 3100).
   * @throws InvalidInputError (bad ID); ZohoApiError, including code
   *   `ERR_SYNC_ZOHO_MALFORMED_RESPONSE` when the row cannot be accepted (no event, bad
   *   `Modified_Time`); ZohoAuthError; AbortedError.
   */
  async getRecord(recordId: string, options: SourceCallOptions = {}): Promise<SourceRecord | undefined> {
    if (!isZohoId(recordId)) {
      throw new InvalidInputError(`Record ID must be 1–19 digits, got ${JSON.stringify(recordId)}`);
    }
    try {
      return await this.readRecord(recordId, options);
    } catch (error) {
      throw this.scrubber.scrubError(error);
    }
  }

  private async readRecord(recordId: string, options: SourceCallOptions): Promise<SourceRecord | undefined> {
    const retries = checkRetries(options.retries);
    const normaliser = await this.normaliser(options);
    const report = this.options.registrationsReport;
    const requestedAt = Date.now();
    const result = await this.get(options, {
      url: `${this.reportPath(report)}/${recordId}`,
      kind: 'records',
      endpoint: report,
      retries,
      expectData: 'object',
      allowNoSuchRecord: true,
    });
    if (result.outcome !== 'ok') return undefined;
    const { record, rejection } = normaliser.toRecord(result.body.data, requestedAt);
    if (record !== undefined) return record;
    throw new ZohoApiError(`Zoho record ${recordId} of ${report} cannot be accepted: ${rejection.reason} (${rejection.detail})`, {
      httpStatus: result.httpStatus,
      zohoCode: 3000,
      endpoint: report,
      code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
    });
  }

  /**
   * Reads up to {@link MAX_IDS_PER_LISTING} registrations by ID in one Get Records listing:
   * `criteria=(ID == a || ID == b …)` (`field_config=all`; more pages only if Zoho pages them).
   * Zoho accepts `ID ==` with a bare number in criteria — [inferred] from public code (the same
   * form as the lookup filter); a criteria of 200 IDs is about 5 KB of URL, within the limits we
   * know of — [inferred] (Zoho documents none).
   *
   * @param recordIds - 1–19-digit IDs; duplicates are read once.
   * @returns the records found and the rows that could not be accepted; absent IDs are not listed.
   * @throws InvalidInputError (bad ID, more than 200 IDs) before any call; otherwise as {@link readRecords}.
   */
  async getRecordsById(recordIds: readonly string[], options: SourceCallOptions = {}): Promise<Pick<SourcePage<SourceRecord>, 'items' | 'rejected'>> {
    const ids = [...new Set(recordIds)];
    for (const id of ids) {
      if (!isZohoId(id)) throw new InvalidInputError(`Record ID must be 1–19 digits, got ${JSON.stringify(id)}`);
    }
    if (ids.length > MAX_IDS_PER_LISTING) throw new InvalidInputError(`At most ${MAX_IDS_PER_LISTING} record IDs per listing, got ${ids.length}`);
    const items: SourceRecord[] = [];
    const rejected: RejectedRecord[] = [];
    if (ids.length === 0) return { items, rejected };
    const pages = this.list(options, {
      kind: 'records',
      params: { field_config: 'all' },
      criteria: () => `(${ids.map((id) => `ID == ${id}`).join(' || ')})`,
      normalise: (n, rows, readAt) => n.toRecords(rows, readAt),
    });
    for await (const page of pages) {
      items.push(...page.items);
      rejected.push(...page.rejected);
    }
    return { items, rejected };
  }

  /**
   * Normalises a raw registration row (as Get Records returns it, or as a Deluge script pushes it)
   * without reading it from Zoho: the lookup gives the event, `Modified_Time` is read in the app's
   * zone and format. The first call reads the application settings (1 meta call) if not yet known.
   *
   * @returns the record, or the rejection (`missing-id`, `missing-event`, `invalid-modified-time`, ...).
   * @throws ZohoApiError / ZohoAuthError / ConfigError from the settings call.
   */
  async normaliseRecord(raw: unknown, options: SourceCallOptions = {}): Promise<SourceRecord | RejectedRecord> {
    const normaliser = await this.normaliser(options);
    const { items, rejected } = normaliser.toRecords([raw]);
    return items[0] ?? (rejected[0] as RejectedRecord);
  }

  /**
   * The calls a run would make, without calling Zoho (no retries counted):
   * - `token`: 1 when no cached access token is valid now, else 0;
   * - `meta`: the applications meta call when the date format and time zone are not known yet,
   *   plus the events list: max(1, ceil(events / pageSize));
   * - a paged listing: max(1, ceil(records / pageSize)) calls (one page answers "no records"), per
   *   chunk of 50 events when restricted to more; exact when `records` is;
   * - a bulk listing: per job of up to 200,000 records a create, one status poll and a download
   *   (more polls when Zoho takes longer: not exact), plus the 200-record sample call the first time
   *   this source lists records in bulk; a source without bulk access estimates it paged.
   * A `changes` listing is estimated from `records` (unknowable before the run: not exact).
   */
  estimateCalls(request: CallEstimateRequest): CallEstimate {
    const counts = { token: this.tokens.hasValidToken() ? 0 : 1, records: 0, ids: 0, meta: this.codec === undefined ? 1 : 0 };
    let exact = true;
    const listings: ('paged' | 'bulk')[] = [];
    let bulkFallback: string | undefined;
    if (request.events !== undefined) counts.meta += Math.max(1, Math.ceil(request.events / this.pageSize));
    for (const l of request.listings) {
      const kind = l.kind === 'ids' ? 'ids' : 'records';
      const chunks = l.eventCount === undefined ? 1 : Math.max(1, Math.ceil(l.eventCount / MAX_EVENT_IDS_PER_CRITERIA));
      if (l.kind === 'changes') exact = false;
      // A resumed listing skips the pages an earlier run read (pages of `pageSize` records, bulk ones too).
      const skipped = Math.max(0, (l.fromPage ?? 1) - 1);
      const records = Math.max(0, l.records - skipped * this.pageSize);
      if (l.listing === 'bulk' && l.kind !== 'changes' && chunks === 1 && this.bulkUnavailable === undefined) {
        const jobs = Math.max(1, Math.ceil(records / BULK_READ_MAX_RECORDS));
        counts[kind] += jobs * 3 + (kind === 'records' && this.bulkShape === undefined ? 1 : 0);
        exact = false;
        listings.push('bulk');
      } else {
        counts[kind] += skipped > 0 ? Math.max(1, Math.ceil(records / this.pageSize)) : Math.max(chunks, Math.ceil(records / this.pageSize));
        listings.push('paged');
        if (l.listing === 'bulk' && l.kind !== 'changes') {
          bulkFallback ??= this.bulkUnavailable ?? `Bulk Read takes at most ${MAX_EVENT_IDS_PER_CRITERIA} events per criteria; ${l.eventCount} are listed`;
        }
      }
    }
    return { ...counts, total: counts.token + counts.records + counts.ids + counts.meta, exact, listings, bulkFallback };
  }

  /**
   * HTTP requests sent so far, by kind, retries included: `token` (grants), `records` (full
   * listings, changed-since, by ID), `ids` (stamp listings), `meta` (`/meta/applications`,
   * events report). Unit: calls.
   */
  getCallCounts(): ApiCallCounts {
    const counts = this.client.getCallCounts();
    const token = this.tokens.getRequestCount();
    return { token, ...counts, total: token + counts.records + counts.ids + counts.meta };
  }

  /**
   * Whether Zoho's daily Developer API limit (code 4000) was hit: `exhaustedAt` (epoch ms) of the
   * last code 4000; `exhausted` stays true until a later call succeeds. The limit resets at
   * midnight in the super admin's time zone (https://www.zoho.com/creator/help/api/v2.1/api-limits.html).
   */
  getQuotaState(): ZohoQuotaState {
    return this.client.getQuotaState();
  }

  /** Stops a token mint in progress and drops the cached token; later calls reject with `AbortedError`. */
  async close(): Promise<void> {
    this.tokens.close();
  }

  /** One Creator call on behalf of a source call: its signal and call budget. */
  private get(options: SourceCallOptions, request: Omit<ZohoGetRequest, 'signal' | 'budget'>): Promise<ZohoGetResult> {
    return this.client.get({ ...request, signal: options.signal, budget: options.callBudget });
  }

  /** {@link listing}, with every error scrubbed of secrets on its way out. */
  private async *list<T>(options: ListOptions, spec: ListSpec<T>): AsyncGenerator<SourcePage<T>, void, undefined> {
    try {
      yield* this.listing(options, spec);
    } catch (error) {
      throw this.scrubber.scrubError(error);
    }
  }

  private async *listing<T>(options: ListOptions, spec: ListSpec<T>): AsyncGenerator<SourcePage<T>, void, undefined> {
    // Every input check runs before the first Zoho call.
    spec.validate?.();
    const { signal } = options;
    const retries = checkRetries(options.retries);
    const chunks = eventChunks(options.eventIds);
    const startPage = options.startPage ?? 1;
    if (!Number.isSafeInteger(startPage) || startPage < 1) {
      throw new InvalidInputError(`\`startPage\` must be a positive integer, got ${String(startPage)}`);
    }
    if (options.cursor !== undefined && (typeof options.cursor !== 'string' || options.cursor === '')) {
      throw new InvalidInputError('`cursor` must be a non-empty string returned earlier in `nextCursor`');
    }
    if (options.cursor !== undefined && chunks.length > 1) {
      // Each chunk of event IDs is its own cursor chain; a cursor cannot say which chunk it is from.
      throw new InvalidInputError(
        `\`cursor\` cannot be combined with more than ${MAX_EVENT_IDS_PER_CRITERIA} \`eventIds\`: resume with the chunk's own event IDs`,
      );
    }
    const bulkStart = parseBulkCursor(options.cursor);
    if (options.cursor !== undefined && isBulkCursor(options.cursor) && bulkStart === undefined) {
      throw new InvalidInputError('`cursor` is not a bulk listing cursor returned earlier in `nextCursor`');
    }
    if (options.listing !== undefined && options.listing !== 'paged' && options.listing !== 'bulk') {
      throw new InvalidInputError(`\`listing\` must be 'paged' or 'bulk', got ${String(options.listing)}`);
    }
    const normaliser = await this.normaliser(options);
    const base = spec.criteria?.(normaliser.codec);
    const report = this.options.registrationsReport;
    const guard = new ListingGuard(report);
    let resumeCursor = options.cursor;
    let pageNumber = startPage;

    const wantsBulk = bulkStart !== undefined || (options.listing === 'bulk' && options.cursor === undefined);
    if (wantsBulk && spec.bulk !== undefined && chunks.length === 1 && this.bulkUnavailable === undefined) {
      const chunk = chunks[0];
      const criteria = allOf(base, chunk === undefined ? undefined : eventCriteria(this.options.eventLookupField, chunk));
      const outcome = yield* this.bulkList(spec, normaliser, criteria, bulkStart, options);
      if (outcome === 'done') return;
    }
    if (bulkStart !== undefined) {
      // A bulk checkpoint cannot continue page by page: list from the first page.
      resumeCursor = undefined;
      pageNumber = 1;
    }
    let yielded = false;

    for (const chunk of chunks) {
      const criteria = allOf(base, chunk === undefined ? undefined : eventCriteria(this.options.eventLookupField, chunk));
      const url = this.reportUrl(report, criteria === undefined ? spec.params : { ...spec.params, criteria });
      let cursor = chunk === chunks[0] ? resumeCursor : undefined;
      guard.newChain();
      if (cursor !== undefined) guard.follow(cursor, pageNumber - 1);
      for (;;) {
        // When this page's data was asked for (a tombstone yields only to data read after it).
        const requestedAt = Date.now();
        const result = await this.get({ signal, callBudget: options.callBudget }, {
          url,
          kind: spec.kind,
          endpoint: report,
          cursor,
          retries,
          expectData: 'array',
        });
        if (result.outcome !== 'ok') break; // 3100: no (more) records
        const rows = result.body.data as unknown[];
        // Defensive: an empty page ends the chain even if a cursor came with it (public widget code does the same).
        if (rows.length === 0) break;
        guard.page(rows, pageNumber);
        const { items, rejected } = spec.normalise(normaliser, rows, requestedAt);
        yield { items, rejected, pageNumber: pageNumber++, nextCursor: result.recordCursor };
        yielded = true;
        if (result.recordCursor === undefined) break;
        cursor = result.recordCursor;
        guard.follow(cursor, pageNumber - 1);
      }
    }
    if (!yielded) yield { items: [], rejected: [], pageNumber, nextCursor: undefined };
  }

  /**
   * A bulk listing: Bulk Read jobs one after another, each continuing from the previous job's
   * `record_cursor` until the last batch, each job's CSV streamed in pages of `pageSize` rows.
   *
   * `nextCursor` of a page inside a job is the cursor that starts that job again (a job's rows
   * cannot be resumed midway); on a job's last page it is the next job's cursor. Resuming therefore
   * re-reads at most one job (upserts are idempotent), and works while Zoho keeps the cursor (15
   * minutes [doc]); an expired cursor is refused with HTTP 400, which the worker answers by
   * listing again.
   *
   * @returns `fallback` when Bulk Read is unavailable (missing bulk scope, HTTP 401 code 2945 [doc];
   *   or a record shape the CSV cannot carry) before any page was yielded; the caller then lists
   *   page by page. The reason is logged once per source.
   */
  private async *bulkList<T>(
    spec: ListSpec<T>,
    normaliser: ZohoRecordNormaliser,
    criteria: string | undefined,
    start: BulkCursorState | undefined,
    options: ListOptions,
  ): AsyncGenerator<SourcePage<T>, 'done' | 'fallback', undefined> {
    const report = this.options.registrationsReport;
    const call = { signal: options.signal, retries: checkRetries(options.retries), callBudget: options.callBudget, budget: options.callBudget };
    const lookup = this.options.eventLookupField;
    let shape: BulkRecordShape | undefined;
    let events: ReadonlyMap<string, Readonly<Record<string, unknown>>> = new Map();
    if (spec.bulk === 'records') {
      try {
        if (this.eventRows === undefined) await this.listEvents(call);
        events = this.eventRows ?? new Map();
        shape = this.bulkShape ?? (await this.learnBulkShape(events, call));
        this.bulkShape = shape;
      } catch (error) {
        if (!(error instanceof BulkShapeError)) throw error;
        this.disableBulk(`the report's records cannot be rebuilt from Bulk Read CSV (${error.message})`);
        return 'fallback';
      }
    }
    const fields = spec.bulk === 'stamps' ? ['ID', MODIFIED_TIME_FIELD, lookup] : undefined;
    let pageNumber = start?.page ?? 1;
    let cursor = start?.cursor;
    let yielded = false;
    // The next job is created (and waited for) while this one's rows are read and written: its
    // calls and waits overlap the work instead of following it. Created only once the current job's
    // result opened (its cursor known), so at most one job is ahead; a listing closed early leaves
    // that job unread (one create call and its status polls).
    let ahead: Promise<PreparedBulkJob> | undefined;
    for (;;) {
      const jobStart = encodeBulkCursor(pageNumber, cursor);
      let job: BulkJobResult;
      try {
        const prepared = await (ahead ?? this.bulk.prepare(report, { criteria, fields, recordCursor: cursor }, spec.kind, call));
        ahead = undefined;
        job = await this.bulk.open(report, prepared, spec.kind, this.pageSize, call);
      } catch (error) {
        if (!yielded && isScopeRefusal(error)) {
          this.disableBulk('the token lacks the ZohoCreator.bulk.CREATE / ZohoCreator.bulk.READ scope (code 2945)');
          return 'fallback';
        }
        throw error;
      }
      if (job.nextCursor !== undefined) {
        ahead = this.bulk.prepare(report, { criteria, fields, recordCursor: job.nextCursor }, spec.kind, call);
        // Awaited at the next job; until then a failure must not count as unhandled.
        ahead.catch(() => undefined);
      }
      const header = job.header;
      const toRows = (batch: readonly string[][]): unknown[] =>
        batch.map((cells) => {
          if (shape !== undefined) return shape.toRecord(header, cells, events);
          const row: Record<string, unknown> = {};
          for (let i = 0; i < header.length; i++) row[header[i]!] = cells[i] ?? '';
          return row;
        });
      let pending: string[][] | undefined;
      for await (const batch of job.batches) {
        if (pending !== undefined) {
          const { items, rejected } = spec.normalise(normaliser, toRows(pending));
          yield { items, rejected, pageNumber: pageNumber++, nextCursor: jobStart };
          yielded = true;
        }
        pending = batch;
      }
      if (pending !== undefined) {
        const { items, rejected } = spec.normalise(normaliser, toRows(pending));
        const next = job.nextCursor === undefined ? undefined : encodeBulkCursor(pageNumber + 1, job.nextCursor);
        yield { items, rejected, pageNumber: pageNumber++, nextCursor: next };
        yielded = true;
      }
      if (job.nextCursor === undefined) break;
      cursor = job.nextCursor;
    }
    if (!yielded) yield { items: [], rejected: [], pageNumber, nextCursor: undefined };
    return 'done';
  }

  /** One Get Records call of 200 records (`field_config=all`): the JSON shape bulk CSV rows are rebuilt into. */
  private async learnBulkShape(
    events: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
    call: SourceCallOptions,
  ): Promise<BulkRecordShape> {
    const report = this.options.registrationsReport;
    const result = await this.get(call, {
      url: this.reportUrl(report, { field_config: 'all', max_records: '200' }),
      kind: 'records',
      endpoint: report,
      retries: call.retries,
      expectData: 'array',
    });
    const rows = result.outcome === 'ok' ? (result.body.data as unknown[]) : [];
    return BulkRecordShape.learn(rows.map(withStringIds), this.options.eventLookupField, events);
  }

  private disableBulk(reason: string): void {
    this.bulkUnavailable = reason;
    this.logger.warn(`Zoho Bulk Read unavailable: ${reason}; listing page by page instead`, {
      report: this.options.registrationsReport,
    });
  }

  /** Whether bulk listings are available (`undefined`), or why not. */
  getBulkReadUnavailableReason(): string | undefined {
    return this.bulkUnavailable;
  }

  private async normaliser(options: SourceCallOptions): Promise<ZohoRecordNormaliser> {
    if (this.recordNormaliser !== undefined) return this.recordNormaliser;
    const codec = await this.getCodec(options);
    this.recordNormaliser = new ZohoRecordNormaliser({ codec, eventLookupField: this.options.eventLookupField });
    return this.recordNormaliser;
  }

  /** The app's date-time codec: from the options, or from one (cached, single-flight) meta call. */
  private getCodec(options: SourceCallOptions): Promise<ZohoDateTimeCodec> {
    if (this.codec !== undefined) return Promise.resolve(this.codec);
    if (this.codecPromise === undefined) {
      const pending = this.fetchCodec(options).then(
        (codec) => {
          this.codec = codec;
          return codec;
        },
        (error: unknown) => {
          if (this.codecPromise === pending) this.codecPromise = undefined;
          throw error;
        },
      );
      this.codecPromise = pending;
    }
    return this.codecPromise;
  }

  /**
   * `GET /creator/v2.1/meta/applications` → the app whose `link_name` is `appLinkName` (and,
   * when several, whose `workspace_name` is `accountOwner`). The v2 path and the response shape
   * `{code: 3000, applications: [{link_name, workspace_name, date_format, time_zone}]}` are [doc]
   * (OAS-v2); the v2.1 path is [code] (used by public clients).
   */
  private async fetchCodec(options: SourceCallOptions): Promise<ZohoDateTimeCodec> {
    const result = await this.get(options, {
      url: `${this.apiBaseUrl}/creator/v2.1/meta/applications`,
      kind: 'meta',
      endpoint: 'meta/applications',
      retries: options.retries,
    });
    const apps = result.outcome === 'ok' ? result.body.applications : [];
    if (!Array.isArray(apps)) {
      throw new ZohoApiError('Zoho meta/applications answered without an applications list', {
        httpStatus: result.httpStatus,
        endpoint: 'meta/applications',
        code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
      });
    }
    const matches = apps.filter((app): app is Record<string, unknown> => isPlainObject(app) && app.link_name === this.options.appLinkName);
    const app = matches.find((a) => a.workspace_name === this.options.accountOwner) ?? matches[0];
    if (app === undefined) {
      throw new ConfigError(
        'appLinkName',
        `Zoho lists no application with link name ${JSON.stringify(this.options.appLinkName)} for this token`,
      );
    }
    const dateFormat = this.options.dateFormat ?? app.date_format;
    const timeZone = this.options.timeZone ?? app.time_zone;
    if (typeof dateFormat !== 'string' || typeof timeZone !== 'string') {
      throw new ZohoApiError(`Zoho meta/applications gives no date_format/time_zone for ${this.options.appLinkName}`, {
        httpStatus: result.httpStatus,
        endpoint: 'meta/applications',
        code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
      });
    }
    return new ZohoDateTimeCodec(dateFormat, timeZone);
  }

  private reportPath(report: string): string {
    const { accountOwner, appLinkName } = this.options;
    return `${this.apiBaseUrl}/creator/v2.1/data/${encodeURIComponent(accountOwner)}/${encodeURIComponent(appLinkName)}/report/${encodeURIComponent(report)}`;
  }

  /**
   * Report URL with `max_records` and the given parameters. Every value is URL-encoded whole
   * (an unencoded `&&` in criteria would split the query string — [inferred]).
   */
  private reportUrl(report: string, params: Readonly<Record<string, string>>): string {
    const query = new URLSearchParams({ max_records: String(this.pageSize), ...params });
    // URLSearchParams writes spaces as '+'; the reference's encoded example uses %20, which every
    // server decodes as a space, so send that (a literal '+' is already %2B).
    return `${this.reportPath(report)}?${query.toString().replace(/\+/g, '%20')}`;
  }
}

/** How one listing differs from another. */
interface ListSpec<T> {
  /** What the requests count as. */
  readonly kind: ZohoCallKind;
  /** `field_config` / `fields`. */
  readonly params: Readonly<Record<string, string>>;
  /** Extra input checks, run before any call. */
  readonly validate?: () => void;
  /** What a bulk listing of this kind exports: whole records, or ID/Modified_Time/lookup stamps; absent = no bulk listing. */
  readonly bulk?: 'records' | 'stamps';
  /** A criterion ANDed with the event filter. */
  readonly criteria?: (codec: ZohoDateTimeCodec) => string;
  /** Rows → items and rejections. */
  readonly normalise: (normaliser: ZohoRecordNormaliser, rows: readonly unknown[], readAt?: number) => NormalisedRows<T>;
}

/** Where a bulk listing (re)starts: the page number of the job's first page and its `record_cursor` (none for the first job). */
interface BulkCursorState {
  readonly page: number;
  readonly cursor: string | undefined;
}

const BULK_CURSOR_PREFIX = 'bulk:';

/** A bulk listing's opaque cursor: `bulk:<page>:<record_cursor>` (Zoho's cursors are alphanumeric [doc], so no clash with paged cursors). */
function encodeBulkCursor(page: number, cursor: string | undefined): string {
  return `${BULK_CURSOR_PREFIX}${page}:${cursor ?? ''}`;
}

function isBulkCursor(cursor: string | undefined): boolean {
  return typeof cursor === 'string' && cursor.startsWith(BULK_CURSOR_PREFIX);
}

function parseBulkCursor(cursor: string | undefined): BulkCursorState | undefined {
  if (!isBulkCursor(cursor)) return undefined;
  const match = /^bulk:(\d{1,9}):(.*)$/s.exec(cursor as string);
  if (!match) return undefined;
  const page = Number(match[1]);
  if (page < 1) return undefined;
  return { page, cursor: match[2] === '' ? undefined : match[2] };
}

/** HTTP 401 code 2945: the token lacks the scope (here `ZohoCreator.bulk.CREATE` / `.READ`) [doc: OAS-v2]. */
function isScopeRefusal(error: unknown): boolean {
  return error instanceof ZohoApiError && error.zohoCode === 2945;
}

/** Per-call `retries`: `undefined` (source default) or an integer ≥ 0. */
function checkRetries(retries: unknown): number | undefined {
  if (retries === undefined) return undefined;
  if (typeof retries !== 'number' || !Number.isSafeInteger(retries) || retries < 0) {
    throw new InvalidInputError(`\`retries\` must be an integer ≥ 0, got ${String(retries)}`);
  }
  return retries;
}

/**
 * Criteria selecting records of the given events: `(Event == 1 || Event == 2)`. Lookup fields
 * compare with the bare ID number ([code]: public widget code), IDs are validated digits.
 */
function eventCriteria(field: string, eventIds: readonly string[]): string {
  return `(${eventIds.map((id) => `${field} == ${id}`).join(' || ')})`;
}

/** Joins criteria with `&&`, skipping absent parts; `undefined` when none. */
function allOf(...parts: (string | undefined)[]): string | undefined {
  const present = parts.filter((p): p is string => p !== undefined && p !== '');
  return present.length === 0 ? undefined : present.join(' && ');
}

/**
 * Validates and de-duplicates `eventIds`, then splits them into chunks of at most
 * {@link MAX_EVENT_IDS_PER_CRITERIA}. `undefined` (no filter) → one `undefined` chunk; `[]` → none.
 */
function eventChunks(eventIds: readonly string[] | undefined): (readonly string[] | undefined)[] {
  if (eventIds === undefined) return [undefined];
  if (!Array.isArray(eventIds)) throw new InvalidInputError('`eventIds` must be an array of ID strings');
  const unique = [...new Set<unknown>(eventIds)];
  for (const id of unique) {
    if (!isZohoId(id)) throw new InvalidInputError(`Event ID must be 1–19 digits, got ${JSON.stringify(id)}`);
  }
  const ids = unique as string[];
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += MAX_EVENT_IDS_PER_CRITERIA) chunks.push(ids.slice(i, i + MAX_EVENT_IDS_PER_CRITERIA));
  return chunks;
}
