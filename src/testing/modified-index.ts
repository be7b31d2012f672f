/**
 * A `Modified_Time` index for the simulator's registrations report, so that an incremental
 * listing (`Modified_Time >= "…"`) reads the rows modified since its bound instead of scanning
 * every registration. It only narrows the candidates: the listing still applies the whole
 * compiled criteria to each current row and returns rows in ascending ID order, so answers are
 * exactly those of a full scan (the paging contract of ./store.ts is unchanged).
 *
 * Kept cheap under edits: a base array sorted by modification time (rebuilt rarely) plus the set of
 * IDs changed since (every `set`/`delete` of a row reports its ID). A base entry may be stale (its
 * row changed or is gone); that is harmless, because the changed ID is also in the delta and the
 * criteria decide on the current row.
 */
import { compareIds } from './dataset.js';
import { SortedIds } from './store.js';

/** Rebuild the base once the delta holds this share of the rows (or 1,024 IDs, if more). */
const REBUILD_SHARE = 1 / 16;

/** Candidate IDs by modification time. */
export class ModifiedTimeIndex {
  readonly #rows: () => Iterable<[string, { readonly modifiedAt: number }]>;
  readonly #size: () => number;
  #times: Float64Array | undefined;
  #ids: string[] = [];
  readonly #delta = new Set<string>();

  /**
   * @param rows - iterates the current rows (ID, row); read on a rebuild.
   * @param size - the current number of rows.
   */
  constructor(rows: () => Iterable<[string, { readonly modifiedAt: number }]>, size: () => number) {
    this.#rows = rows;
    this.#size = size;
  }

  /** Records that the row of `id` was added, changed or removed. O(1). */
  touch(id: string): void {
    if (this.#times === undefined) return; // no base yet: the first query builds it from the rows
    this.#delta.add(id);
    if (this.#delta.size > Math.max(1024, this.#size() * REBUILD_SHARE)) this.#times = undefined;
  }

  /**
   * The IDs of every row whose modification time may be ≥ `from` (a superset: it can hold rows
   * modified earlier, or removed since), sorted ascending as the report's ID index is.
   *
   * @param from - lower bound, epoch ms.
   */
  since(from: number): SortedIds {
    if (this.#times === undefined) this.#rebuild();
    const times = this.#times!;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! < from) lo = mid + 1;
      else hi = mid;
    }
    const ids = new Set<string>(this.#ids.slice(lo));
    for (const id of this.#delta) ids.add(id);
    return new SortedIds([...ids].sort(compareIds), true);
  }

  #rebuild(): void {
    const entries: { t: number; id: string }[] = [];
    for (const [id, row] of this.#rows()) entries.push({ t: row.modifiedAt, id });
    entries.sort((a, b) => a.t - b.t);
    this.#times = Float64Array.from(entries, (e) => e.t);
    this.#ids = entries.map((e) => e.id);
    this.#delta.clear();
  }
}

/** A `Map` that reports every key it sets or deletes (so an index over its values stays current). */
export class ReportingMap<K, V> extends Map<K, V> {
  readonly #changed: (key: K) => void;

  /** @param changed - called after each `set` and each `delete` that removed an entry. */
  constructor(changed: (key: K) => void) {
    super();
    this.#changed = changed;
  }

  override set(key: K, value: V): this {
    super.set(key, value);
    // Map's constructor calls set() before #changed exists (never here: no initial entries).
    this.#changed?.(key);
    return this;
  }

  override delete(key: K): boolean {
    const removed = super.delete(key);
    if (removed) this.#changed(key);
    return removed;
  }

  override clear(): void {
    const keys = [...this.keys()];
    super.clear();
    for (const key of keys) this.#changed(key);
  }
}
