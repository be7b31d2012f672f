/**
 * `AbortSignal.any([a, b])`: a signal that aborts when either input aborts, with the first one's
 * reason. Node 20.0–20.2 lack `AbortSignal.any` (added in 20.3), so a small fallback forwards the
 * abort; its listeners are removed once the combined signal aborts.
 * @internal
 */
export function anySignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([a, b]);
  const controller = new AbortController();
  const forward = (source: AbortSignal) => (): void => controller.abort(source.reason);
  if (a.aborted) controller.abort(a.reason);
  else if (b.aborted) controller.abort(b.reason);
  else {
    a.addEventListener('abort', forward(a), { once: true, signal: controller.signal });
    b.addEventListener('abort', forward(b), { once: true, signal: controller.signal });
  }
  return controller.signal;
}
