/**
 * OAuth2 access tokens for Zoho Creator: the refresh-token grant, a cache, and one shared
 * refresh for all concurrent callers.
 *
 * Sources (see /work/shared/reference/zoho-creator-api.md §2):
 * - Grant `POST {accounts}/oauth/v2/token` with `grant_type=refresh_token`, `client_id`,
 *   `client_secret`, `refresh_token`; response `access_token`, `expires_in` (3600 s), `api_domain`,
 *   `token_type`: https://zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html [doc].
 *   Zoho's pages show the parameters in the query string; a form body works too [code] and keeps
 *   secrets out of URLs and logs.
 * - One refresh token may mint only about 10 access tokens per 10 minutes [doc], so the token is
 *   cached and the refresh is single-flight.
 * - Errors come as a body with an `error` key, often with HTTP 200: `invalid_code`,
 *   `invalid_client`, `Access Denied` (throttled) [code]/[doc]. "Any `error` key means failure,
 *   whatever the status" is [inferred].
 */
import { AbortedError, SyncErrorCode, ZohoApiError, ZohoAuthError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { type FetchFunction, fetchText } from './bounded-fetch.js';
import {
  DEFAULT_ZOHO_MIN_RETRY_DELAY_MS,
  DEFAULT_ZOHO_RETRIES,
  DEFAULT_ZOHO_TIMEOUT_MS,
  type ZohoTokenProvider,
  isPlainObject,
  isRetryableZohoError,
  runWithRetries,
} from './http-client.js';
import { parseZohoJson } from './json.js';
import { SecretScrubber } from './secret-scrubber.js';

/** Refresh a cached token when fewer than this many ms of its life remain. Unit: ms. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;
/** Lifetime assumed when the token response has no usable `expires_in` (Zoho documents 1 hour). Unit: s. */
const DEFAULT_LIFETIME_S = 3600;
const TOKEN_ENDPOINT = 'oauth/v2/token';
/** Largest token response accepted; Zoho's is a few hundred bytes [doc]. Unit: bytes. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** Options of {@link ZohoTokenManager}. */
export interface ZohoTokenManagerOptions {
  /** Accounts server of the DC, e.g. `https://accounts.zoho.eu` (no trailing slash needed). */
  readonly accountsBaseUrl: string;
  /** OAuth client ID (Zoho API console). */
  readonly clientId: string;
  /** OAuth client secret. Never logged. */
  readonly clientSecret: string;
  /** Long-lived refresh token. Never logged. */
  readonly refreshToken: string;
  /** `fetch` implementation. @defaultValue `globalThis.fetch` */
  readonly fetch?: FetchFunction | undefined;
  /** Timeout per token request. Unit: ms. @defaultValue 30 000 */
  readonly timeoutMs?: number | undefined;
  /** Retries for network errors, timeouts, HTTP 5xx, malformed bodies and throttling (`Access Denied`). @defaultValue 3 */
  readonly retries?: number | undefined;
  /** First backoff delay, doubling per retry. Unit: ms. @defaultValue 500 */
  readonly minRetryDelayMs?: number | undefined;
  /** Logger (never receives secrets or tokens). @defaultValue silent */
  readonly logger?: Logger | undefined;
  /** Clock. Unit: epoch ms. @defaultValue `Date.now` */
  readonly now?: (() => number) | undefined;
  /**
   * Removes secrets from errors and log lines. The manager adds the client secret, the refresh
   * token and every access token it reads. @defaultValue a new one
   */
  readonly scrubber?: SecretScrubber | undefined;
  /**
   * The API host calls go to; when a token response names another `api_domain`, one `warn` line
   * says so (the calls do not switch). @defaultValue no comparison
   */
  readonly apiBaseUrl?: string | undefined;
}

interface CachedToken {
  readonly token: string;
  /** Epoch ms after which the token is not handed out any more (expiry minus the margin). */
  readonly refreshAt: number;
}

/**
 * Mints and caches Zoho access tokens.
 *
 * - `getToken()` returns the cached token while more than 60 s of its life remain (half its life
 *   for tokens shorter than 2 min); otherwise it mints one. Concurrent callers share ONE mint.
 * - `invalidate(token)` after a 401/code 1030 drops the token only if it is still the cached one,
 *   so ten calls failing together with the same token cause exactly one new mint.
 * - A failed mint stores nothing; the next `getToken()` tries again.
 * - Requests never follow a redirect (a 3xx is `ERR_SYNC_ZOHO_REDIRECT`), so the client secret
 *   and refresh token go only to `accountsBaseUrl`; errors and log lines are scrubbed of them and
 *   of every access token read (see {@link SecretScrubber}).
 * - The response's `api_domain` is kept for {@link apiDomain} and never switched to.
 *
 * @example
 * ```ts
 * const tokens = new ZohoTokenManager({ accountsBaseUrl, clientId, clientSecret, refreshToken });
 * const token = await tokens.getToken(signal);
 * ```
 * @see https://zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html
 */
export class ZohoTokenManager implements ZohoTokenProvider {
  private readonly tokenUrl: string;
  private readonly form: string;
  private readonly fetchFn: FetchFunction;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly minRetryDelayMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly scrubber: SecretScrubber;
  private readonly apiHost: string | undefined;
  private lastApiDomain: string | undefined;
  private warnedApiDomain: string | undefined;
  /** Aborted by {@link close}; stops a mint in progress. */
  private readonly lifetime = new AbortController();
  private cached: CachedToken | undefined;
  private inflight: Promise<CachedToken> | undefined;
  private requests = 0;
  private mints = 0;

  /** @param options - see {@link ZohoTokenManagerOptions}; not validated here (the source validates). */
  constructor(options: ZohoTokenManagerOptions) {
    this.tokenUrl = `${options.accountsBaseUrl.replace(/\/+$/, '')}/${TOKEN_ENDPOINT}`;
    this.form = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: options.clientId,
      client_secret: options.clientSecret,
      refresh_token: options.refreshToken,
    }).toString();
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ZOHO_TIMEOUT_MS;
    this.retries = options.retries ?? DEFAULT_ZOHO_RETRIES;
    this.minRetryDelayMs = options.minRetryDelayMs ?? DEFAULT_ZOHO_MIN_RETRY_DELAY_MS;
    this.scrubber = options.scrubber ?? new SecretScrubber();
    this.scrubber.rememberSecret(options.clientSecret);
    this.scrubber.rememberSecret(options.refreshToken);
    this.logger = this.scrubber.logger(options.logger ?? silentLogger);
    this.now = options.now ?? Date.now;
    this.apiHost = options.apiBaseUrl === undefined ? undefined : hostOf(options.apiBaseUrl);
  }

  /**
   * A valid access token: the cached one, or a fresh one from the single shared mint.
   *
   * @param signal - stops waiting (rejects with `AbortedError`); the shared mint itself goes on
   *   for the other callers.
   * @throws ZohoAuthError when the accounts server answers with an `error` key or no
   *   `access_token`; ZohoApiError (`ERR_SYNC_ZOHO_NETWORK`, `_TIMEOUT`, `_MALFORMED_RESPONSE`,
   *   `_API` for HTTP 5xx) when retries are exhausted; AbortedError.
   */
  getToken(signal?: AbortSignal): Promise<string> {
    const cached = this.cached;
    if (cached !== undefined && this.now() < cached.refreshAt) return Promise.resolve(cached.token);
    if (this.inflight === undefined) {
      const mint = this.mint().finally(() => {
        if (this.inflight === mint) this.inflight = undefined;
      });
      // Every caller may have given up (aborted); the rejection must not go unhandled then.
      mint.catch(() => {});
      this.inflight = mint;
    }
    return waitOrAbort(
      this.inflight.then((t) => t.token),
      signal,
    );
  }

  /** Whether a cached token would be handed out now without a mint (for call estimates). */
  hasValidToken(): boolean {
    return this.cached !== undefined && this.now() < this.cached.refreshAt;
  }

  /**
   * Forgets `token` if it is still the cached one (after Zoho answered 401/code 1030 to it).
   * A stale token (already replaced by a newer mint) is ignored, so concurrent failures of the
   * same call wave cause one mint, not one each.
   */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  /**
   * The `api_domain` of the last successful token response (e.g. `https://www.zohoapis.eu`), or
   * `undefined` before the first mint or when Zoho sent none. Informational only: API calls keep
   * going to the configured host.
   */
  apiDomain(): string | undefined {
    return this.lastApiDomain;
  }

  /** HTTP requests sent to the token endpoint so far, retries included. Unit: calls. */
  getRequestCount(): number {
    return this.requests;
  }

  /** Access tokens minted successfully so far. Unit: tokens. */
  getMintCount(): number {
    return this.mints;
  }

  /** Stops a mint in progress (its waiters reject with `AbortedError`) and drops the cache. */
  close(): void {
    this.lifetime.abort(new AbortedError('The Zoho token manager was closed'));
    this.cached = undefined;
  }

  private async mint(): Promise<CachedToken> {
    const signal = this.lifetime.signal;
    const token = await runWithRetries(() => this.requestToken(signal), {
      retries: this.retries,
      minRetryDelayMs: this.minRetryDelayMs,
      rateLimitPauseMs: 0,
      signal,
      logger: this.logger,
      endpoint: TOKEN_ENDPOINT,
      scrubber: this.scrubber,
      isRetryable: (error) => isRetryableZohoError(error) || (error instanceof ZohoAuthError && isThrottled(error)),
    });
    this.cached = token;
    this.mints++;
    return token;
  }

  private noteApiDomain(value: unknown): void {
    if (typeof value !== 'string' || value === '') return;
    this.lastApiDomain = value;
    const named = hostOf(value);
    if (this.apiHost === undefined || named === undefined || named === this.apiHost || this.warnedApiDomain === named) return;
    this.warnedApiDomain = named;
    this.logger.warn('zoho token names another API domain; calls stay on the configured host', {
      apiDomain: named,
      configuredHost: this.apiHost,
      hint: 'if Zoho answers code 1030, check the dataCentre option',
    });
  }

  private async requestToken(signal: AbortSignal): Promise<CachedToken> {
    this.requests++;
    const requestedAt = this.now();
    const { response, body: text } = await fetchText(
      this.fetchFn,
      this.tokenUrl,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: this.form,
      },
      { timeoutMs: this.timeoutMs, signal, endpoint: TOKEN_ENDPOINT, maxResponseBytes: MAX_TOKEN_RESPONSE_BYTES },
    );
    const httpStatus = response.status;
    let body: unknown;
    try {
      body = parseZohoJson(text);
      // Before anything else reads the body (an error text may quote the token).
      if (isPlainObject(body)) this.scrubber.rememberToken(body.access_token);
    } catch (error) {
      throw new ZohoApiError(`Zoho accounts answered HTTP ${httpStatus} with a body that is not JSON`, {
        httpStatus,
        endpoint: TOKEN_ENDPOINT,
        code: httpStatus >= 500 ? SyncErrorCode.ZOHO_API : SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
        cause: error,
      });
    }
    if (isPlainObject(body) && body.error !== undefined && body.error !== null) {
      const oauthError = typeof body.error === 'string' ? body.error : JSON.stringify(body.error);
      const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
      throw new ZohoAuthError(
        `Zoho accounts refused the refresh-token grant (${oauthError}${description})`,
        oauthError,
        httpStatus,
      );
    }
    const accessToken = isPlainObject(body) ? body.access_token : undefined;
    if (typeof accessToken === 'string' && accessToken !== '' && isPlainObject(body)) {
      this.noteApiDomain(body.api_domain);
      const lifetimeMs = lifetimeOf(body) * 1000;
      const margin = Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 2);
      return { token: accessToken, refreshAt: requestedAt + lifetimeMs - margin };
    }
    if (httpStatus >= 500) {
      throw new ZohoApiError(`Zoho accounts answered HTTP ${httpStatus}`, { httpStatus, endpoint: TOKEN_ENDPOINT });
    }
    throw new ZohoAuthError(
      `Zoho accounts answered HTTP ${httpStatus} without an access_token`,
      'missing_access_token',
      httpStatus,
    );
  }
}

/**
 * Token lifetime in seconds. `expires_in` is seconds today [doc]; older responses carried
 * `expires_in_sec` with `expires_in` in ms ([code]: https://github.com/schmorrison/Zoho/pull/18),
 * so a value above one day is read as ms — [inferred].
 */
function lifetimeOf(body: Record<string, unknown>): number {
  const seconds = toPositiveNumber(body.expires_in_sec);
  if (seconds !== undefined) return seconds;
  const value = toPositiveNumber(body.expires_in);
  if (value === undefined) return DEFAULT_LIFETIME_S;
  return value > 86_400 ? value / 1000 : value;
}

function toPositiveNumber(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * True when the grant was refused for throttling (too many refreshes): `Access Denied` with
 * "too many requests" [code], or HTTP 429 — the exact text/status is [inferred]. Worth a retry
 * with backoff, unlike `invalid_code` / `invalid_client`.
 */
function isThrottled(error: ZohoAuthError): boolean {
  return (
    error.httpStatus === 429 || /access denied|too many|throttl/i.test(error.oauthError) || /too many/i.test(error.message)
  );
}

/** `promise`, or an `AbortedError` as soon as `signal` aborts. */
function waitOrAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new AbortedError('The Zoho call was aborted', { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError('The Zoho call was aborted', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
