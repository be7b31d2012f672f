/**
 * Options shared by the HTTP bindings (`createSyncWorkerRouter` for Express, `syncWorkerRoutes` for
 * Fastify) and by the framework-neutral route table they are built on.
 *
 * The types are exact: each authentication mode is its own object type and the others' keys are
 * typed `?: undefined`, so TypeScript rejects an unknown key (excess-property check) and a mix of
 * modes. At run time {@link createSyncRoutes} rejects the same mistakes with a `ConfigError`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../logger.js';
import type { PushRequest } from '../push/receiver.js';
import type { PushStatus } from '../push/zoho-pushes.js';

/**
 * The request as every route handler sees it, whatever the framework.
 *
 * @typeParam TRaw - the framework's own request object (`express.Request`, `FastifyRequest`), handed
 *   to an `authorize` hook as `raw` so it can read a session, a client certificate, etc.
 */
export interface SyncHttpRequest<TRaw = unknown> {
  /** `GET` or `POST`. */
  readonly method: string;
  /** The route's path pattern relative to the mount point, e.g. `/force-sync/:eventId`. */
  readonly path: string;
  /** Path parameters, e.g. `{ eventId: '4433256000013547003' }`. */
  readonly params: Readonly<Record<string, string | undefined>>;
  /** Parsed query string. Values other than strings (Express 4 `qs` objects, repeated keys) are rejected where a value is read. */
  readonly query: Readonly<Record<string, unknown>>;
  /** Request headers, lower-cased names (Node's `IncomingHttpHeaders`). */
  readonly headers: IncomingHttpHeaders;
  /** The framework's request object. */
  readonly raw: TRaw;
  /**
   * Set by a binding whose own schema validation failed (Fastify's `attachValidation`): the handler
   * authenticates first and then answers 400 with this message, in the library's error shape.
   */
  readonly invalid?: string | undefined;
  /** The RAW request body, byte for byte (only the push route reads it; see `PushRequest.body`). */
  readonly body?: Buffer | undefined;
  /** Set by a binding that stopped keeping an oversized body: the bytes seen (the push route answers 413). */
  readonly truncatedBytes?: number | undefined;
}

/** What a route handler answers; the binding writes it as JSON. */
export interface SyncHttpResponse {
  /** HTTP status code. */
  readonly status: number;
  /** The JSON body. */
  readonly body: unknown;
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * Decides whether a request may use the routes. Return `true` to allow, `false` for 401.
 * A hook that throws or rejects is treated as a server error (500), never as "allowed".
 */
export type SyncAuthorize<TRaw = unknown> = (request: SyncHttpRequest<TRaw>) => boolean | Promise<boolean>;

/** A sliding-window limit: at most `max` runs started in any `windowMs`. */
export interface TriggerLimitRule {
  /** Runs that may start in one window. Unit: runs; an integer ≥ 1. */
  readonly max: number;
  /** Window length. Unit: ms; an integer ≥ 1. */
  readonly windowMs: number;
}

/**
 * Limits on manual triggers, per router instance (in memory), to protect the Zoho daily API quota.
 * Only triggers that actually start a run count (a 409 or 400 answer costs nothing). A refused
 * trigger gets 429 with `retry_after_ms` and a `Retry-After` header. Omitted kinds are unlimited.
 *
 * @example
 * ```ts
 * { full: { max: 1, windowMs: 60_000 }, force: { max: 10, windowMs: 60_000 } }
 * ```
 */
export interface TriggerLimitOptions {
  /** `POST /full-sync`. */
  readonly full?: TriggerLimitRule | undefined;
  /** `POST /incremental-sync`. */
  readonly incremental?: TriggerLimitRule | undefined;
  /** `POST /force-sync/:eventId` (all events together). */
  readonly force?: TriggerLimitRule | undefined;
  /** `GET /discrepancy-check`. */
  readonly discrepancy?: TriggerLimitRule | undefined;
}

/** Options every authentication mode accepts. */
export interface SyncRouterCommonOptions {
  /** Optional manual-trigger limits (see {@link TriggerLimitOptions}). @defaultValue no limit */
  readonly triggerLimit?: TriggerLimitOptions | undefined;
  /**
   * Receives unexpected errors (those answered 500 with a generic message) and failing `authorize`
   * hooks. Expected failures (Zoho, Redis, busy) are already logged by the worker.
   * @defaultValue a console logger at level `error`
   */
  readonly logger?: Logger | undefined;
  /**
   * Serve `POST /push` for Zoho workflow pushes (a `ZohoPushes`). That route is authenticated by
   * the push signature (or shared secret), never by the router's bearer token: a Deluge script
   * must not hold the token that can trigger full syncs. `GET /status` then also shows `pushes`.
   * @defaultValue undefined (no push route)
   */
  readonly pushes?: SyncPushesLike | undefined;
}

/** The part of `ZohoPushes` the routes use. */
export interface SyncPushesLike {
  /** Answers one push; never rejects. */
  handleZohoPush(request: PushRequest): Promise<SyncHttpResponse>;
  /** Push counts and lag. */
  getStatus(): PushStatus;
  /** Largest accepted body. Unit: bytes. */
  readonly maxBodyBytes: number;
}

/**
 * Bearer-token mode: requests must send `Authorization: Bearer <token>`. The comparison is made in
 * constant time over SHA-256 digests, so neither content nor length leaks through timing.
 */
export interface SyncRouterTokenOptions extends SyncRouterCommonOptions {
  /** The shared secret; a non-empty string. Never echoed in any response. */
  readonly token: string;
  readonly authorize?: undefined;
  readonly allowUnauthenticated?: undefined;
}

/** Hook mode: your `authorize(request)` decides (sessions, mTLS, API gateways, ...). */
export interface SyncRouterAuthorizeOptions<TRaw = unknown> extends SyncRouterCommonOptions {
  /** Returns (or resolves) `true` to allow the request, `false` to answer 401. */
  readonly authorize: SyncAuthorize<TRaw>;
  readonly token?: undefined;
  readonly allowUnauthenticated?: undefined;
}

/**
 * Open mode: no authentication at all. Must be asked for explicitly (for example behind a private
 * network or an authenticating proxy); without it, a router with neither `token` nor `authorize`
 * throws `ConfigError`.
 */
export interface SyncRouterOpenOptions extends SyncRouterCommonOptions {
  readonly allowUnauthenticated: true;
  readonly token?: undefined;
  readonly authorize?: undefined;
}

/**
 * Options of the HTTP bindings: exactly one of `token`, `authorize` or `allowUnauthenticated: true`,
 * plus an optional `triggerLimit`.
 *
 * @typeParam TRaw - the framework's request type passed to `authorize` as `request.raw`.
 */
export type SyncRouterOptions<TRaw = unknown> =
  | SyncRouterTokenOptions
  | SyncRouterAuthorizeOptions<TRaw>
  | SyncRouterOpenOptions;

/** The option names {@link SyncRouterOptions} knows, for the run-time unknown-key check. */
export const SYNC_ROUTER_OPTION_KEYS: readonly string[] = Object.freeze(['token', 'authorize', 'allowUnauthenticated', 'triggerLimit', 'logger', 'pushes']);
