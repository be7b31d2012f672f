import { describe, expect, it } from 'vitest';
import { parseZohoJson } from '../../src/zoho/json.js';

describe('parseZohoJson', () => {
  it('keeps bare integers beyond 2^53 as exact digit strings', () => {
    const parsed = parseZohoJson(
      '{"code":3000,"data":[{"ID": 4085713000012345679},{"ID":4085713000012345680,"Event":{"ID":4085713000000000001}}]}',
    ) as { data: { ID: unknown; Event?: { ID: unknown } }[] };
    expect(parsed.data[0]?.ID).toBe('4085713000012345679');
    expect(parsed.data[1]?.ID).toBe('4085713000012345680');
    expect(parsed.data[1]?.Event?.ID).toBe('4085713000000000001');
  });

  it('keeps safe numbers as numbers on the slow path', () => {
    const parsed = parseZohoJson('{"ID":4085713000012345679,"n":42,"f":1.5,"neg":-7,"s16":1234567890123456}') as Record<
      string,
      unknown
    >;
    expect(parsed).toEqual({ ID: '4085713000012345679', n: 42, f: 1.5, neg: -7, s16: 1234567890123456 });
  });

  it('keeps large negative integers and top-level values exact', () => {
    expect(parseZohoJson('[-9007199254740993]')).toEqual(['-9007199254740993']);
    expect(parseZohoJson('9007199254740993')).toBe('9007199254740993');
  });

  it('uses the fast path for string IDs and leaves them untouched', () => {
    const parsed = parseZohoJson('{"code":3000,"data":[{"ID":"4085713000012345679"}]}') as { data: { ID: string }[] };
    expect(parsed.data[0]?.ID).toBe('4085713000012345679');
  });

  it('does not misread long digit runs inside strings', () => {
    const parsed = parseZohoJson('{"a":"x:12345678901234567890","b":[1,2]}');
    expect(parsed).toEqual({ a: 'x:12345678901234567890', b: [1, 2] });
  });

  it('lets the last duplicate key win on both paths, like JSON.parse', () => {
    expect(parseZohoJson('{"a":1,"a":2}')).toEqual({ a: 2 });
    expect(parseZohoJson('{"ID":4085713000012345679,"a":1,"a":2}')).toEqual({ ID: '4085713000012345679', a: 2 });
  });

  it('throws SyntaxError on invalid JSON on both paths', () => {
    expect(() => parseZohoJson('<html>')).toThrow(SyntaxError);
    expect(() => parseZohoJson('{"ID":4085713000012345679,')).toThrow();
  });
});
