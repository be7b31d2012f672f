/** A bounded wait on a promise that may never settle (a stalled store, a run that does not stop). */

/** The rejection of {@link withTimeout} when time ran out. */
export class WaitTimeout extends Error {}

/**
 * `promise`, or a rejection ({@link WaitTimeout}) after `ms`; the timer never outlives the promise.
 *
 * @param ms - the longest wait. Unit: ms.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeout(`No answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
