import { describe, expect, it } from 'vitest';
import { ZohoDateTimeCodec } from '../../src/zoho/date-time.js';
import { parseZohoJson } from '../../src/zoho/json.js';
import {
  ZohoRecordNormaliser,
  isZohoId,
  readLookupId,
  toSourceEvents,
  TOO_DEEP,
  toZohoId,
  withStringIds,
} from '../../src/zoho/record-normaliser.js';
import { MAX_RECORD_DEPTH } from '../../src/adapters/source.js';

const codec = new ZohoDateTimeCodec('dd-MMM-yyyy', 'UTC');
const normaliser = new ZohoRecordNormaliser({ codec, eventLookupField: 'Event' });
const good = {
  ID: '4085713000012345679',
  Event: { ID: '4085713000000000001', display_value: 'Summit', zc_display_value: 'Summit' },
  Name: 'Ada',
  Modified_Time: '15-Mar-2024 17:03:09',
};

describe('ID helpers', () => {
  it('accepts 1–19 digit strings, safe integers and bigints only', () => {
    expect(isZohoId('1')).toBe(true);
    expect(isZohoId('4085713000012345679')).toBe(true);
    expect(isZohoId('40857130000123456790')).toBe(false);
    expect(isZohoId('12a')).toBe(false);
    expect(isZohoId(12)).toBe(false);
    expect(toZohoId(12)).toBe('12');
    expect(toZohoId(4085713000012345679n)).toBe('4085713000012345679');
    expect(toZohoId(2 ** 60)).toBeUndefined(); // already imprecise
    expect(toZohoId(-1)).toBeUndefined();
    expect(toZohoId(1.5)).toBeUndefined();
    expect(toZohoId(' 12')).toBeUndefined();
  });

  it('reads lookups as object, bare string/number, or one-element array', () => {
    expect(readLookupId({ ID: '77', display_value: 'x' })).toBe('77');
    expect(readLookupId('77')).toBe('77');
    expect(readLookupId(77)).toBe('77');
    expect(readLookupId([{ ID: '77' }])).toBe('77');
    expect(readLookupId([{ ID: '77' }, { ID: '78' }])).toBeUndefined();
    expect(readLookupId('')).toBeUndefined();
    expect(readLookupId({ display_value: 'x' })).toBeUndefined();
  });

  it('withStringIds converts numeric IDs at any depth without touching the input', () => {
    const input = { ID: 12, Lines: [{ ID: 13, n: 1 }], Event: { ID: 14 }, other: { id: 5 } };
    expect(withStringIds(input)).toEqual({ ID: '12', Lines: [{ ID: '13', n: 1 }], Event: { ID: '14' }, other: { id: 5 } });
    expect(input.ID).toBe(12);
    const clean = { ID: '1', x: [1, 2] };
    expect(withStringIds(clean)).toBe(clean);
  });

  it('withStringIds stops at maxDepth instead of overflowing the stack', () => {
    const deep = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`) as unknown;
    expect(withStringIds(deep)).toBe(TOO_DEEP);
    expect(withStringIds({ a: { b: [1] } }, 3)).toEqual({ a: { b: [1] } });
    expect(withStringIds({ a: { b: [1] } }, 2)).toBe(TOO_DEEP);
  });
});

describe('ZohoRecordNormaliser depth', () => {
  it(`rejects a row nested deeper than ${MAX_RECORD_DEPTH} levels as too-deep and keeps the rest`, () => {
    const deep = { ...good, ID: '4085713000012345680', Notes: JSON.parse(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`) as unknown };
    const { items, rejected } = normaliser.toRecords([good, deep, { ...good, ID: '4085713000012345681' }]);
    expect(items.map((r) => r.id)).toEqual(['4085713000012345679', '4085713000012345681']);
    expect(rejected).toEqual([
      { reason: 'too-deep', detail: `record 4085713000012345680: nested deeper than ${MAX_RECORD_DEPTH} levels`, eventId: '4085713000000000001', raw: deep },
    ]);
    expect(toSourceEvents([{ ID: '5', x: deep }]).invalid).toHaveLength(1);
  });
});

describe('ZohoRecordNormaliser', () => {
  it('accepts a good row', () => {
    const { items, rejected } = normaliser.toRecords([good]);
    expect(rejected).toEqual([]);
    expect(items).toEqual([
      { id: '4085713000012345679', eventId: '4085713000000000001', modifiedAt: Date.UTC(2024, 2, 15, 17, 3, 9), data: good },
    ]);
  });

  it('rejects bad rows with a reason and keeps the rest of the page', () => {
    const rows: unknown[] = [
      good,
      { ...good, ID: undefined },
      { ...good, ID: '' },
      { ...good, ID: 'abc' },
      { ...good, ID: '12345678901234567890' },
      { ...good, Event: undefined },
      { ...good, Event: { display_value: 'no id' } },
      { ...good, Event: '' },
      { ...good, Modified_Time: 'yesterday' },
      { ...good, Modified_Time: undefined },
      'not an object',
      null,
      { ...good, ID: '2' },
    ];
    const { items, rejected } = normaliser.toRecords(rows);
    expect(items.map((r) => r.id)).toEqual(['4085713000012345679', '2']);
    expect(rejected.map((r) => r.reason)).toEqual([
      'missing-id',
      'missing-id',
      'invalid-id',
      'invalid-id',
      'missing-event',
      'missing-event',
      'missing-event',
      'invalid-modified-time',
      'invalid-modified-time',
      'missing-id',
      'missing-id',
    ]);
    expect(rejected[0]?.eventId).toBe('4085713000000000001'); // event still readable
    expect(rejected[4]?.eventId).toBeUndefined();
    expect(rejected[2]?.raw).toBe(rows[3]);
    expect(rejected[7]?.detail).toContain('yesterday');
  });

  it('turns bare numeric IDs from the lossless parser into exact, distinct strings', () => {
    const rows = parseZohoJson(
      '[{"ID":4085713000012345679,"Event":{"ID":4085713000000000001},"Modified_Time":"15-Mar-2024 17:03:09"},' +
        '{"ID":4085713000012345680,"Event":4085713000000000001,"Modified_Time":"15-Mar-2024 17:03:10","Sub":[{"ID":7}]}]',
    ) as unknown[];
    const { items, rejected } = normaliser.toRecords(rows);
    expect(rejected).toEqual([]);
    expect(items.map((r) => r.id)).toEqual(['4085713000012345679', '4085713000012345680']);
    expect(items.map((r) => r.eventId)).toEqual(['4085713000000000001', '4085713000000000001']);
    expect(items[1]?.data).toMatchObject({ ID: '4085713000012345680', Sub: [{ ID: '7' }] });
  });

  it('stamps carry id, event and time only', () => {
    const { items } = normaliser.toStamps([good]);
    expect(items).toEqual([
      { id: '4085713000012345679', eventId: '4085713000000000001', modifiedAt: Date.UTC(2024, 2, 15, 17, 3, 9) },
    ]);
  });

  it('toRecord returns the record or its rejection', () => {
    expect(normaliser.toRecord(good).record?.id).toBe('4085713000012345679');
    expect(normaliser.toRecord({ ID: '1' }).rejection?.reason).toBe('missing-event');
  });

  it('toSourceEvents keeps events with valid IDs', () => {
    const { events, invalid } = toSourceEvents([{ ID: '5', Name: 'A' }, { ID: 6 }, { Name: 'no id' }, 3]);
    expect(events).toEqual([
      { id: '5', data: { ID: '5', Name: 'A' } },
      { id: '6', data: { ID: '6' } },
    ]);
    expect(invalid).toHaveLength(2);
  });
});
