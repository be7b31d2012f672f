/**
 * Simulator-side date-time handling in a Zoho Creator application's format and time zone.
 *
 * Zoho facts relied on (see the API notes, §5 and §9):
 * - every application has a `date_format` (Java-style pattern such as `dd-MMM-yyyy`, `MMM dd,yyyy`,
 *   `MM-dd-yyyy`) and an IANA `time_zone`, both returned by `/meta/applications` [doc];
 * - date-times (`Added_Time`, `Modified_Time`, date-time fields) are sent as `${date_format} HH:mm:ss`
 *   wall-clock strings local to that zone, without an offset [code]/[inferred];
 * - criteria literals use the same format and zone [inferred].
 *
 * Month and weekday names are always English, whatever the host locale. Formatting is done by hand
 * (luxon's `toFormat` costs ~10 µs a call, too slow for million-row scans); UTC offsets come from
 * luxon and are cached per 15-minute bucket. Parsing uses luxon with the `en-US` locale.
 *
 * DST rules for local wall-clock times (parsing):
 * - an ambiguous time (the repeated hour when clocks fall back) resolves to the EARLIER instant;
 * - a nonexistent time (the gap when clocks spring forward) is shifted forward by the gap
 *   (e.g. 02:30 on 2024-03-10 in America/New_York becomes 03:30 EDT).
 */
import { DateTime, IANAZone } from 'luxon';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const BUCKET_MS = 15 * MINUTE_MS;
const MAX_CACHED_BUCKETS = 200_000;

const MONTHS_SHORT = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTHS_LONG = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS_SHORT = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const DAYS_LONG = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Wall-clock fields of a local date-time (month 1–12). */
export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

type Part = { readonly literal: string } | { readonly token: string };

const SUPPORTED_TOKENS = new Set([
  'yyyy',
  'yy',
  'MMMM',
  'MMM',
  'MM',
  'M',
  'dd',
  'd',
  'HH',
  'H',
  'hh',
  'h',
  'mm',
  'm',
  'ss',
  's',
  'a',
  'EEEE',
  'EEE',
  'E',
]);

/** Splits a Java/luxon-style pattern into tokens and literals (single quotes quote literal text). */
function compilePattern(pattern: string): Part[] | undefined {
  const parts: Part[] = [];
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end < 0) return undefined;
      parts.push({ literal: end === i + 1 ? "'" : pattern.slice(i + 1, end) });
      i = end + 1;
    } else if (/[A-Za-z]/.test(ch)) {
      let j = i;
      while (j < pattern.length && pattern[j] === ch) j++;
      const token = pattern.slice(i, j);
      if (!SUPPORTED_TOKENS.has(token)) return undefined;
      parts.push({ token });
      i = j;
    } else {
      parts.push({ literal: ch });
      i++;
    }
  }
  return parts;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function renderParts(parts: readonly Part[], d: Date): string {
  let out = '';
  for (const part of parts) {
    if ('literal' in part) {
      out += part.literal;
      continue;
    }
    const hour = d.getUTCHours();
    switch (part.token) {
      case 'yyyy':
        out += pad(d.getUTCFullYear(), 4);
        break;
      case 'yy':
        out += pad(d.getUTCFullYear() % 100, 2);
        break;
      case 'MMMM':
        out += MONTHS_LONG[d.getUTCMonth()];
        break;
      case 'MMM':
        out += MONTHS_SHORT[d.getUTCMonth()];
        break;
      case 'MM':
        out += pad(d.getUTCMonth() + 1, 2);
        break;
      case 'M':
        out += String(d.getUTCMonth() + 1);
        break;
      case 'dd':
        out += pad(d.getUTCDate(), 2);
        break;
      case 'd':
        out += String(d.getUTCDate());
        break;
      case 'HH':
        out += pad(hour, 2);
        break;
      case 'H':
        out += String(hour);
        break;
      case 'hh':
        out += pad(hour % 12 === 0 ? 12 : hour % 12, 2);
        break;
      case 'h':
        out += String(hour % 12 === 0 ? 12 : hour % 12);
        break;
      case 'mm':
        out += pad(d.getUTCMinutes(), 2);
        break;
      case 'm':
        out += String(d.getUTCMinutes());
        break;
      case 'ss':
        out += pad(d.getUTCSeconds(), 2);
        break;
      case 's':
        out += String(d.getUTCSeconds());
        break;
      case 'a':
        out += hour < 12 ? 'AM' : 'PM';
        break;
      case 'EEEE':
        out += DAYS_LONG[d.getUTCDay()];
        break;
      default:
        // 'EEE' and 'E'
        out += DAYS_SHORT[d.getUTCDay()];
        break;
    }
  }
  return out;
}

/** True when `name` is an IANA time-zone name the runtime knows (e.g. `Asia/Ho_Chi_Minh`). */
export function isValidTimeZone(name: string): boolean {
  return IANAZone.isValidZone(name);
}

/**
 * Formats and parses date-times the way one Zoho Creator application does: in its `date_format`
 * (date part) plus ` HH:mm:ss` (date-time), local to its IANA `time_zone`.
 *
 * @example
 * ```ts
 * const t = new ZohoTime('Asia/Ho_Chi_Minh', 'dd-MMM-yyyy');
 * t.formatDateTime(Date.UTC(2024, 2, 15, 10, 3, 9)); // '15-Mar-2024 17:03:09'
 * t.parseDateTime('15-Mar-2024 17:03:09');            // 1710497 ... (epoch ms)
 * ```
 */
export class ZohoTime {
  /** IANA zone name, e.g. `Asia/Ho_Chi_Minh`. */
  readonly timeZone: string;
  /** The application's date pattern, e.g. `dd-MMM-yyyy`. */
  readonly dateFormat: string;
  /** The date-time pattern: `${dateFormat} HH:mm:ss`. */
  readonly dateTimeFormat: string;
  private readonly zone: IANAZone;
  private readonly dateParts: Part[] | undefined;
  private readonly dateTimeParts: Part[] | undefined;
  private readonly offsets = new Map<number, number>();

  /**
   * @param timeZone - IANA zone name; throws `RangeError` when unknown.
   * @param dateFormat - Zoho date pattern (tokens yyyy, yy, MMMM, MMM, MM, M, dd, d, EEE; quoted literals).
   */
  constructor(timeZone: string, dateFormat: string) {
    if (!IANAZone.isValidZone(timeZone)) throw new RangeError(`Unknown IANA time zone: ${timeZone}`);
    this.timeZone = timeZone;
    this.dateFormat = dateFormat;
    this.dateTimeFormat = `${dateFormat} HH:mm:ss`;
    this.zone = IANAZone.create(timeZone);
    this.dateParts = compilePattern(this.dateFormat);
    this.dateTimeParts = compilePattern(this.dateTimeFormat);
  }

  /** UTC offset of the zone at instant `ms` (epoch ms), in minutes (e.g. +420 for UTC+07:00). */
  offsetMinutes(ms: number): number {
    const bucket = Math.floor(ms / BUCKET_MS);
    const cached = this.offsets.get(bucket);
    if (cached !== undefined) return cached;
    const start = bucket * BUCKET_MS;
    const atStart = this.zone.offset(start);
    const atEnd = this.zone.offset(start + BUCKET_MS - 1);
    // Only cache buckets with one offset throughout (transitions are on 15-minute UTC boundaries in
    // modern tzdb data; anything else is computed exactly every time).
    if (atStart !== atEnd) return this.zone.offset(ms);
    if (this.offsets.size >= MAX_CACHED_BUCKETS) this.offsets.clear();
    this.offsets.set(bucket, atStart);
    return atStart;
  }

  /** Formats an instant (epoch ms) as `${dateFormat} HH:mm:ss` local to the zone, e.g. `15-Mar-2024 17:03:09`. */
  formatDateTime(ms: number): string {
    return this.render(ms, this.dateTimeParts, this.dateTimeFormat);
  }

  /** Formats the local calendar date of an instant (epoch ms) in the app's date format, e.g. `15-Mar-2024`. */
  formatDateOfInstant(ms: number): string {
    return this.render(ms, this.dateParts, this.dateFormat);
  }

  /** Formats an ISO calendar date (`yyyy-MM-dd`) in the app's date format, e.g. `2024-03-21` → `21-Mar-2024`. */
  formatDate(isoDate: string): string {
    const wall = Date.parse(`${isoDate}T00:00:00Z`);
    if (Number.isNaN(wall)) throw new RangeError(`Not an ISO date: ${isoDate}`);
    const d = new Date(wall);
    return this.dateParts
      ? renderParts(this.dateParts, d)
      : DateTime.fromMillis(wall, { zone: 'utc', locale: 'en-US' }).toFormat(this.dateFormat);
  }

  /** The local ISO calendar date (`yyyy-MM-dd`) of an instant (epoch ms) in the zone. */
  isoDateOf(ms: number): string {
    return new Date(ms + this.offsetMinutes(ms) * MINUTE_MS).toISOString().slice(0, 10);
  }

  /** Local wall-clock fields of an instant (epoch ms) in the zone. */
  wallClockOf(ms: number): WallClock {
    const d = new Date(ms + this.offsetMinutes(ms) * MINUTE_MS);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  }

  /**
   * The instant (epoch ms) of a local wall-clock time in the zone. Ambiguous times (DST fall-back)
   * give the earlier instant; nonexistent times (DST spring gap) are shifted forward by the gap.
   */
  toInstant(wall: WallClock): number {
    const local = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
    return this.localMsToInstant(local);
  }

  /** The instant (epoch ms) at which the ISO calendar date `isoDate` starts in the zone (same DST rules). */
  startOfDay(isoDate: string): number {
    const local = Date.parse(`${isoDate}T00:00:00Z`);
    if (Number.isNaN(local)) throw new RangeError(`Not an ISO date: ${isoDate}`);
    return this.localMsToInstant(local);
  }

  /** The ISO calendar date following `isoDate`. */
  static nextIsoDate(isoDate: string): string {
    return new Date(Date.parse(`${isoDate}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
  }

  /**
   * Parses `${dateFormat} HH:mm:ss` text (e.g. `15-Mar-2024 17:03:09`, month names in English,
   * case-insensitive) as local time in the zone. Returns epoch ms, or `undefined` when the text does
   * not match the format exactly.
   */
  parseDateTime(text: string): number | undefined {
    const local = this.parseLocal(text, this.dateTimeFormat, this.dateTimeParts);
    return local === undefined ? undefined : this.localMsToInstant(local);
  }

  /** Parses date-only text in the app's date format; returns the ISO calendar date (`yyyy-MM-dd`) or `undefined`. */
  parseDate(text: string): string | undefined {
    const local = this.parseLocal(text, this.dateFormat, this.dateParts);
    return local === undefined ? undefined : new Date(local).toISOString().slice(0, 10);
  }

  private render(ms: number, parts: readonly Part[] | undefined, pattern: string): string {
    if (!parts) return DateTime.fromMillis(ms, { zone: this.zone, locale: 'en-US' }).toFormat(pattern);
    return renderParts(parts, new Date(ms + this.offsetMinutes(ms) * MINUTE_MS));
  }

  /** Parses wall-clock text to "local ms" (the wall clock read as if it were UTC), strictly. */
  private parseLocal(text: string, pattern: string, parts: readonly Part[] | undefined): number | undefined {
    const parsed = DateTime.fromFormat(text, pattern, { zone: 'utc', locale: 'en-US' });
    if (!parsed.isValid) return undefined;
    const local = parsed.toMillis();
    // luxon accepts e.g. 24:00:00 and rolls it over; require an exact round trip instead.
    const again = parts
      ? renderParts(parts, new Date(local))
      : DateTime.fromMillis(local, { zone: 'utc', locale: 'en-US' }).toFormat(pattern);
    return again.toLowerCase() === text.toLowerCase() ? local : undefined;
  }

  private localMsToInstant(local: number): number {
    const before = this.offsetMinutes(local - DAY_MS);
    const after = this.offsetMinutes(local + DAY_MS);
    let best: number | undefined;
    for (const offset of before === after ? [before] : [before, after]) {
      const candidate = local - offset * MINUTE_MS;
      if (this.offsetMinutes(candidate) === offset && (best === undefined || candidate < best)) best = candidate;
    }
    // No valid reading: the wall-clock time falls in a spring-forward gap. Reading it with the
    // offset in force before the gap lands the same distance after the transition (shift forward).
    return best ?? local - before * MINUTE_MS;
  }
}
