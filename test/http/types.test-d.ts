/**
 * Type tests (checked by `npm run typecheck`; never executed): both factories accept exactly the
 * documented options and reject unknown ones, mixed authentication modes and missing workers.
 * Each `@ts-expect-error` fails the type check if the line below it ever compiles.
 */
import express, { type Request } from 'express';
import Fastify, { type FastifyRequest } from 'fastify';
import { expectTypeOf } from 'vitest';
import { createSyncWorkerRouter, type SyncWorkerRouterOptions } from '../../src/express.js';
import { type SyncWorkerPluginOptions, syncWorkerRoutes } from '../../src/fastify.js';
import type { SyncRouterOptions } from '../../src/http/options.js';
import { createSyncRoutes, type SyncRoute } from '../../src/http/routes.js';
import type { SyncWorker } from '../../src/worker/sync-worker.js';

declare const worker: SyncWorker;

export function expressOptions(): void {
  const app = express();
  // Accepted: each authentication mode, with the optional trigger limit.
  app.use('/api/sync-worker', createSyncWorkerRouter(worker, { token: 'secret' }));
  createSyncWorkerRouter(worker, { authorize: (req) => req.raw.get('x-admin') === '1' });
  createSyncWorkerRouter(worker, { authorize: async () => true, triggerLimit: { full: { max: 1, windowMs: 60_000 } } });
  createSyncWorkerRouter(worker, { allowUnauthenticated: true });

  // @ts-expect-error -- unknown option
  createSyncWorkerRouter(worker, { token: 'secret', prefix: '/api' });
  // @ts-expect-error -- misspelt option
  createSyncWorkerRouter(worker, { tokne: 'secret' });
  // @ts-expect-error -- no authentication at all
  createSyncWorkerRouter(worker, {});
  // @ts-expect-error -- options are required
  createSyncWorkerRouter(worker);
  // @ts-expect-error -- two authentication modes
  createSyncWorkerRouter(worker, { token: 'secret', allowUnauthenticated: true });
  // @ts-expect-error -- allowUnauthenticated must be the literal `true`
  createSyncWorkerRouter(worker, { allowUnauthenticated: false });
  // @ts-expect-error -- unknown trigger kind
  createSyncWorkerRouter(worker, { token: 'secret', triggerLimit: { everything: { max: 1, windowMs: 1 } } });
  // @ts-expect-error -- unknown key in a limit rule
  createSyncWorkerRouter(worker, { token: 'secret', triggerLimit: { full: { max: 1, windowMs: 1, burst: 2 } } });

  expectTypeOf(createSyncWorkerRouter).returns.toEqualTypeOf<express.Router>();
  expectTypeOf<Parameters<Extract<SyncWorkerRouterOptions, { authorize: unknown }>['authorize']>[0]['raw']>().toEqualTypeOf<Request>();
}

export async function fastifyOptions(): Promise<void> {
  const app = Fastify();
  // Accepted: the worker, one authentication mode, Fastify's own register options.
  await app.register(syncWorkerRoutes, { prefix: '/api/sync-worker', worker, token: 'secret' });
  await app.register(syncWorkerRoutes, { worker, authorize: (req) => req.raw.headers['x-admin'] === '1', logLevel: 'warn' });
  await app.register(syncWorkerRoutes, { worker, allowUnauthenticated: true, triggerLimit: { force: { max: 5, windowMs: 60_000 } } });

  // @ts-expect-error -- unknown option
  await app.register(syncWorkerRoutes, { prefix: '/api', worker, token: 'secret', verbose: true });
  // @ts-expect-error -- misspelt option
  await app.register(syncWorkerRoutes, { worker, tokne: 'secret' });
  // @ts-expect-error -- no authentication
  await app.register(syncWorkerRoutes, { prefix: '/api', worker });
  // @ts-expect-error -- no worker
  await app.register(syncWorkerRoutes, { prefix: '/api', token: 'secret' });
  // @ts-expect-error -- two authentication modes
  await app.register(syncWorkerRoutes, { worker, token: 'secret', authorize: () => true });

  expectTypeOf<Parameters<Extract<SyncWorkerPluginOptions, { authorize: unknown }>['authorize']>[0]['raw']>().toEqualTypeOf<FastifyRequest>();
}

export function neutralOptions(): void {
  expectTypeOf(createSyncRoutes(worker, { token: 'secret' })).toEqualTypeOf<SyncRoute<unknown>[]>();
  // @ts-expect-error -- unknown option
  createSyncRoutes(worker, { token: 'secret', cors: true });
  const options: SyncRouterOptions = { allowUnauthenticated: true };
  expectTypeOf(options).toExtend<SyncRouterOptions>();
}
