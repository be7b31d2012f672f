/** The HTTP contract against the Express binding (supertest), plus Express-specific behaviour. */
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createSyncWorkerRouter } from '../../src/express.js';
import type { SyncRouterOptions } from '../../src/http/options.js';
import type { SyncWorkerLike } from '../../src/http/routes.js';
import { silentLogger } from '../../src/logger.js';
import type { SyncWorkerStatus } from '../../src/worker/status.js';
import { type Binding, type ContractResponse, MOUNT, runRouterContract } from './router-contract.js';

function mountExpress(worker: SyncWorkerLike, options: SyncRouterOptions): express.Express {
  const app = express();
  app.use(MOUNT, createSyncWorkerRouter(worker, options));
  return app;
}

const binding: Binding = {
  name: 'express',
  async mount(worker, options) {
    const app = mountExpress(worker, options);
    return {
      client: {
        async request(method, path, headers = {}): Promise<ContractResponse> {
          const agent = request(app);
          const url = `${MOUNT}${path}`;
          const verbs = { GET: 'get', POST: 'post', HEAD: 'head', PUT: 'put', DELETE: 'delete' } as const;
          const response = await agent[verbs[method]](url).set({ ...headers });
          return { status: response.status, body: response.body as unknown, text: response.text ?? '', headers: response.headers };
        },
      },
      close: async () => undefined,
    };
  },
};

runRouterContract(binding);

/** A worker double whose methods throw or never settle, to prove every request gets an answer. */
function brokenWorker(): SyncWorkerLike {
  return {
    trigger: () => {
      throw new TypeError('boom: refresh_token=1000.abc');
    },
    getStatus: () => {
      throw new Error('cannot read status');
    },
    start: () => Promise.reject(new Error('start exploded')),
    stop: () => Promise.resolve(),
  };
}

describe('Express binding specifics', () => {
  it('returns a real Router mountable anywhere; under a mount path it answers unknown paths itself, at the root it leaves them to the app', async () => {
    const status = { is_running: false } as SyncWorkerStatus;
    const worker: SyncWorkerLike = { ...brokenWorker(), getStatus: () => status };
    const app = express();
    app.use('/deep/mount/point', createSyncWorkerRouter(worker, { allowUnauthenticated: true }));
    app.use((_req, res) => {
      res.status(404).json({ fallthrough: true });
    });
    expect((await request(app).get('/deep/mount/point/status')).body).toEqual({ is_running: false });
    const unknown = await request(app).get('/deep/mount/point/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'ERR_SYNC_NOT_FOUND', message: 'No sync-worker route GET /nope' } });
    expect((await request(app).get('/status')).body).toEqual({ fallthrough: true });
    const wrongMethod = await request(app).get('/deep/mount/point/full-sync');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('POST');

    const root = express();
    root.use(createSyncWorkerRouter(worker, { allowUnauthenticated: true }));
    root.get('/health', (_req, res) => {
      res.json({ ok: true });
    });
    expect((await request(root).get('/status')).body).toEqual({ is_running: false });
    expect((await request(root).get('/health')).body).toEqual({ ok: true });
  });

  it('answers 500 with a generic body when the worker throws or rejects (no hang, no unhandled rejection)', async () => {
    const app = mountExpress(brokenWorker(), { token: 'secret-token-value', logger: silentLogger });
    const auth = { authorization: 'Bearer secret-token-value' };
    for (const [method, path] of [
      ['get', '/status'],
      ['post', '/start'],
      ['post', '/full-sync'],
      ['get', '/discrepancy-check'],
    ] as const) {
      const response = await request(app)[method](`${MOUNT}${path}`).set(auth);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ error: { code: 'ERR_SYNC_INTERNAL', message: 'Internal error; see the server log' } });
      expect(response.text).not.toMatch(/boom|refresh_token|exploded/);
    }
  });

  it('route handlers return nothing to Express (Express 4 ignores returned promises)', () => {
    const router = createSyncWorkerRouter(brokenWorker(), { allowUnauthenticated: true, logger: silentLogger });
    const layers = (router as unknown as { stack: { route?: { stack: { handle: (...args: unknown[]) => unknown }[] } }[] }).stack;
    const routeLayers = layers.filter((layer) => layer.route !== undefined);
    expect(routeLayers).toHaveLength(7);
    for (const layer of routeLayers) {
      const handle = layer.route!.stack[0]!.handle;
      const res = { headersSent: true, destroy: () => undefined };
      expect(handle({ method: 'GET', params: {}, query: {}, headers: {} }, res, () => undefined)).toBeUndefined();
    }
  });
});
