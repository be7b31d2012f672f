/**
 * {@link ListingGuard}: stops a paged Zoho listing that goes round in a circle, before it spends
 * the day's quota. Zoho's `record_cursor` is opaque and single-scan
 * (https://zoho.com/creator/help/api/v2.1/what-is-new-in-v2.1.html); an honest chain never hands
 * the same cursor out twice and every page brings records not listed before — [inferred]: Zoho
 * documents neither, but a cursor that comes again can only lead to pages already read.
 */
import { SyncErrorCode, ZohoApiError } from '../errors.js';
import { isPlainObject } from './http-client.js';

/**
 * Watches one listing: every cursor of a cursor chain, every record ID of the listing.
 *
 * - {@link follow} throws when a cursor came before in the same chain (any cycle, not only the
 *   same value twice in a row).
 * - {@link page} throws when a page whose rows carry IDs brings none that the listing has not
 *   already listed (rows without a readable `ID` are left to the normaliser's dead-lettering).
 *
 * Memory: one Set entry per record ID listed (the ID strings are the records' own), plus one per
 * cursor of the current chain.
 */
export class ListingGuard {
  readonly #report: string;
  /** Cursor → the page number that returned it, for the current chain. */
  #cursors = new Map<string, number>();
  readonly #ids = new Set<string>();

  /** @param report - the report name, for error messages. */
  constructor(report: string) {
    this.#report = report;
  }

  /** Starts a new cursor chain (e.g. the next chunk of event IDs); the IDs seen so far stay. */
  newChain(): void {
    this.#cursors = new Map();
  }

  /**
   * Records that `cursor`, returned with page `pageNumber`, is about to be followed.
   * @throws ZohoApiError `ERR_SYNC_ZOHO_LISTING_LOOP` when the chain returned it before.
   */
  follow(cursor: string, pageNumber: number): void {
    const earlier = this.#cursors.get(cursor);
    if (earlier !== undefined) {
      throw loop(
        this.#report,
        `page ${pageNumber} returned a record_cursor that page ${earlier} had returned already`,
      );
    }
    this.#cursors.set(cursor, pageNumber);
  }

  /**
   * Notes the IDs of a page's raw rows.
   * @throws ZohoApiError `ERR_SYNC_ZOHO_LISTING_LOOP` when rows carry IDs and none of them is new.
   */
  page(rows: readonly unknown[], pageNumber: number): void {
    let withId = 0;
    let fresh = 0;
    for (const row of rows) {
      const id = isPlainObject(row) ? row.ID : undefined;
      if (typeof id !== 'string' && typeof id !== 'number') continue;
      withId++;
      const key = String(id);
      if (this.#ids.has(key)) continue;
      this.#ids.add(key);
      fresh++;
    }
    if (withId > 0 && fresh === 0) {
      throw loop(this.#report, `page ${pageNumber} brought ${withId} records, every one of them listed already`);
    }
  }
}

function loop(report: string, what: string): ZohoApiError {
  return new ZohoApiError(
    `Zoho listing of ${report} goes round in a circle: ${what}; stopped to save the API quota`,
    { code: SyncErrorCode.ZOHO_LISTING_LOOP, endpoint: report, httpStatus: 200, zohoCode: 3000 },
  );
}
