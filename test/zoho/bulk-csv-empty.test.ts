/**
 * `BulkRecordShape`'s empty cells (unit): the CSV writes `null` and `""` alike, so an empty cell
 * becomes the empty value the paged JSON gives the field — its own in the sample, else its type's
 * in the sample, else Zoho's for the type (`""` text, `[]` lists, `null` numbers and booleans).
 */
import { describe, expect, it } from 'vitest';
import { BulkRecordShape } from '../../src/zoho/bulk-csv.js';

const header = ['ID', 'Own_Null', 'Own_Blank', 'Late_Text', 'Mixed', 'Count', 'Tags', 'All_Null'];
const empty = (sample: Record<string, unknown>[]) =>
  BulkRecordShape.learn(sample, 'Event', new Map()).toRecord(header, ['9', '', '', '', '', '', '', ''], new Map());

describe('BulkRecordShape: empty cells', () => {
  it('follows the field, then the sample’s fields of the same type, then the type’s default', () => {
    const row = (i: number, over: Record<string, unknown>) => ({ ID: String(i), Own_Null: 'a', Own_Blank: 'b', Late_Text: 'c', Mixed: 'm', Count: 1, Tags: ['x'], All_Null: null, ...over });
    // Text fields empty only as null in the sample: a text field never seen empty is null too.
    expect(empty([row(1, { Own_Null: null }), row(2, {})])).toEqual({
      ID: '9', Own_Null: null, Own_Blank: null, Late_Text: null, Mixed: null, Count: null, Tags: [], All_Null: null,
    });
    // Text empty both as null and "" (one field each): the type is ambiguous, so "" (Zoho's for text);
    // a field seen empty both ways cannot be rebuilt exactly: "" is chosen.
    expect(empty([row(1, { Own_Null: null, Own_Blank: '', Mixed: null }), row(2, { Mixed: '' })])).toEqual({
      ID: '9', Own_Null: null, Own_Blank: '', Late_Text: '', Mixed: '', Count: null, Tags: [], All_Null: null,
    });
  });
});
