import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DateTime, Settings } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, InvalidInputError } from '../../src/errors.js';
import { ZohoDateTimeCodec } from '../../src/zoho/date-time.js';

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('ZohoDateTimeCodec formats', () => {
  it.each([
    ['dd-MMM-yyyy', '15-Mar-2024 17:03:09'],
    ['MMM dd,yyyy', 'Mar 15,2024 17:03:09'],
    ['MM-dd-yyyy', '03-15-2024 17:03:09'],
    ['dd/MM/yyyy', '15/03/2024 17:03:09'],
    ['yyyy-MM-dd', '2024-03-15 17:03:09'],
    ['MMMM dd, yyyy', 'March 15, 2024 17:03:09'],
  ])('%s reads and writes %s', (format, text) => {
    const codec = new ZohoDateTimeCodec(format, 'UTC');
    const ms = Date.UTC(2024, 2, 15, 17, 3, 9);
    expect(codec.parse(text)).toBe(ms);
    expect(codec.format(ms)).toBe(text);
    expect(codec.dateTimeFormat).toBe(`${format} HH:mm:ss`);
  });

  it('reads in the time zone and matches luxon on ordinary times', () => {
    const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'Europe/Berlin');
    for (let ms = Date.UTC(2023, 0, 1); ms < Date.UTC(2025, 0, 1); ms += 7_777_777_000) {
      const text = DateTime.fromMillis(ms, { zone: 'Europe/Berlin' }).setLocale('en-US').toFormat('dd-MMM-yyyy HH:mm:ss');
      expect(codec.format(ms)).toBe(text);
      expect(codec.parse(text)).toBe(Math.floor(ms / 1000) * 1000);
    }
  });

  it('is lenient on case, whitespace and missing seconds; strict on the rest', () => {
    const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'UTC');
    expect(codec.parse(' 15-MAR-2024 17:03 ')).toBe(Date.UTC(2024, 2, 15, 17, 3));
    expect(codec.parse('15-Sept-2024 00:00:00')).toBe(Date.UTC(2024, 8, 15));
    for (const bad of ['31-Feb-2024 00:00:00', '15-Mrz-2024 00:00:00', '15-Mar-2024 24:00:00', '15-Mar-2024', '', '2024-03-15T17:03:09Z']) {
      expect(codec.parse(bad)).toBeUndefined();
    }
    expect(codec.parse(undefined)).toBeUndefined();
    expect(codec.parse(1710522189000)).toBeUndefined();
    expect(codec.parse({})).toBeUndefined();
  });

  it('rejects unsupported formats and zones with ConfigError naming the option', () => {
    expect(() => new ZohoDateTimeCodec('dd-MMM-yyyy', 'Mars/Olympus')).toThrow(ConfigError);
    expect(() => new ZohoDateTimeCodec('dd-MMM-yyyy', 'Mars/Olympus')).toThrow(expect.objectContaining({ option: 'timeZone' }));
    expect(() => new ZohoDateTimeCodec('dd-QQ-yyyy', 'UTC')).toThrow(expect.objectContaining({ option: 'dateFormat' }));
    expect(() => new ZohoDateTimeCodec('dd-MM', 'UTC')).toThrow(expect.objectContaining({ option: 'dateFormat' }));
    expect(() => new ZohoDateTimeCodec('', 'UTC')).toThrow(ConfigError);
  });

  it('format rejects non-finite input and floors to the second', () => {
    const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'UTC');
    expect(() => codec.format(Number.NaN)).toThrow(InvalidInputError);
    expect(codec.format(Date.UTC(2024, 0, 1, 0, 0, 0, 999))).toBe('01-Jan-2024 00:00:00');
  });
});

describe('ZohoDateTimeCodec DST', () => {
  it('America/New_York: fall-back ambiguity → earlier instant, spring gap → shifted forward', () => {
    const codec = new ZohoDateTimeCodec('MM-dd-yyyy', 'America/New_York');
    // Spring forward 2024-03-10 02:00 EST → 03:00 EDT (07:00Z).
    expect(iso(codec.parse('03-10-2024 01:59:59'))).toBe('2024-03-10T06:59:59.000Z');
    expect(iso(codec.parse('03-10-2024 02:30:00'))).toBe('2024-03-10T07:30:00.000Z'); // = 03:30 EDT
    expect(iso(codec.parse('03-10-2024 03:00:00'))).toBe('2024-03-10T07:00:00.000Z');
    // Fall back 2024-11-03 02:00 EDT → 01:00 EST (06:00Z); 01:xx happens twice.
    expect(iso(codec.parse('11-03-2024 00:59:59'))).toBe('2024-11-03T04:59:59.000Z');
    expect(iso(codec.parse('11-03-2024 01:30:00'))).toBe('2024-11-03T05:30:00.000Z'); // EDT reading
    expect(iso(codec.parse('11-03-2024 02:00:00'))).toBe('2024-11-03T07:00:00.000Z');
    expect(codec.format(Date.UTC(2024, 10, 3, 5, 30))).toBe('11-03-2024 01:30:00');
    expect(codec.format(Date.UTC(2024, 10, 3, 6, 30))).toBe('11-03-2024 01:30:00');
  });

  it('parseInterval: both readings of a fall-back wall time, one reading elsewhere (gap included)', () => {
    const ny = new ZohoDateTimeCodec('MM-dd-yyyy', 'America/New_York');
    const both = (text: string): (string | undefined)[] => {
      const interval = ny.parseInterval(text);
      return interval === undefined ? [undefined] : interval.map((ms) => iso(ms));
    };
    // 2024-11-03: 01:xx is EDT (UTC-4) in the first pass and EST (UTC-5) in the second.
    expect(both('11-03-2024 01:10:00')).toEqual(['2024-11-03T05:10:00.000Z', '2024-11-03T06:10:00.000Z']);
    expect(both('11-03-2024 01:59:59')).toEqual(['2024-11-03T05:59:59.000Z', '2024-11-03T06:59:59.000Z']);
    expect(both('11-03-2024 00:59:59')).toEqual(['2024-11-03T04:59:59.000Z', '2024-11-03T04:59:59.000Z']);
    expect(both('11-03-2024 02:00:00')).toEqual(['2024-11-03T07:00:00.000Z', '2024-11-03T07:00:00.000Z']);
    // The spring gap denotes one (shifted) instant; an ordinary day one instant; garbage nothing.
    expect(both('03-10-2024 02:30:00')).toEqual(['2024-03-10T07:30:00.000Z', '2024-03-10T07:30:00.000Z']);
    expect(both('07-01-2024 12:00:00')).toEqual(['2024-07-01T16:00:00.000Z', '2024-07-01T16:00:00.000Z']);
    expect(ny.parseInterval('not a date')).toBeUndefined();
    // earliest is always what parse() gives.
    expect(ny.parseInterval('11-03-2024 01:10:00')?.[0]).toBe(ny.parse('11-03-2024 01:10:00'));
    // A 30-minute shift (Lord Howe, 2024-04-07 02:00 +11 → 01:30 +10:30): 01:30–01:59 happen twice.
    const lh = new ZohoDateTimeCodec('MM-dd-yyyy', 'Australia/Lord_Howe');
    const [e, l] = lh.parseInterval('04-07-2024 01:45:00')!;
    expect(l - e).toBe(30 * 60_000);
  });

  it('Europe/Berlin: both transitions', () => {
    const codec = new ZohoDateTimeCodec('MMM dd,yyyy', 'Europe/Berlin');
    // 2024-03-31 02:00 CET → 03:00 CEST (01:00Z).
    expect(iso(codec.parse('Mar 31,2024 01:59:59'))).toBe('2024-03-31T00:59:59.000Z');
    expect(iso(codec.parse('Mar 31,2024 02:30:00'))).toBe('2024-03-31T01:30:00.000Z'); // = 03:30 CEST
    expect(iso(codec.parse('Mar 31,2024 03:00:00'))).toBe('2024-03-31T01:00:00.000Z');
    // 2024-10-27 03:00 CEST → 02:00 CET (01:00Z); 02:xx happens twice.
    expect(iso(codec.parse('Oct 27,2024 02:30:00'))).toBe('2024-10-27T00:30:00.000Z'); // CEST reading
    expect(iso(codec.parse('Oct 27,2024 03:00:00'))).toBe('2024-10-27T02:00:00.000Z');
    expect(codec.format(Date.UTC(2024, 2, 31, 1, 0))).toBe('Mar 31,2024 03:00:00');
  });

  it.each([
    ['America/New_York', Date.UTC(2024, 2, 9), Date.UTC(2024, 2, 12)],
    ['America/New_York', Date.UTC(2024, 10, 2), Date.UTC(2024, 10, 5)],
    ['Europe/Berlin', Date.UTC(2024, 2, 30), Date.UTC(2024, 3, 2)],
    ['Europe/Berlin', Date.UTC(2024, 9, 26), Date.UTC(2024, 9, 29)],
    ['Australia/Lord_Howe', Date.UTC(2024, 3, 6), Date.UTC(2024, 3, 8)], // 30-minute DST shift
  ])('the offset cache gives the same answers as an uncached codec across the %s change', (zone, from, to) => {
    const cached = new ZohoDateTimeCodec('dd-MMM-yyyy', zone);
    const cachedBackward = new ZohoDateTimeCodec('dd-MMM-yyyy', zone);
    const texts: string[] = [];
    const fmt = new ZohoDateTimeCodec('dd-MMM-yyyy', 'UTC'); // wall-clock texts, independent of the zone
    for (let wall = from; wall < to; wall += 5 * 60_000) texts.push(fmt.format(wall));
    // Warm one cache walking forward and another walking backward; compare every value with a
    // fresh (cold) codec.
    const forward = texts.map((t) => cached.parse(t));
    const backward = [...texts]
      .reverse()
      .map((t) => cachedBackward.parse(t))
      .reverse();
    texts.forEach((text, i) => {
      const cold = new ZohoDateTimeCodec('dd-MMM-yyyy', zone).parse(text);
      expect(forward[i], text).toBe(cold);
      expect(backward[i], text).toBe(cold);
    });
    // And every instant formats back to a wall time that parses to itself (no gap or overlap is
    // involved when formatting an instant that exists).
    for (let ms = from; ms < to; ms += 5 * 60_000) {
      const text = cached.format(ms);
      const back = cached.parse(text)!;
      expect(cached.format(back)).toBe(text);
    }
  });

  it('parses 200,000 Modified_Time values in seconds, not minutes (cached offsets)', () => {
    const fmt = new ZohoDateTimeCodec('dd-MMM-yyyy', 'America/New_York');
    const texts = Array.from({ length: 200_000 }, (_, i) => fmt.format(Date.UTC(2021, 0, 1) + i * 631_000)); // ~4 years
    // Best of three runs, each with a fresh codec (cold offset cache), so that a busy machine
    // (other test files, other processes) does not make the measurement flaky.
    let best = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 3; run++) {
      const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'America/New_York');
      const started = performance.now();
      let sum = 0;
      for (const text of texts) sum += codec.parse(text) ?? Number.NaN;
      best = Math.min(best, performance.now() - started);
      expect(Number.isNaN(sum)).toBe(false);
    }
    // A sanity bound only (the machine is shared; quiet runs take ~0.1–0.3 s): parse speed belongs in npm run bench.
    expect(best).toBeLessThan(3_000);
  });
});

describe('ZohoDateTimeCodec host-locale independence', () => {
  const savedLocale = Settings.defaultLocale;
  afterEach(() => {
    Settings.defaultLocale = savedLocale;
  });

  it('writes and reads English month names when luxon defaults to German', () => {
    Settings.defaultLocale = 'de-DE';
    const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'Europe/Berlin');
    expect(codec.format(Date.UTC(2024, 2, 15, 16, 3, 9))).toBe('15-Mar-2024 17:03:09');
    expect(codec.format(Date.UTC(2024, 9, 15, 16, 3, 9))).toBe('15-Oct-2024 18:03:09');
    expect(codec.parse('15-Dec-2024 10:00:00')).toBe(Date.UTC(2024, 11, 15, 9));
  });

  it('gives the same text in a process whose locale is de_DE / ja_JP', () => {
    const script = fileURLToPath(new URL('./fixtures/format-in-locale.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    for (const locale of ['de_DE.UTF-8', 'ja_JP.UTF-8']) {
      const out = execFileSync(tsx, [script], {
        env: { ...process.env, LANG: locale, LC_ALL: locale, TZ: 'Asia/Tokyo' },
        encoding: 'utf8',
      }).trim();
      expect(out).toBe('15-Mar-2024 17:03:09|1710518589000|March 05, 2024 00:00:00');
    }
  });
});
