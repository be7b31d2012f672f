/** The HTTP contract against the Fastify binding (`inject`), plus Fastify-specific behaviour. */
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { syncWorkerRoutes } from '../../src/fastify.js';
import type { SyncRouterOptions } from '../../src/http/options.js';
import type { SyncWorkerLike } from '../../src/http/routes.js';
import type { RunHandle } from '../../src/worker/run.js';
import type { SyncWorkerStatus } from '../../src/worker/status.js';
import { type Binding, type ContractResponse, MOUNT, runRouterContract } from './router-contract.js';

async function mountFastify(worker: SyncWorkerLike, options: SyncRouterOptions, prefix = MOUNT): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(syncWorkerRoutes, { prefix, worker, ...options });
  await app.ready();
  return app;
}

const binding: Binding = {
  name: 'fastify',
  async mount(worker, options) {
    const app = await mountFastify(worker, options);
    return {
      client: {
        async request(method, path, headers = {}): Promise<ContractResponse> {
          const response = await app.inject({ method, url: `${MOUNT}${path}`, headers: { ...headers } });
          let body: unknown;
          try {
            body = response.json();
          } catch {
            body = undefined;
          }
          return { status: response.statusCode, body, text: response.body, headers: response.headers as ContractResponse['headers'] };
        },
      },
      close: () => app.close(),
    };
  },
};

runRouterContract(binding);

const idleStatus = { is_running: false, config: {}, stats: {}, last_sync_time: null, current_run: null, extra_field: 1 } as unknown as SyncWorkerStatus;

function fakeWorker(overrides: Partial<SyncWorkerLike> = {}): SyncWorkerLike {
  return {
    trigger: () => {
      throw new Error('not expected');
    },
    getStatus: () => idleStatus,
    start: async () => undefined,
    stop: async () => undefined,
    ...overrides,
  };
}

describe('Fastify binding specifics', () => {
  it('keeps the register prefix (not fastify-plugin wrapped) and registers the seven routes there', async () => {
    const app = await mountFastify(fakeWorker(), { allowUnauthenticated: true }, '/ops/sync');
    try {
      expect((await app.inject({ method: 'GET', url: '/ops/sync/status' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/status' })).statusCode).toBe(404);
      for (const [method, url] of [
        ['GET', '/ops/sync/status'],
        ['POST', '/ops/sync/start'],
        ['POST', '/ops/sync/stop'],
        ['POST', '/ops/sync/full-sync'],
        ['POST', '/ops/sync/incremental-sync'],
        ['POST', '/ops/sync/force-sync/:eventId'],
        ['GET', '/ops/sync/discrepancy-check'],
      ] as const) {
        expect(app.hasRoute({ method, url }), `${method} ${url}`).toBe(true);
      }
    } finally {
      await app.close();
    }
  });

  it('the response schema keeps fields it does not list (nothing of the status is dropped)', async () => {
    const app = await mountFastify(fakeWorker(), { allowUnauthenticated: true });
    try {
      expect((await app.inject({ method: 'GET', url: `${MOUNT}/status` })).json()).toMatchObject({ extra_field: 1 });
    } finally {
      await app.close();
    }
  });

  it('ignores request bodies: an empty JSON POST or a form body is accepted', async () => {
    const handle = {
      id: 'run-1',
      kind: 'full',
      eventId: undefined,
      startedAt: new Date().toISOString(),
      progress: { pages: 0, recordsFetched: 0, added: 0, updated: 0, unchanged: 0, removed: 0, deadLettered: 0 },
      accepted: Promise.resolve(),
      result: new Promise(() => undefined),
    } as unknown as RunHandle;
    const app = await mountFastify(fakeWorker({ trigger: () => handle }), { allowUnauthenticated: true });
    try {
      const empty = await app.inject({ method: 'POST', url: `${MOUNT}/full-sync`, headers: { 'content-type': 'application/json' } });
      expect(empty.statusCode, empty.body).toBe(202);
      const garbage = await app.inject({ method: 'POST', url: `${MOUNT}/full-sync`, headers: { 'content-type': 'application/json' }, payload: '{nope' });
      expect(garbage.statusCode, garbage.body).toBe(202);
      expect(garbage.json()).toEqual({ run_id: 'run-1', kind: 'full', event_id: null, status_url: './status' });
    } finally {
      await app.close();
    }
  });

  it('schema validation failures use the library error body, after authentication', async () => {
    const app = await mountFastify(fakeWorker(), { token: 'fastify-token-123456' });
    try {
      const anonymous = await app.inject({ method: 'POST', url: `${MOUNT}/force-sync/abc` });
      expect(anonymous.statusCode).toBe(401);
      const invalid = await app.inject({ method: 'POST', url: `${MOUNT}/force-sync/abc`, headers: { authorization: 'Bearer fastify-token-123456' } });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json()).toEqual({
        error: { code: 'ERR_SYNC_INVALID_INPUT', message: 'eventId must be a Zoho record ID of 1–19 digits, got "abc"' },
      });
    } finally {
      await app.close();
    }
  });

  it('refuses registration without authentication (ConfigError at ready())', async () => {
    const app = Fastify();
    // @ts-expect-error -- no token, authorize or allowUnauthenticated
    app.register(syncWorkerRoutes, { prefix: MOUNT, worker: fakeWorker() });
    await expect(app.ready()).rejects.toMatchObject({ name: 'ConfigError', code: 'ERR_SYNC_INVALID_OPTION' });
    await app.close();
  });
});
