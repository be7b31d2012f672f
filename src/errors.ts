/**
 * Typed errors with stable codes. Every error this library throws or emits is a {@link SyncError}
 * (or a subclass) whose `code` never changes between releases, so callers branch on `code`, not on
 * message text.
 *
 * The classes carry a `Symbol.for` brand so that `instanceof` and {@link isSyncError} work even
 * when the ESM and the CJS builds of this package are both loaded (the dual-package hazard).
 */

const BRAND = Symbol.for('@org/zoho-redis-sync.error');

/** Stable error codes. The keys are for code completion; the values are what `error.code` holds. */
export const SyncErrorCode = {
  /** A constructor option or environment variable is invalid. */
  INVALID_OPTION: 'ERR_SYNC_INVALID_OPTION',
  /** A caller passed a bad argument (for example an event ID that is not 1–19 digits). */
  INVALID_INPUT: 'ERR_SYNC_INVALID_INPUT',
  /** Zoho Creator answered with a code other than 3000/3100, or an unexpected HTTP status. */
  ZOHO_API: 'ERR_SYNC_ZOHO_API',
  /** The Zoho accounts server refused to mint an access token (`{"error": ...}` body). */
  ZOHO_AUTH: 'ERR_SYNC_ZOHO_AUTH',
  /** Zoho's per-minute limit (HTTP 429, code 2955) was hit and retries were exhausted. */
  ZOHO_RATE_LIMITED: 'ERR_SYNC_ZOHO_RATE_LIMITED',
  /** Zoho's daily Developer API limit (code 4000) was reached: no retry until the quota resets. */
  ZOHO_QUOTA_EXHAUSTED: 'ERR_SYNC_ZOHO_QUOTA_EXHAUSTED',
  /** A Zoho call did not answer within the configured timeout. */
  ZOHO_TIMEOUT: 'ERR_SYNC_ZOHO_TIMEOUT',
  /** The network failed under a Zoho call (connection refused, reset, DNS). */
  ZOHO_NETWORK: 'ERR_SYNC_ZOHO_NETWORK',
  /** A Zoho response body was not valid JSON, or not the documented shape. */
  ZOHO_MALFORMED_RESPONSE: 'ERR_SYNC_ZOHO_MALFORMED_RESPONSE',
  /** Zoho (or something in its place) answered a call with an HTTP redirect (3xx); redirects are never followed. */
  ZOHO_REDIRECT: 'ERR_SYNC_ZOHO_REDIRECT',
  /** A Zoho response body was larger than `maxResponseBytes`; reading stopped there. */
  ZOHO_RESPONSE_TOO_LARGE: 'ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE',
  /** A Zoho listing went round in a circle: a `record_cursor` came again, or a page brought no new ID. */
  ZOHO_LISTING_LOOP: 'ERR_SYNC_ZOHO_LISTING_LOOP',
  /** A run made more source calls than its ceiling (`maxCallsPerRun`) allows. */
  CALL_LIMIT: 'ERR_SYNC_CALL_LIMIT',
  /** A Redis command failed, or Redis is unreachable. */
  SINK: 'ERR_SYNC_SINK',
  /** The event ID is not known to the source. */
  UNKNOWN_EVENT: 'ERR_SYNC_UNKNOWN_EVENT',
  /** A run is already in flight in this process. */
  BUSY: 'ERR_SYNC_BUSY',
  /** Another replica holds the sync lease, or this replica lost it mid-run. */
  LEASE: 'ERR_SYNC_LEASE',
  /** The mass-removal guard refused to remove more than the allowed share of an event's records. */
  MASS_REMOVAL: 'ERR_SYNC_MASS_REMOVAL',
  /** The run was aborted through its `AbortSignal` (for example by `stop()`). */
  ABORTED: 'ERR_SYNC_ABORTED',
  /** After a full sync the Redis index did not hold what was fetched. */
  VERIFICATION: 'ERR_SYNC_VERIFICATION',
  /** An event listener threw; the run went on. */
  LISTENER: 'ERR_SYNC_LISTENER',
  /** A manual trigger was refused by the trigger rate limit. */
  TRIGGER_RATE_LIMITED: 'ERR_SYNC_TRIGGER_RATE_LIMITED',
  /** A Zoho push carried no signature (or shared secret), or a wrong one (HTTP 401). */
  PUSH_SIGNATURE: 'ERR_SYNC_PUSH_SIGNATURE',
  /** A Zoho push's timestamp is missing, malformed or outside the replay window (HTTP 401). */
  PUSH_EXPIRED: 'ERR_SYNC_PUSH_EXPIRED',
  /** A Zoho push's signature was already accepted within the replay window (HTTP 409). */
  PUSH_REPLAYED: 'ERR_SYNC_PUSH_REPLAYED',
  /** A Zoho push's `Content-Type` is not JSON, text or form-encoded (HTTP 415). */
  PUSH_CONTENT_TYPE: 'ERR_SYNC_PUSH_CONTENT_TYPE',
  /** A Zoho push's body exceeds the configured limit (HTTP 413). */
  PUSH_TOO_LARGE: 'ERR_SYNC_PUSH_TOO_LARGE',
  /** A run's planned Zoho calls exceed the calls left today (`dailyCallLimit`); refused before any call. */
  QUOTA_BUDGET: 'ERR_SYNC_QUOTA_BUDGET',
} as const;

/** The union of all values of {@link SyncErrorCode}. */
export type SyncErrorCodeValue = (typeof SyncErrorCode)[keyof typeof SyncErrorCode];

/** Options common to every {@link SyncError}. */
export interface SyncErrorOptions {
  /** The underlying error, kept as the standard ES2022 `cause`. */
  cause?: unknown;
}

/**
 * Base class of every error this library throws. `code` is one of {@link SyncErrorCode}.
 *
 * @example
 * ```ts
 * try { await worker.forceSyncEvent(id) } catch (e) {
 *   if (isSyncError(e) && e.code === SyncErrorCode.UNKNOWN_EVENT) reply.status(404)
 * }
 * ```
 */
export class SyncError extends Error {
  override readonly name: string = 'SyncError';
  readonly code: SyncErrorCodeValue;
  readonly [BRAND] = true;

  constructor(message: string, code: SyncErrorCodeValue, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /**
   * Recognises instances from either build (ESM or CJS) of this package: `SyncError` by the brand,
   * a subclass by the brand plus its class name (both builds name their classes alike).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!isSyncError(value)) return false;
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` was asked about (a subclass too).
    const target = this;
    return target === SyncError || Function.prototype[Symbol.hasInstance].call(target, value) || value.name === target.name;
  }
}

/** An option passed to a constructor or factory, or an environment variable, is invalid. Thrown synchronously. */
export class ConfigError extends SyncError {
  override readonly name = 'ConfigError';
  /** The option or environment variable name, e.g. `batchSize` or `SYNC_BATCH_SIZE`. */
  readonly option: string;
  constructor(option: string, message: string) {
    super(message, SyncErrorCode.INVALID_OPTION);
    this.option = option;
  }
}

/** A caller passed an argument that cannot be valid (checked before any Zoho call or Redis write). */
export class InvalidInputError extends SyncError {
  override readonly name = 'InvalidInputError';
  constructor(message: string) {
    super(message, SyncErrorCode.INVALID_INPUT);
  }
}

/** The kinds of Zoho failures, each with its own stable code. */
export type ZohoErrorCode =
  | typeof SyncErrorCode.ZOHO_API
  | typeof SyncErrorCode.ZOHO_RATE_LIMITED
  | typeof SyncErrorCode.ZOHO_QUOTA_EXHAUSTED
  | typeof SyncErrorCode.ZOHO_TIMEOUT
  | typeof SyncErrorCode.ZOHO_NETWORK
  | typeof SyncErrorCode.ZOHO_MALFORMED_RESPONSE
  | typeof SyncErrorCode.ZOHO_REDIRECT
  | typeof SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE
  | typeof SyncErrorCode.ZOHO_LISTING_LOOP;

/** Details of a failed Zoho Creator call. */
export interface ZohoApiErrorDetails extends SyncErrorOptions {
  /** HTTP status of the response, or `undefined` when there was no response (network, timeout). */
  httpStatus?: number | undefined;
  /** Zoho's body `code` (e.g. 2894 unknown report, 2955 per-minute limit, 4000 daily limit). */
  zohoCode?: number | undefined;
  /** Zoho's body `message` as sent, except that the source's secrets are replaced by `[redacted]` (Zoho echoes input). */
  zohoMessage?: string | undefined;
  /** The report or endpoint called (never a token or a secret). */
  endpoint?: string | undefined;
  /** Defaults to {@link SyncErrorCode.ZOHO_API}. */
  code?: ZohoErrorCode;
}

/**
 * Zoho Creator answered with something other than success (code 3000) or an empty page (code 3100).
 * Carries the HTTP status, Zoho's code and message as documented at
 * https://www.zoho.com/creator/help/api/v2.1/status-codes.html
 */
export class ZohoApiError extends SyncError {
  override readonly name = 'ZohoApiError';
  readonly httpStatus: number | undefined;
  readonly zohoCode: number | undefined;
  readonly zohoMessage: string | undefined;
  readonly endpoint: string | undefined;
  constructor(message: string, details: ZohoApiErrorDetails = {}) {
    super(message, details.code ?? SyncErrorCode.ZOHO_API, { cause: details.cause });
    this.httpStatus = details.httpStatus;
    this.zohoCode = details.zohoCode;
    this.zohoMessage = details.zohoMessage;
    this.endpoint = details.endpoint;
  }
}

/**
 * The Zoho accounts server answered the refresh-token grant with an `{"error": ...}` body
 * (`invalid_code`, `invalid_client`, `Access Denied` when refreshes are throttled), whatever the
 * HTTP status. No token is stored. Source: Zoho Accounts OAuth docs and reported client behaviour.
 */
export class ZohoAuthError extends SyncError {
  override readonly name = 'ZohoAuthError';
  /** The `error` value from the token endpoint, e.g. `invalid_code` or `Access Denied`. */
  readonly oauthError: string;
  readonly httpStatus: number | undefined;
  constructor(message: string, oauthError: string, httpStatus?: number, options: SyncErrorOptions = {}) {
    super(message, SyncErrorCode.ZOHO_AUTH, options);
    this.oauthError = oauthError;
    this.httpStatus = httpStatus;
  }
}

/**
 * A run asked the source for more calls than its ceiling (worker option `maxCallsPerRun`) allows:
 * the call that would pass the ceiling is not sent, and the run fails.
 */
export class CallLimitError extends SyncError {
  override readonly name = 'CallLimitError';
  /** Calls the run had made when it stopped. Unit: calls. */
  readonly calls: number;
  /** The ceiling. Unit: calls. */
  readonly limit: number;
  constructor(calls: number, limit: number) {
    super(
      `The run stopped after ${calls} source calls: its ceiling is ${limit} calls (worker option maxCallsPerRun)`,
      SyncErrorCode.CALL_LIMIT,
    );
    this.calls = calls;
    this.limit = limit;
  }
}

/** A Redis command failed, a pipeline reply was an error, or Redis could not be reached. */
export class SinkError extends SyncError {
  override readonly name = 'SinkError';
  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message, SyncErrorCode.SINK, options);
  }
}

/** The event ID is not present in the Zoho events report. */
export class UnknownEventError extends SyncError {
  override readonly name = 'UnknownEventError';
  readonly eventId: string;
  constructor(eventId: string) {
    super(`Unknown event ${eventId}: it is not in the Zoho events report`, SyncErrorCode.UNKNOWN_EVENT);
    this.eventId = eventId;
  }
}

/** A run is already in flight in this worker; `runId` names it. */
export class BusyError extends SyncError {
  override readonly name = 'BusyError';
  readonly runId: string;
  readonly runKind: string;
  constructor(runId: string, runKind: string) {
    super(`A ${runKind} run (${runId}) is already in flight`, SyncErrorCode.BUSY);
    this.runId = runId;
    this.runKind = runKind;
  }
}

/** Another replica holds the sync lease, or this replica lost its lease during the run. */
export class LeaseError extends SyncError {
  override readonly name = 'LeaseError';
  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message, SyncErrorCode.LEASE, options);
  }
}

/** The mass-removal guard refused a run that would remove more than the allowed share of an event. */
export class MassRemovalError extends SyncError {
  override readonly name = 'MassRemovalError';
  readonly eventId: string;
  /** Records the run wanted to remove. */
  readonly wouldRemove: number;
  /** Records the event held in Redis. */
  readonly held: number;
  /** The configured maximum share, 0–1. */
  readonly maxShare: number;
  constructor(eventId: string, wouldRemove: number, held: number, maxShare: number) {
    super(
      `Refusing to remove ${wouldRemove} of ${held} records of event ${eventId} ` +
        `(more than ${Math.round(maxShare * 100)} %); pass { allowMassRemoval: true } to force`,
      SyncErrorCode.MASS_REMOVAL,
    );
    this.eventId = eventId;
    this.wouldRemove = wouldRemove;
    this.held = held;
    this.maxShare = maxShare;
  }
}

/** A run was refused up front: its planned Zoho calls exceed the calls left today under `dailyCallLimit`. */
export class QuotaBudgetError extends SyncError {
  override readonly name = 'QuotaBudgetError';
  /** Calls the run was estimated to make. Unit: calls. */
  readonly estimatedCalls: number;
  /** Calls left today (`dailyCallLimit` minus the calls recorded today). Unit: calls. */
  readonly callsLeft: number;
  /** The Zoho day (`yyyy-mm-dd` in the quota time zone). */
  readonly day: string;
  /**
   * False when the refusal is because Redis holds no record counts for some listed events (an
   * empty Redis, new events): `estimatedCalls` is then only a floor, and `expectedRecordCount`
   * gives the budget a count to plan by.
   */
  readonly countsKnown: boolean;
  /**
   * True when the run had started and stopped because the calls left today ran out (its estimate was
   * low); its checkpoint stays, and the next admitted run continues from it. False for a run refused
   * before its first call.
   */
  readonly stoppedMidRun: boolean;
  constructor(estimatedCalls: number, callsLeft: number, day: string, countsKnown = true, message?: string) {
    super(
      message ??
        (countsKnown
          ? `Refusing to start: the run would make about ${estimatedCalls} Zoho calls but only ${callsLeft} are left today (${day}); pass { ignoreQuotaBudget: true } to force`
          : `Refusing to start: the run would make at least ${estimatedCalls} Zoho calls (Redis holds no record counts for some of the events it lists, so that is a floor) but only ${callsLeft} are left today (${day}); pass { ignoreQuotaBudget: true } to force`),
      SyncErrorCode.QUOTA_BUDGET,
    );
    this.estimatedCalls = estimatedCalls;
    this.callsLeft = callsLeft;
    this.day = day;
    this.countsKnown = countsKnown;
    this.stoppedMidRun = message !== undefined;
  }

  /**
   * A run that was admitted (its estimate fitted) and used up the calls left today before it ended.
   *
   * @param calls - the Zoho requests the run had made when it stopped. Unit: calls.
   * @param day - the Zoho day (`yyyy-mm-dd`).
   */
  static exhausted(calls: number, day: string): QuotaBudgetError {
    return new QuotaBudgetError(
      calls,
      0,
      day,
      false,
      `The run stopped after ${calls} Zoho calls: that was every call left today (${day}) under dailyCallLimit, more than its estimate; it continues from its checkpoint when calls are left, or pass { ignoreQuotaBudget: true } to force`,
    );
  }
}

/** The run was aborted through its `AbortSignal`, typically by `stop()`. */
export class AbortedError extends SyncError {
  override readonly name = 'AbortedError';
  constructor(message = 'The run was aborted', options: SyncErrorOptions = {}) {
    super(message, SyncErrorCode.ABORTED, options);
  }
}

/** After a run, Redis did not hold what the run fetched (index size against fetched IDs). */
export class VerificationError extends SyncError {
  override readonly name = 'VerificationError';
  constructor(message: string) {
    super(message, SyncErrorCode.VERIFICATION);
  }
}

/** True for any error created by this package, from either its ESM or its CJS build. */
export function isSyncError(value: unknown): value is SyncError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** True for a {@link ZohoApiError} from either build. */
export function isZohoApiError(value: unknown): value is ZohoApiError {
  return isSyncError(value) && value.name === 'ZohoApiError';
}

/** Turns anything thrown into a {@link SyncError}, keeping the original as `cause`. */
export function toSyncError(value: unknown, code: SyncErrorCodeValue = SyncErrorCode.SINK): SyncError {
  if (isSyncError(value)) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new SyncError(message, code, { cause: value });
}
