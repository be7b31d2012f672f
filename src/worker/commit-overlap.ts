/**
 * Page commits with one page of overlap. Committing a page ends with its last batches running in
 * Redis while Node has nothing to do; starting the next page's batches then keeps both busy (the
 * batches of both pages share the run's concurrency limit, the earlier page's queued first). What
 * the overlap must not change:
 *
 * - a page's checkpoint is written only after that page and every page before it committed, and
 *   checkpoints are written in page order (a resumed run never skips an uncommitted page);
 * - at most two pages are committing at once (memory stays bounded: with the read-ahead, three
 *   pages are alive);
 * - when a commit fails, nothing is left in flight when the failure surfaces, and it is the earliest
 *   failed page's error (and page number) that surfaces.
 */

/** One page's commit and what follows it once it and every earlier page committed. */
export interface OverlappedPage {
  /** The page's number (reported when its commit fails). */
  readonly pageNumber: number;
  /** The commit, already started. */
  readonly commit: Promise<void>;
  /** Runs after the commit and every earlier page's `after` succeeded (counting, checkpoint). */
  readonly after: () => Promise<void>;
}

/** Thrown-through wrapper marking which page failed, and in which step (the caller reports its number). */
export class PageCommitFailure {
  constructor(
    readonly pageNumber: number,
    readonly error: unknown,
    /** `commit`: the page's writes failed; `after`: what followed them (counting, the checkpoint). */
    readonly step: 'commit' | 'after',
  ) {}
}

/**
 * A chain of overlapped page commits (see the module comment).
 * - `add(page)` resolves once the page before `page` finished (commit and `after`), so a caller that
 *   awaits it has at most two pages committing; it rejects with a {@link PageCommitFailure} for the
 *   earliest failed page (its commit or its `after`), only after `page`'s own commit settled too.
 * - `drain()` waits for every added page; same rejection.
 */
export function commitOverlap(): { add(page: OverlappedPage): Promise<void>; drain(): Promise<void> } {
  let previous: Promise<void> | undefined;
  return {
    async add(page) {
      const prior = previous;
      const step = (async () => {
        const [before, own] = await Promise.allSettled([prior, page.commit]);
        if (before.status === 'rejected') throw before.reason;
        if (own.status === 'rejected') throw new PageCommitFailure(page.pageNumber, own.reason, 'commit');
        try {
          await page.after();
        } catch (error) {
          throw new PageCommitFailure(page.pageNumber, error, 'after');
        }
      })();
      // Observed through `previous` (the next add or drain); never unhandled in between.
      step.catch(() => undefined);
      previous = step;
      if (prior === undefined) return;
      try {
        await prior;
      } catch (error) {
        await step.catch(() => undefined);
        throw error;
      }
    },
    async drain() {
      await previous;
    },
  };
}
