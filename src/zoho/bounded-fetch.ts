/**
 * The one way this package sends an HTTP request to Zoho (token grants, Creator calls, and any
 * later download): `fetch` under a timeout, **never following a redirect**, and reading the body
 * with a **byte ceiling**. Every failure becomes a typed `ZohoApiError` before it reaches p-retry.
 *
 * Why no redirects: a followed 307 re-sends the POST body (client secret, refresh token) to the host
 * the `Location` header names, and a followed 302 would store another host's answer as Zoho data.
 * Zoho documents no redirect on its API or accounts hosts, so a 3xx is treated as a failure that
 * names the `Location` host — [inferred] from the absence of redirects in every source
 * (/work/shared/reference/zoho-creator-api.md §1, §2).
 *
 * Why a byte ceiling: a page of 1000 Creator records is about 1–2 MB ([inferred] from the record
 * shapes of §3 of the reference); a server sending 50 MB would otherwise be buffered whole.
 */
import { AbortedError, SyncErrorCode, ZohoApiError } from '../errors.js';
import { anySignal } from '../internal/any-signal.js';

/** The `fetch` function shape this package calls (the global `fetch` fits). */
export type FetchFunction = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Default ceiling of one response body. Unit: bytes (32 MiB). About 16–30× a full page of 1000
 * records ([inferred]: ~1–2 MB), so no honest Creator answer comes near it.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Options of {@link fetchBytes} and {@link fetchText}. @internal */
export interface BoundedFetchOptions {
  /** Unit: ms; covers the headers and the whole body. */
  readonly timeoutMs: number;
  /** The caller's signal; its abort rejects with `AbortedError`. */
  readonly signal?: AbortSignal | undefined;
  /** Endpoint name for error messages (never a URL with secrets). */
  readonly endpoint: string;
  /** Largest body accepted. Unit: bytes. @defaultValue {@link DEFAULT_MAX_RESPONSE_BYTES} */
  readonly maxResponseBytes?: number | undefined;
}

/** A response whose body was read in full (within the ceiling). */
export interface BoundedResponse<T> {
  /** Status and headers; its body is already consumed. */
  readonly response: Response;
  /** The body. */
  readonly body: T;
}

/** A response whose headers arrived and passed the checks; its body is still to be read. */
export interface OpenedResponse {
  /** Status and headers; `body` unread. */
  readonly response: Response;
  /**
   * The body as chunks, counted against `maxResponseBytes` (the request is aborted as soon as the
   * count passes it). Iterate it once. Errors: `ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE`, and as
   * {@link openResponse} for timeouts, network failures and aborts while it streams.
   */
  chunks(): AsyncGenerator<Uint8Array, void, undefined>;
}

/**
 * `fetch(url, { ...init, redirect: 'manual' })` under one timeout
 * (`AbortSignal.any([callerSignal, AbortSignal.timeout(ms)])`, covering the body too), with the
 * checks every Zoho answer gets before its body is touched:
 *
 * - HTTP 3xx (or a `fetch` implementation that followed a redirect anyway: `response.redirected`,
 *   or `response.url` on another origin) → `ZohoApiError` `ERR_SYNC_ZOHO_REDIRECT` naming the
 *   `Location` host; the body is not read. Not retried.
 * - `Content-Length` above `maxResponseBytes` → `ZohoApiError` `ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE`
 *   at once. Not retried.
 *
 * Use it directly to stream a large body (a download) through {@link OpenedResponse.chunks};
 * {@link fetchBytes} / {@link fetchText} read the whole body.
 *
 * @throws AbortedError (caller aborted), ZohoApiError `ERR_SYNC_ZOHO_TIMEOUT`,
 *   `ERR_SYNC_ZOHO_NETWORK` (connection refused/reset, DNS, ...), `ERR_SYNC_ZOHO_REDIRECT`,
 *   `ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE`.
 * @internal
 */
export async function openResponse(
  fetchFn: FetchFunction,
  url: string,
  init: RequestInit,
  options: BoundedFetchOptions,
): Promise<OpenedResponse> {
  const caller = options.signal;
  if (caller?.aborted) throw abortedFrom(caller.reason);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  // Our own controller stops the transfer when the body passes the ceiling.
  const own = new AbortController();
  const signal = anySignal(caller === undefined ? timeout : anySignal(caller, timeout), own.signal);
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  let response: Response;
  try {
    response = await fetchFn(url, { ...init, redirect: 'manual', signal });
  } catch (error) {
    throw transportError(error, caller, timeout, options);
  }
  const redirectedTo = redirectTarget(url, response);
  if (redirectedTo !== undefined) {
    own.abort();
    await discard(response);
    throw new ZohoApiError(
      `Zoho ${options.endpoint} answered HTTP ${response.status} redirecting to ${redirectedTo}; ` +
        'redirects are never followed (credentials and tokens go only to the configured hosts)',
      { code: SyncErrorCode.ZOHO_REDIRECT, httpStatus: response.status, endpoint: options.endpoint },
    );
  }
  const declared = response.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    own.abort();
    await discard(response);
    throw tooLarge(options.endpoint, response.status, maxBytes, `Content-Length ${declared.trim()}`);
  }
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    const stream = response.body;
    if (stream === null) return;
    const reader = stream.getReader();
    let total = 0;
    try {
      for (;;) {
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (error) {
          throw transportError(error, caller, timeout, options);
        }
        if (next.done) return;
        total += next.value.byteLength;
        if (total > maxBytes) {
          own.abort();
          throw tooLarge(options.endpoint, response.status, maxBytes, `more than ${maxBytes} bytes`);
        }
        yield next.value;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }
  return { response, chunks };
}

/**
 * {@link openResponse} and the whole body as bytes (at most `maxResponseBytes`). Same errors.
 * @internal
 */
export async function fetchBytes(
  fetchFn: FetchFunction,
  url: string,
  init: RequestInit,
  options: BoundedFetchOptions,
): Promise<BoundedResponse<Uint8Array>> {
  const opened = await openResponse(fetchFn, url, init, options);
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of opened.chunks()) {
    parts.push(chunk);
    total += chunk.byteLength;
  }
  return { response: opened.response, body: concat(parts, total) };
}

/**
 * {@link fetchBytes}, the body decoded as UTF-8 text (invalid sequences become U+FFFD, as
 * `Response.text()` does). Same errors.
 * @internal
 */
export async function fetchText(
  fetchFn: FetchFunction,
  url: string,
  init: RequestInit,
  options: BoundedFetchOptions,
): Promise<BoundedResponse<string>> {
  const { response, body } = await fetchBytes(fetchFn, url, init, options);
  return { response, body: new TextDecoder().decode(body) };
}

/** The host a response redirects to (or was redirected to), or `undefined` when it is not a redirect. */
function redirectTarget(requested: string, response: Response): string | undefined {
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    if (location === null || location === '') return 'no Location header';
    return `host ${hostOf(location, requested)}`;
  }
  // A custom `fetch` may ignore `redirect: 'manual'`; then the secret went out already, but the
  // other host's answer is still refused.
  if (response.redirected || (response.url !== '' && originOf(response.url) !== originOf(requested))) {
    return `host ${hostOf(response.url, requested)} (the fetch implementation followed the redirect)`;
  }
  return undefined;
}

function hostOf(location: string, base: string): string {
  try {
    return new URL(location, base).host || '(none)';
  } catch {
    return '(unparseable Location)';
  }
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

function tooLarge(endpoint: string, httpStatus: number, maxBytes: number, seen: string): ZohoApiError {
  return new ZohoApiError(
    `Zoho ${endpoint} answered HTTP ${httpStatus} with a body larger than maxResponseBytes (${maxBytes} bytes; ${seen}); reading stopped`,
    { code: SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE, httpStatus, endpoint },
  );
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already aborted or consumed
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  if (chunks.length === 0) return new Uint8Array(0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The typed error for a failed `fetch` or body read: `AbortedError` when the caller aborted,
 * `ERR_SYNC_ZOHO_TIMEOUT` when the timeout fired, else `ERR_SYNC_ZOHO_NETWORK`.
 * @internal
 */
export function transportError(
  error: unknown,
  caller: AbortSignal | undefined,
  timeout: AbortSignal,
  options: BoundedFetchOptions,
): AbortedError | ZohoApiError {
  if (caller?.aborted) return abortedFrom(caller.reason ?? error);
  if (timeout.aborted) {
    return new ZohoApiError(`Zoho ${options.endpoint} did not answer within ${options.timeoutMs} ms`, {
      code: SyncErrorCode.ZOHO_TIMEOUT,
      endpoint: options.endpoint,
      cause: error,
    });
  }
  const detail = error instanceof Error ? describeNetworkError(error) : String(error);
  return new ZohoApiError(`Network failure calling Zoho ${options.endpoint}: ${detail}`, {
    code: SyncErrorCode.ZOHO_NETWORK,
    endpoint: options.endpoint,
    cause: error,
  });
}

function describeNetworkError(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return `${error.message} (${typeof code === 'string' ? code : cause.message})`;
  }
  return error.message;
}

/** The `AbortedError` for an abort reason (kept when it already is one). @internal */
export function abortedFrom(reason: unknown): AbortedError {
  if (reason instanceof AbortedError) return reason;
  return new AbortedError('The Zoho call was aborted', { cause: reason });
}
