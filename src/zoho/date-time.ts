/**
 * Zoho Creator date-times: local wall-clock text in the application's `date_format` plus
 * ` HH:mm:ss`, without a UTC offset, read in the application's `time_zone`.
 *
 * Sources (see /work/shared/reference/zoho-creator-api.md §4, §5, §9):
 * - `date_format` / `time_zone` per application come from `GET /creator/v2.1/meta/applications`
 *   (OAS example `"date_format":"MMM dd,yyyy"`, `"time_zone":"America/Los_Angeles"`) [doc]:
 *   https://www.zoho.com/creator/help/api/v2/openapi-specification.html
 * - Date-time values carry no offset and are local to the app's time zone — [inferred] (consistent
 *   with the OAS examples such as `creation_date: "20-Apr-2020 16:23:50"`).
 * - Criteria literals use the same format and zone — [inferred]; Pipedream's Creator source builds
 *   `Modified_Time > '<date_format> HH:mm:ss'` this way [code].
 *
 * Parsing is on the hot path (every record's `Modified_Time`), so this codec does not call
 * luxon's `DateTime.fromFormat` per value: it compiles the format to one regular expression and
 * caches the zone's UTC offset per local day (per hour on DST-transition days). luxon's `IANAZone` supplies the offsets
 * (tz database through `Intl`), which are slow to compute (several µs each) — hence the cache.
 */
import { IANAZone } from 'luxon';
import { ConfigError, InvalidInputError } from '../errors.js';
import { shownValue } from '../internal/shown-value.js';

/**
 * The separators a `date_format` may contain. Zoho's list of date formats uses exactly these
 * (https://www.zoho.com/creator/newhelp/script/deluge-datatypes-date.html [doc]).
 */
export const DATE_FORMAT_SEPARATORS: readonly string[] = ['-', '/', '.', ',', ' '];
/** A whole `date_format`: date-pattern letters and separators only (letters are checked one by one later). */
const DATE_FORMAT_CHARACTERS = /^[A-Za-z\-/., ]+$/;
/** What a formatted date-time may contain to go between the quotes of a criteria literal. */
const CRITERIA_LITERAL_TEXT = /^[A-Za-z0-9\-/., :]+$/;

/**
 * `'<text>'`: a criteria date-time literal (Zoho criteria quote dates in single quotes,
 * https://www.zoho.com/creator/help/script/search-by-criteria-date.html). Checks the text once
 * more, whatever produced it: only letters, digits, separators and `:` may go inside the quotes.
 *
 * @throws ConfigError (option `dateFormat`) when the text holds anything else (a quote, a bracket, `|`, ...).
 */
export function quotedCriteriaLiteral(text: string): string {
  if (!CRITERIA_LITERAL_TEXT.test(text)) {
    throw new ConfigError('dateFormat', `Refusing to put ${shownValue(text)} into a criteria literal: unexpected characters`);
  }
  return `'${text}'`;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Upper bound on entries per offset cache; a cache is cleared when it is reached. */
const MAX_CACHE_ENTRIES = 100_000;

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
] as const;
const MONTHS_SHORT = MONTHS_LONG.map((m) => m.slice(0, 3));

/** Lower-cased English month names (long, 3-letter, and `sept`) → month number 1–12. */
const MONTH_BY_NAME: ReadonlyMap<string, number> = new Map([
  ...MONTHS_LONG.map((m, i) => [m.toLowerCase(), i + 1] as const),
  ...MONTHS_SHORT.map((m, i) => [m.toLowerCase(), i + 1] as const),
  ['sept', 9] as const,
]);

type Field = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second';

type FormatPart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'number'; readonly field: Field; readonly width: number }
  | { readonly kind: 'year2' }
  | { readonly kind: 'monthName'; readonly long: boolean };

interface CompiledFormat {
  readonly parts: readonly FormatPart[];
  readonly regex: RegExp;
  /** Capture-group numbers of each field (the last occurrence when a field repeats). */
  readonly year: { readonly group: number; readonly twoDigit: boolean };
  readonly month: { readonly group: number; readonly name: boolean };
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  /** The optional seconds group. */
  readonly second: number;
}

/**
 * Reads and writes Zoho date-time text (`<date_format> HH:mm:ss`) as epoch milliseconds in an
 * IANA time zone.
 *
 * Supported `date_format` letters (Java `SimpleDateFormat` style, as Zoho uses): `yyyy`, `yy`
 * (2000–2099), `MMMM` (English month name), `MMM` (3-letter English month), `MM`/`M`, `dd`/`d`;
 * the only other characters allowed are the separators {@link DATE_FORMAT_SEPARATORS}
 * (`-`, `/`, `.`, `,`, space): the set Zoho's own list of date formats uses
 * (https://www.zoho.com/creator/newhelp/script/deluge-datatypes-date.html [doc]). Quotes and any
 * other text are refused, because the formatted value goes inside a quoted criteria literal
 * (a `'` in the format could close the quote and rewrite the criteria). Month names are always
 * English, whatever the host locale.
 *
 * DST rules when parsing: a wall time that occurs twice (autumn fall-back) resolves to the
 * earlier instant; a wall time that does not exist (spring gap) is shifted forward by the gap
 * (e.g. `02:30` on the New York spring-forward day → `03:30` EDT).
 *
 * @example
 * ```ts
 * const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'Europe/Berlin');
 * codec.parse('15-Mar-2024 17:03:09'); // 1710518589000
 * codec.format(1710518589000);         // '15-Mar-2024 17:03:09'
 * ```
 * @see https://www.zoho.com/creator/help/api/v2/openapi-specification.html (`date_format`, `time_zone` in /meta/applications)
 */
export class ZohoDateTimeCodec {
  /** The application's date format, e.g. `dd-MMM-yyyy`. */
  readonly dateFormat: string;
  /** The IANA time zone, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  /** The full date-time pattern: `<dateFormat> HH:mm:ss`. */
  readonly dateTimeFormat: string;

  private readonly zone: IANAZone;
  private readonly compiled: CompiledFormat;
  /** Local wall-clock day index (wall ms / 1 day, wall ms read as if UTC) → offset in minutes, or NaN when it changes that day. */
  private readonly offsetByLocalDay = new Map<number, number>();
  /** Local wall-clock hour index → offset in minutes, or NaN when it changes inside that hour (only for transition days). */
  private readonly offsetByLocalHour = new Map<number, number>();
  /** UTC day index → offset in minutes, or NaN when it changes that day (for `format`). */
  private readonly offsetByUtcDay = new Map<number, number>();
  /** UTC hour index → offset in minutes, or NaN (transition days only). */
  private readonly offsetByUtcHour = new Map<number, number>();

  /**
   * @param dateFormat - the application's `date_format` (from Zoho's meta API), e.g. `MMM dd,yyyy`.
   * @param timeZone - the application's IANA `time_zone`, e.g. `America/New_York`.
   * @throws ConfigError (option `dateFormat` or `timeZone`) when the format has unsupported
   *   letters, a character other than a letter or a separator (`-` `/` `.` `,` space), or no
   *   year/month/day, or the zone is unknown to this runtime's tz database.
   */
  constructor(dateFormat: string, timeZone: string) {
    if (typeof timeZone !== 'string' || !IANAZone.isValidZone(timeZone)) {
      throw new ConfigError('timeZone', `\`timeZone\` must be an IANA time zone name, got ${shownValue(timeZone)}`);
    }
    if (typeof dateFormat !== 'string' || dateFormat.trim() === '') {
      throw new ConfigError('dateFormat', '`dateFormat` must be a non-empty Zoho date format such as dd-MMM-yyyy');
    }
    if (!DATE_FORMAT_CHARACTERS.test(dateFormat)) {
      throw new ConfigError(
        'dateFormat',
        `Date format ${shownValue(dateFormat)} is not a Zoho date format: only the letters d, M, y and the separators ` +
          `${DATE_FORMAT_SEPARATORS.map((c) => JSON.stringify(c)).join(' ')} are allowed (no quotes or other text)`,
      );
    }
    this.dateFormat = dateFormat;
    this.timeZone = timeZone;
    this.dateTimeFormat = `${dateFormat} HH:mm:ss`;
    this.zone = IANAZone.create(timeZone);
    this.compiled = compileFormat(this.dateTimeFormat);
  }

  /**
   * Parses Zoho date-time text to epoch milliseconds. Seconds may be omitted (`HH:mm`);
   * surrounding whitespace is ignored; month names match case-insensitively.
   *
   * @param text - e.g. `15-Mar-2024 17:03:09` for `dd-MMM-yyyy`.
   * @returns epoch ms (UTC), or `undefined` when the text does not match the format or names an
   *   impossible date (31-Feb). Never throws.
   */
  parse(text: unknown): number | undefined {
    const wall = this.parseWall(text);
    return wall === undefined ? undefined : wall - this.offsetForWall(wall) * MINUTE_MS;
  }

  /**
   * Parses Zoho date-time text to the interval of instants it can denote: `[earliest, latest]` in
   * epoch ms. The two differ only for a wall time that occurs twice (the repeated hour of an autumn
   * fall-back: `01:10` on the New York fall-back day is 05:10Z in EDT and 06:10Z in EST), where
   * `latest − earliest` is the transition's shift (usually one hour). `earliest` is what
   * {@link ZohoDateTimeCodec.parse} returns. A time in a spring gap denotes one (shifted) instant.
   *
   * Used for ordering writes: an edit made in the second pass of a repeated hour can carry an
   * earlier wall-clock string than one made in the first pass, so a version is older than another
   * only when it is older under every reading of both (see `SourceRecord.modifiedAtLatest`).
   *
   * @returns the interval, or `undefined` when `parse` returns `undefined`. Never throws.
   */
  parseInterval(text: unknown): readonly [earliest: number, latest: number] | undefined {
    const wall = this.parseWall(text);
    if (wall === undefined) return undefined;
    const earliest = wall - this.offsetForWall(wall) * MINUTE_MS;
    // Outside transition days the day's offset is uniform (cached): one reading only.
    const day = this.offsetByLocalDay.get(Math.floor(wall / DAY_MS));
    if (day !== undefined && !Number.isNaN(day)) return [earliest, earliest];
    let latest = earliest;
    for (const offset of [this.zone.offset(wall - DAY_MS), this.zone.offset(wall + DAY_MS)]) {
      const instant = wall - offset * MINUTE_MS;
      if (this.zone.offset(instant) === offset && instant > latest) latest = instant;
    }
    return [earliest, latest];
  }

  /** The wall-clock time of Zoho date-time text as ms "as if UTC", or `undefined`. Never throws. */
  private parseWall(text: unknown): number | undefined {
    if (typeof text !== 'string') return undefined;
    try {
      const c = this.compiled;
      const match = c.regex.exec(text);
      if (match === null) return undefined;
      const yearText = match[c.year.group]!;
      const year = c.year.twoDigit ? 2000 + Number(yearText) : Number(yearText);
      const monthText = match[c.month.group]!;
      const month = c.month.name ? MONTH_BY_NAME.get(monthText.toLowerCase()) : Number(monthText);
      const day = Number(match[c.day]);
      const hour = Number(match[c.hour]);
      const minute = Number(match[c.minute]);
      const secondText = match[c.second];
      const second = secondText === undefined ? 0 : Number(secondText);
      if (month === undefined || !(year >= 100 && month >= 1 && month <= 12 && day >= 1)) return undefined;
      if (day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
      return Date.UTC(year, month - 1, day, hour, minute, second);
    } catch {
      return undefined;
    }
  }

  /**
   * Formats an instant as Zoho date-time text in the codec's zone (English month names,
   * zero-padded numbers). Milliseconds are dropped (floored to the second), so a `>=` criterion
   * built from the result stays inclusive.
   *
   * @param ms - epoch milliseconds.
   * @returns e.g. `15-Mar-2024 17:03:09`.
   * @throws InvalidInputError when `ms` is not a finite number.
   */
  format(ms: number): string {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new InvalidInputError(`Cannot format ${String(ms)} as a Zoho date-time: expected epoch milliseconds`);
    }
    const instant = Math.floor(ms / 1000) * 1000;
    const local = new Date(instant + this.offsetForInstant(instant) * MINUTE_MS);
    const values: Record<Field, number> = {
      year: local.getUTCFullYear(),
      month: local.getUTCMonth() + 1,
      day: local.getUTCDate(),
      hour: local.getUTCHours(),
      minute: local.getUTCMinutes(),
      second: local.getUTCSeconds(),
    };
    let out = '';
    for (const part of this.compiled.parts) {
      if (part.kind === 'literal') out += part.text;
      else if (part.kind === 'number') out += String(values[part.field]).padStart(part.width, '0');
      else if (part.kind === 'year2') out += String(values.year % 100).padStart(2, '0');
      else {
        const name = MONTHS_LONG[values.month - 1]!;
        out += part.long ? name : name.slice(0, 3);
      }
    }
    return out;
  }

  /**
   * The zone's offset (minutes) for a wall-clock time. Cached per local day when the day has one
   * offset (all but the one or two transition days a year), else per local hour, else (an hour
   * with a transition inside it, e.g. at :30) resolved for each value.
   */
  private offsetForWall(wall: number): number {
    const dayKey = Math.floor(wall / DAY_MS);
    let offset = this.offsetByLocalDay.get(dayKey);
    if (offset === undefined) {
      offset = this.uniformWallOffset(dayKey * DAY_MS, DAY_MS);
      if (this.offsetByLocalDay.size >= MAX_CACHE_ENTRIES) this.offsetByLocalDay.clear();
      this.offsetByLocalDay.set(dayKey, offset);
    }
    if (!Number.isNaN(offset)) return offset;
    const hourKey = Math.floor(wall / HOUR_MS);
    offset = this.offsetByLocalHour.get(hourKey);
    if (offset === undefined) {
      offset = this.uniformWallOffset(hourKey * HOUR_MS, HOUR_MS);
      if (this.offsetByLocalHour.size >= MAX_CACHE_ENTRIES) this.offsetByLocalHour.clear();
      this.offsetByLocalHour.set(hourKey, offset);
    }
    if (!Number.isNaN(offset)) return offset;
    return resolveWallOffset(this.zone, wall);
  }

  /**
   * The offset of a wall-clock span when its first and last second resolve alike, else NaN.
   * tz transitions are months apart, so a span whose ends agree has one offset throughout.
   */
  private uniformWallOffset(start: number, length: number): number {
    // Fast path (2 offset look-ups): the same offset a day before and a day after the span means
    // no transition near it (the day margin covers reading wall time as UTC, at most ±14 h off).
    const around = this.zone.offset(start - DAY_MS);
    if (around === this.zone.offset(start + length + DAY_MS)) return around;
    const first = resolveWallOffset(this.zone, start);
    const last = resolveWallOffset(this.zone, start + length - 1000);
    return first === last ? first : Number.NaN;
  }

  /** The zone's offset (minutes) at an instant, cached per UTC day when the day has one offset, else per UTC hour. */
  private offsetForInstant(instant: number): number {
    const dayKey = Math.floor(instant / DAY_MS);
    let offset = this.offsetByUtcDay.get(dayKey);
    if (offset === undefined) {
      offset = this.uniformInstantOffset(dayKey * DAY_MS, DAY_MS);
      if (this.offsetByUtcDay.size >= MAX_CACHE_ENTRIES) this.offsetByUtcDay.clear();
      this.offsetByUtcDay.set(dayKey, offset);
    }
    if (!Number.isNaN(offset)) return offset;
    const hourKey = Math.floor(instant / HOUR_MS);
    offset = this.offsetByUtcHour.get(hourKey);
    if (offset === undefined) {
      offset = this.uniformInstantOffset(hourKey * HOUR_MS, HOUR_MS);
      if (this.offsetByUtcHour.size >= MAX_CACHE_ENTRIES) this.offsetByUtcHour.clear();
      this.offsetByUtcHour.set(hourKey, offset);
    }
    if (!Number.isNaN(offset)) return offset;
    return this.zone.offset(instant);
  }

  private uniformInstantOffset(start: number, length: number): number {
    const first = this.zone.offset(start);
    const last = this.zone.offset(start + length - 1000);
    return first === last ? first : Number.NaN;
  }
}

/**
 * The offset (minutes) that maps a wall-clock time (given as ms "as if UTC") to an instant:
 * `instant = wall − offset`. Candidates are the offsets in force a day before and a day after;
 * an offset is valid when the instant it yields really has that offset.
 * - two valid (fall-back overlap) → the larger offset, i.e. the earlier instant;
 * - none valid (spring gap) → the offset before the transition, which moves the time forward by
 *   the gap.
 */
function resolveWallOffset(zone: IANAZone, wall: number): number {
  const before = zone.offset(wall - DAY_MS);
  const after = zone.offset(wall + DAY_MS);
  const beforeValid = zone.offset(wall - before * MINUTE_MS) === before;
  if (before === after) {
    if (beforeValid) return before;
    // Transitions both ways within two days (rare); fall back to the offset at the guess.
    return zone.offset(wall - before * MINUTE_MS);
  }
  const afterValid = zone.offset(wall - after * MINUTE_MS) === after;
  if (beforeValid && afterValid) return Math.max(before, after);
  if (beforeValid) return before;
  if (afterValid) return after;
  return before;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return DAYS_IN_MONTH[month - 1]!;
}

/**
 * Compiles a `SimpleDateFormat`-style pattern (the date part from Zoho plus ` HH:mm:ss`).
 * @throws ConfigError (option `dateFormat`) for unsupported letters or a missing y/M/d.
 */
function compileFormat(pattern: string): CompiledFormat {
  const parts: FormatPart[] = [];
  let i = 0;
  const pushLiteral = (text: string): void => {
    const last = parts[parts.length - 1];
    if (last?.kind === 'literal') parts[parts.length - 1] = { kind: 'literal', text: last.text + text };
    else parts.push({ kind: 'literal', text });
  };
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === "'") {
      const end = pattern.indexOf("'", i + 1);
      if (end === -1) throw new ConfigError('dateFormat', `Unclosed quote in date format ${shownValue(pattern)}`);
      pushLiteral(end === i + 1 ? "'" : pattern.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    if (!/[A-Za-z]/.test(ch)) {
      pushLiteral(ch);
      i++;
      continue;
    }
    let run = 1;
    while (pattern[i + run] === ch) run++;
    parts.push(letterPart(ch, run, pattern));
    i += run;
  }
  const has = (field: Field): boolean =>
    parts.some(
      (p) =>
        (p.kind === 'number' && p.field === field) ||
        (field === 'year' && p.kind === 'year2') ||
        (field === 'month' && p.kind === 'monthName'),
    );
  for (const field of ['year', 'month', 'day'] as const) {
    if (!has(field)) throw new ConfigError('dateFormat', `Date format ${shownValue(pattern)} has no ${field}`);
  }

  let group = 0;
  let year = { group: 0, twoDigit: false };
  let month = { group: 0, name: false };
  const numbers: Partial<Record<Field, number>> = {};
  let source = '^\\s*';
  for (const part of parts) {
    if (part.kind === 'literal') {
      source += part.text
        .split(/(\s+)/)
        .map((piece) => (/^\s+$/.test(piece) ? '\\s+' : escapeRegExp(piece)))
        .join('');
      continue;
    }
    group++;
    if (part.kind === 'monthName') {
      month = { group, name: true };
      source += '([A-Za-z]{3,9})';
    } else if (part.kind === 'year2') {
      year = { group, twoDigit: true };
      source += '(\\d{2})';
    } else if (part.field === 'year') {
      year = { group, twoDigit: false };
      source += '(\\d{4})';
    } else if (part.field === 'second') {
      // Seconds are optional when parsing: drop the ':' literal before them into the optional group.
      source = source.endsWith(':') ? source.slice(0, -1) : source;
      source += '(?::(\\d{1,2}))?';
      numbers.second = group;
    } else {
      if (part.field === 'month') month = { group, name: false };
      else numbers[part.field] = group;
      source += '(\\d{1,2})';
    }
  }
  source += '\\s*$';
  return {
    parts,
    regex: new RegExp(source),
    year,
    month,
    day: numbers.day!,
    hour: numbers.hour!,
    minute: numbers.minute!,
    second: numbers.second!,
  };
}

function letterPart(ch: string, run: number, pattern: string): FormatPart {
  const unsupported = (): ConfigError =>
    new ConfigError(
      'dateFormat',
      `Unsupported token ${JSON.stringify(ch.repeat(run))} in date format ${JSON.stringify(pattern)} ` +
        '(supported: yyyy, yy, MMMM, MMM, MM, M, dd, d)',
    );
  switch (ch) {
    case 'y':
      if (run === 4) return { kind: 'number', field: 'year', width: 4 };
      if (run === 2) return { kind: 'year2' };
      throw unsupported();
    case 'M':
      if (run >= 4) return { kind: 'monthName', long: true };
      if (run === 3) return { kind: 'monthName', long: false };
      return { kind: 'number', field: 'month', width: run };
    case 'd':
      if (run > 2) throw unsupported();
      return { kind: 'number', field: 'day', width: run };
    case 'H':
      if (run > 2) throw unsupported();
      return { kind: 'number', field: 'hour', width: run };
    case 'm':
      if (run > 2) throw unsupported();
      return { kind: 'number', field: 'minute', width: run };
    case 's':
      if (run > 2) throw unsupported();
      return { kind: 'number', field: 'second', width: run };
    default:
      throw unsupported();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
