/**
 * One-page read-ahead for paged listings. A cursor chain is sequential (page n+1 needs page n's
 * cursor), but writing page n does not need page n+1: while the consumer commits page n, the
 * request for page n+1 is already in flight, so a run costs about max(fetch, write) per page
 * instead of fetch + write. The consumer still sees pages one at a time, in order, and a
 * checkpoint it saves after committing page n still names only committed pages.
 *
 * At most one page beyond the one being consumed is held (memory stays bounded), and no call is
 * made that the listing would not make anyway, except the one in flight when the consumer stops
 * early; that one is aborted through its signal.
 */
import { AbortedError } from '../errors.js';
import { anySignal } from '../internal/any-signal.js';

/**
 * Iterates the listing `open(signal)` one item ahead of the consumer.
 *
 * @param parent - the run's signal; aborting it aborts the listing.
 * @param open - starts the listing with the signal to pass to the source (the run's signal, also
 *   aborted when the consumer stops early).
 * @returns the same items in the same order. An error of the listing surfaces when the consumer
 *   asks for the item that failed, never earlier.
 */
export async function* readAhead<T>(
  parent: AbortSignal,
  open: (signal: AbortSignal) => AsyncIterable<T>,
): AsyncGenerator<T, void, undefined> {
  const local = new AbortController();
  const signal = anySignal(parent, local.signal);
  const iterator = open(signal)[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> = iterator.next();
  let finished = false;
  try {
    for (;;) {
      const result = await pending;
      if (result.done) {
        finished = true;
        return;
      }
      pending = iterator.next();
      // Observed here; its outcome reaches the consumer at the next iteration.
      pending.catch(() => undefined);
      yield result.value;
    }
  } catch (error) {
    finished = true; // the listing itself failed: nothing is in flight
    throw error;
  } finally {
    if (!finished) {
      // The consumer stopped early (a write failed, or it broke out): stop the page in flight.
      local.abort(new AbortedError('The listing was closed before its end'));
      await pending.catch(() => undefined);
      await iterator.return?.(undefined)?.catch(() => undefined);
    }
  }
}

