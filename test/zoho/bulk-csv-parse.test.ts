/**
 * The Bulk Read CSV reader (src/zoho/bulk-read.ts `csvBatches`: csv-parse fed chunk by chunk as the
 * zip inflates, its records read back after each chunk): RFC 4180 quoting, line breaks in quoted
 * cells, `""`, BOM, empty lines, CRLF and LF files, and every chunk boundary, checked against
 * csv-parse's synchronous API on the whole text.
 */
import { parse } from 'csv-parse/sync';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { csvBatches } from '../../src/zoho/bulk-read.js';

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** All rows csvBatches yields for `csv` zipped, the zip fed in chunks of `chunk` bytes. */
async function rowsOf(csv: string, chunk: number, batchSize = 2): Promise<{ rows: string[][]; batches: number[] }> {
  const zip = zipSync({ 'r.csv': new TextEncoder().encode(csv) }, { level: 1 });
  const rows: string[][] = [];
  const batches: number[] = [];
  for await (const batch of csvBatches(chunked(zip, chunk), 'r', batchSize)) {
    batches.push(batch.length);
    rows.push(...batch);
  }
  return { rows, batches };
}

const TRICKY =
  '\uFEFFID,Name,Note\r\n' +
  '1,"Bùi, Văn ""Long""","two\r\nlines"\r\n' +
  '\r\n' +
  '2,,""\r\n' +
  '3,Lễ hội Ẩm thực,"a,b,c"\r\n' +
  '4,"","x""y"\r\n' +
  '5,last,"no newline at the end"';

describe('csvBatches', () => {
  it('parses quoting, line breaks, "" escapes, BOM and empty lines as csv-parse does', async () => {
    const expected = parse(TRICKY, { bom: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
    const { rows, batches } = await rowsOf(TRICKY, 1 << 16);
    expect(rows).toEqual(expected);
    expect(rows[1]).toEqual(['1', 'Bùi, Văn "Long"', 'two\r\nlines']);
    // The header alone, then batches of 2 rows, the last one shorter.
    expect(batches).toEqual([1, 2, 2, 1]);
  });

  it('gives the same rows whatever the chunk boundaries of the zip', async () => {
    const expected = parse(TRICKY, { bom: true, skip_empty_lines: true }) as string[][];
    for (const chunk of [1, 2, 3, 5, 7, 11, 64]) {
      expect((await rowsOf(TRICKY, chunk)).rows).toEqual(expected);
    }
    // Rows ended by a bare LF (outside quotes) read the same.
    const lf = TRICKY.replace(/\r\n(?=\d|\r|$)/g, '\n');
    expect(lf).not.toBe(TRICKY);
    for (const chunk of [1, 3, 64]) expect((await rowsOf(lf, chunk)).rows).toEqual(expected);
  });

  it('refuses a row with another number of cells than the header, and an unclosed quote', async () => {
    await expect(rowsOf('a,b\r\n1,2,3\r\n', 64)).rejects.toThrow(/row 2 has 3 cells, the header 2/);
    await expect(rowsOf('a,b\r\n1,"open\r\n', 64)).rejects.toThrow(/the CSV is not readable \(Quote Not Closed/);
    await expect(rowsOf('a,b\r\n1,"x"y\r\n', 64)).rejects.toThrow(/the CSV is not readable \(Invalid Closing Quote/);
    await expect(rowsOf('a,b\r\n1,"x"y\r\n', 64)).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_MALFORMED_RESPONSE' });
  });
});
