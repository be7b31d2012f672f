/**
 * The worker's own check of what a source hands it. A `SourceAdapter` is any code (a custom one
 * too), and record and event IDs become parts of Redis keys: `*`, `:`, a newline or a megabyte of
 * text in an ID would break the key layout or bloat Redis. So every record, stamp and event the
 * worker receives, from any source, passes the same rules as the Zoho normaliser's before it
 * reaches the sink:
 *
 * - a record or stamp ID is a string of 1–19 decimal digits (`invalid-id` otherwise);
 * - its event ID is a string of 1–19 digits (`missing-event` otherwise, like a lookup without a
 *   readable event);
 * - `modifiedAt` is an integer number of epoch milliseconds (`invalid-modified-time`);
 * - a record's `data` is a plain object (`unencodable`);
 * - an event ID is a string of 1–19 digits (`invalid-id`; the event is left out of the listing).
 *
 * Whatever fails goes to the dead-letter stream with its reason, the rest of the page goes on.
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
import { SyncError, SyncErrorCode } from '../errors.js';

/** Record and event IDs: 1–19 decimal digits (Zoho IDs exceed 2^53, so they stay strings). */
const ID = /^\d{1,19}$/;

/** Longest quoted value in a rejection's `detail`. Unit: characters. */
const DETAIL_VALUE_CHARS = 80;

/** A value as quoted in a rejection's detail: JSON, cut to {@link DETAIL_VALUE_CHARS} characters. */
function quote(value: unknown): string {
  if (value === undefined) return 'absent';
  let text: string;
  try {
    text = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > DETAIL_VALUE_CHARS ? `${text.slice(0, DETAIL_VALUE_CHARS - 3)}... (${text.length} characters)` : text;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value);
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The rejection of a record or stamp that breaks the rules above, or `undefined` when it passes.
 * `raw` is the item as the source handed it.
 */
export function screenItem(item: SourceRecord | RecordStamp, kind: 'record' | 'stamp'): RejectedRecord | undefined {
  const { id, eventId, modifiedAt } = item as { id?: unknown; eventId?: unknown; modifiedAt?: unknown };
  const usableEvent = isId(eventId) ? eventId : undefined;
  const reject = (reason: RejectedRecord['reason'], detail: string): RejectedRecord => ({
    reason,
    detail,
    eventId: usableEvent,
    raw: item,
  });
  if (id === undefined || id === null || id === '') return reject('missing-id', `the source handed a ${kind} without an ID`);
  if (!isId(id)) return reject('invalid-id', `${kind} ID ${quote(id)} is not 1–19 digits`);
  if (usableEvent === undefined) return reject('missing-event', `${kind} ${id}: event ID ${quote(eventId)} is not 1–19 digits`);
  if (typeof modifiedAt !== 'number' || !Number.isSafeInteger(modifiedAt)) {
    return reject('invalid-modified-time', `${kind} ${id}: modifiedAt ${quote(modifiedAt)} is not an integer of epoch milliseconds`);
  }
  if (kind === 'record' && !isPlainObject((item as SourceRecord).data)) {
    return reject('unencodable', `record ${id}: data is not a JSON object (${quote((item as SourceRecord).data)})`);
  }
  return undefined;
}

/** A page with every item that breaks the rules moved to `rejected` (the page itself when all pass). */
export function screenPage<T extends SourceRecord | RecordStamp>(page: SourcePage<T>, kind: 'record' | 'stamp'): SourcePage<T> {
  let items: T[] | undefined;
  const rejected: RejectedRecord[] = [];
  page.items.forEach((item, index) => {
    const rejection = screenItem(item, kind);
    if (rejection === undefined) {
      items?.push(item);
      return;
    }
    items ??= page.items.slice(0, index);
    rejected.push(rejection);
  });
  if (items === undefined) return page;
  return { ...page, items, rejected: [...page.rejected, ...rejected] };
}

/** The events with a valid ID, and the rejections of the others (`invalid-id`, no event ID). */
export function screenEvents(events: readonly SourceEvent[]): { events: SourceEvent[]; rejected: RejectedRecord[] } {
  const ok: SourceEvent[] = [];
  const rejected: RejectedRecord[] = [];
  for (const event of events) {
    const id = (event as { id?: unknown })?.id;
    if (isId(id)) ok.push(event);
    else rejected.push({ reason: 'invalid-id', detail: `event ID ${quote(id)} is not 1–19 digits`, eventId: undefined, raw: event });
  }
  return { events: ok, rejected };
}

/**
 * A {@link SourceAdapter} that forwards to another one and screens everything it returns (see the
 * module documentation). Rejected events and a rejected single record are handed to `onRejected`
 * (the worker dead-letters them); rejected records and stamps of a listing travel in their page's
 * `rejected` list, which the worker dead-letters with the page.
 */
export class ScreenedSource implements SourceAdapter {
  readonly name: string;
  readonly getCallCounts?: () => ApiCallCounts;
  readonly estimateCalls?: (request: CallEstimateRequest) => CallEstimate;
  readonly close?: () => Promise<void>;

  constructor(
    private readonly inner: SourceAdapter,
    private readonly onRejected: (rejected: readonly RejectedRecord[]) => Promise<void>,
  ) {
    this.name = inner.name;
    if (inner.getCallCounts) this.getCallCounts = inner.getCallCounts.bind(inner);
    if (inner.estimateCalls) this.estimateCalls = inner.estimateCalls.bind(inner);
    if (inner.close) this.close = inner.close.bind(inner);
  }

  /** The inner source's events with a valid ID; the others are handed to `onRejected` first. */
  async listEvents(options?: SourceCallOptions): Promise<SourceEvent[]> {
    const { events, rejected } = screenEvents(await this.inner.listEvents(options));
    if (rejected.length > 0) await this.onRejected(rejected);
    return events;
  }

  /**
   * Every listing is screened whatever its strategy: `options` (a `listing: 'bulk'` hint and a bulk
   * cursor included) go to the inner source unchanged, its pages come back checked.
   */
  async *readRecords(options?: ListOptions): AsyncGenerator<SourcePage<SourceRecord>, void, undefined> {
    for await (const page of this.inner.readRecords(options)) yield screenPage(page, 'record');
  }

  async *readStamps(options?: ListOptions): AsyncGenerator<SourcePage<RecordStamp>, void, undefined> {
    for await (const page of this.inner.readStamps(options)) yield screenPage(page, 'stamp');
  }

  async *readChangedSince(since: number, options?: ListOptions): AsyncGenerator<SourcePage<SourceRecord>, void, undefined> {
    for await (const page of this.inner.readChangedSince(since, options)) yield screenPage(page, 'record');
  }

  /**
   * The inner source's record, checked.
   * @throws {@link SyncError} `ERR_SYNC_ZOHO_MALFORMED_RESPONSE` when the record breaks the rules
   *   or is not the one asked for (after handing it to `onRejected`).
   */
  async getRecord(recordId: string, options?: SourceCallOptions): Promise<SourceRecord | undefined> {
    const record = await this.inner.getRecord(recordId, options);
    if (record === undefined) return undefined;
    const rejection =
      screenItem(record, 'record') ??
      (record.id === recordId
        ? undefined
        : { reason: 'invalid-id' as const, detail: `asked for record ${recordId}, the source answered ${quote(record.id)}`, eventId: record.eventId, raw: record });
    if (rejection === undefined) return record;
    await this.onRejected([rejection]);
    throw new SyncError(
      `The ${this.inner.name} source answered record ${recordId} with a record that cannot be stored: ${rejection.reason} (${rejection.detail})`,
      SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
    );
  }
}
