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
 * Errors (see `ERROR_STATUS` in `error-map.ts`): 400 bad input, 401 unauthenticated, 404 unknown
 * event, 409 a run in flight (`run_id` names it; no second run starts), 429 trigger limit, 502 Zoho
 * failure, 503 Redis unavailable, 500 anything else.
 *
 * Order of checks for every request: authentication (401) → input (400) → trigger limit (429) →
 * worker. So an unauthenticated or malformed request never reaches the worker: no Zoho call, no
 * Redis write.
 */
import { ConfigError, InvalidInputError } from '../errors.js';
import { createConsoleLogger, type Logger } from '../logger.js';
import type { SyncWorker } from '../worker/sync-worker.js';
import type { RunHandle, RunKind, RunRequest } from '../worker/run.js';
import type { SyncWorkerStatus } from '../worker/status.js';
import { createAuthenticator } from './auth.js';
import { redact, toErrorResponse } from './error-map.js';
import { SYNC_ROUTER_OPTION_KEYS, type SyncHttpRequest, type SyncHttpResponse, type SyncRouterOptions } from './options.js';
import { type TriggerLimitKind, TriggerLimiter } from './trigger-limit.js';

/** The part of `SyncWorker` the routes use (a structural type, so tests may pass a fake). */
export type SyncWorkerLike = Pick<SyncWorker, 'trigger' | 'getStatus' | 'start' | 'stop'>;

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

  const pushes = options.pushes;
  if (pushes !== undefined && (typeof pushes?.handleZohoPush !== 'function' || typeof pushes.getStatus !== 'function')) {
    throw new ConfigError('pushes', 'Expected `pushes` to be a ZohoPushes');
  }

  const route = (
    name: SyncRouteName,
    method: SyncRouteMethod,
    path: string,
    answer: (request: SyncHttpRequest<TRaw>) => Promise<SyncHttpResponse>,
  ): SyncRoute<TRaw> => ({
    name,
    method,
    path,
    handler: async (request) => {
      let response: SyncHttpResponse;
      try {
        // The push route authenticates by its signature (inside handleZohoPush), not by the bearer token.
        if (name !== 'push') await authenticate(request);
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

  /** Starts a run (checks: input, limit, busy), then answers 202 after admission, or 200 with the result when waiting. */
  const runRoute = async (
    name: SyncRouteName,
    kind: TriggerLimitKind,
    request: SyncHttpRequest<TRaw>,
    runRequest: RunRequest,
    statusUrl: string,
  ): Promise<SyncHttpResponse> => {
    const wait = parseWait(request.query);
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
    route('status', 'GET', '/status', async () => currentStatus()),
    route('start', 'POST', '/start', async () => {
      await worker.start();
      return currentStatus();
    }),
    route('stop', 'POST', '/stop', async () => {
      await worker.stop();
      return currentStatus();
    }),
    route('full-sync', 'POST', '/full-sync', (request) => runRoute('full-sync', 'full', request, { kind: 'full' }, './status')),
    route('incremental-sync', 'POST', '/incremental-sync', (request) =>
      runRoute('incremental-sync', 'incremental', request, { kind: 'incremental' }, './status'),
    ),
    route('force-sync', 'POST', '/force-sync/:eventId', async (request) => {
      const eventId = request.params.eventId;
      if (eventId === undefined || !EVENT_ID_PATTERN.test(eventId)) {
        throw new InvalidInputError(invalidEventIdMessage(eventId ?? ''));
      }
      return runRoute('force-sync', 'force', request, { kind: 'force', eventId }, '../status');
    }),
    route('discrepancy-check', 'GET', '/discrepancy-check', async () => {
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
      route('push', 'POST', '/push', (request) =>
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

/** The 400 message for a bad `?wait=` value. */
export const INVALID_WAIT_MESSAGE = '`wait` must be true or false';

/** The 400 message for an `eventId` that is not 1–19 digits (the value is clipped to 40 characters). */
export function invalidEventIdMessage(eventId: string): string {
  const shown = eventId.length > 40 ? `${eventId.slice(0, 40)}…` : eventId;
  return `eventId must be a Zoho record ID of 1–19 digits, got ${JSON.stringify(shown)}`;
}
