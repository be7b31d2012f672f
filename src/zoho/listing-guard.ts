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
 * Memory: 16 bytes per record ID listed (a 53-bit hash of each ID in an open-addressing table at
 * most half full: 16 MB for 1,000,000 records, where a Set of the ID strings held about 100 MB and
 * grew a long listing's RSS), plus one entry per cursor of the current chain. Two different IDs
 * share a hash with a chance of about n / 2^53 (1e-10 at 1,000,000 IDs); a page is refused only
 * when every one of its IDs was seen, so a collision cannot stop an honest listing unless all of a
 * page's IDs collide.
 */
export class ListingGuard {
  readonly #report: string;
  /** Cursor → the page number that returned it, for the current chain. */
  #cursors = new Map<string, number>();
  readonly #ids = new IdHashSet();

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
      if (!this.#ids.add(typeof id === 'string' ? id : String(id))) continue;
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

/** A set of strings kept as 53-bit hashes (two FNV-1a 32-bit hashes) in a growing Float64Array, open addressing. */
class IdHashSet {
  #slots = new Float64Array(1024);
  #size = 0;

  /** Adds `id`; true when it was not in the set. */
  add(id: string): boolean {
    const hash = hashOf(id);
    if (this.#insert(this.#slots, hash)) {
      this.#size++;
      if (this.#size * 2 > this.#slots.length) this.#grow();
      return true;
    }
    return false;
  }

  #insert(slots: Float64Array, hash: number): boolean {
    const mask = slots.length - 1;
    let i = hash % slots.length;
    for (;;) {
      const held = slots[i]!;
      if (held === 0) {
        slots[i] = hash;
        return true;
      }
      if (held === hash) return false;
      i = (i + 1) & mask;
    }
  }

  #grow(): void {
    const next = new Float64Array(this.#slots.length * 2);
    for (const hash of this.#slots) if (hash !== 0) this.#insert(next, hash);
    this.#slots = next;
  }
}

/** A non-zero 53-bit hash of `text`: 32 bits of FNV-1a and 21 of FNV-1a with another offset basis. */
function hashOf(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  const hash = (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
  return hash === 0 ? 1 : hash;
}
