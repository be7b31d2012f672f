/**
 * Sorted ID indexes and keyset paging for the simulator's reports.
 *
 * Zoho fact relied on: Get Records returns rows in ascending ID order and pages with an opaque
 * cursor [code: observed ordering in client code; inferred as a guarantee]. The simulator implements
 * the cursor as a keyset (the last ID returned), so a page without criteria costs O(page + log N).
 */
import { compareIds } from './dataset.js';

/** A sorted array of digit-string IDs (ascending, numeric order). */
export class SortedIds {
  private readonly ids: string[];

  /** @param ids - initial IDs; sorted here unless `presorted` is true. */
  constructor(ids: string[] = [], presorted = false) {
    this.ids = ids;
    if (!presorted) this.ids.sort(compareIds);
  }

  /** Number of IDs. */
  get size(): number {
    return this.ids.length;
  }

  /** The largest ID, or `undefined` when empty. */
  get last(): string | undefined {
    return this.ids[this.ids.length - 1];
  }

  /** The ID at position `index`. */
  at(index: number): string | undefined {
    return this.ids[index];
  }

  /** All IDs in order (do not mutate). */
  values(): readonly string[] {
    return this.ids;
  }

  /** Index of the first ID greater than `after` (0 when `after` is undefined). */
  upperBound(after: string | undefined): number {
    if (after === undefined) return 0;
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.ids[mid]!, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Inserts an ID (O(1) when it is the largest, which is the common case). */
  insert(id: string): void {
    const last = this.last;
    if (last === undefined || compareIds(id, last) > 0) {
      this.ids.push(id);
      return;
    }
    const index = this.upperBound(id);
    if (index > 0 && this.ids[index - 1] === id) return;
    this.ids.splice(index, 0, id);
  }

  /** Removes an ID; returns whether it was present. */
  remove(id: string): boolean {
    const index = this.upperBound(id) - 1;
    if (index < 0 || this.ids[index] !== id) return false;
    this.ids.splice(index, 1);
    return true;
  }
}

/** Walks one or more sorted ID lists in merged ascending order, starting after a keyset ID. */
class MergedWalk {
  private readonly lists: readonly SortedIds[];
  private readonly positions: number[];

  constructor(lists: readonly SortedIds[], after: string | undefined) {
    this.lists = lists;
    this.positions = lists.map((list) => list.upperBound(after));
  }

  next(): string | undefined {
    let best = -1;
    let bestId: string | undefined;
    for (let i = 0; i < this.lists.length; i++) {
      const id = this.lists[i]!.at(this.positions[i]!);
      if (id !== undefined && (bestId === undefined || compareIds(id, bestId) < 0)) {
        best = i;
        bestId = id;
      }
    }
    if (best >= 0) this.positions[best]! += 1;
    return bestId;
  }
}

/** What {@link collectPage} reads. */
export interface PageQuery<R> {
  /** Candidate ID lists (one list: the report's full index; several: per-event indexes to merge). */
  readonly sources: readonly SortedIds[];
  /** Resolves an ID to its row (`undefined` rows are skipped). */
  readonly get: (id: string) => R | undefined;
  /** Keyset: only IDs greater than this one. */
  readonly after?: string | undefined;
  /** Matching rows to skip first (offset paging of API v2). */
  readonly skip?: number | undefined;
  /** Page size (≥ 1). */
  readonly limit: number;
  /** Row filter (compiled criteria). */
  readonly predicate?: ((row: R) => boolean) | undefined;
}

/** One page of rows and whether at least one more matching row exists after it. */
export interface CollectedPage<R> {
  /** Rows in ascending ID order, at most `limit`. */
  readonly rows: R[];
  /** True when another matching row follows the page. */
  readonly more: boolean;
}

/** Collects one page in ID order. Without a predicate over a single list it costs O(limit + log N). */
export function collectPage<R>(query: PageQuery<R>): CollectedPage<R> {
  const { sources, get, after, limit, predicate } = query;
  let skip = query.skip ?? 0;
  const rows: R[] = [];
  if (sources.length === 1 && !predicate) {
    const list = sources[0]!;
    let index = list.upperBound(after) + skip;
    for (; index < list.size && rows.length < limit; index++) {
      const row = get(list.at(index)!);
      if (row !== undefined) rows.push(row);
    }
    for (; index < list.size; index++) if (get(list.at(index)!) !== undefined) return { rows, more: true };
    return { rows, more: false };
  }
  const walk = new MergedWalk(sources, after);
  for (let id = walk.next(); id !== undefined; id = walk.next()) {
    const row = get(id);
    if (row === undefined || (predicate && !predicate(row))) continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    if (rows.length === limit) return { rows, more: true };
    rows.push(row);
  }
  return { rows, more: false };
}
