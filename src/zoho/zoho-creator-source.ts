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
import { IANAZone } from 'luxon';
import type {
  ApiCallCounts,
  ListOptions,
  RecordStamp,
  SourceAdapter,
  SourceCallOptions,
  SourceEvent,
  SourcePage,
  SourceRecord,
} from '../adapters/source.js';
import { ConfigError, InvalidInputError, SyncErrorCode, ZohoApiError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { type ZohoDataCentre, isZohoDataCentre, resolveDataCentreHosts } from './data-centres.js';
import { ZohoDateTimeCodec } from './date-time.js';
import {
  DEFAULT_ZOHO_MIN_RETRY_DELAY_MS,
  DEFAULT_ZOHO_RATE_LIMIT_PAUSE_MS,
  DEFAULT_ZOHO_RETRIES,
  DEFAULT_ZOHO_TIMEOUT_MS,
  type FetchFunction,
  type ZohoCallKind,
  ZohoHttpClient,
  type ZohoQuotaState,
  isPlainObject,
} from './http-client.js';
import {
  MODIFIED_TIME_FIELD,
  type NormalisedRows,
  ZohoRecordNormaliser,
  isZohoId,
  toSourceEvents,
} from './record-normaliser.js';
import { ZohoTokenManager } from './token-manager.js';

/** Records per request Zoho v2.1 accepts (`max_records`; 200 default, 1000 maximum [doc]; the 200/500/1000 set is [inferred]). */
export type ZohoPageSize = 200 | 500 | 1000;

/**
 * At most this many event IDs go into one `criteria` value; longer lists are split into chunks
 * read one after another. Zoho documents no criteria length limit; public code chunks ID lists
 * to 60 ([code]), so 50 keeps a margin — [inferred].
 */
export const MAX_EVENT_IDS_PER_CRITERIA = 50;

/** The option names {@link ZohoCreatorSource} accepts; any other key is a typo and throws `ConfigError`. */
export const ZOHO_SOURCE_OPTION_KEYS: readonly string[] = [
  'accountOwner',
  'appLinkName',
  'eventsReport',
  'registrationsReport',
  'eventLookupField',
  'clientId',
  'clientSecret',
  'refreshToken',
  'dataCentre',
  'apiBaseUrl',
  'accountsBaseUrl',
  'dateFormat',
  'timeZone',
  'pageSize',
  'timeoutMs',
  'retries',
  'minRetryDelayMs',
  'rateLimitPauseMs',
  'fetch',
  'logger',
];

/** Options of {@link ZohoCreatorSource}. */
export interface ZohoCreatorSourceOptions {
  /** Account owner name (workspace) in the API path, e.g. `jason18`. */
  readonly accountOwner: string;
  /** Application link name, e.g. `event-management`. */
  readonly appLinkName: string;
  /** Link name of the report listing events (partitions), e.g. `All_Events`. */
  readonly eventsReport: string;
  /** Link name of the report listing registrations (records), e.g. `All_Registrations`. */
  readonly registrationsReport: string;
  /** Link name of the lookup field on a registration that points at its event, e.g. `Event`. Letters, digits, `_`. */
  readonly eventLookupField: string;
  /** OAuth client ID. */
  readonly clientId: string;
  /** OAuth client secret. Never logged. */
  readonly clientSecret: string;
  /** OAuth refresh token (scopes `ZohoCreator.report.READ`, plus `ZohoCreator.dashboard.READ` when the meta call is needed). Never logged. */
  readonly refreshToken: string;
  /** Data centre. @defaultValue `'com'` */
  readonly dataCentre?: ZohoDataCentre | undefined;
  /** API host override, e.g. a simulator's `http://127.0.0.1:4010`. @defaultValue `https://www.zohoapis.<dataCentre>` */
  readonly apiBaseUrl?: string | undefined;
  /** Accounts host override. @defaultValue the DC's accounts server, e.g. `https://accounts.zoho.com` */
  readonly accountsBaseUrl?: string | undefined;
  /** The app's `date_format`, e.g. `dd-MMM-yyyy`. With `timeZone` given too, no meta call is made. @defaultValue read from `/meta/applications` */
  readonly dateFormat?: string | undefined;
  /** The app's IANA `time_zone`, e.g. `Europe/Berlin`. @defaultValue read from `/meta/applications` */
  readonly timeZone?: string | undefined;
  /** Records per request (`max_records`). Unit: records. @defaultValue 1000 */
  readonly pageSize?: ZohoPageSize | undefined;
  /** Timeout per HTTP request. Unit: ms. @defaultValue 30 000 */
  readonly timeoutMs?: number | undefined;
  /** Retries per call for retryable failures (network, timeout, 5xx, 429, malformed body). @defaultValue 3 */
  readonly retries?: number | undefined;
  /** First backoff delay, doubled per retry and randomised ×1–2. Unit: ms. @defaultValue 500 */
  readonly minRetryDelayMs?: number | undefined;
  /** Minimum wait after HTTP 429 / code 2955 before retrying. Unit: ms. @defaultValue 60 000 */
  readonly rateLimitPauseMs?: number | undefined;
  /** `fetch` implementation. @defaultValue `globalThis.fetch` */
  readonly fetch?: FetchFunction | undefined;
  /** Logger (never receives tokens or secrets). @defaultValue silent */
  readonly logger?: Logger | undefined;
}

/**
 * Reads events and registrations from Zoho Creator.
 *
 * - IDs are exact digit strings (bare numeric IDs beyond 2^53 are parsed losslessly).
 * - Listings are lazy: one request per page, `record_cursor` header chained.
 * - Failures are typed: `ZohoApiError` (HTTP status, Zoho code/message, report name),
 *   `ZohoAuthError` (token refused), `AbortedError`, `InvalidInputError` (bad IDs);
 *   code 3100 is an empty listing, never an error, and no error is ever read as "no records".
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

  private readonly options: ZohoCreatorSourceOptions;
  private readonly apiBaseUrl: string;
  private readonly pageSize: ZohoPageSize;
  private readonly logger: Logger;
  private readonly tokens: ZohoTokenManager;
  private readonly client: ZohoHttpClient;
  private codec: ZohoDateTimeCodec | undefined;
  private codecPromise: Promise<ZohoDateTimeCodec> | undefined;
  private recordNormaliser: ZohoRecordNormaliser | undefined;

  /**
   * @throws ConfigError naming the first invalid option (missing names or credentials, unknown
   *   `dataCentre`, a base URL that is not http(s), an unsupported `dateFormat`, an unknown
   *   `timeZone`, `pageSize` not 200/500/1000, negative or non-integer numbers).
   */
  constructor(options: ZohoCreatorSourceOptions) {
    if (!isPlainObject(options)) throw new ConfigError('options', 'ZohoCreatorSource needs an options object');
    for (const key of Object.keys(options)) {
      if (ZOHO_SOURCE_OPTION_KEYS.includes(key)) continue;
      const hint = key === 'dataCenter' ? ' (did you mean `dataCentre`?)' : '';
      throw new ConfigError(key, `Unknown ZohoCreatorSource option \`${key}\`${hint}`);
    }
    for (const key of [
      'accountOwner',
      'appLinkName',
      'eventsReport',
      'registrationsReport',
      'eventLookupField',
      'clientId',
      'clientSecret',
      'refreshToken',
    ] as const) {
      const value: unknown = options[key];
      if (typeof value !== 'string' || value.trim() === '') {
        throw new ConfigError(key, `\`${key}\` must be a non-empty string`);
      }
    }
    // The lookup field goes into criteria and `fields=` unquoted: allow link-name characters only.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.eventLookupField)) {
      throw new ConfigError('eventLookupField', '`eventLookupField` must be a Zoho field link name (letters, digits, _)');
    }
    const dataCentre = options.dataCentre ?? 'com';
    if (!isZohoDataCentre(dataCentre)) {
      throw new ConfigError('dataCentre', `\`dataCentre\` must be one of com, eu, in, com.au, jp, ca, com.cn, sa; got ${JSON.stringify(dataCentre)}`);
    }
    checkUrl('apiBaseUrl', options.apiBaseUrl);
    checkUrl('accountsBaseUrl', options.accountsBaseUrl);
    if (options.timeZone !== undefined && (typeof options.timeZone !== 'string' || !IANAZone.isValidZone(options.timeZone))) {
      throw new ConfigError('timeZone', `\`timeZone\` must be an IANA time zone name, got ${JSON.stringify(options.timeZone)}`);
    }
    if (options.dateFormat !== undefined) new ZohoDateTimeCodec(options.dateFormat, 'UTC'); // throws ConfigError('dateFormat')
    const pageSize = options.pageSize ?? 1000;
    if (pageSize !== 200 && pageSize !== 500 && pageSize !== 1000) {
      throw new ConfigError('pageSize', `\`pageSize\` must be 200, 500 or 1000; got ${JSON.stringify(pageSize)}`);
    }
    checkInteger('timeoutMs', options.timeoutMs, 1);
    checkInteger('retries', options.retries, 0);
    checkInteger('minRetryDelayMs', options.minRetryDelayMs, 0);
    checkInteger('rateLimitPauseMs', options.rateLimitPauseMs, 0);
    if (options.fetch !== undefined && typeof options.fetch !== 'function') {
      throw new ConfigError('fetch', '`fetch` must be a function');
    }
    if (options.logger !== undefined && !isLogger(options.logger)) {
      throw new ConfigError('logger', '`logger` must have debug, info, warn and error methods');
    }

    this.options = options;
    this.pageSize = pageSize;
    this.logger = options.logger ?? silentLogger;
    const hosts = resolveDataCentreHosts(dataCentre, options);
    this.apiBaseUrl = hosts.apiBaseUrl;
    const common = {
      fetch: options.fetch,
      timeoutMs: options.timeoutMs ?? DEFAULT_ZOHO_TIMEOUT_MS,
      retries: options.retries ?? DEFAULT_ZOHO_RETRIES,
      minRetryDelayMs: options.minRetryDelayMs ?? DEFAULT_ZOHO_MIN_RETRY_DELAY_MS,
      logger: this.logger,
    };
    this.tokens = new ZohoTokenManager({
      ...common,
      accountsBaseUrl: hosts.accountsBaseUrl,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      refreshToken: options.refreshToken,
    });
    this.client = new ZohoHttpClient({
      ...common,
      tokens: this.tokens,
      rateLimitPauseMs: options.rateLimitPauseMs ?? DEFAULT_ZOHO_RATE_LIMIT_PAUSE_MS,
    });
    if (options.dateFormat !== undefined && options.timeZone !== undefined) {
      this.codec = new ZohoDateTimeCodec(options.dateFormat, options.timeZone);
    }
  }

  /**
   * Lists every event: all pages of the events report (`field_config=all`). Rows without a
   * valid `ID` are skipped with a warning. Counted as `meta` calls.
   *
   * @throws ZohoApiError, ZohoAuthError, AbortedError.
   */
  async listEvents(options: SourceCallOptions = {}): Promise<SourceEvent[]> {
    const retries = checkRetries(options.retries);
    const events: SourceEvent[] = [];
    const url = this.reportUrl(this.options.eventsReport, { field_config: 'all' });
    let cursor: string | undefined;
    for (;;) {
      const result = await this.client.get({
        url,
        kind: 'meta',
        endpoint: this.options.eventsReport,
        cursor,
        signal: options.signal,
        retries,
        expectData: 'array',
      });
      const rows = result.outcome === 'ok' ? (result.body.data as unknown[]) : [];
      const page = toSourceEvents(rows);
      events.push(...page.events);
      if (page.invalid.length > 0) {
        this.logger.warn('zoho events without a valid ID skipped', {
          report: this.options.eventsReport,
          skipped: page.invalid.length,
        });
      }
      cursor = result.outcome === 'ok' ? result.recordCursor : undefined;
      if (cursor === undefined || rows.length === 0) return events;
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
   * @throws InvalidInputError (bad `eventIds`, `cursor` with more than 50 `eventIds`),
   *   ZohoApiError, ZohoAuthError, ConfigError (app not found by the meta call), AbortedError —
   *   all through the iteration.
   */
  readRecords(options: ListOptions = {}): AsyncIterable<SourcePage<SourceRecord>> {
    return this.list(options, {
      kind: 'records',
      params: { field_config: 'all' },
      normalise: (n, rows) => n.toRecords(rows),
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
      criteria: (codec) => `(${MODIFIED_TIME_FIELD} >= '${codec.format(since)}')`,
      normalise: (n, rows) => n.toRecords(rows),
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
    const retries = checkRetries(options.retries);
    const normaliser = await this.normaliser(options);
    const report = this.options.registrationsReport;
    const result = await this.client.get({
      url: `${this.reportPath(report)}/${recordId}`,
      kind: 'records',
      endpoint: report,
      signal: options.signal,
      retries,
      expectData: 'object',
      allowNoSuchRecord: true,
    });
    if (result.outcome !== 'ok') return undefined;
    const { record, rejection } = normaliser.toRecord(result.body.data);
    if (record !== undefined) return record;
    throw new ZohoApiError(`Zoho record ${recordId} of ${report} cannot be accepted: ${rejection.reason} (${rejection.detail})`, {
      httpStatus: result.httpStatus,
      zohoCode: 3000,
      endpoint: report,
      code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
    });
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

  private async *list<T>(options: ListOptions, spec: ListSpec<T>): AsyncGenerator<SourcePage<T>, void, undefined> {
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
    const normaliser = await this.normaliser(options);
    const base = spec.criteria?.(normaliser.codec);
    const report = this.options.registrationsReport;
    let pageNumber = startPage;
    let yielded = false;

    for (const chunk of chunks) {
      const criteria = allOf(base, chunk === undefined ? undefined : eventCriteria(this.options.eventLookupField, chunk));
      const url = this.reportUrl(report, criteria === undefined ? spec.params : { ...spec.params, criteria });
      let cursor = chunk === chunks[0] ? options.cursor : undefined;
      for (;;) {
        const result = await this.client.get({
          url,
          kind: spec.kind,
          endpoint: report,
          cursor,
          signal,
          retries,
          expectData: 'array',
        });
        if (result.outcome !== 'ok') break; // 3100: no (more) records
        const rows = result.body.data as unknown[];
        // Defensive: an empty page ends the chain even if a cursor came with it (public widget code does the same).
        if (rows.length === 0) break;
        const { items, rejected } = spec.normalise(normaliser, rows);
        yield { items, rejected, pageNumber: pageNumber++, nextCursor: result.recordCursor };
        yielded = true;
        if (result.recordCursor === undefined) break;
        cursor = result.recordCursor;
      }
    }
    if (!yielded) yield { items: [], rejected: [], pageNumber, nextCursor: undefined };
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
    const result = await this.client.get({
      url: `${this.apiBaseUrl}/creator/v2.1/meta/applications`,
      kind: 'meta',
      endpoint: 'meta/applications',
      signal: options.signal,
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
  /** A criterion ANDed with the event filter. */
  readonly criteria?: (codec: ZohoDateTimeCodec) => string;
  /** Rows → items and rejections. */
  readonly normalise: (normaliser: ZohoRecordNormaliser, rows: readonly unknown[]) => NormalisedRows<T>;
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

function checkUrl(option: string, value: unknown): void {
  if (value === undefined) return;
  let ok = false;
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      ok = url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new ConfigError(option, `\`${option}\` must be an http(s) URL, got ${JSON.stringify(value)}`);
}

function checkInteger(option: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(option, `\`${option}\` must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

function isLogger(value: unknown): value is Logger {
  if (!isPlainObject(value)) return false;
  return ['debug', 'info', 'warn', 'error'].every((m) => typeof value[m] === 'function');
}
