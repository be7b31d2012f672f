/**
 * The source contract: where records come from. {@link ZohoCreatorSource} implements it for Zoho
 * Creator; anyone can implement it for another system and hand it to `SyncWorker`.
 *
 * Vocabulary: an *event* is a partition (a row of the events report); a *record* is a registration
 * that belongs to exactly one event through a lookup field. Record and event IDs are strings of
 * 1–19 digits everywhere (Zoho IDs exceed 2^53, so numbers would lose digits).
 */

/** One record (a registration) as read from the source. */
export interface SourceRecord {
  /** The record ID, 1–19 digits, kept as the exact digit string. */
  readonly id: string;
  /** The ID of the event the record belongs to (from the lookup field). */
  readonly eventId: string;
  /**
   * Modification instant in epoch milliseconds (Zoho: `Modified_Time` read in the app's time zone;
   * second resolution). When the wall-clock text is ambiguous (it falls in the repeated hour of a
   * DST fall-back), the earliest instant it can denote.
   */
  readonly modifiedAt: number;
  /**
   * The latest instant the modification time can denote (epoch ms), present only when it differs
   * from {@link SourceRecord.modifiedAt}: a Zoho `Modified_Time` in the repeated hour of a DST
   * fall-back (`01:10` is both 05:10Z and 06:10Z on the New York fall-back day). Omitted (or equal)
   * means the time is unambiguous. Sinks with the `ordering` capability refuse a version only when
   * this latest reading is older than what they hold, so a later edit made in the second pass of
   * the hour (an earlier-looking string) is never refused. Source: `ZohoDateTimeCodec.parseInterval`.
   */
  readonly modifiedAtLatest?: number | undefined;
  /**
   * When the source asked for this version (epoch ms, this host's clock): the start of the request
   * that returned it. A tombstone guards against versions read before the delete was seen; a
   * version read after it (`readAt` later than the tombstone's stamp) is what the source holds now,
   * and wins. Omitted: the tombstone applies. `ZohoCreatorSource` sets it for paged listings and
   * reads by ID.
   */
  readonly readAt?: number | undefined;
  /** The record as the source sent it, IDs as strings. This is what the sink stores. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** A record's identity and version only: what an ID-only listing returns. */
export interface RecordStamp {
  /** The record ID, 1–19 digits. */
  readonly id: string;
  /** The event the record belongs to. */
  readonly eventId: string;
  /** Modification instant in epoch milliseconds. */
  readonly modifiedAt: number;
}

/** One event (a partition) as read from the source. */
export interface SourceEvent {
  /** The event ID, 1–19 digits. */
  readonly id: string;
  /** The event row as the source sent it. */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Why a raw record could not be accepted: no ID; an ID that is not 1–19 digits; no usable event;
 * an unreadable modification time; JSON larger than `maxRecordBytes`; nested deeper than
 * {@link MAX_RECORD_DEPTH} levels; data that JSON cannot encode (a cycle, a `bigint`, not an object).
 */
export type RejectionReason =
  | 'missing-id'
  | 'invalid-id'
  | 'missing-event'
  | 'invalid-modified-time'
  | 'too-large'
  | 'too-deep'
  | 'unencodable';

/**
 * Deepest nesting of objects and arrays a record may have (the record itself is level 1). Zoho
 * records nest a few levels (subform rows holding lookups); a deeper one is pathological and would
 * overflow recursive code (JSON encoders, the normaliser), so it is dead-lettered as `too-deep`.
 * Unit: levels.
 */
export const MAX_RECORD_DEPTH = 100;

/** A raw record the source (or the worker) could not accept; it goes to the dead-letter stream, the rest of the page is kept. */
export interface RejectedRecord {
  /** Why it was rejected. */
  readonly reason: RejectionReason;
  /** A human-readable detail (e.g. the offending value). */
  readonly detail: string;
  /** The event it seems to belong to, when that could be read; otherwise `undefined`. */
  readonly eventId: string | undefined;
  /** The raw record as received. */
  readonly raw: unknown;
}

/**
 * One page of a paged listing. Pages arrive in order; `nextCursor` is the opaque cursor that
 * fetches the page after this one (Zoho: the `record_cursor` response header), `undefined` on the
 * last page.
 */
export interface SourcePage<T> {
  /** The accepted items of this page. */
  readonly items: readonly T[];
  /** Raw items that failed validation (see {@link RejectedRecord}). */
  readonly rejected: readonly RejectedRecord[];
  /** 1-based page number within this listing (a resumed listing continues the count). */
  readonly pageNumber: number;
  /** Cursor for the next page, or `undefined` when this page is the last. */
  readonly nextCursor: string | undefined;
}

/**
 * A ceiling on the requests one run may send, shared by every call of that run (the worker's
 * `maxCallsPerRun`). A source that honours it calls {@link CallBudget.spend} before each request.
 */
export interface CallBudget {
  /**
   * Counts one request about to be sent (retries included). Throws `CallLimitError` instead when
   * the ceiling is reached, so that request is not sent.
   */
  spend(): void;
  /**
   * Waits until a shared rate limit admits the request about to be sent (distributed mode's
   * per-request Zoho budget). A source that declares {@link SourceAdapter.gatesEachRequest} awaits
   * it after `spend()` before every request it sends — retries, re-sends and each Bulk Read call
   * (create, status poll, download) included — passing `continuation: true` for a request that
   * continues a listing already under way (a `record_cursor`, a bulk job's status poll, download
   * or next job), which the limiter admits first. Optional.
   * @throws `AbortedError` when `signal` aborts while waiting.
   */
  admit?(request: { readonly signal?: AbortSignal | undefined; readonly continuation: boolean }): Promise<void>;
  /** Told when Zoho answered a request with its per-minute limit (HTTP 429 / code 2955), before the source waits and retries. Optional. */
  rateLimited?(): void;
}

/** Options every source call accepts. */
export interface SourceCallOptions {
  /** Aborts the call (and any wait between retries) promptly. */
  readonly signal?: AbortSignal | undefined;
  /** Retries per call for retryable failures; the source's own default when omitted. */
  readonly retries?: number | undefined;
  /** The run's call ceiling; a source that sends requests should call `spend()` before each one. */
  readonly callBudget?: CallBudget | undefined;
}

/** Options of a paged listing. */
export interface ListOptions extends SourceCallOptions {
  /** Resume a listing from a cursor returned earlier in `nextCursor`. */
  readonly cursor?: string | undefined;
  /** Page number of the page the cursor fetches (for the count in {@link SourcePage.pageNumber}); default 1. */
  readonly startPage?: number | undefined;
  /** Restrict the listing to these events; omitted = every event in the report. */
  readonly eventIds?: readonly string[] | undefined;
  /**
   * How to list: `paged` (one call per page) or `bulk` (an asynchronous export, e.g. Zoho's Bulk
   * Read: a few calls per 200,000 records). A hint: a source without a bulk API lists page by page,
   * and so does one whose bulk API is unavailable (missing scope). A `cursor` from a bulk listing
   * resumes a bulk listing whatever this says. @defaultValue `'paged'`
   */
  readonly listing?: 'paged' | 'bulk' | undefined;
}

/** Calls made to the source, by kind (units: calls). */
export interface ApiCallCounts {
  /** Token mints (OAuth refresh-token grants). */
  token: number;
  /** Full-record listings and single-record reads. */
  records: number;
  /** ID-only listings (ID and modification time). */
  ids: number;
  /** Metadata calls (application settings, events list). */
  meta: number;
  /** Sum of the above. */
  total: number;
}

/** One listing a run would make, for {@link SourceAdapter.estimateCalls}. */
export interface ListingEstimate {
  /** `records` (full records), `ids` (ID-only), `changes` (records modified since the watermark). */
  readonly kind: 'records' | 'ids' | 'changes';
  /** How the run would list. */
  readonly listing: 'paged' | 'bulk';
  /** Records the listing is expected to return. Unit: records. */
  readonly records: number;
  /** Events the listing is restricted to; omitted = the whole report. */
  readonly eventCount?: number | undefined;
  /**
   * The listing resumes from a checkpoint at this 1-based page (the pages before it were read by
   * an earlier run and are not fetched again). Omitted = from the first page.
   */
  readonly fromPage?: number | undefined;
}

/** What a run would ask the source for, for {@link SourceAdapter.estimateCalls}. */
export interface CallEstimateRequest {
  /** Events the events list would return (it is read once per run); `undefined` = no events list. Unit: events. */
  readonly events: number | undefined;
  /** The listings, in order. */
  readonly listings: readonly ListingEstimate[];
}

/** A call estimate by kind (units: calls), and whether it is exact given exact record counts. */
export interface CallEstimate extends ApiCallCounts {
  /** False when the count depends on something only the run sees (bulk job status polls, the number of changes). */
  readonly exact: boolean;
  /**
   * The listing each requested listing would actually use, in request order: `paged` for a
   * requested `bulk` listing the source will list page by page (Bulk Read refused earlier, e.g. the
   * token lacks the bulk scope; a `changes` listing; more events than one criteria names).
   * Omitted by sources that do not say.
   */
  readonly listings?: readonly ('paged' | 'bulk')[] | undefined;
  /** Why a requested bulk listing would be paged, when one would be. */
  readonly bulkFallback?: string | undefined;
}

/**
 * A source of events and records. Implementations must:
 * - keep IDs as strings;
 * - yield pages lazily (an `AsyncIterable`), never buffering a whole listing;
 * - throw typed {@link SyncError}s (never return an empty page for a failure);
 * - stop promptly when `signal` aborts.
 */
export interface SourceAdapter {
  /** A short name for logs, e.g. `zoho-creator`. */
  readonly name: string;
  /**
   * `true` when the source awaits `callBudget.admit()` before every request it sends (see
   * {@link CallBudget.admit}), so a shared rate limit can count requests rather than source calls
   * (a Bulk Read page is several requests). Otherwise a limiter counts one slot per call or page.
   */
  readonly gatesEachRequest?: boolean | undefined;

  /**
   * Lists every event. Throws a `SyncError` on failure.
   */
  listEvents(options?: SourceCallOptions): Promise<SourceEvent[]>;

  /**
   * Streams full records page by page (Zoho: Get Records v2.1 with `record_cursor`).
   * An empty source yields no page or one empty page.
   */
  readRecords(options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>>;

  /**
   * Streams only IDs and modification times page by page: the cheap listing that reconciliation
   * and deletion detection use (Zoho: `field_config=custom&fields=ID,Modified_Time,<lookup>`).
   */
  readStamps(options?: ListOptions): AsyncIterable<SourcePage<RecordStamp>>;

  /**
   * Streams records modified at or after `since` (epoch ms, inclusive), page by page.
   * The watermark arithmetic (overlap) is the caller's; the source formats the instant in its own
   * time zone and format.
   */
  readChangedSince(since: number, options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>>;

  /**
   * Reads one record by ID. Resolves `undefined` when the source has no such record
   * (Zoho: code 3190), throws a `SyncError` on any other failure.
   */
  getRecord(recordId: string, options?: SourceCallOptions): Promise<SourceRecord | undefined>;

  /**
   * Reads several records by ID in one listing (Zoho: criteria `(ID == a || ID == b …)`), at most
   * 200 IDs per call. IDs the source does not hold are simply absent from `items`. Optional: the
   * push applier falls back to {@link SourceAdapter.getRecord} per ID without it.
   */
  getRecordsById?(recordIds: readonly string[], options?: SourceCallOptions): Promise<Pick<SourcePage<SourceRecord>, 'items' | 'rejected'>>;

  /**
   * Turns a raw record pushed by the source system (Zoho: a Deluge workflow) into a
   * {@link SourceRecord} without reading the source: what trusted-mode pushes store. Optional.
   * Resolves a {@link RejectedRecord} when the row cannot be accepted.
   */
  normaliseRecord?(raw: unknown, options?: SourceCallOptions): Promise<SourceRecord | RejectedRecord>;
  /** Estimates the calls a run would make (optional: sources without a quota may omit it). Never calls the source. */
  estimateCalls?(request: CallEstimateRequest): CallEstimate;

  /** Calls made so far, by kind (optional: sources without a quota may omit it). */
  getCallCounts?(): ApiCallCounts;

  /** Releases sockets and timers. */
  close?(): Promise<void>;
}
