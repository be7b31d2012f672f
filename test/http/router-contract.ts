/**
 * The one HTTP contract both bindings must pass (Express through supertest, Fastify through
 * `inject`). A binding only supplies `mount()`: put the routes under {@link MOUNT} and return a
 * client. Everything runs against the real Redis (random key prefix per file, deleted afterwards)
 * and a fresh Zoho simulator per case.
 *
 * {@link ENDPOINTS} lists the seven routes; {@link CONTRACT} is the table of cases (status codes and
 * bodies), each run once per binding by {@link runRouterContract}.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SourceAdapter } from '../../src/adapters/source.js';
import { ConfigError } from '../../src/errors.js';
import type { SyncRouterOptions } from '../../src/http/options.js';
import type { SyncWorkerLike } from '../../src/http/routes.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { createZohoSimulator, type ZohoSimulator } from '../../src/testing.js';
import type { DiscrepancyReport } from '../../src/worker/discrepancy.js';
import type { SyncWorkerStatus } from '../../src/worker/status.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { ZohoCreatorSource } from '../../src/zoho/zoho-creator-source.js';
import { deletePrefix, REDIS_URL, randomPrefix } from '../redis/helpers.js';

/** Where every binding mounts the routes (the seed's path). */
export const MOUNT = '/api/sync-worker';

/** One HTTP answer, as both bindings' clients report it. */
export interface ContractResponse {
  readonly status: number;
  /** Parsed JSON body (`undefined` when the body is not JSON). */
  readonly body: unknown;
  /** Raw body text. */
  readonly text: string;
  /** Response headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Sends one request to the mounted routes; `path` is relative to {@link MOUNT} (`/status`). */
export interface ContractClient {
  request(method: ContractMethod, path: string, headers?: Readonly<Record<string, string>>): Promise<ContractResponse>;
}

/** Methods the contract sends (HEAD, PUT and DELETE only to prove they start nothing). */
export type ContractMethod = 'GET' | 'POST' | 'HEAD' | 'PUT' | 'DELETE';

/** What a binding provides to the contract. */
export interface Binding {
  /** Label in `describe`. */
  readonly name: string;
  /**
   * Mounts the routes for `worker` under {@link MOUNT}. Must reject (or throw) with the factory's
   * `ConfigError` when the options are refused.
   */
  mount(worker: SyncWorkerLike, options: SyncRouterOptions): Promise<{ client: ContractClient; close(): Promise<void> }>;
}

/** The seven endpoints of the seed. */
export const ENDPOINTS: readonly { readonly method: 'GET' | 'POST'; readonly path: (eventId: string) => string }[] = [
  { method: 'GET', path: () => '/status' },
  { method: 'POST', path: () => '/start' },
  { method: 'POST', path: () => '/stop' },
  { method: 'POST', path: () => '/full-sync' },
  { method: 'POST', path: () => '/incremental-sync' },
  { method: 'POST', path: (eventId) => `/force-sync/${eventId}` },
  { method: 'GET', path: () => '/discrepancy-check' },
];

/** The error body of every error answer. */
export interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly run_id?: string;
    readonly zoho_code?: number;
    readonly http_status?: number;
    readonly retry_after_ms?: number;
  };
}

/** The 202 body of a trigger. */
export interface AcceptedBody {
  readonly run_id: string;
  readonly kind: string;
  readonly event_id: string | null;
  readonly status_url: string;
}

/** The 200 body of a `?wait=true` trigger (a `RunResult` as JSON). */
export interface ResultBody {
  readonly runId: string;
  readonly kind: string;
  readonly eventId?: string;
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  readonly recordsFetched: number;
  readonly eventsSynced: number;
}

const TOKEN = 'contract-token-0123456789abcdef';
const DATASET = { events: 5, registrations: 150, seed: 7 } as const;
const UNKNOWN_EVENT_ID = '9999999999999999999';

/** Per-case state handed to each case of {@link CONTRACT}. */
export interface ContractContext {
  readonly sim: ZohoSimulator;
  readonly worker: SyncWorker;
  readonly redis: Redis;
  /** The sink's key prefix for this case. */
  readonly keyPrefix: string;
  /** The bearer token the routes were created with (token mode). */
  readonly token: string;
  /** An event the simulator knows. */
  readonly eventId: string;
  /** Opens the source gate (gated cases hold every listing until then). */
  readonly openGate: () => void;
  /** Sends a request with `Authorization: Bearer <token>` unless `headers` says otherwise. */
  call(method: ContractMethod, path: string, headers?: Readonly<Record<string, string>>): Promise<ContractResponse>;
  /** Sends a request without any `Authorization` header. */
  anonymous(method: ContractMethod, path: string, headers?: Readonly<Record<string, string>>): Promise<ContractResponse>;
  /** Keys under this case's prefix. */
  keyCount(): Promise<number>;
}

/** One row of the contract table. */
export interface ContractCase {
  readonly name: string;
  /** Router options; default `{ token }`. */
  readonly options?: (token: string) => SyncRouterOptions;
  /** Hold every source listing until `openGate()` (to keep a run in flight). */
  readonly gated?: boolean;
  /** Give the sink a Redis client that cannot connect. */
  readonly deadRedis?: boolean;
  readonly run: (ctx: ContractContext) => Promise<void>;
}

function errorOf(response: ContractResponse): ErrorBody['error'] {
  const body = response.body as Partial<ErrorBody> | undefined;
  expect(body?.error, `expected an error body, got ${response.text}`).toBeTypeOf('object');
  return body!.error!;
}

function expectError(response: ContractResponse, status: number, code: string): ErrorBody['error'] {
  expect(response.status, response.text).toBe(status);
  const error = errorOf(response);
  expect(error.code).toBe(code);
  expect(error.message).toBeTypeOf('string');
  return error;
}

function status(response: ContractResponse): SyncWorkerStatus {
  expect(response.status, response.text).toBe(200);
  return response.body as SyncWorkerStatus;
}

async function waitForRun(ctx: ContractContext, runId: string): Promise<SyncWorkerStatus> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = status(await ctx.call('GET', '/status'));
    if (s.current_run === null && s.last_run?.id === runId) return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish: ${JSON.stringify(s)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Holds every listing of `source` until `open()`. */
function gate(source: SourceAdapter): { source: SourceAdapter; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const held = <T>(iterable: AsyncIterable<T>): AsyncIterable<T> => ({
    async *[Symbol.asyncIterator]() {
      await opened;
      yield* iterable;
    },
  });
  const gated: SourceAdapter = {
    name: source.name,
    listEvents: (options) => source.listEvents(options),
    readRecords: (options) => held(source.readRecords(options)),
    readStamps: (options) => held(source.readStamps(options)),
    readChangedSince: (since, options) => held(source.readChangedSince(since, options)),
    getRecord: (id, options) => source.getRecord(id, options),
    getCallCounts: () => source.getCallCounts!(),
    close: () => source.close?.() ?? Promise.resolve(),
  };
  return { source: gated, open };
}

/** The contract table. */
export const CONTRACT: readonly ContractCase[] = [
  // ------------------------------------------------------------------ 401
  {
    name: '401 on every endpoint without credentials, with a wrong token or scheme; no Zoho call, no Redis write',
    run: async (ctx) => {
      const keysBefore = await ctx.keyCount();
      for (const endpoint of ENDPOINTS) {
        const path = endpoint.path(ctx.eventId);
        for (const headers of [
          undefined,
          { authorization: 'Bearer wrong-token' },
          { authorization: `Bearer ${ctx.token}x` },
          { authorization: `Basic ${Buffer.from(`user:${ctx.token}`).toString('base64')}` },
          { authorization: ctx.token },
        ]) {
          const response = await ctx.anonymous(endpoint.method, path, headers);
          expectError(response, 401, 'ERR_SYNC_UNAUTHORIZED');
          expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
          expect(response.text).not.toContain(ctx.token);
        }
      }
      // Authentication comes before input validation.
      expectError(await ctx.anonymous('POST', '/force-sync/abc'), 401, 'ERR_SYNC_UNAUTHORIZED');
      expect(ctx.sim.requests.length).toBe(0);
      expect(await ctx.keyCount()).toBe(keysBefore);
      expect(ctx.worker.isRunning).toBe(false);
      expect(ctx.worker.getStatus().stats.total_syncs).toBe(0);
    },
  },
  {
    name: 'the bearer scheme is case-insensitive',
    run: async (ctx) => {
      expect((await ctx.anonymous('GET', '/status', { authorization: `bearer ${ctx.token}` })).status).toBe(200);
    },
  },
  {
    name: 'authorize hook: false → 401, true → 200; the hook sees params, headers and the raw request',
    options: () => ({
      authorize: (request) => {
        expect(request.raw).toBeTruthy();
        expect(request.path).toMatch(/^\//);
        return request.headers['x-role'] === 'admin';
      },
    }),
    run: async (ctx) => {
      expectError(await ctx.anonymous('GET', '/status'), 401, 'ERR_SYNC_UNAUTHORIZED');
      expectError(await ctx.anonymous('POST', '/full-sync', { 'x-role': 'guest' }), 401, 'ERR_SYNC_UNAUTHORIZED');
      expect((await ctx.anonymous('GET', '/status', { 'x-role': 'admin' })).status).toBe(200);
      expect(ctx.sim.requests.length).toBe(0);
    },
  },
  {
    name: 'an async authorize hook that rejects fails closed: 500 with a generic message',
    options: () => ({
      authorize: async () => {
        throw new Error('session store down: password=hunter2');
      },
      logger: silentLogger,
    }),
    run: async (ctx) => {
      const response = await ctx.anonymous('POST', '/full-sync');
      const error = expectError(response, 500, 'ERR_SYNC_INTERNAL');
      expect(error.message).not.toContain('hunter2');
      expect(response.text).not.toContain('session store');
      expect(ctx.sim.requests.length).toBe(0);
    },
  },
  {
    name: 'allowUnauthenticated: true serves without credentials',
    options: () => ({ allowUnauthenticated: true }),
    run: async (ctx) => {
      expect(status(await ctx.anonymous('GET', '/status')).is_running).toBe(false);
    },
  },

  // ------------------------------------------------------------------ HEAD, cross-site, unmatched
  {
    name: 'HEAD never starts Zoho work: 405 with Allow on every working route (HEAD /status answers); no Zoho call, no run',
    run: async (ctx) => {
      const keysBefore = await ctx.keyCount();
      for (const endpoint of ENDPOINTS) {
        const path = endpoint.path(ctx.eventId);
        const response = await ctx.call('HEAD', path);
        if (path === '/status') {
          expect(response.status).toBe(200);
          continue;
        }
        expect(response.status, `HEAD ${path}`).toBe(405);
        expect(response.headers.allow, `HEAD ${path}`).toBe(endpoint.method);
        expect(response.headers['cache-control']).toBe('no-store');
      }
      expect(ctx.sim.requests.length).toBe(0);
      expect(await ctx.keyCount()).toBe(keysBefore);
      expect(ctx.worker.isRunning).toBe(false);
      expect(ctx.worker.getStatus().stats).toMatchObject({ total_syncs: 0, discrepancy_checks: 0 });
    },
  },
  {
    name: 'authorize hook (cookie auth): a request a cross-site form could send gets 403 on every working route; X-Requested-With or a JSON content type passes',
    options: () => ({ authorize: (request) => request.headers.cookie === 'session=ok' }),
    run: async (ctx) => {
      const cookie = { cookie: 'session=ok' };
      for (const endpoint of ENDPOINTS) {
        const path = endpoint.path(ctx.eventId);
        if (path === '/status') continue;
        for (const contentType of [undefined, 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
          const headers = contentType ? { ...cookie, 'content-type': contentType } : cookie;
          const error = expectError(await ctx.anonymous(endpoint.method, path, headers), 403, 'ERR_SYNC_CROSS_SITE');
          expect(error.message).toContain('X-Requested-With');
        }
        // Authentication still comes first.
        expectError(await ctx.anonymous(endpoint.method, path, { 'x-requested-with': 'XMLHttpRequest' }), 401, 'ERR_SYNC_UNAUTHORIZED');
      }
      expect(ctx.sim.requests.length).toBe(0);
      expect(ctx.worker.isRunning).toBe(false);
      expect(ctx.worker.getStatus().stats.total_syncs).toBe(0);
      // Reading the status needs nothing more than the cookie.
      expect(status(await ctx.anonymous('GET', '/status', cookie)).is_running).toBe(false);
      const synced = await ctx.anonymous('POST', '/full-sync?wait=true', { ...cookie, 'x-requested-with': 'XMLHttpRequest' });
      expect(synced.status, synced.text).toBe(200);
      expect(synced.body).toMatchObject({ kind: 'full', added: DATASET.registrations });
      const checked = await ctx.anonymous('GET', '/discrepancy-check', { ...cookie, 'content-type': 'application/json; charset=utf-8' });
      expect(checked.status, checked.text).toBe(200);
      expect((checked.body as DiscrepancyReport).hasDiscrepancies).toBe(false);
    },
  },
  {
    name: 'bearer-token mode needs no anti-form header (no browser sends the token by itself)',
    run: async (ctx) => {
      const response = await ctx.call('POST', '/incremental-sync?wait=true', { authorization: `Bearer ${ctx.token}`, 'content-type': 'text/plain' });
      expect(response.status, response.text).toBe(200);
    },
  },
  {
    name: 'unmatched requests under the mount: 404 ERR_SYNC_NOT_FOUND, or 405 with Allow for a known path; JSON error shape, no worker call',
    run: async (ctx) => {
      const notFound = await ctx.call('GET', '/nope');
      expect(expectError(notFound, 404, 'ERR_SYNC_NOT_FOUND').message).toBe('No sync-worker route GET /nope');
      expect(notFound.headers['content-type']).toMatch(/application\/json/);
      expect(notFound.headers['cache-control']).toBe('no-store');
      expectError(await ctx.call('POST', '/force-sync'), 404, 'ERR_SYNC_NOT_FOUND');
      for (const [method, path, allow] of [
        ['GET', '/full-sync', 'POST'],
        ['GET', `/force-sync/${ctx.eventId}`, 'POST'],
        ['DELETE', `/force-sync/${ctx.eventId}`, 'POST'],
        ['PUT', '/status', 'GET, HEAD'],
        ['POST', '/discrepancy-check', 'GET'],
      ] as const) {
        const response = await ctx.call(method, path);
        const error = expectError(response, 405, 'ERR_SYNC_METHOD_NOT_ALLOWED');
        expect(error.message).toContain(`use ${allow}`);
        expect(response.headers.allow, `${method} ${path}`).toBe(allow);
      }
      expect(ctx.sim.requests.length).toBe(0);
      expect(ctx.worker.getStatus().stats.total_syncs).toBe(0);
    },
  },

  // ------------------------------------------------------------------ status, start, stop
  {
    name: 'GET /status → 200 with the seed shape and no credentials',
    run: async (ctx) => {
      const response = await ctx.call('GET', '/status');
      const s = status(response);
      expect(s).toMatchObject({ is_running: false, last_sync_time: null, current_run: null, last_run: null });
      expect(s.config).toMatchObject({ syncIntervalMs: expect.any(Number), batchSize: expect.any(Number), enableAutoSync: false });
      expect(s.stats).toMatchObject({
        total_syncs: 0,
        successful_syncs: 0,
        failed_syncs: 0,
        records_added: 0,
        records_updated: 0,
        records_removed: 0,
        last_sync_duration: 0,
      });
      expect(response.headers['content-type']).toMatch(/application\/json/);
      expect(response.headers['cache-control']).toBe('no-store');
    },
  },
  {
    name: 'POST /start → 200 status with is_running true; POST /stop → 200 with is_running false',
    run: async (ctx) => {
      expect(status(await ctx.call('POST', '/start')).is_running).toBe(true);
      expect(status(await ctx.call('POST', '/start')).is_running).toBe(true);
      expect(status(await ctx.call('POST', '/stop')).is_running).toBe(false);
      expect(status(await ctx.call('POST', '/stop')).is_running).toBe(false);
    },
  },

  // ------------------------------------------------------------------ triggers
  {
    name: 'POST /full-sync → 202 at once with run_id; the status shows the run, then its outcome',
    run: async (ctx) => {
      const response = await ctx.call('POST', '/full-sync');
      expect(response.status, response.text).toBe(202);
      const body = response.body as AcceptedBody;
      expect(body).toEqual({ run_id: expect.any(String), kind: 'full', event_id: null, status_url: './status' });
      const s = await waitForRun(ctx, body.run_id);
      expect(s.last_run).toMatchObject({ id: body.run_id, kind: 'full', outcome: 'succeeded' });
      expect(s.stats).toMatchObject({ total_syncs: 1, successful_syncs: 1, records_added: DATASET.registrations });
      expect(s.last_sync_time).toEqual(expect.any(String));
    },
  },
  {
    name: 'POST /full-sync?wait=true → 200 with the run result',
    run: async (ctx) => {
      const response = await ctx.call('POST', '/full-sync?wait=true');
      expect(response.status, response.text).toBe(200);
      expect(response.body).toMatchObject({
        runId: expect.any(String),
        kind: 'full',
        added: DATASET.registrations,
        updated: 0,
        removed: 0,
        recordsFetched: DATASET.registrations,
        eventsSynced: DATASET.events,
        apiCalls: { total: expect.any(Number) },
      });
    },
  },
  {
    name: 'POST /incremental-sync → 202, and ?wait=true → 200 with the run result',
    run: async (ctx) => {
      const accepted = await ctx.call('POST', '/incremental-sync');
      expect(accepted.status, accepted.text).toBe(202);
      expect(accepted.body).toMatchObject({ kind: 'incremental', event_id: null, status_url: './status' });
      await waitForRun(ctx, (accepted.body as AcceptedBody).run_id);
      const waited = await ctx.call('POST', '/incremental-sync?wait=1');
      expect(waited.status, waited.text).toBe(200);
      expect(waited.body).toMatchObject({ kind: 'incremental', runId: expect.any(String) });
    },
  },
  {
    name: 'POST /force-sync/:eventId → 202 naming the event, and ?wait=true → 200 with that event only',
    run: async (ctx) => {
      const accepted = await ctx.call('POST', `/force-sync/${ctx.eventId}`);
      expect(accepted.status, accepted.text).toBe(202);
      expect(accepted.body).toEqual({ run_id: expect.any(String), kind: 'force', event_id: ctx.eventId, status_url: '../status' });
      await waitForRun(ctx, (accepted.body as AcceptedBody).run_id);
      const waited = await ctx.call('POST', `/force-sync/${ctx.eventId}?wait=true`);
      expect(waited.status, waited.text).toBe(200);
      const result = waited.body as ResultBody;
      expect(result).toMatchObject({ kind: 'force', eventId: ctx.eventId, eventsSynced: 1, added: 0 });
      expect(result.recordsFetched).toBe(ctx.sim.registrationCount(ctx.eventId));
    },
  },
  {
    name: '400 for force-sync/abc, 20 digits, or a bad ?wait=, before any worker call',
    run: async (ctx) => {
      for (const path of ['/force-sync/abc', '/force-sync/12345678901234567890', '/force-sync/12a', `/force-sync/${ctx.eventId}?wait=maybe`, '/full-sync?wait=yes']) {
        const response = await ctx.call('POST', path);
        const error = expectError(response, 400, 'ERR_SYNC_INVALID_INPUT');
        expect(error.message.length).toBeGreaterThan(0);
      }
      expect(errorOf(await ctx.call('POST', '/force-sync/abc')).message).toBe('eventId must be a Zoho record ID of 1–19 digits, got "abc"');
      expect(ctx.sim.requests.length).toBe(0);
      expect(ctx.worker.getStatus().last_run).toBeNull();
    },
  },
  {
    name: '404 for an unknown event (202 path and ?wait=true path), with the run ID',
    run: async (ctx) => {
      for (const query of ['', '?wait=true']) {
        const error = expectError(await ctx.call('POST', `/force-sync/${UNKNOWN_EVENT_ID}${query}`), 404, 'ERR_SYNC_UNKNOWN_EVENT');
        expect(error.run_id).toEqual(expect.any(String));
      }
    },
  },
  {
    name: '409 for any trigger while a run is in flight, naming the running run; no second run starts',
    gated: true,
    run: async (ctx) => {
      const first = await ctx.call('POST', '/full-sync');
      expect(first.status, first.text).toBe(202);
      const runId = (first.body as AcceptedBody).run_id;
      for (const [method, path] of [
        ['POST', '/full-sync'],
        ['POST', '/full-sync?wait=true'],
        ['POST', '/incremental-sync'],
        ['POST', `/force-sync/${ctx.eventId}`],
        ['GET', '/discrepancy-check'],
      ] as const) {
        const error = expectError(await ctx.call(method, path), 409, 'ERR_SYNC_BUSY');
        expect(error.run_id).toBe(runId);
      }
      const during = status(await ctx.call('GET', '/status'));
      expect(during.current_run).toMatchObject({ id: runId, kind: 'full' });
      ctx.openGate();
      const after = await waitForRun(ctx, runId);
      expect(after.stats).toMatchObject({ total_syncs: 1, successful_syncs: 1, discrepancy_checks: 0 });
    },
  },
  {
    name: 'two simultaneous triggers: exactly one 202 and one 409',
    gated: true,
    run: async (ctx) => {
      const answers = await Promise.all([ctx.call('POST', '/full-sync'), ctx.call('POST', `/force-sync/${ctx.eventId}`)]);
      expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
      const accepted = answers.find((a) => a.status === 202)!.body as AcceptedBody;
      const busy = answers.find((a) => a.status === 409)!;
      expect(errorOf(busy).run_id).toBe(accepted.run_id);
      ctx.openGate();
      expect((await waitForRun(ctx, accepted.run_id)).stats.total_syncs).toBe(1);
    },
  },
  {
    name: '502 with zoho_code 2955 when Zoho rate-limits beyond the retries (before and after admission)',
    run: async (ctx) => {
      ctx.sim.inject({ kind: 'records', times: 1000, respond: { type: 'zoho', status: 429, code: 2955 } });
      const error = expectError(await ctx.call('POST', '/full-sync'), 502, 'ERR_SYNC_ZOHO_RATE_LIMITED');
      expect(error).toMatchObject({ zoho_code: 2955, http_status: 429, run_id: expect.any(String) });
      expect(ctx.sim.countRequests({ kind: 'records' })).toBe(2); // one call, one retry (maxRetries: 1)
      ctx.sim.clearInjections();

      // The events listing passes; the registrations listing fails after the run was admitted.
      ctx.sim.inject({
        kind: 'records',
        report: ctx.sim.config.registrationsReport,
        times: 1000,
        respond: { type: 'zoho', status: 429, code: 2955 },
      });
      const waited = expectError(await ctx.call('POST', '/full-sync?wait=true'), 502, 'ERR_SYNC_ZOHO_RATE_LIMITED');
      expect(waited.zoho_code).toBe(2955);
      const s = ctx.worker.getStatus();
      expect(s.last_run).toMatchObject({ id: waited.run_id, outcome: 'failed', error_code: 'ERR_SYNC_ZOHO_RATE_LIMITED' });
      expect(s.stats.failed_syncs).toBe(2);
    },
  },
  {
    name: '502 with http_status 500 when Zoho answers HTTP 500 beyond the retries',
    run: async (ctx) => {
      ctx.sim.inject({ kind: 'records', times: 1000, respond: { status: 500, body: 'Internal Server Error' } });
      const error = expectError(await ctx.call('POST', `/force-sync/${ctx.eventId}?wait=true`), 502, 'ERR_SYNC_ZOHO_API');
      expect(error.http_status).toBe(500);
      expect(ctx.sim.countRequests({ kind: 'records' })).toBe(2);
    },
  },
  {
    name: '503 when Redis is unavailable (SinkError); the status still answers',
    deadRedis: true,
    run: async (ctx) => {
      expectError(await ctx.call('POST', '/start'), 503, 'ERR_SYNC_SINK');
      expectError(await ctx.call('POST', '/full-sync'), 503, 'ERR_SYNC_SINK');
      expect(status(await ctx.call('GET', '/status')).is_running).toBe(false);
    },
  },
  {
    name: '429 with retry_after_ms once the trigger limit is reached; refused triggers do not count',
    options: (token) => ({ token, triggerLimit: { full: { max: 1, windowMs: 60_000 }, force: { max: 1, windowMs: 60_000 } } }),
    run: async (ctx) => {
      // A 400 and a 404-free refusal cost nothing: the limit still allows one run.
      expectError(await ctx.call('POST', '/force-sync/abc'), 400, 'ERR_SYNC_INVALID_INPUT');
      expect((await ctx.call('POST', '/full-sync?wait=true')).status).toBe(200);
      const limited = await ctx.call('POST', '/full-sync');
      const error = expectError(limited, 429, 'ERR_SYNC_TRIGGER_RATE_LIMITED');
      expect(error.retry_after_ms).toBeGreaterThan(0);
      expect(error.retry_after_ms).toBeLessThanOrEqual(60_000);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Other kinds have their own windows; unlimited kinds are not limited.
      expect((await ctx.call('POST', `/force-sync/${ctx.eventId}?wait=true`)).status).toBe(200);
      expectError(await ctx.call('POST', `/force-sync/${ctx.eventId}`), 429, 'ERR_SYNC_TRIGGER_RATE_LIMITED');
      expect((await ctx.call('POST', '/incremental-sync?wait=true')).status).toBe(200);
      expect(ctx.worker.getStatus().stats.total_syncs).toBe(3);
    },
  },

  {
    name: 'a dry run counts against triggerLimit like the run it plans (a plan spends Zoho calls)',
    options: (token) => ({ token, triggerLimit: { full: { max: 1, windowMs: 60_000 } } }),
    run: async (ctx) => {
      expect((await ctx.call('POST', '/full-sync?dry_run=true')).status).toBe(200);
      expectError(await ctx.call('POST', '/full-sync?dry_run=true'), 429, 'ERR_SYNC_TRIGGER_RATE_LIMITED');
      expectError(await ctx.call('POST', '/full-sync'), 429, 'ERR_SYNC_TRIGGER_RATE_LIMITED');
      expect(ctx.worker.getStatus().stats.total_syncs).toBe(0);
    },
  },

  // ------------------------------------------------------------------ discrepancy check
  {
    name: 'GET /discrepancy-check → 200 per-event report; read-only (never heals, even with ?heal=true)',
    run: async (ctx) => {
      expect((await ctx.call('POST', '/full-sync?wait=true')).status).toBe(200);
      const clean = await ctx.call('GET', '/discrepancy-check');
      expect(clean.status, clean.text).toBe(200);
      const report = clean.body as DiscrepancyReport;
      expect(report).toMatchObject({ hasDiscrepancies: false, checkedAt: expect.any(String) });
      expect(report.events).toHaveLength(DATASET.events);
      expect(report.totals).toMatchObject({ zohoCount: DATASET.registrations, redisCount: DATASET.registrations, eventsChecked: DATASET.events });

      const gone = ctx.sim.listRegistrations(ctx.eventId)[0]!.id;
      ctx.sim.deleteRegistration(gone);
      const added = ctx.sim.addRegistration(ctx.eventId).id;
      for (const path of ['/discrepancy-check', '/discrepancy-check?heal=true', '/discrepancy-check']) {
        const response = await ctx.call('GET', path);
        expect(response.status, response.text).toBe(200);
        const drift = response.body as DiscrepancyReport;
        expect(drift.hasDiscrepancies).toBe(true);
        expect(drift.healed).toBeUndefined();
        const event = drift.events.find((e) => e.eventId === ctx.eventId)!;
        expect(event.extraInRedis).toEqual([gone]);
        expect(event.missingInRedis).toEqual([added]);
      }
      expect(ctx.worker.getStatus().stats).toMatchObject({ discrepancy_checks: 4, records_added: DATASET.registrations, records_removed: 0 });
    },
  },
];

/**
 * Runs {@link CONTRACT} against `binding`: one fresh simulator, sink prefix and worker per case, the
 * routes mounted with `{ token }` unless the case says otherwise. Every answer of the file is
 * checked for leaked credentials at the end.
 */
export function runRouterContract(binding: Binding): void {
  describe(`HTTP contract: ${binding.name}`, () => {
    const filePrefix = randomPrefix(`http-${binding.name}`);
    let redis: Redis;
    let caseNumber = 0;
    const cleanups: (() => Promise<void>)[] = [];
    const transcript: string[] = [];
    const secrets = new Set<string>([TOKEN]);

    beforeAll(() => {
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });
    afterAll(async () => {
      await deletePrefix(redis, filePrefix);
      redis.disconnect();
      for (const text of transcript) for (const secret of secrets) expect(text).not.toContain(secret);
      expect(transcript.join('\n')).not.toMatch(/Zoho-oauthtoken|access_token|refresh_token|client_secret/i);
    });

    async function setup(c: ContractCase): Promise<ContractContext> {
      caseNumber += 1;
      const keyPrefix = `${filePrefix}:${caseNumber}`;
      const sim = await createZohoSimulator({ dataset: DATASET });
      cleanups.push(() => sim.close());
      for (const secret of [sim.credentials.clientSecret, sim.credentials.refreshToken]) secrets.add(secret);
      const zoho = new ZohoCreatorSource({
        ...sim.credentials,
        ...sim.config,
        apiBaseUrl: sim.apiBaseUrl,
        accountsBaseUrl: sim.accountsBaseUrl,
        retries: 1,
        minRetryDelayMs: 5,
        rateLimitPauseMs: 20,
        timeoutMs: 5000,
      });
      const gated = gate(zoho);
      let sinkRedis = redis;
      if (c.deadRedis) {
        sinkRedis = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
        sinkRedis.on('error', () => undefined);
        const dead = sinkRedis;
        cleanups.push(async () => dead.disconnect());
      }
      const sink = new RedisSink({ redis: sinkRedis, keyPrefix, pingTimeoutMs: 500 });
      const worker = new SyncWorker({
        source: c.gated ? gated.source : zoho,
        sink,
        enableAutoSync: false,
        maxRetries: 1,
        logger: silentLogger,
      });
      cleanups.push(async () => {
        gated.open();
        await worker.stop();
        await zoho.close();
      });
      const options = c.options ? c.options(TOKEN) : { token: TOKEN };
      const mounted = await binding.mount(worker, { logger: silentLogger, ...options } as SyncRouterOptions);
      cleanups.push(() => mounted.close());
      const record = async (promise: Promise<ContractResponse>): Promise<ContractResponse> => {
        const response = await promise;
        transcript.push(response.text);
        return response;
      };
      return {
        sim,
        worker,
        redis,
        keyPrefix,
        token: TOKEN,
        eventId: sim.listEvents()[0]!.id,
        openGate: gated.open,
        call: (method, path, headers) => record(mounted.client.request(method, path, headers ?? { authorization: `Bearer ${TOKEN}` })),
        anonymous: (method, path, headers) => record(mounted.client.request(method, path, headers ?? {})),
        keyCount: async () => {
          let cursor = '0';
          let n = 0;
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
            cursor = next;
            n += keys.length;
          } while (cursor !== '0');
          return n;
        },
      };
    }

    it('the factory throws ConfigError without authentication, with two modes, or with an unknown option', async () => {
      const sim = await createZohoSimulator({ dataset: { events: 1, registrations: 1, seed: 1 } });
      cleanups.push(() => sim.close());
      const worker = new SyncWorker({
        source: new ZohoCreatorSource({ ...sim.credentials, ...sim.config, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl }),
        sink: new RedisSink({ redis, keyPrefix: `${filePrefix}:factory` }),
        enableAutoSync: false,
        logger: silentLogger,
      });
      const refused = [
        {},
        { triggerLimit: { full: { max: 1, windowMs: 1000 } } },
        { token: '' },
        { token: TOKEN, allowUnauthenticated: true },
        { token: TOKEN, authorize: () => true },
        { allowUnauthenticated: false },
        { token: TOKEN, tokne: TOKEN },
        { token: TOKEN, triggerLimit: { full: { max: 0, windowMs: 1000 } } },
        { token: TOKEN, triggerLimit: { everything: { max: 1, windowMs: 1000 } } },
      ];
      for (const options of refused) {
        await expect(
          (async () => {
            const mounted = await binding.mount(worker, options as unknown as SyncRouterOptions);
            await mounted.close();
          })(),
          JSON.stringify(options),
        ).rejects.toBeInstanceOf(ConfigError);
      }
      expect(sim.requests.length).toBe(0);
    });

    for (const c of CONTRACT) {
      it(c.name, async () => {
        await c.run(await setup(c));
      });
    }
  });
}
