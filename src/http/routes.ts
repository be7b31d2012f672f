/**
 * The framework-neutral route table of the sync-worker HTTP API: the seven endpoints of the original
 * design, written once. The Express router and the Fastify plugin only map these onto their
 * framework; they add no behaviour of their own.
 *
 * | method | path | success |
 * |---|---|---|
 * | GET  | `/status` | 200 the worker status (`SyncWorkerStatus`, snake_case) |
 * | POST | `/start` | 200 the status after starting |
 * | POST | `/stop` | 200 the status after stopping |
 * | POST | `/full-sync` | 202 {@link RunAcceptedBody}; with `?wait=true` 200 the `RunResult` |
 * | POST | `/incremental-sync` | as `/full-sync` |
 * | POST | `/force-sync/:eventId` | as `/full-sync` |
 * | GET  | `/discrepancy-check` | 200 the `DiscrepancyReport` (waits; read-only, never heals) |
 * | POST | `/push` | 202 the push is in the inbox (only with the `pushes` option; signed, no bearer token — see `ZohoPushes`) |
 *
 * Every route but `GET /status` does work: it spends Zoho quota (`GET /discrepancy-check` costs
 * 1 events call + `ceil(N/1000)` ID-only calls for N registrations, plus a token call when the
 * access token is due) or changes state. For those routes:
 * - `HEAD` answers 405 (`Allow: GET`) and starts nothing (both frameworks would otherwise run the
 *   GET handler for a HEAD request);
 * - with an `authorize` hook (cookie or session authentication, which a browser attaches by
 *   itself), the request must carry `X-Requested-With` (any non-empty value) or
 *   `Content-Type: application/json` — neither can be sent by a cross-site HTML form or a
 *   no-CORS request — else 403 `ERR_SYNC_CROSS_SITE`. A bearer `token` needs no such check: no
 *   browser sends it by itself.
 *
 * Every run route takes `?dry_run=true`: 200 with the run's plan (`worker.plan()`), and no run
 * (no record, index, checkpoint or watermark is written; a plan's own Zoho calls count in today's tally).
 *
 * Errors (see `ERROR_STATUS` in `error-map.ts`): 400 bad input, 401 unauthenticated, 403 cross-site,
 * 404 unknown event (or, via {@link unmatchedRouteResponse}, no such route), 405 wrong method, 409 a
 * run in flight (`run_id` names it; no second run starts), 429 trigger limit, 502 Zoho failure,
 * 503 Redis unavailable, 500 anything else.
 *
 * Order of checks for every request: `HEAD` on a working route (405) → authentication (401) →
 * cross-site (403) → input (400) → trigger limit (429) → worker. So an unauthenticated, forged or
 * malformed request never reaches the worker: no Zoho call, no Redis write.
 */
import { ConfigError, InvalidInputError } from '../errors.js';
import { createConsoleLogger, type Logger } from '../logger.js';
import type { SyncWorker } from '../worker/sync-worker.js';
import type { RunHandle, RunKind, RunRequest } from '../worker/run.js';
import type { SyncWorkerStatus } from '../worker/status.js';
import { createAuthenticator } from './auth.js';
import { HttpErrorCode, HttpRequestError, redact, toErrorResponse } from './error-map.js';
import { SYNC_ROUTER_OPTION_KEYS, type SyncHttpRequest, type SyncHttpResponse, type SyncRouterOptions } from './options.js';
import { type TriggerLimitKind, TriggerLimiter } from './trigger-limit.js';

/** The part of `SyncWorker` the routes use (a structural type, so tests may pass a fake). */
export type SyncWorkerLike = Pick<SyncWorker, 'trigger' | 'getStatus' | 'start' | 'stop'> & Partial<Pick<SyncWorker, 'plan'>>;

/** HTTP methods the routes use. */
export type SyncRouteMethod = 'GET' | 'POST';

/** Stable names of the seven routes (used by the bindings to attach schemas). */
export type SyncRouteName = 'status' | 'start' | 'stop' | 'full-sync' | 'incremental-sync' | 'force-sync' | 'discrepancy-check' | 'push';

/** One route of the table. */
export interface SyncRoute<TRaw = unknown> {
  /** Stable route name. */
  readonly name: SyncRouteName;
  /** HTTP method. */
  readonly method: SyncRouteMethod;
  /** Path relative to the mount point, Express/Fastify syntax: `/status`, `/force-sync/:eventId`. */
  readonly path: string;
  /**
   * Whether the route spends Zoho quota or changes state (every route but `status`): `HEAD` is
   * refused with 405 and, in `authorize` mode, a cross-site-form-proof request is required.
   */
  readonly sideEffects: boolean;
  /**
   * Answers one request. Never rejects: every failure becomes an error answer
   * (`{ error: { code, message, ... } }`). Headers always include `cache-control: no-store`.
   */
  readonly handler: (request: SyncHttpRequest<TRaw>) => Promise<SyncHttpResponse>;
}

/** Body of a 202 answer to a trigger: the run was admitted and goes on in the background. */
export interface RunAcceptedBody {
  /** The run's ID (UUID); `GET /status` shows it as `current_run.id`, then `last_run.id`. */
  readonly run_id: string;
  /** `full`, `incremental` or `force`. */
  readonly kind: RunKind;
  /** The forced event, or `null`. */
  readonly event_id: string | null;
  /** Where to follow the run, relative to the URL that was called (`./status`, or `../status` from `/force-sync/:eventId`). */
  readonly status_url: string;
}

/** An event or record ID: 1–19 digits (Zoho IDs exceed 2^53 and are kept as strings). */
export const EVENT_ID_PATTERN = /^\d{1,19}$/;

const NO_STORE = { 'cache-control': 'no-store' } as const;

/**
 * Builds the seven routes for `worker`.
 *
 * @param worker - the `SyncWorker` to expose.
 * @param options - exactly one of `token`, `authorize`, `allowUnauthenticated: true`; optional `triggerLimit`, `logger`.
 * @throws {@link ConfigError} when no authentication is configured (and `allowUnauthenticated: true` is
 *   not given), when an option is unknown or invalid, or when `worker` does not look like a `SyncWorker`.
 *
 * @example
 * ```ts
 * for (const route of createSyncRoutes(worker, { token: process.env.SYNC_API_TOKEN! })) {
 *   myFramework.on(route.method, route.path, async (req) => route.handler(req));
 * }
 * ```
 */
export function createSyncRoutes<TRaw = unknown>(worker: SyncWorkerLike, options: SyncRouterOptions<TRaw>): SyncRoute<TRaw>[] {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'Expected an options object');
  for (const key of Object.keys(options)) {
    if (!SYNC_ROUTER_OPTION_KEYS.includes(key)) throw new ConfigError(key, `Unknown option \`${key}\``);
  }
  const candidate = worker as unknown as Record<string, unknown> | null;
  if (typeof candidate !== 'object' || candidate === null || !['trigger', 'getStatus', 'start', 'stop'].every((m) => typeof candidate[m] === 'function')) {
    throw new ConfigError('worker', 'Expected a SyncWorker (trigger, getStatus, start, stop)');
  }
  const authenticate = createAuthenticator(options);
  const limiter = new TriggerLimiter(options.triggerLimit);
  if (options.logger !== undefined && typeof (options.logger as Partial<Logger> | null)?.error !== 'function') {
    throw new ConfigError('logger', 'Expected `logger` to have debug, info, warn and error methods');
  }
  const logger: Logger = options.logger ?? createConsoleLogger('error', 'zoho-redis-sync:http');
  const secrets = typeof options.token === 'string' ? [options.token] : [];
  // Cookie/session authentication rides along on any cross-site request; a bearer token does not.
  const crossSiteCheck = options.authorize !== undefined;

  const pushes = options.pushes;
  if (pushes !== undefined && (typeof pushes?.handleZohoPush !== 'function' || typeof pushes.getStatus !== 'function')) {
    throw new ConfigError('pushes', 'Expected `pushes` to be a ZohoPushes');
  }

  const route = (
    name: SyncRouteName,
    method: SyncRouteMethod,
    path: string,
    sideEffects: boolean,
    answer: (request: SyncHttpRequest<TRaw>) => Promise<SyncHttpResponse>,
  ): SyncRoute<TRaw> => ({
    name,
    method,
    path,
    sideEffects,
    handler: async (request) => {
      let response: SyncHttpResponse;
      try {
        if (sideEffects && request.method.toUpperCase() === 'HEAD') throw headRefused(method);
        // The push route authenticates by its signature (inside handleZohoPush), not by the bearer token;
        // a cross-site form cannot sign, so it needs no anti-form header either.
        if (name !== 'push') await authenticate(request);
        if (sideEffects && crossSiteCheck && name !== 'push' && !cannotComeFromAForm(request.headers)) throw crossSiteRefused();
        if (request.invalid !== undefined) throw new InvalidInputError(request.invalid);
        response = await answer(request);
      } catch (error) {
        response = fail(error, name, undefined);
      }
      return { ...response, headers: { ...response.headers, ...NO_STORE } };
    },
  });

  const fail = (error: unknown, name: SyncRouteName, runId: string | undefined): SyncHttpResponse => {
    const response = toErrorResponse(error, { runId, secrets });
    if (response.status === 500) {
      try {
        logger.error(`Sync-worker route ${name} failed`, { error });
      } catch {
        // A failing logger must not turn an answer into a hung request.
      }
    }
    return response;
  };

  /** The plan of a dry run; a worker without `plan()` cannot answer one. */
  const planOf = async (kind: RunKind, eventId: string | undefined): Promise<unknown> => {
    if (worker.plan === undefined) throw new InvalidInputError('This worker cannot plan runs (`dry_run` needs SyncWorker.plan)');
    return worker.plan(kind, { eventId });
  };

  /** Starts a run (checks: input, limit, busy), then answers 202 after admission, or 200 with the result when waiting. */
  const runRoute = async (
    name: SyncRouteName,
    kind: TriggerLimitKind,
    request: SyncHttpRequest<TRaw>,
    runRequest: RunRequest,
    statusUrl: string,
  ): Promise<SyncHttpResponse> => {
    const wait = parseWait(request.query);
    if (parseDryRun(request.query)) {
      // `?dry_run=true`: the plan (Zoho calls, quota left today, the writes of a full sync), no run.
      // A plan lists IDs from Zoho, so it counts against the trigger limit like the run it plans.
      limiter.check(kind);
      const plan = await planOf(runRequest.kind, runRequest.kind === 'force' ? runRequest.eventId : undefined);
      limiter.record(kind);
      return { status: 200, body: plan };
    }
    limiter.check(kind);
    const handle: RunHandle = worker.trigger(runRequest);
    limiter.record(kind);
    if (wait) {
      try {
        return { status: 200, body: await handle.result };
      } catch (error) {
        return fail(error, name, handle.id);
      }
    }
    try {
      await handle.accepted;
    } catch (error) {
      return fail(error, name, handle.id);
    }
    const body: RunAcceptedBody = { run_id: handle.id, kind: handle.kind, event_id: handle.eventId ?? null, status_url: statusUrl };
    return { status: 202, body };
  };

  /** The worker's status; the last run's error message is redacted like every error body. */
  const currentStatus = (): SyncHttpResponse => {
    const raw: SyncWorkerStatus = worker.getStatus();
    const status = pushes === undefined ? raw : { ...raw, pushes: pushes.getStatus() };
    const lastRun = status.last_run;
    if (lastRun?.error_message) {
      return { status: 200, body: { ...status, last_run: { ...lastRun, error_message: redact(lastRun.error_message, secrets) } } };
    }
    return { status: 200, body: status };
  };

  const routes: SyncRoute<TRaw>[] = [
    route('status', 'GET', '/status', false, async () => currentStatus()),
    route('start', 'POST', '/start', true, async () => {
      await worker.start();
      return currentStatus();
    }),
    route('stop', 'POST', '/stop', true, async () => {
      await worker.stop();
      return currentStatus();
    }),
    route('full-sync', 'POST', '/full-sync', true, (request) => runRoute('full-sync', 'full', request, { kind: 'full' }, './status')),
    route('incremental-sync', 'POST', '/incremental-sync', true, (request) =>
      runRoute('incremental-sync', 'incremental', request, { kind: 'incremental' }, './status'),
    ),
    route('force-sync', 'POST', '/force-sync/:eventId', true, async (request) => {
      const eventId = request.params.eventId;
      if (eventId === undefined || !EVENT_ID_PATTERN.test(eventId)) {
        throw new InvalidInputError(invalidEventIdMessage(eventId ?? ''));
      }
      return runRoute('force-sync', 'force', request, { kind: 'force', eventId }, '../status');
    }),
    route('discrepancy-check', 'GET', '/discrepancy-check', true, async (request) => {
      if (parseDryRun(request.query)) {
        limiter.check('discrepancy');
        const plan = await planOf('discrepancy-check', undefined);
        limiter.record('discrepancy');
        return { status: 200, body: plan };
      }
      limiter.check('discrepancy');
      // Read-only: `heal` is never passed through, whatever the query says.
      const handle = worker.trigger({ kind: 'discrepancy-check', heal: false });
      limiter.record('discrepancy');
      try {
        const result = await handle.result;
        if (!result.discrepancies) throw new Error('The discrepancy check produced no report');
        return { status: 200, body: result.discrepancies };
      } catch (error) {
        return fail(error, 'discrepancy-check', handle.id);
      }
    }),
  ];
  if (pushes !== undefined) {
    routes.push(
      route('push', 'POST', '/push', true, (request) =>
        pushes.handleZohoPush({ headers: request.headers, body: request.body, truncatedBytes: request.truncatedBytes }),
      ),
    );
  }
  return routes;
}

/**
 * Reads `?wait=`: absent, `false` or `0` → answer 202 at admission; `true`, `1` or empty (`?wait`) →
 * wait for the run and answer 200 with its result.
 *
 * @throws {@link InvalidInputError} for any other value (including repeated keys or `qs` objects).
 */
export function parseWait(query: Readonly<Record<string, unknown>>): boolean {
  const value = query.wait;
  if (value === undefined) return false;
  if (value === 'true' || value === '1' || value === '') return true;
  if (value === 'false' || value === '0') return false;
  throw new InvalidInputError(INVALID_WAIT_MESSAGE);
}

/**
 * Reads `?dry_run=`: `true`, `1` or empty → answer 200 with `worker.plan()` instead of running
 * (Zoho calls by kind, quota left today, for a full sync the exact writes; nothing is written).
 *
 * @throws {@link InvalidInputError} for any value other than true/false/1/0/empty.
 */
export function parseDryRun(query: Readonly<Record<string, unknown>>): boolean {
  const value = query.dry_run;
  if (value === undefined) return false;
  if (value === 'true' || value === '1' || value === '') return true;
  if (value === 'false' || value === '0') return false;
  throw new InvalidInputError('`dry_run` must be true or false');
}

/** The 400 message for a bad `?wait=` value. */
export const INVALID_WAIT_MESSAGE = '`wait` must be true or false';

/** The 400 message for an `eventId` that is not 1–19 digits (the value is clipped to 40 characters). */
export function invalidEventIdMessage(eventId: string): string {
  const shown = eventId.length > 40 ? `${eventId.slice(0, 40)}…` : eventId;
  return `eventId must be a Zoho record ID of 1–19 digits, got ${JSON.stringify(shown)}`;
}

/**
 * Whether a request carries something a cross-site HTML form (or a no-CORS `fetch`) cannot send:
 * an `X-Requested-With` header with any non-empty value, or `Content-Type: application/json`.
 * Forms can only send `application/x-www-form-urlencoded`, `multipart/form-data` and `text/plain`;
 * a page on another origin that sets a custom header or a JSON content type triggers a CORS
 * preflight, which these routes never approve (Fetch standard, "CORS-safelisted request-header").
 */
export function cannotComeFromAForm(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const requestedWith = headers['x-requested-with'];
  if (typeof requestedWith === 'string' && requestedWith.trim() !== '') return true;
  const contentType = headers['content-type'];
  return typeof contentType === 'string' && /^\s*application\/json\s*(;|$)/i.test(contentType);
}

/** The 403 message of a request that a cross-site form could have sent. */
export const CROSS_SITE_MESSAGE =
  'This route spends Zoho quota or changes state: send `X-Requested-With: XMLHttpRequest` or `Content-Type: application/json` ' +
  '(a cross-site form cannot), so that a page elsewhere cannot make a logged-in browser call it';

function crossSiteRefused(): HttpRequestError {
  return new HttpRequestError(HttpErrorCode.CROSS_SITE, 403, CROSS_SITE_MESSAGE);
}

function headRefused(method: SyncRouteMethod): HttpRequestError {
  return new HttpRequestError(
    HttpErrorCode.METHOD_NOT_ALLOWED,
    405,
    `HEAD is not served here: this route does work (Zoho calls or state changes); use ${method}`,
    { allow: method },
  );
}

function matches(pattern: string, path: string): boolean {
  const want = pattern.split('/');
  const got = path.split('/');
  return want.length === got.length && want.every((segment, i) => (segment.startsWith(':') ? (got[i] ?? '') !== '' : segment === got[i]));
}

/**
 * The answer for a request no route of `routes` took (the bindings call it for paths under their
 * mount point): 405 `ERR_SYNC_METHOD_NOT_ALLOWED` with `Allow` when the path exists with other
 * methods (`HEAD` is never allowed on a route that does work), else 404 `ERR_SYNC_NOT_FOUND`.
 * Always in the library's error shape with `cache-control: no-store`; nothing reaches the worker.
 *
 * @param path - the path relative to the mount point, without the query string (`/nope`).
 */
export function unmatchedRouteResponse<TRaw>(routes: readonly SyncRoute<TRaw>[], method: string, path: string): SyncHttpResponse {
  const normalised = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const allowed = routes.filter((r) => matches(r.path, normalised)).map((r) => (r.sideEffects || r.method !== 'GET' ? r.method : 'GET, HEAD'));
  const shown = normalised.length > 80 ? `${normalised.slice(0, 80)}…` : normalised;
  const error =
    allowed.length > 0
      ? new HttpRequestError(HttpErrorCode.METHOD_NOT_ALLOWED, 405, `${method.toUpperCase()} is not allowed on ${shown}; use ${allowed.join(', ')}`, {
          allow: allowed.join(', '),
        })
      : new HttpRequestError(HttpErrorCode.NOT_FOUND, 404, `No sync-worker route ${method.toUpperCase()} ${shown}`);
  const response = toErrorResponse(error);
  return { ...response, headers: { ...response.headers, ...NO_STORE } };
}
