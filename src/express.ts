/**
 * `@org/zoho-redis-sync/express`: the sync-worker HTTP API as an Express router (Express 4 and 5).
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createSyncWorkerRouter } from '@org/zoho-redis-sync/express';
 *
 * const app = express();
 * app.use('/api/sync-worker', createSyncWorkerRouter(worker, { token: process.env.SYNC_API_TOKEN! }));
 * app.listen(3000);
 * ```
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { INTERNAL_ERROR_MESSAGE, HttpErrorCode } from './http/error-map.js';
import type { SyncHttpResponse, SyncRouterOptions } from './http/options.js';
import { createSyncRoutes, type SyncRoute, type SyncWorkerLike, unmatchedRouteResponse } from './http/routes.js';
import { readRawBody } from './push/raw-body.js';

// Shared HTTP types and constants, so users of this subpath need no deep import.
export {
  ERROR_STATUS,
  type HttpErrorBody,
  HttpErrorCode,
  type HttpErrorCodeValue,
} from './http/error-map.js';
export type {
  SyncAuthorize,
  SyncHttpRequest,
  SyncRouterOptions,
  TriggerLimitOptions,
  TriggerLimitRule,
} from './http/options.js';
export type { RunAcceptedBody, SyncWorkerLike } from './http/routes.js';
export { TriggerRateLimitedError } from './http/trigger-limit.js';

/** Options of {@link createSyncWorkerRouter}; `authorize` receives the Express `Request` as `request.raw`. */
export type SyncWorkerRouterOptions = SyncRouterOptions<Request>;

/**
 * Creates an Express `Router` serving the seven sync-worker endpoints (`GET /status`, `POST /start`,
 * `POST /stop`, `POST /full-sync`, `POST /incremental-sync`, `POST /force-sync/:eventId`,
 * `GET /discrepancy-check`). Mount it wherever you like: `app.use('/api/sync-worker', router)`.
 *
 * Every handler settles its promise itself and always answers (JSON, `cache-control: no-store`), so
 * no rejection goes unhandled and no request hangs — also on Express 4, which ignores promises
 * returned by handlers. Statuses and bodies: see `createSyncRoutes`.
 *
 * Mounted under a path (`app.use('/api/sync-worker', router)`), every other request under that
 * path is answered here in the library's error shape: 405 with `Allow` for a known path with the
 * wrong method, 404 `ERR_SYNC_NOT_FOUND` otherwise (as the Fastify plugin does). Mounted at the
 * root (`app.use(router)`), unknown paths are left to the app.
 *
 * @param worker - the `SyncWorker` to expose.
 * @param options - exactly one of `token` (bearer, constant-time comparison), `authorize(request)`
 *   (`request.raw` is the Express request) or `allowUnauthenticated: true`; optional `triggerLimit`, `logger`.
 * @throws {@link ConfigError} when no authentication is configured, or an option is unknown or invalid.
 */
export function createSyncWorkerRouter(worker: SyncWorkerLike, options: SyncWorkerRouterOptions): Router {
  const routes = createSyncRoutes<Request>(worker, options);
  const router = express.Router();
  const maxBodyBytes = options.pushes?.maxBodyBytes ?? 0;
  for (const route of routes) {
    const handler = route.name === 'push' ? toRawBodyHandler(route, maxBodyBytes, options.logger) : toExpressHandler(route);
    if (route.method === 'GET') router.get(route.path, handler);
    else router.post(route.path, handler);
  }
  router.use((req: Request, res: Response, next: NextFunction) => {
    // At the root, the rest of the app's paths are not ours to refuse.
    if (req.baseUrl === '') {
      next();
      return;
    }
    send(res, unmatchedRouteResponse(routes, req.method, req.path));
  });
  return router;
}

/**
 * The push route needs the RAW body (the signature is computed over its bytes). It takes, in order:
 * a `Buffer` left by `express.raw()`, a `Buffer` `req.rawBody` left by a `verify` hook, or reads the
 * stream itself (capped at `maxBodyBytes`). A body already parsed by `express.json()` without a
 * raw copy cannot be verified: that is a mounting mistake, answered 500 and logged.
 */
function toRawBodyHandler(route: SyncRoute<Request>, maxBodyBytes: number, logger: SyncWorkerRouterOptions['logger']): (req: Request, res: Response, next: NextFunction) => void {
  const handle = toDispatcher(route);
  return (req, res, next) => {
    const held = req as Request & { rawBody?: unknown; _body?: unknown };
    if (Buffer.isBuffer(held.body)) return handle(req, res, next, { body: held.body });
    if (Buffer.isBuffer(held.rawBody)) return handle(req, res, next, { body: held.rawBody });
    if (held._body === true || req.readableEnded) {
      (logger ?? console).error('The push route needs the raw body: mount the sync-worker router before express.json()/urlencoded(), or keep req.rawBody');
      send(res, { status: 500, body: { error: { code: HttpErrorCode.INTERNAL, message: INTERNAL_ERROR_MESSAGE } }, headers: { 'cache-control': 'no-store' } });
      return;
    }
    readRawBody(req, maxBodyBytes).then(
      (raw) => handle(req, res, next, raw.ok ? { body: raw.body } : { truncatedBytes: raw.bytes }),
      (error: unknown) => next(error),
    );
  };
}

/** A three-parameter handler: Express takes a four-parameter function for an error handler. */
function toExpressHandler(route: SyncRoute<Request>): (req: Request, res: Response, next: NextFunction) => void {
  const dispatch = toDispatcher(route);
  return (req, res, next) => dispatch(req, res, next);
}

function toDispatcher(
  route: SyncRoute<Request>,
): (req: Request, res: Response, next: NextFunction, extra?: { body?: Buffer; truncatedBytes?: number }) => void {
  return (req, res, next, extra) => {
    let pending: Promise<SyncHttpResponse>;
    try {
      pending = route.handler({
        ...extra,
        method: req.method,
        path: route.path,
        params: req.params as Record<string, string | undefined>,
        query: (req.query ?? {}) as Record<string, unknown>,
        headers: req.headers,
        raw: req,
      });
    } catch (error) {
      // route.handler never throws; if it ever did, Express's error chain answers.
      next(error);
      return;
    }
    pending.then(
      (response) => send(res, response),
      (error: unknown) => {
        if (res.headersSent) res.destroy();
        else next(error);
      },
    );
  };
}

function send(res: Response, response: SyncHttpResponse): void {
  if (res.headersSent) return;
  let json: string;
  try {
    json = JSON.stringify(response.body) ?? 'null';
  } catch {
    res.status(500).set('cache-control', 'no-store').json({ error: { code: HttpErrorCode.INTERNAL, message: INTERNAL_ERROR_MESSAGE } });
    return;
  }
  res.status(response.status);
  if (response.headers) res.set(response.headers);
  res.type('application/json').send(json);
}
