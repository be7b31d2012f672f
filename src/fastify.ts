/**
 * `@org/zoho-redis-sync/fastify`: the sync-worker HTTP API as a Fastify 5 plugin.
 *
 * The plugin registers routes, so it is deliberately NOT wrapped with `fastify-plugin`: wrapping
 * would discard the `prefix` you register it with.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { syncWorkerRoutes } from '@org/zoho-redis-sync/fastify';
 *
 * const app = Fastify();
 * await app.register(syncWorkerRoutes, { prefix: '/api/sync-worker', worker, token: process.env.SYNC_API_TOKEN! });
 * await app.listen({ port: 3000 });
 * ```
 */
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { ConfigError, InvalidInputError } from './errors.js';
import type { Logger } from './logger.js';
import { HttpErrorCode, INTERNAL_ERROR_MESSAGE, toErrorResponse } from './http/error-map.js';
import { SYNC_ROUTER_OPTION_KEYS, type SyncHttpRequest, type SyncHttpResponse, type SyncRouterOptions } from './http/options.js';
import {
  createSyncRoutes,
  invalidEventIdMessage,
  INVALID_WAIT_MESSAGE,
  type SyncRouteName,
  type SyncWorkerLike,
  unmatchedRouteResponse,
} from './http/routes.js';

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

/**
 * Options of {@link syncWorkerRoutes}: the worker plus exactly one of `token`, `authorize`
 * (`request.raw` is the `FastifyRequest`) or `allowUnauthenticated: true`; optional `triggerLimit`
 * and `logger` (default: the Fastify instance's logger). Fastify's own `prefix`, `logLevel`, ... go
 * beside them in `register()`.
 */
export type SyncWorkerPluginOptions = SyncRouterOptions<FastifyRequest> & {
  /** The `SyncWorker` to expose. */
  readonly worker: SyncWorkerLike;
};

/**
 * Fastify plugin serving the seven sync-worker endpoints under the `prefix` you register it with:
 * `GET /status`, `POST /start`, `POST /stop`, `POST /full-sync`, `POST /incremental-sync`,
 * `POST /force-sync/:eventId`, `GET /discrepancy-check`. Statuses and bodies: see `createSyncRoutes`.
 *
 * Registered with a `prefix`, every other request under it is answered in the library's error shape
 * (405 with `Allow` for a known path with the wrong method, 404 `ERR_SYNC_NOT_FOUND` otherwise).
 *
 * Params, query and responses have JSON schemas (`eventId` matches `^\d{1,19}$`); a request that
 * fails them still gets the library's error body (`{ error: { code: 'ERR_SYNC_INVALID_INPUT', ... } }`,
 * 400), after authentication. Request bodies are ignored (none of the routes takes one), so a
 * `Content-Type: application/json` POST without a body is fine.
 *
 * @throws {@link ConfigError} at registration when no authentication is configured, or an option is invalid.
 */
export const syncWorkerRoutes: FastifyPluginAsync<SyncWorkerPluginOptions> = async (app, options) => {
  for (const key of Object.keys(options)) {
    if (!PLUGIN_OPTION_KEYS.has(key)) throw new ConfigError(key, `Unknown option \`${key}\``);
  }
  const { worker, token, authorize, allowUnauthenticated, triggerLimit, logger, pushes } = options;
  const routes = createSyncRoutes<FastifyRequest>(worker, {
    token,
    authorize,
    allowUnauthenticated,
    triggerLimit,
    pushes,
    logger: logger ?? fastifyLogger(app),
  } as SyncRouterOptions<FastifyRequest>);

  // Only the push route reads a body, and it needs the RAW bytes (the signature covers them):
  // accept any content type as a Buffer instead of parsing or failing on, e.g., an empty JSON body.
  // Encapsulated: only this plugin's routes are affected.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const pushRoute = routes.find((r) => r.name === 'push');

  // Errors raised before a handler runs (body too large, aborted upload, ...) keep the library's shape.
  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (pushRoute !== undefined && error.statusCode === 413 && request.routeOptions.url?.endsWith('/push')) {
      // Too large for the route's bodyLimit: the push handler answers it, in its own terms (413, counted, `pushRejected`).
      const response = await pushRoute.handler(toNeutral(request, pushRoute.path, { truncatedBytes: Number(request.headers['content-length']) || (pushes?.maxBodyBytes ?? 0) + 1 }));
      return reply.code(response.status).headers(response.headers ?? {}).send(response.body);
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, 'Sync-worker route failed');
    const response: SyncHttpResponse =
      status === 500
        ? { status, body: { error: { code: HttpErrorCode.INTERNAL, message: INTERNAL_ERROR_MESSAGE } } }
        : { ...toErrorResponse(new InvalidInputError(error.message)), status };
    return reply.code(response.status).header('cache-control', 'no-store').send(response.body);
  });

  // Other requests under the prefix (unknown path, wrong method, HEAD of a POST route) get the
  // library's error body. Without a prefix the plugin sits at the root: the app's 404 stays the app's.
  if (app.prefix !== '') {
    app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0]!.slice(app.prefix.length) || '/';
      const response = unmatchedRouteResponse(routes, request.method, path);
      return reply.code(response.status).headers(response.headers ?? {}).send(response.body);
    });
  }

  for (const route of routes) {
    app.route({
      method: route.method,
      url: route.path,
      schema: SCHEMAS[route.name],
      attachValidation: true,
      ...(route.name === 'push' && pushes !== undefined ? { bodyLimit: pushes.maxBodyBytes } : {}),
      handler: async (request, reply) => {
        const body = route.name === 'push' && Buffer.isBuffer(request.body) ? request.body : undefined;
        const response = await route.handler(toNeutral(request, route.path, { body }));
        reply.code(response.status);
        if (response.headers) reply.headers(response.headers);
        return response.body;
      },
    });
  }
};

function toNeutral(request: FastifyRequest, path: string, extra: { body?: Buffer | undefined; truncatedBytes?: number }): SyncHttpRequest<FastifyRequest> {
  return {
    method: request.method,
    path,
    params: (request.params ?? {}) as Record<string, string | undefined>,
    query: (request.query ?? {}) as Record<string, unknown>,
    headers: request.headers,
    raw: request,
    invalid: validationMessage(request),
    ...extra,
  };
}

/** Our option names, plus `worker` and the options Fastify's `register()` itself reads (it passes them on to the plugin). */
const PLUGIN_OPTION_KEYS: ReadonlySet<string> = new Set([...SYNC_ROUTER_OPTION_KEYS, 'worker', 'prefix', 'logLevel', 'logSerializers']);

/** The 400 message for a request that failed the route schema, worded as the neutral handler words it. */
function validationMessage(request: FastifyRequest): string | undefined {
  const error = request.validationError;
  if (!error) return undefined;
  if (error.validationContext === 'params') {
    const eventId = (request.params as Record<string, unknown> | undefined)?.eventId;
    return invalidEventIdMessage(typeof eventId === 'string' ? eventId : '');
  }
  if (error.validationContext === 'querystring') return INVALID_WAIT_MESSAGE;
  return error.message;
}

/** Adapts Fastify's pino logger to the library's `Logger` (message first, fields second). */
function fastifyLogger(app: FastifyInstance): Logger {
  return {
    debug: (message, fields) => app.log.debug(fields ?? {}, message),
    info: (message, fields) => app.log.info(fields ?? {}, message),
    warn: (message, fields) => app.log.warn(fields ?? {}, message),
    error: (message, fields) => app.log.error(fields ?? {}, message),
  };
}

// ---------------------------------------------------------------------------------------------
// JSON schemas. Response schemas keep unknown properties (`additionalProperties: true`) so that a
// field added to the status or the run result is never silently dropped by the serializer.

const nullableString = { type: ['string', 'null'] } as const;
const count = { type: 'integer' } as const;
const stringList = { type: 'array', items: { type: 'string' } } as const;

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        run_id: { type: 'string' },
        zoho_code: { type: 'integer' },
        http_status: { type: 'integer' },
        retry_after_ms: { type: 'integer' },
      },
    },
  },
} as const;

const apiCallsSchema = {
  type: 'object',
  additionalProperties: true,
  properties: { token: count, records: count, ids: count, meta: count, total: count },
} as const;

const statusSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['is_running', 'config', 'stats', 'last_sync_time'],
  properties: {
    is_running: { type: 'boolean' },
    config: { type: 'object', additionalProperties: true },
    stats: {
      type: 'object',
      additionalProperties: true,
      properties: {
        total_syncs: count,
        successful_syncs: count,
        failed_syncs: count,
        records_added: count,
        records_updated: count,
        records_removed: count,
        last_sync_duration: { type: 'number' },
      },
    },
    last_sync_time: nullableString,
    current_run: {
      type: ['object', 'null'],
      additionalProperties: true,
      properties: {
        id: { type: 'string' },
        kind: { type: 'string' },
        event_id: nullableString,
        started_at: { type: 'string' },
        pages: count,
        records_fetched: count,
        added: count,
        updated: count,
        removed: count,
      },
    },
    last_run: { type: ['object', 'null'], additionalProperties: true },
    api_calls: { type: 'object', additionalProperties: true },
    quota: { type: 'object', additionalProperties: true },
    lease: { type: 'object', additionalProperties: true },
    watermark: nullableString,
  },
} as const;

const discrepancySchema = {
  type: 'object',
  additionalProperties: true,
  required: ['checkedAt', 'hasDiscrepancies', 'events', 'totals'],
  properties: {
    checkedAt: { type: 'string' },
    hasDiscrepancies: { type: 'boolean' },
    events: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          eventId: { type: 'string' },
          zohoCount: count,
          redisCount: count,
          missingInRedis: stringList,
          extraInRedis: stringList,
          stale: stringList,
        },
      },
    },
    totals: { type: 'object', additionalProperties: true },
    healed: { type: 'object', additionalProperties: true },
  },
} as const;

const runResultSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['runId', 'kind'],
  properties: {
    runId: { type: 'string' },
    kind: { type: 'string' },
    eventId: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    durationMs: { type: 'number' },
    pages: count,
    recordsFetched: count,
    added: count,
    updated: count,
    unchanged: count,
    removed: count,
    deadLettered: count,
    eventsSynced: count,
    apiCalls: apiCallsSchema,
    discrepancies: discrepancySchema,
  },
} as const;

const acceptedSchema = {
  type: 'object',
  required: ['run_id', 'kind', 'event_id', 'status_url'],
  properties: {
    run_id: { type: 'string' },
    kind: { type: 'string', enum: ['full', 'incremental', 'force'] },
    event_id: nullableString,
    status_url: { type: 'string' },
  },
} as const;

const waitQuery = {
  type: 'object',
  properties: {
    wait: { type: 'string', enum: ['true', 'false', '1', '0', ''] },
    dry_run: { type: 'string', enum: ['true', 'false', '1', '0', ''] },
  },
} as const;

const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;
/** `?dry_run=true` answers 200 with a plan (`SyncWorker.plan()`), any other 200 is a run result. */
const planSchema = { type: 'object', additionalProperties: true, required: ['kind', 'listing', 'expectedRecords'] } as const;
const triggerResponses = { 200: { anyOf: [runResultSchema, planSchema] }, 202: acceptedSchema, ...errors } as const;

/** The JSON schema of every route, by route name. */
const SCHEMAS: Readonly<Record<SyncRouteName, FastifySchema>> = {
  status: { response: { 200: statusSchema, ...errors } },
  start: { response: { 200: statusSchema, ...errors } },
  stop: { response: { 200: statusSchema, ...errors } },
  'full-sync': { querystring: waitQuery, response: triggerResponses },
  'incremental-sync': { querystring: waitQuery, response: triggerResponses },
  'force-sync': {
    params: {
      type: 'object',
      required: ['eventId'],
      properties: { eventId: { type: 'string', pattern: '^\\d{1,19}$' } },
    },
    querystring: waitQuery,
    response: triggerResponses,
  },
  'discrepancy-check': { querystring: { type: 'object', properties: { dry_run: waitQuery.properties.dry_run } }, response: { 200: { anyOf: [discrepancySchema, planSchema] }, ...errors } },
  push: {
    response: {
      202: {
        type: 'object',
        required: ['accepted', 'push_id'],
        properties: { accepted: { type: 'boolean' }, push_id: { type: 'string' }, action: { type: 'string' }, record_id: { type: 'string' } },
      },
      ...errors,
    },
  },
};
