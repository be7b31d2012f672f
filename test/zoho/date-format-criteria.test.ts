/**
 * Issue 12 item 14: criteria are built only from validated parts. A `dateFormat` with quoted
 * literal text would be copied into `criteria` and close the quote: "changed since next year"
 * became "everything". Such formats are refused with `ConfigError`, from the option and from the
 * meta API alike (the simulator serves the hostile `date_format`).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { createZohoSimulator } from '../../src/testing.js';
import { DATE_FORMAT_SEPARATORS, ZohoDateTimeCodec, quotedCriteriaLiteral } from '../../src/zoho/date-time.js';
import { ZohoCreatorSource } from '../../src/zoho/zoho-creator-source.js';

/** Closes the date literal, adds `|| ID != 0`, and reopens a literal that the time part closes again. */
const INJECTION = "dd-MMM-yyyy'' || 'ID' != 0 || 'Modified_Time' >= ''dd-MMM-yyyy";
const NEXT_YEAR = Date.now() + 366 * 86_400_000;

describe('dateFormat in criteria', () => {
  it('the injection is refused as an option, before any call', () => {
    const error = (() => {
      try {
        new ZohoCreatorSource({
          accountOwner: 'o',
          appLinkName: 'a',
          eventsReport: 'E',
          registrationsReport: 'R',
          eventLookupField: 'Event',
          clientId: 'c',
          clientSecret: 'secret',
          refreshToken: 'refresh',
          dateFormat: INJECTION,
          timeZone: 'UTC',
        });
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: 'dateFormat' });
  });

  it('the injection is refused when the meta API serves it: no records call is made, nothing is listed', async () => {
    const sim = await createZohoSimulator({ dataset: { events: 3, registrations: 60, seed: 2 }, dateFormat: INJECTION });
    try {
      const source = new ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl, dateFormat: undefined, timeZone: undefined });
      let listed = 0;
      const error = await (async () => {
        for await (const page of source.readChangedSince(NEXT_YEAR)) listed += page.items.length;
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ option: 'dateFormat' });
      expect(listed).toBe(0);
      expect(sim.countRequests({ kind: 'meta' })).toBe(1);
      expect(sim.countRequests({ kind: 'records' })).toBe(0);
    } finally {
      await sim.close();
    }
  });

  it("Zoho's own date formats are all accepted, and 'changed since next year' lists nothing", async () => {
    // Every format of https://www.zoho.com/creator/newhelp/script/deluge-datatypes-date.html except the E (weekday) ones.
    const formats = [
      'dd-MMM-yy', 'dd-MMM-yyyy', 'dd-MMMM-yy', 'dd-MMMM-yyyy', 'MM-dd-yy', 'yy-MM-dd', 'dd-MM-yy', 'dd-MM-yyyy',
      'MM-dd-yyyy', 'yyyy-MM-dd', 'yy/MM/dd', 'dd/MM/yy', 'MM/dd/yy', 'yyyy/MM/dd', 'MM/dd/yyyy', 'dd/MM/yyyy',
      'dd MMM,yy', 'MMM dd,yy', 'dd MMM,yyyy', 'MMM dd,yyyy', 'dd MMMM,yy', 'MMMM dd,yy', 'dd MMMM,yyyy', 'MMMM dd,yyyy',
      'MMM dd yy', 'dd MMM yy', 'MMM dd yyyy', 'dd MMM yyyy', 'MMMM dd yy', 'dd MMMM yy', 'dd MMMM yyyy', 'MMMM dd yyyy',
      'dd.MM.yy', 'MM.dd.yy', 'yy.MM.dd', 'dd MM yyyy', 'dd.MM.yyyy', 'MM.dd.yyyy', 'yyyy.MM.dd',
    ];
    for (const format of formats) {
      const codec = new ZohoDateTimeCodec(format, 'Europe/Berlin');
      expect(quotedCriteriaLiteral(codec.format(1710518589000)), format).toMatch(/^'[A-Za-z0-9\-/., :]+'$/);
    }
    expect(DATE_FORMAT_SEPARATORS).toEqual(['-', '/', '.', ',', ' ']);

    const sim = await createZohoSimulator({ dataset: { events: 3, registrations: 60, seed: 2 }, dateFormat: 'MMM dd,yyyy' });
    try {
      const source = new ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl, dateFormat: undefined, timeZone: undefined });
      let listed = 0;
      for await (const page of source.readChangedSince(NEXT_YEAR)) listed += page.items.length;
      expect(listed).toBe(0);
      let all = 0;
      for await (const page of source.readChangedSince(0)) all += page.items.length;
      expect(all).toBe(60);
    } finally {
      await sim.close();
    }
  });

  it('quotes, brackets and other text in a format are refused; a stray character never reaches a literal', () => {
    for (const bad of ["dd-MMM-yyyy'", "'on' dd-MM-yyyy", 'dd-MM-yyyy || 1', 'dd(MM)yyyy', 'dd"MM"yyyy', 'dd-MM-yyyy\n']) {
      expect(() => new ZohoDateTimeCodec(bad, 'UTC'), JSON.stringify(bad)).toThrow(ConfigError);
    }
    expect(() => quotedCriteriaLiteral("01-Jan-2025' || ID != 0 || '")).toThrow(ConfigError);
  });
});
