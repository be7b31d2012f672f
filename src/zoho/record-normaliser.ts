/**
 * Turns raw Zoho Creator rows into {@link SourceRecord}s and {@link RecordStamp}s, rejecting (not
 * throwing on) rows that cannot be accepted.
 *
 * Sources (see /work/shared/reference/zoho-creator-api.md §5, §9):
 * - `ID` is a 16–19-digit integer sent as a string in v2.1, as a bare number in legacy payloads [code].
 * - A single lookup is `{"ID": "...", "display_value": ..., "zc_display_value": ...}` in v2.1
 *   (https://zoho.com/creator/help/api/v2.1/what-is-new-in-v2.1.html) [doc]; some report field
 *   configs return a bare ID instead [code] — both are accepted.
 * - `Modified_Time` is local wall-clock text in the app's format and zone [inferred], read with
 *   {@link ZohoDateTimeCodec}.
 */
import { MAX_RECORD_DEPTH, type RecordStamp, type RejectedRecord, type RejectionReason, type SourceEvent, type SourceRecord } from '../adapters/source.js';
import type { ZohoDateTimeCodec } from './date-time.js';

/** A Zoho ID: 1–19 decimal digits. */
const ID_PATTERN = /^\d{1,19}$/;

/** The field Zoho stamps with the last modification time. */
export const MODIFIED_TIME_FIELD = 'Modified_Time';

/**
 * True when `value` is a Zoho ID string: 1–19 decimal digits, nothing else.
 */
export function isZohoId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * Reads an ID that may arrive as a digit string, a safe integer `number`, or a `bigint`.
 *
 * @returns the exact digit string, or `undefined` when the value is not a 1–19-digit
 *   non-negative integer. (A `number` beyond 2^53 has already lost digits, so it is refused; the
 *   JSON parser of this package keeps such integers as strings.)
 */
export function toZohoId(value: unknown): string | undefined {
  if (typeof value === 'string') return ID_PATTERN.test(value) ? value : undefined;
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? toZohoId(String(value)) : undefined;
  }
  if (typeof value === 'bigint') return value >= 0n ? toZohoId(value.toString()) : undefined;
  return undefined;
}

/** What the normaliser needs to know about the registrations report. */
export interface RecordNormaliserOptions {
  /** Parses `Modified_Time`. */
  readonly codec: ZohoDateTimeCodec;
  /** Link name of the lookup field that points a record at its event, e.g. `Event`. */
  readonly eventLookupField: string;
}

/** Accepted items and rejected rows of one page. */
export interface NormalisedRows<T> {
  /** Unit: records. */
  readonly items: T[];
  /** Unit: records. */
  readonly rejected: RejectedRecord[];
}

type Checked =
  | {
      readonly ok: true;
      readonly id: string;
      readonly eventId: string;
      readonly modifiedAt: number;
      /** The latest reading of an ambiguous `Modified_Time`, else `undefined`. */
      readonly modifiedAtLatest: number | undefined;
      readonly row: Record<string, unknown>;
    }
  | { readonly ok: false; readonly rejection: RejectedRecord };

/**
 * Validates and converts Zoho rows. Rules, checked in this order:
 * - `ID` absent/empty → `missing-id`; not 1–19 digits → `invalid-id`;
 * - the lookup field absent, empty, or without a readable ID → `missing-event`;
 * - `Modified_Time` absent or unparseable → `invalid-modified-time`.
 *
 * Accepted records keep the whole row as `data`, with every `ID` (top level, in lookups,
 * multi-lookups and subform rows) turned into a digit string.
 *
 * @see https://zoho.com/creator/help/api/v2.1/what-is-new-in-v2.1.html (lookup shape in v2.1)
 */
export class ZohoRecordNormaliser {
  /** The codec that reads `Modified_Time`. */
  readonly codec: ZohoDateTimeCodec;
  /** The lookup field holding the event. */
  readonly eventLookupField: string;

  /** @param options - see {@link RecordNormaliserOptions}. */
  constructor(options: RecordNormaliserOptions) {
    this.codec = options.codec;
    this.eventLookupField = options.eventLookupField;
  }

  /**
   * Full records of a page (`data` = the row, IDs as strings). A row nested deeper than
   * {@link MAX_RECORD_DEPTH} levels is rejected as `too-deep` (the rest of the page is kept).
   * Never throws.
   */
  toRecords(rows: readonly unknown[], readAt?: number): NormalisedRows<SourceRecord> {
    const items: SourceRecord[] = [];
    const rejected: RejectedRecord[] = [];
    for (const raw of rows) {
      const checked = this.check(raw);
      if (!checked.ok) {
        rejected.push(checked.rejection);
        continue;
      }
      const data = withStringIds(checked.row, MAX_RECORD_DEPTH);
      if (data === TOO_DEEP) {
        rejected.push({
          reason: 'too-deep',
          detail: `record ${checked.id}: nested deeper than ${MAX_RECORD_DEPTH} levels`,
          eventId: checked.eventId,
          raw,
        });
        continue;
      }
      const record: SourceRecord = {
        id: checked.id,
        eventId: checked.eventId,
        modifiedAt: checked.modifiedAt,
        ...(checked.modifiedAtLatest === undefined ? {} : { modifiedAtLatest: checked.modifiedAtLatest }),
        ...(readAt === undefined ? {} : { readAt }),
        data: data as Record<string, unknown>,
      };
      items.push(record);
    }
    return { items, rejected };
  }

  /** ID, event and modification time only, per row. Never throws. */
  toStamps(rows: readonly unknown[]): NormalisedRows<RecordStamp> {
    const items: RecordStamp[] = [];
    const rejected: RejectedRecord[] = [];
    for (const raw of rows) {
      const checked = this.check(raw);
      if (!checked.ok) rejected.push(checked.rejection);
      else items.push({ id: checked.id, eventId: checked.eventId, modifiedAt: checked.modifiedAt });
    }
    return { items, rejected };
  }

  /** One full record, or its rejection. Never throws. */
  toRecord(raw: unknown, readAt?: number): { record: SourceRecord; rejection?: undefined } | { record?: undefined; rejection: RejectedRecord } {
    const { items, rejected } = this.toRecords([raw], readAt);
    const record = items[0];
    return record !== undefined ? { record } : { rejection: rejected[0]! };
  }

  private check(raw: unknown): Checked {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return reject('missing-id', 'the row is not an object', undefined, raw);
    }
    const row = raw as Record<string, unknown>;
    const eventId = readLookupId(row[this.eventLookupField]);

    const rawId = row.ID;
    if (rawId === undefined || rawId === null || rawId === '') return reject('missing-id', 'no ID', eventId, raw);
    const id = toZohoId(rawId);
    if (id === undefined) return reject('invalid-id', `ID ${describe(rawId)} is not 1–19 digits`, eventId, raw);

    if (eventId === undefined) {
      return reject(
        'missing-event',
        `record ${id}: lookup field ${this.eventLookupField} holds no event ID (${describe(row[this.eventLookupField])})`,
        undefined,
        raw,
      );
    }

    const interval = this.codec.parseInterval(row[MODIFIED_TIME_FIELD]);
    if (interval === undefined) {
      return reject(
        'invalid-modified-time',
        `record ${id}: ${MODIFIED_TIME_FIELD} ${describe(row[MODIFIED_TIME_FIELD])} does not match ${this.codec.dateTimeFormat}`,
        eventId,
        raw,
      );
    }
    const [modifiedAt, latest] = interval;
    return { ok: true, id, eventId, modifiedAt, modifiedAtLatest: latest > modifiedAt ? latest : undefined, row };
  }
}

/**
 * The event ID a lookup value points at: `{ID: ...}` (v2.1), a bare ID string/number, or a
 * one-element array of either (a multi-select lookup holding one event).
 *
 * @returns the digit string, or `undefined` when absent or not a valid ID.
 */
export function readLookupId(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? readLookupId(value[0]) : undefined;
  if (typeof value === 'object' && value !== null) return toZohoId((value as Record<string, unknown>).ID);
  return toZohoId(value);
}

/** What {@link withStringIds} returns for a value nested deeper than its `maxDepth`. */
export const TOO_DEEP: unique symbol = Symbol('too-deep');

/**
 * A copy of `value` in which every `ID` property (at any depth: lookups, multi-lookups, subform
 * rows) holding a number or bigint holds its digit string instead. Parts without such IDs are
 * shared, not copied; the input is never modified.
 *
 * @param maxDepth - deepest nesting of objects and arrays walked (`value` itself is level 1);
 *   deeper values make the result {@link TOO_DEEP} instead of overflowing the call stack.
 *   Unit: levels. Default {@link MAX_RECORD_DEPTH}.
 */
export function withStringIds(value: unknown, maxDepth: number = MAX_RECORD_DEPTH): unknown {
  return stringIds(value, maxDepth);
}

function stringIds(value: unknown, levelsLeft: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (levelsLeft <= 0) return TOO_DEEP;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const next = stringIds(item, levelsLeft - 1);
      if (next === TOO_DEEP) return TOO_DEEP;
      if (next !== item) {
        out ??= value.slice();
        out[i] = next;
      }
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(obj)) {
    const item = obj[key];
    let next: unknown;
    if (key === 'ID' && (typeof item === 'number' || typeof item === 'bigint')) next = String(item);
    else next = stringIds(item, levelsLeft - 1);
    if (next === TOO_DEEP) return TOO_DEEP;
    if (next !== item) {
      out ??= { ...obj };
      out[key] = next;
    }
  }
  return out ?? obj;
}

function reject(reason: RejectionReason, detail: string, eventId: string | undefined, raw: unknown): Checked {
  return { ok: false, rejection: { reason, detail, eventId, raw } };
}

function describe(value: unknown): string {
  if (value === undefined) return 'absent';
  try {
    const text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

/** Events of one page of the events report, and the rows that had no valid `ID` (or nest too deep). */
export interface NormalisedEvents {
  /** Unit: events. */
  readonly events: SourceEvent[];
  /** Rows without a valid 1–19-digit `ID`, as received. */
  readonly invalid: unknown[];
}

/**
 * Converts rows of the events report: `id` from `ID` (digit string), `data` = the row with every
 * `ID` as a string. Rows without a valid ID are returned in `invalid`. Never throws.
 */
export function toSourceEvents(rows: readonly unknown[]): NormalisedEvents {
  const events: SourceEvent[] = [];
  const invalid: unknown[] = [];
  for (const raw of rows) {
    const id = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? toZohoId((raw as Record<string, unknown>).ID) : undefined;
    const data = id === undefined ? TOO_DEEP : withStringIds(raw);
    if (id === undefined || data === TOO_DEEP) invalid.push(raw);
    else events.push({ id, data: data as Record<string, unknown> });
  }
  return { events, invalid };
}
