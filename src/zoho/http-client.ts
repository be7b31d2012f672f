/**
 * One Zoho Creator REST call: fetch with a per-call timeout, the OAuth header, judging the
 * response by the body `code`, typed errors, and retries with exponential backoff (p-retry).
 *
 * Sources (see /work/shared/reference/zoho-creator-api.md §1.2, §2.5, §3.3–3.5, §6, §7):
 * - Status codes: https://www.zoho.com/creator/help/api/v2.1/status-codes.html and Zoho's
 *   OpenAPI file https://www.zoho.com/creator/help/api/v2/openapi-specification.html
 * - Header `Authorization: Zoho-oauthtoken <token>`: https://www.zoho.com/creator/help/api/v2/get-records.html
 * - `record_cursor` response/request header: https://zoho.com/creator/help/api/v2.1/what-is-new-in-v2.1.html
 * - Limits (429/2955 per minute, 4000 per day): https://www.zoho.com/creator/help/api/v2.1/api-limits.html
 */
import pRetry, { AbortError as PRetryAbortError } from 'p-retry';
import type { CallBudget } from '../adapters/source.js';
import {
  AbortedError,
  SyncErrorCode,
  type ZohoErrorCode,
  ZohoApiError,
  isSyncError,
} from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { DEFAULT_MAX_RESPONSE_BYTES, type FetchFunction, abortedFrom, fetchText, openResponse } from './bounded-fetch.js';
import { parseZohoJson } from './json.js';
import { SecretScrubber } from './secret-scrubber.js';

export type { FetchFunction } from './bounded-fetch.js';

/** Default per-request timeout. Unit: ms. */
export const DEFAULT_ZOHO_TIMEOUT_MS = 30_000;
/** Default retries per call for retryable failures. Unit: retries (attempts − 1). */
export const DEFAULT_ZOHO_RETRIES = 3;
/** Default first backoff delay; doubles per retry, randomised ×1–2. Unit: ms. */
export const DEFAULT_ZOHO_MIN_RETRY_DELAY_MS = 500;
/**
 * Default minimum wait after HTTP 429 / code 2955 before retrying. Unit: ms. Zoho's limit is
 * per minute (https://www.zoho.com/creator/help/api/v2.1/api-limits.html); it sends no
 * `Retry-After` header — [inferred] from its absence in every source, so this waits a full minute.
 */
export const DEFAULT_ZOHO_RATE_LIMIT_PAUSE_MS = 60_000;

/** Zoho body codes this client acts on (https://www.zoho.com/creator/help/api/v2.1/status-codes.html). */
export const ZohoCode = {
  /** Success. */
  SUCCESS: 3000,
  /** No records found / no data available: an empty page, whatever the HTTP status (200 or 404). */
  NO_RECORDS: 3100,
  /** No record with the given ID (Get Record by ID). */
  NO_SUCH_RECORD: 3190,
  /** Authorization failure: the access token is invalid or expired (HTTP 401). */
  TOKEN_INVALID: 1030,
  /** Per-minute API call limit reached (HTTP 429). */
  RATE_LIMITED: 2955,
  /** The account's daily Developer API limit is reached (HTTP 200). */
  QUOTA_EXHAUSTED: 4000,
} as const;

/** What a Creator call is counted as: full records, ID-only listings, or metadata (apps, events). */
export type ZohoCallKind = 'records' | 'ids' | 'meta';

/** Supplies access tokens; {@link ZohoTokenManager} implements it. */
export interface ZohoTokenProvider {
  /** Resolves a valid access token (minting one when needed). Rejects with `ZohoAuthError`, `ZohoApiError` or `AbortedError`. */
  getToken(signal?: AbortSignal): Promise<string>;
  /** Drops `token` from the cache if it is still the cached one, so the next `getToken` mints anew. */
  invalidate(token: string): void;
  /**
   * The `api_domain` the last token response named (e.g. `https://www.zohoapis.eu`), if any. The
   * client never switches to it; it only names it when the configured host refuses the token.
   */
  apiDomain?(): string | undefined;
}

/** Options of {@link ZohoHttpClient}. */
export interface ZohoHttpClientOptions {
  /** Access-token source. */
  readonly tokens: ZohoTokenProvider;
  /** `fetch` implementation. @defaultValue `globalThis.fetch` */
  readonly fetch?: FetchFunction | undefined;
  /** Timeout per HTTP request, body included. Unit: ms. @defaultValue 30 000 */
  readonly timeoutMs?: number | undefined;
  /** Retries per call for retryable failures. @defaultValue 3 */
  readonly retries?: number | undefined;
  /** First backoff delay (doubles per retry, randomised ×1–2). Unit: ms. @defaultValue 500 */
  readonly minRetryDelayMs?: number | undefined;
  /** Minimum wait after a per-minute rate limit before retrying. Unit: ms. @defaultValue 60 000 */
  readonly rateLimitPauseMs?: number | undefined;
  /** Logger for retries (warn) and requests (debug). Never receives tokens. @defaultValue silent */
  readonly logger?: Logger | undefined;
  /** Clock, for `quotaExhaustedAt`. Unit: epoch ms. @defaultValue `Date.now` */
  readonly now?: (() => number) | undefined;
  /**
   * Removes secrets from errors and log lines; every token `tokens` hands out is remembered by it.
   * Share the token manager's so both know the same secrets. @defaultValue a new one
   */
  readonly scrubber?: SecretScrubber | undefined;
  /** Largest response body accepted (per call: {@link ZohoGetRequest.maxResponseBytes}). Unit: bytes. @defaultValue 32 MiB */
  readonly maxResponseBytes?: number | undefined;
  /**
   * The configured options that chose the API host, named when the host refuses a token that the
   * accounts server minted for another `api_domain`. @defaultValue `['dataCentre']`
   */
  readonly hostOptions?: readonly string[] | undefined;
}

/** One GET call. */
export interface ZohoGetRequest {
  /** Absolute URL including the query string. Holds no secret. */
  readonly url: string;
  /** What the call counts as in {@link ZohoHttpClient.getCallCounts}. */
  readonly kind: ZohoCallKind;
  /** Report name or endpoint for errors and logs, e.g. `All_Registrations` (never a token). */
  readonly endpoint: string;
  /** `record_cursor` request header (v2.1 cursor paging). */
  readonly cursor?: string | undefined;
  /** Aborts the call and any wait between retries; the call then rejects with `AbortedError`. */
  readonly signal?: AbortSignal | undefined;
  /** Retries for this call; the client's default when omitted. */
  readonly retries?: number | undefined;
  /** Shape `data` must have on code 3000: `array` (list), `object` (by ID), or unchecked. */
  readonly expectData?: 'array' | 'object' | undefined;
  /** When true, code 3190 resolves as `no-such-record` instead of throwing. */
  readonly allowNoSuchRecord?: boolean | undefined;
  /** Largest body accepted for this call (e.g. larger for a download). Unit: bytes. @defaultValue the client's `maxResponseBytes` */
  readonly maxResponseBytes?: number | undefined;
  /** The run's call ceiling: `spend()` and then `admit()` are called before every request sent (retries and re-sends included). */
  readonly budget?: CallBudget | undefined;
  /** The request continues a listing under way (a bulk job's poll, a next bulk job): admitted first by a shared limiter. A `cursor` implies it. */
  readonly continuation?: boolean | undefined;
  /** HTTP method. @defaultValue `'GET'` (`'POST'` creates a bulk read job) */
  readonly method?: 'GET' | 'POST' | undefined;
  /** A JSON request body (sent with `content-type: application/json`), e.g. a bulk job's `query`. */
  readonly jsonBody?: unknown;
}

/** One download of a binary result (a bulk read job's zip). */
export interface ZohoDownloadRequest {
  /** Absolute URL. Holds no secret. */
  readonly url: string;
  /** What the call counts as. */
  readonly kind: ZohoCallKind;
  /** Endpoint name for errors and logs. */
  readonly endpoint: string;
  /** Aborts the download (also while the body streams). */
  readonly signal?: AbortSignal | undefined;
  /** Retries for failures before the body starts; the client's default when omitted. */
  readonly retries?: number | undefined;
  /** The most bytes the body may have (`ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE` beyond). Unit: bytes. */
  readonly maxBytes: number;
  /** Timeout for the whole download, body included. Unit: ms. */
  readonly timeoutMs: number;
  /** The run's call ceiling, spent (then `admit()`ted, as a continuation) before every request sent. */
  readonly budget?: CallBudget | undefined;
}

/** A download in progress. */
export interface ZohoDownload {
  /** The body, streamed; it errors on abort, timeout or past `maxBytes`. */
  readonly body: AsyncIterable<Uint8Array>;
  /** HTTP status (200). */
  readonly httpStatus: number;
  /** The response header `recordCursor` (bulk read, [doc]), or `record_cursor`; `undefined` when absent. */
  readonly recordCursor: string | undefined;
}

/** The outcome of a successful call. */
export interface ZohoGetResult {
  /** `ok` = code 3000, `empty` = code 3100 (no records), `no-such-record` = code 3190. */
  readonly outcome: 'ok' | 'empty' | 'no-such-record';
  /** The parsed body (IDs beyond 2^53 as digit strings, see `parseZohoJson`). */
  readonly body: Readonly<Record<string, unknown>>;
  /** HTTP status of the response. */
  readonly httpStatus: number;
  /** The `record_cursor` response header, `undefined` when absent or empty (last page). */
  readonly recordCursor: string | undefined;
}

/** Whether Zoho's daily Developer API limit (code 4000) has been hit. */
export interface ZohoQuotaState {
  /** True after a code-4000 answer, until a later call succeeds. */
  readonly exhausted: boolean;
  /** When the last code 4000 arrived. Unit: epoch ms; `undefined` when never (or cleared). */
  readonly exhaustedAt: number | undefined;
}

/**
 * Sends Creator GET calls. Counts every HTTP request actually sent (retries and the re-send after
 * a token refresh included) by {@link ZohoCallKind}.
 *
 * Response rules (by body `code`, not HTTP status):
 * - 3000 → `ok`; 3100 → `empty` (HTTP 200 or 404); 3190 → `no-such-record` when allowed;
 * - 1030 (HTTP 401) → invalidate the token, mint, re-send once (not counted as a retry);
 * - 429 or 2955 → wait ≥ `rateLimitPauseMs`, retry; `ZohoApiError` code `ERR_SYNC_ZOHO_RATE_LIMITED` when exhausted;
 * - 4000 → `ZohoApiError` code `ERR_SYNC_ZOHO_QUOTA_EXHAUSTED` at once, recorded in {@link getQuotaState};
 * - HTTP 5xx, network errors (`ERR_SYNC_ZOHO_NETWORK`), timeouts (`ERR_SYNC_ZOHO_TIMEOUT`) and
 *   malformed bodies (`ERR_SYNC_ZOHO_MALFORMED_RESPONSE`) → retried with backoff;
 * - HTTP 3xx → `ERR_SYNC_ZOHO_REDIRECT` (never followed), a body over `maxResponseBytes` →
 *   `ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE`: both at once, not retried (see `fetchBytes`);
 * - anything else → `ZohoApiError` (`ERR_SYNC_ZOHO_API`) at once, never an empty page.
 *
 * Every error it throws and every line it logs has passed its {@link SecretScrubber}.
 *
 * @see https://www.zoho.com/creator/help/api/v2.1/status-codes.html
 * @see https://www.zoho.com/creator/help/api/v2.1/api-limits.html
 */
export class ZohoHttpClient {
  private readonly tokens: ZohoTokenProvider;
  private readonly fetchFn: FetchFunction;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly minRetryDelayMs: number;
  private readonly rateLimitPauseMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly scrubber: SecretScrubber;
  private readonly maxResponseBytes: number;
  private readonly hostOptions: readonly string[];
  private readonly counts: Record<ZohoCallKind, number> = { records: 0, ids: 0, meta: 0 };
  private quotaExhaustedAt: number | undefined;
  private quotaExhausted = false;

  /** @param options - see {@link ZohoHttpClientOptions}; numbers are not validated here (the source validates them). */
  constructor(options: ZohoHttpClientOptions) {
    this.tokens = options.tokens;
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ZOHO_TIMEOUT_MS;
    this.retries = options.retries ?? DEFAULT_ZOHO_RETRIES;
    this.minRetryDelayMs = options.minRetryDelayMs ?? DEFAULT_ZOHO_MIN_RETRY_DELAY_MS;
    this.rateLimitPauseMs = options.rateLimitPauseMs ?? DEFAULT_ZOHO_RATE_LIMIT_PAUSE_MS;
    this.scrubber = options.scrubber ?? new SecretScrubber();
    this.logger = this.scrubber.logger(options.logger ?? silentLogger);
    this.now = options.now ?? Date.now;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.hostOptions = options.hostOptions ?? ['dataCentre'];
  }

  /** HTTP requests sent so far, by kind. Unit: calls. */
  getCallCounts(): Readonly<Record<ZohoCallKind, number>> {
    return { ...this.counts };
  }

  /** The daily-limit state (see {@link ZohoQuotaState}). */
  getQuotaState(): ZohoQuotaState {
    return { exhausted: this.quotaExhausted, exhaustedAt: this.quotaExhaustedAt };
  }

  /**
   * Sends one GET call with retries.
   *
   * @throws ZohoApiError (codes above), ZohoAuthError (token refused), CallLimitError (the
   *   request's `budget` is spent), AbortedError (signal).
   */
  async get(request: ZohoGetRequest): Promise<ZohoGetResult> {
    let tokenRefreshed = false;
    return runWithRetries(
      async () => {
        let token = await this.token(request.signal);
        for (;;) {
          const reply = await this.send(request, token);
          if (reply.kind === 'token-invalid') {
            // 401/1030: the token expired or was revoked. Re-mint and re-send once per call;
            // a second 1030 is a real failure (wrong scope, revoked refresh token, wrong DC, ...).
            if (tokenRefreshed) throw this.refusedTokenError(request, reply.error);
            tokenRefreshed = true;
            this.tokens.invalidate(token);
            token = await this.token(request.signal);
            continue;
          }
          return reply.result;
        }
      },
      {
        retries: request.retries ?? this.retries,
        minRetryDelayMs: this.minRetryDelayMs,
        rateLimitPauseMs: this.rateLimitPauseMs,
        signal: request.signal,
        logger: this.logger,
        endpoint: request.endpoint,
        scrubber: this.scrubber,
      },
    );
  }

  private async token(signal: AbortSignal | undefined): Promise<string> {
    const token = await getTokenOrStop(this.tokens, signal);
    this.scrubber.rememberToken(token);
    return token;
  }

  /**
   * The final 1030: when the accounts server named another API domain than the host called, say
   * so — the token was minted for another data centre (Zoho: the `api_domain` of the token
   * response, https://zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html). The
   * client never switches hosts by itself.
   */
  private refusedTokenError(request: ZohoGetRequest, error: ZohoApiError): ZohoApiError {
    const named = this.tokens.apiDomain?.();
    const calledHost = hostOf(request.url);
    const namedHost = named === undefined ? undefined : hostOf(named);
    if (namedHost === undefined || calledHost === undefined || namedHost === calledHost) return error;
    return new ZohoApiError(
      `${error.message}. The accounts server minted the token for API domain ${namedHost}, but the configured API host is ` +
        `${calledHost}: check the ${this.hostOptions.map((o) => `\`${o}\``).join(' / ')} option — the refresh token may belong to another data centre`,
      {
        httpStatus: error.httpStatus,
        zohoCode: error.zohoCode,
        zohoMessage: error.zohoMessage,
        endpoint: error.endpoint,
        code: SyncErrorCode.ZOHO_API,
      },
    );
  }

  /**
   * Starts a binary download (a bulk read result) over the bounded fetch (`openResponse()`: no
   * redirects, `Content-Length` and the running byte count held to `maxBytes`), with retries until
   * the response headers arrive. Each request sent spends one call of `budget` and counts as
   * `kind` (so it reaches the run's `apiCalls` and the daily tally). A JSON or non-2xx answer (Zoho
   * sends errors as JSON) is judged exactly as a {@link ZohoHttpClient.get} answer: 1030 re-mints
   * the token once, 4000 is the daily limit, 429/2955 the per-minute limit. The body is not
   * retried: a failure while it streams surfaces from its iteration. Errors pass the client's
   * {@link SecretScrubber}, also those of the body's iteration.
   *
   * @throws ZohoApiError, ZohoAuthError, CallLimitError (budget), AbortedError before the body; the
   *   body's iteration throws ZohoApiError (`ERR_SYNC_ZOHO_NETWORK`, `_TIMEOUT`,
   *   `_RESPONSE_TOO_LARGE`) or AbortedError.
   */
  async download(request: ZohoDownloadRequest): Promise<ZohoDownload> {
    let tokenRefreshed = false;
    const judged: ZohoGetRequest = { url: request.url, kind: request.kind, endpoint: request.endpoint };
    return runWithRetries(
      async () => {
        let token = await this.token(request.signal);
        for (;;) {
          request.budget?.spend();
          // A download fetches the result of a job already made: it continues that listing.
          await request.budget?.admit?.({ signal: request.signal, continuation: true });
          this.counts[request.kind]++;
          const started = this.now();
          const opened = await openResponse(
            this.fetchFn,
            request.url,
            { method: 'GET', headers: { Authorization: `Zoho-oauthtoken ${token}` } },
            { timeoutMs: request.timeoutMs, signal: request.signal, endpoint: request.endpoint, maxResponseBytes: request.maxBytes },
          );
          const { response } = opened;
          const type = response.headers.get('content-type') ?? '';
          if (!response.ok || type.includes('json')) {
            // An error answer: small JSON, read within the client's usual ceiling.
            const parts: Uint8Array[] = [];
            let size = 0;
            for await (const chunk of opened.chunks()) {
              size += chunk.byteLength;
              if (size > this.maxResponseBytes) break;
              parts.push(chunk);
            }
            const reply = this.judgeTelling(Buffer.concat(parts).toString('utf8'), response, judged, started, request.budget);
            if (reply.kind === 'token-invalid') {
              if (tokenRefreshed) throw this.refusedTokenError(judged, reply.error);
              tokenRefreshed = true;
              this.tokens.invalidate(token);
              token = await this.token(request.signal);
              continue;
            }
            throw new ZohoApiError(`Zoho answered ${request.endpoint} with JSON (code ${String(reply.result.body.code)}) where a file was expected`, {
              httpStatus: response.status,
              endpoint: request.endpoint,
              code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
            });
          }
          this.quotaExhausted = false;
          this.logger.debug('zoho call', { kind: request.kind, endpoint: request.endpoint, httpStatus: response.status, ms: this.now() - started });
          const cursor = response.headers.get('recordCursor') ?? response.headers.get('record_cursor');
          return {
            body: this.scrubbed(opened.chunks()),
            httpStatus: response.status,
            recordCursor: cursor === null || cursor === '' ? undefined : cursor,
          };
        }
      },
      {
        retries: request.retries ?? this.retries,
        minRetryDelayMs: this.minRetryDelayMs,
        rateLimitPauseMs: this.rateLimitPauseMs,
        signal: request.signal,
        logger: this.logger,
        endpoint: request.endpoint,
        scrubber: this.scrubber,
      },
    );
  }

  /** A body stream whose errors pass the scrubber (a network error may quote a URL or header). */
  private async *scrubbed(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      yield* chunks;
    } catch (error) {
      throw this.scrubber.scrubError(error);
    }
  }

  private async send(
    request: ZohoGetRequest,
    token: string,
  ): Promise<{ kind: 'result'; result: ZohoGetResult } | { kind: 'token-invalid'; error: ZohoApiError }> {
    const headers: Record<string, string> = {
      Authorization: `Zoho-oauthtoken ${token}`,
      // Exactly this value: Zoho answers HTTP 400 to lists such as axios' default (reference §1.2, [code]).
      accept: 'application/json',
    };
    if (request.cursor !== undefined) headers.record_cursor = request.cursor;
    const init: RequestInit = { method: request.method ?? 'GET', headers };
    if (request.jsonBody !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(request.jsonBody);
    }
    request.budget?.spend();
    await request.budget?.admit?.({ signal: request.signal, continuation: request.continuation === true || request.cursor !== undefined });
    this.counts[request.kind]++;
    const started = this.now();
    const { response, body: text } = await fetchText(this.fetchFn, request.url, init, {
      timeoutMs: this.timeoutMs,
      signal: request.signal,
      endpoint: request.endpoint,
      maxResponseBytes: request.maxResponseBytes ?? this.maxResponseBytes,
    });
    return this.judgeTelling(text, response, request, started, request.budget);
  }

  /** {@link ZohoHttpClient.judge}, telling `budget.rateLimited()` of a per-minute limit answer first. */
  private judgeTelling(
    text: string,
    response: Response,
    request: ZohoGetRequest,
    started: number,
    budget: CallBudget | undefined,
  ): ReturnType<ZohoHttpClient['judge']> {
    try {
      return this.judge(text, response, request, started);
    } catch (error) {
      if (budget?.rateLimited && isSyncError(error) && error.code === SyncErrorCode.ZOHO_RATE_LIMITED) budget.rateLimited();
      throw error;
    }
  }

  /**
   * Judges one Zoho answer (its body already read as text): the token refusal to re-mint on,
   * or the result, or the typed error (daily limit, per-minute limit, other codes, bad shape).
   */
  private judge(
    text: string,
    response: Response,
    request: ZohoGetRequest,
    started: number,
  ): { kind: 'result'; result: ZohoGetResult } | { kind: 'token-invalid'; error: ZohoApiError } {
    const httpStatus = response.status;
    const body = readZohoBody(text, httpStatus, request.endpoint);
    const code = body.code;
    this.logger.debug('zoho call', {
      kind: request.kind,
      endpoint: request.endpoint,
      httpStatus,
      zohoCode: code,
      ms: this.now() - started,
    });
    const details = { httpStatus, zohoCode: code, zohoMessage: body.message, endpoint: request.endpoint };

    if (code === ZohoCode.TOKEN_INVALID) {
      // Documented with HTTP 401 [doc]; keyed on the code alone.
      return {
        kind: 'token-invalid',
        error: new ZohoApiError(`Zoho refused the access token for ${request.endpoint} (code 1030)`, details),
      };
    }
    if (code === ZohoCode.QUOTA_EXHAUSTED) {
      // HTTP 200 per the REST status tables, HTTP 403 in the custom-API table [doc, conflicting]:
      // keyed on the code whatever the status.
      this.quotaExhausted = true;
      this.quotaExhaustedAt = this.now();
      throw new ZohoApiError(`Zoho's daily Developer API limit is reached (code 4000) calling ${request.endpoint}`, {
        ...details,
        code: SyncErrorCode.ZOHO_QUOTA_EXHAUSTED,
      });
    }
    if (httpStatus === 429 || code === ZohoCode.RATE_LIMITED) {
      throw new ZohoApiError(`Zoho's per-minute API limit was hit calling ${request.endpoint}`, {
        ...details,
        code: SyncErrorCode.ZOHO_RATE_LIMITED,
      });
    }
    const outcome = this.outcomeOf(code, httpStatus, request);
    if (outcome === undefined) {
      if (code === undefined) {
        throw new ZohoApiError(`Zoho answered ${request.endpoint} with HTTP ${httpStatus} and no code`, {
          ...details,
          code: httpStatus >= 500 ? SyncErrorCode.ZOHO_API : SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
        });
      }
      throw new ZohoApiError(
        `Zoho answered ${request.endpoint} with HTTP ${httpStatus}, code ${code}${body.message ? `: ${body.message}` : ''}`,
        details,
      );
    }
    if (outcome === 'ok') {
      const data = body.value.data;
      const shapeOk =
        request.expectData === undefined ||
        (request.expectData === 'array' ? Array.isArray(data) : isPlainObject(data));
      if (!shapeOk) {
        throw new ZohoApiError(`Zoho answered ${request.endpoint} with code 3000 but no ${request.expectData} in data`, {
          ...details,
          code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
        });
      }
    }
    this.quotaExhausted = false;
    const cursor = response.headers.get('record_cursor');
    return {
      kind: 'result',
      result: {
        outcome,
        body: body.value,
        httpStatus,
        recordCursor: cursor === null || cursor === '' ? undefined : cursor,
      },
    };
  }

  private outcomeOf(code: number | undefined, httpStatus: number, request: ZohoGetRequest): ZohoGetResult['outcome'] | undefined {
    if (code === ZohoCode.SUCCESS && httpStatus < 400) return 'ok';
    // 3100 arrives as HTTP 404 per the doc-derived status list and Pipedream's handling, and as
    // HTTP 200 elsewhere: key on the code only (reference §3.5).
    if (code === ZohoCode.NO_RECORDS) return 'empty';
    // The HTTP status of 3190 is undocumented (OAS lists it under "200") — [inferred]: any status.
    if (code === ZohoCode.NO_SUCH_RECORD && request.allowNoSuchRecord === true) return 'no-such-record';
    return undefined;
  }
}

/** A parsed Zoho body: the object plus its numeric `code` and string `message`, when present. */
interface ZohoBody {
  readonly value: Readonly<Record<string, unknown>>;
  readonly code: number | undefined;
  readonly message: string | undefined;
}

/**
 * Parses a Creator response body. Non-JSON (or non-object JSON) → `ZohoApiError`: code
 * `ERR_SYNC_ZOHO_MALFORMED_RESPONSE`, except HTTP 5xx (`ERR_SYNC_ZOHO_API`, an HTML error page is
 * normal there) and HTTP 429 (`ERR_SYNC_ZOHO_RATE_LIMITED`).
 */
function readZohoBody(text: string, httpStatus: number, endpoint: string): ZohoBody {
  let parsed: unknown;
  try {
    parsed = parseZohoJson(text);
  } catch (error) {
    parsed = error;
  }
  if (!isPlainObject(parsed)) {
    const code: ZohoErrorCode =
      httpStatus === 429
        ? SyncErrorCode.ZOHO_RATE_LIMITED
        : httpStatus >= 500
          ? SyncErrorCode.ZOHO_API
          : SyncErrorCode.ZOHO_MALFORMED_RESPONSE;
    throw new ZohoApiError(`Zoho answered ${endpoint} with HTTP ${httpStatus} and a body that is not a JSON object`, {
      httpStatus,
      endpoint,
      code,
      cause: parsed instanceof Error ? parsed : undefined,
    });
  }
  const rawCode = parsed.code;
  const code =
    typeof rawCode === 'number'
      ? rawCode
      : typeof rawCode === 'string' && /^\d+$/.test(rawCode)
        ? Number(rawCode)
        : undefined;
  const rawMessage = parsed.message;
  const message = typeof rawMessage === 'string' ? rawMessage : undefined;
  return { value: parsed, code, message };
}

/** True for a non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * True when a failure is worth retrying: network errors, timeouts, per-minute rate limits,
 * HTTP 5xx, and malformed bodies outside HTTP 4xx. Never for the daily quota (4000), auth
 * failures, other 4xx answers, or aborts.
 *
 * @internal Shared by the HTTP client and the token manager.
 */
export function isRetryableZohoError(error: unknown): boolean {
  if (!isSyncError(error) || error.name !== 'ZohoApiError') return false;
  const { code } = error;
  const httpStatus = (error as ZohoApiError).httpStatus;
  switch (code) {
    case SyncErrorCode.ZOHO_NETWORK:
    case SyncErrorCode.ZOHO_TIMEOUT:
    case SyncErrorCode.ZOHO_RATE_LIMITED:
      return true;
    case SyncErrorCode.ZOHO_MALFORMED_RESPONSE:
      return httpStatus === undefined || httpStatus < 400 || httpStatus >= 500;
    case SyncErrorCode.ZOHO_API:
      return httpStatus !== undefined && httpStatus >= 500;
    default:
      return false;
  }
}

/** Options of {@link runWithRetries}. @internal */
export interface RunWithRetriesOptions {
  /** Unit: retries. */
  readonly retries: number;
  /** First backoff delay. Unit: ms. */
  readonly minRetryDelayMs: number;
  /** Minimum wait after a rate-limit error. Unit: ms. */
  readonly rateLimitPauseMs: number;
  readonly signal?: AbortSignal | undefined;
  readonly logger: Logger;
  readonly endpoint: string;
  /** Which failures to retry. @defaultValue {@link isRetryableZohoError} */
  readonly isRetryable?: ((error: unknown) => boolean) | undefined;
  /** Scrubs the error that ends the attempts (message, cause chain) before it is thrown. */
  readonly scrubber?: SecretScrubber | undefined;
}

/**
 * Runs `attempt` with p-retry: exponential backoff (factor 2, `randomize: true`, first delay
 * `minRetryDelayMs`), retrying only what `isRetryable` accepts; after a rate-limit error it first
 * waits `rateLimitPauseMs`. An abort of `signal` (also during a wait) rejects with `AbortedError`.
 * The error that ends the attempts passes `options.scrubber` first: this is the one exit of every
 * Zoho HTTP failure (token grants and Creator calls alike).
 *
 * @internal
 */
export async function runWithRetries<T>(attempt: () => Promise<T>, options: RunWithRetriesOptions): Promise<T> {
  try {
    return await retrying(attempt, options);
  } catch (error) {
    throw options.scrubber === undefined ? error : options.scrubber.scrubError(error);
  }
}

async function retrying<T>(attempt: () => Promise<T>, options: RunWithRetriesOptions): Promise<T> {
  const isRetryable = options.isRetryable ?? isRetryableZohoError;
  const { signal } = options;
  try {
    return await pRetry(attempt, {
      retries: options.retries,
      factor: 2,
      minTimeout: options.minRetryDelayMs,
      randomize: true,
      signal,
      shouldRetry: ({ error }) => isRetryable(error),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft <= 0 || !isRetryable(error)) return;
        const zoho = error as Partial<ZohoApiError>;
        options.logger.warn('zoho call failed, retrying', {
          endpoint: options.endpoint,
          attempt: attemptNumber,
          retriesLeft,
          code: zoho.code,
          httpStatus: zoho.httpStatus,
          zohoCode: zoho.zohoCode,
        });
        if (zoho.code === SyncErrorCode.ZOHO_RATE_LIMITED) await abortableSleep(options.rateLimitPauseMs, signal);
      },
    });
  } catch (error) {
    if (signal?.aborted) throw abortedFrom(error instanceof AbortedError ? error : signal.reason);
    throw error;
  }
}

/**
 * Gets a token for a call; a failure stops the call's own retries at once (the token manager has
 * retried already), passing the error through unchanged.
 */
async function getTokenOrStop(tokens: ZohoTokenProvider, signal: AbortSignal | undefined): Promise<string> {
  try {
    return await tokens.getToken(signal);
  } catch (error) {
    throw new PRetryAbortError(error instanceof Error ? error : new Error(String(error)));
  }
}

/**
 * Waits `ms`, rejecting with `AbortedError` as soon as `signal` aborts.
 * @internal
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedFrom(signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedFrom(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
