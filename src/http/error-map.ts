/**
 * The one place where errors become HTTP answers. Every binding (Express, Fastify) and every route
 * goes through {@link toErrorResponse}; the status of each stable error code is written once, in
 * {@link ERROR_STATUS}.
 *
 * Body shape, for every error status:
 * ```json
 * { "error": { "code": "ERR_SYNC_BUSY", "message": "...", "run_id": "...", "zoho_code": 2955, "http_status": 429, "retry_after_ms": 1200 } }
 * ```
 * `code` and `message` are always present; the other fields only when they apply.
 */
import {
  isSyncError,
  isZohoApiError,
  type SyncError,
  SyncErrorCode,
  type SyncErrorCodeValue,
} from '../errors.js';
import type { SyncHttpResponse } from './options.js';

/** Error codes that exist only at the HTTP layer (the worker never throws them). */
export const HttpErrorCode = {
  /** Missing or wrong credentials (401). */
  UNAUTHORIZED: 'ERR_SYNC_UNAUTHORIZED',
  /** Anything unexpected (500); the message is generic and the details go to the logger. */
  INTERNAL: 'ERR_SYNC_INTERNAL',
  /**
   * 403: with an `authorize` hook, a route that spends Zoho quota or changes state was called by a
   * request a cross-site HTML form could have sent (no `X-Requested-With`, no JSON content type).
   */
  CROSS_SITE: 'ERR_SYNC_CROSS_SITE',
  /** 404: no route at this path under the mount point. */
  NOT_FOUND: 'ERR_SYNC_NOT_FOUND',
  /** 405 (with `Allow`): the path exists with another method, or `HEAD` on a route that does work. */
  METHOD_NOT_ALLOWED: 'ERR_SYNC_METHOD_NOT_ALLOWED',
} as const;

/** The union of {@link HttpErrorCode} values. */
export type HttpErrorCodeValue = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/** Every `error.code` an HTTP answer can carry. */
export type HttpErrorBodyCode = SyncErrorCodeValue | HttpErrorCodeValue;

/** The JSON body of every error answer. */
export interface HttpErrorBody {
  readonly error: {
    /** Stable code: one of `SyncErrorCode` or {@link HttpErrorCode}. */
    readonly code: HttpErrorBodyCode;
    /** Human-readable; credentials and tokens are redacted; generic for 500. */
    readonly message: string;
    /** 409 busy: the run in flight. Failed `?wait=true` runs: the run that failed. */
    readonly run_id?: string;
    /** 502: Zoho's body `code` (e.g. 2955 per-minute limit, 4000 daily limit), when Zoho sent one. */
    readonly zoho_code?: number;
    /** 502: the HTTP status Zoho answered with, when there was a response. */
    readonly http_status?: number;
    /** 429: how long until a trigger of this kind will be accepted. Unit: ms. */
    readonly retry_after_ms?: number;
  };
}

/**
 * HTTP status of every stable `SyncError` code. A `Record` over the whole code union, so adding a
 * code to `SyncErrorCode` without deciding its status is a compile error.
 *
 * | status | codes |
 * |---|---|
 * | 400 | `ERR_SYNC_INVALID_INPUT` (e.g. `eventId` not 1–19 digits, bad `?wait=`) |
 * | 404 | `ERR_SYNC_UNKNOWN_EVENT` |
 * | 409 | `ERR_SYNC_BUSY` (with `run_id`), `ERR_SYNC_LEASE`, `ERR_SYNC_MASS_REMOVAL`, `ERR_SYNC_ABORTED`, `ERR_SYNC_QUOTA_BUDGET` |
 * | 401 | `ERR_SYNC_PUSH_SIGNATURE`, `ERR_SYNC_PUSH_EXPIRED` (push route) |
 * | 409 | `ERR_SYNC_PUSH_REPLAYED` (push route) |
 * | 413 | `ERR_SYNC_PUSH_TOO_LARGE` (push route) |
 * | 415 | `ERR_SYNC_PUSH_CONTENT_TYPE` (push route) |
 * | 429 | `ERR_SYNC_TRIGGER_RATE_LIMITED` (with `retry_after_ms`) |
 * | 502 | every `ERR_SYNC_ZOHO_*` (with `zoho_code` / `http_status`), `ERR_SYNC_CALL_LIMIT` |
 * | 503 | `ERR_SYNC_SINK` (Redis unavailable or failing) |
 * | 500 | `ERR_SYNC_INVALID_OPTION`, `ERR_SYNC_VERIFICATION`, `ERR_SYNC_LISTENER`, anything else |
 */
export const ERROR_STATUS: Readonly<Record<SyncErrorCodeValue, number>> = Object.freeze({
  [SyncErrorCode.INVALID_INPUT]: 400,
  [SyncErrorCode.UNKNOWN_EVENT]: 404,
  [SyncErrorCode.BUSY]: 409,
  [SyncErrorCode.LEASE]: 409,
  [SyncErrorCode.MASS_REMOVAL]: 409,
  [SyncErrorCode.ABORTED]: 409,
  [SyncErrorCode.QUOTA_BUDGET]: 409,
  [SyncErrorCode.TRIGGER_RATE_LIMITED]: 429,
  [SyncErrorCode.PUSH_SIGNATURE]: 401,
  [SyncErrorCode.PUSH_EXPIRED]: 401,
  [SyncErrorCode.PUSH_REPLAYED]: 409,
  [SyncErrorCode.PUSH_CONTENT_TYPE]: 415,
  [SyncErrorCode.PUSH_TOO_LARGE]: 413,
  [SyncErrorCode.ZOHO_API]: 502,
  [SyncErrorCode.ZOHO_AUTH]: 502,
  [SyncErrorCode.ZOHO_RATE_LIMITED]: 502,
  [SyncErrorCode.ZOHO_QUOTA_EXHAUSTED]: 502,
  [SyncErrorCode.ZOHO_TIMEOUT]: 502,
  [SyncErrorCode.ZOHO_NETWORK]: 502,
  [SyncErrorCode.ZOHO_MALFORMED_RESPONSE]: 502,
  [SyncErrorCode.ZOHO_REDIRECT]: 502,
  [SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE]: 502,
  [SyncErrorCode.ZOHO_LISTING_LOOP]: 502,
  [SyncErrorCode.CALL_LIMIT]: 502,
  [SyncErrorCode.SINK]: 503,
  [SyncErrorCode.INVALID_OPTION]: 500,
  [SyncErrorCode.VERIFICATION]: 500,
  [SyncErrorCode.LISTENER]: 500,
});

/** Message of every 500 answer: internals stay in the server log. */
export const INTERNAL_ERROR_MESSAGE = 'Internal error; see the server log';

/** The request lacks valid credentials. Answered 401 with `WWW-Authenticate` when a bearer token is expected. */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError';
  /** Always {@link HttpErrorCode.UNAUTHORIZED}. */
  readonly code = HttpErrorCode.UNAUTHORIZED;
  /** The `WWW-Authenticate` challenge to send, if any. */
  readonly challenge: string | undefined;
  constructor(message = 'Missing or invalid credentials', challenge?: string) {
    super(message);
    this.challenge = challenge;
  }
}

/**
 * A request refused by the HTTP layer itself, before any worker call: 403 cross-site, 404 no such
 * route, 405 wrong method. Carries its status and any headers to send (e.g. `Allow`).
 */
export class HttpRequestError extends Error {
  override readonly name = 'HttpRequestError';
  constructor(
    /** One of {@link HttpErrorCode.CROSS_SITE}, {@link HttpErrorCode.NOT_FOUND}, {@link HttpErrorCode.METHOD_NOT_ALLOWED}. */
    readonly code: typeof HttpErrorCode.CROSS_SITE | typeof HttpErrorCode.NOT_FOUND | typeof HttpErrorCode.METHOD_NOT_ALLOWED,
    /** 403, 404 or 405. */
    readonly status: number,
    message: string,
    /** Headers to send with the answer (e.g. `{ allow: 'POST' }`). */
    readonly headers: Readonly<Record<string, string>> | undefined = undefined,
  ) {
    super(message);
  }
}

/** Options of {@link toErrorResponse}. */
export interface ErrorResponseOptions {
  /** The run the error concerns (a failed `?wait=true` run). Busy errors always name the run in flight instead. */
  readonly runId?: string | undefined;
  /** Extra strings to blank out of messages (e.g. the router's bearer token). */
  readonly secrets?: readonly string[] | undefined;
}

/**
 * Maps anything thrown to `{ status, body: { error: { code, message, ... } }, headers? }`.
 *
 * - `SyncError`s get the status of {@link ERROR_STATUS} and their own stable code.
 * - {@link UnauthorizedError} → 401; {@link HttpRequestError} → its own status (403, 404, 405).
 * - Anything else → 500 `ERR_SYNC_INTERNAL` with a generic message (no stack, no internals).
 *
 * Messages are redacted: `Bearer ...`, `Zoho-oauthtoken ...`, `refresh_token=`, `client_secret=`,
 * `access_token`, URL user-info and any string in `options.secrets` never reach a body.
 */
export function toErrorResponse(error: unknown, options: ErrorResponseOptions = {}): SyncHttpResponse {
  const secrets = options.secrets ?? [];
  if (error instanceof UnauthorizedError) {
    return {
      status: 401,
      body: errorBody(HttpErrorCode.UNAUTHORIZED, redact(error.message, secrets)),
      headers: error.challenge ? { 'www-authenticate': error.challenge } : undefined,
    };
  }
  if (error instanceof HttpRequestError) {
    return { status: error.status, body: errorBody(error.code, redact(error.message, secrets)), headers: error.headers };
  }
  if (!isSyncError(error)) {
    return { status: 500, body: errorBody(HttpErrorCode.INTERNAL, INTERNAL_ERROR_MESSAGE) };
  }
  const status = ERROR_STATUS[error.code] ?? 500;
  if (status === 500) return { status, body: errorBody(error.code, INTERNAL_ERROR_MESSAGE) };
  const extra: { run_id?: string; zoho_code?: number; http_status?: number; retry_after_ms?: number } = {};
  const runId = busyRunId(error) ?? options.runId;
  if (runId !== undefined) extra.run_id = runId;
  if (isZohoApiError(error)) {
    if (error.zohoCode !== undefined) extra.zoho_code = error.zohoCode;
    if (error.httpStatus !== undefined) extra.http_status = error.httpStatus;
  } else if (error.code === SyncErrorCode.ZOHO_AUTH) {
    const httpStatus = numberField(error, 'httpStatus');
    if (httpStatus !== undefined) extra.http_status = httpStatus;
  }
  let headers: Record<string, string> | undefined;
  if (error.code === SyncErrorCode.TRIGGER_RATE_LIMITED) {
    const retryAfterMs = numberField(error, 'retryAfterMs') ?? 0;
    extra.retry_after_ms = retryAfterMs;
    headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  }
  return { status, body: errorBody(error.code, redact(error.message, secrets), extra), headers };
}

function errorBody(code: HttpErrorBodyCode, message: string, extra: Omit<HttpErrorBody['error'], 'code' | 'message'> = {}): HttpErrorBody {
  return { error: { code, message, ...extra } };
}

function busyRunId(error: SyncError): string | undefined {
  if (error.code !== SyncErrorCode.BUSY) return undefined;
  const runId = (error as SyncError & { runId?: unknown }).runId;
  return typeof runId === 'string' ? runId : undefined;
}

function numberField(error: SyncError, field: string): number | undefined {
  const value = (error as unknown as Record<string, unknown>)[field];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  // Credentials are long: 8+ token characters, so prose such as "bearer token" stays readable.
  [/\b(Bearer|Zoho-oauthtoken)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\b(refresh_token|access_token|client_secret|client_id|token|password|api_key)=([^&\s"']+)/gi, '$1=[redacted]'],
  [/"(refresh_token|access_token|client_secret|client_id|token|password)"\s*:\s*"[^"]*"/gi, '"$1":"[redacted]"'],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1[redacted]@'],
];

/**
 * Removes credentials from a message: bearer and Zoho OAuth tokens, OAuth form fields, JSON secret
 * fields, URL user-info, and every string in `secrets` (ignored when shorter than 4 characters,
 * which would blank ordinary words).
 */
export function redact(message: string, secrets: readonly string[] = []): string {
  let out = message;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}
