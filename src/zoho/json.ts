/**
 * Bigint-safe JSON parsing for Zoho responses.
 *
 * Zoho Creator IDs are 16–19-digit integers, above `Number.MAX_SAFE_INTEGER`. v2.1 sends them as
 * strings, but legacy payloads (v1, Deluge `invokeUrl` bodies built from `input.ID`) send bare
 * numbers, which `JSON.parse` silently rounds (see /work/shared/reference/zoho-creator-api.md §9,
 * e.g. https://github.com/billaram/zcapp README shows `"ID": 1946659000002034343`).
 */
import { isInteger, isSafeNumber, parse as losslessParse } from 'lossless-json';

/**
 * A bare (unquoted) integer of 16 or more digits after `:`, `[` or `,` (the start of the text is
 * checked by {@link LEADING_LONG_INTEGER}). Digits inside strings can match too; that only sends
 * the text down the (correct) slow path. Without a `^|` alternation the engine can scan for the
 * leading character class, which halves the cost of this test on a 400 KB page.
 */
const LONG_BARE_INTEGER = /[:[,]\s*-?\d{16}/;
/** A text that is itself a bare integer of 16 or more digits. */
const LEADING_LONG_INTEGER = /^\s*-?\d{16}/;

/**
 * Parses JSON text, keeping every integer beyond `Number.MAX_SAFE_INTEGER` (2^53 − 1) as its
 * exact digit string (e.g. `4085713000012345679` → `"4085713000012345679"`). Safe integers and
 * other numbers come back as `number`s, as with `JSON.parse`.
 *
 * Fast path: plain `JSON.parse` when the text holds no bare integer of 16+ digits (one regex
 * scan over the raw text); otherwise `lossless-json` `parse` with a number parser. On duplicate
 * keys the last value wins, as with `JSON.parse`.
 *
 * @param text - the raw response body.
 * @returns the parsed value (`unknown`: narrow before use).
 * @throws SyntaxError when the text is not valid JSON (callers map it to a typed error).
 * @see https://www.zoho.com/creator/help/api/v2.1/get-records.html (IDs as strings in v2.1; bare
 *   numbers only in legacy payloads — [code], reference §9)
 */
export function parseZohoJson(text: string): unknown {
  if (!LONG_BARE_INTEGER.test(text) && !LEADING_LONG_INTEGER.test(text)) return JSON.parse(text);
  return losslessParse(text, null, {
    parseNumber: parseNumberKeepingBigIntegers,
    onDuplicateKey: ({ newValue }) => newValue,
  });
}

/**
 * The number parser of the slow path: an integer that a `number` cannot hold exactly stays a
 * digit string; everything else becomes a `number`.
 */
function parseNumberKeepingBigIntegers(value: string): number | string {
  if (isInteger(value) && !isSafeNumber(value)) return value;
  return Number(value);
}
