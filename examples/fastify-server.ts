/**
 * Example: the sync-worker API registered in a Fastify app under `/api/sync-worker`.
 *
 *   npx tsx examples/fastify-server.ts
 *
 * Serves on port 3000 (`PORT` overrides; `PORT=0` picks a free one), bearer token from
 * `SYNC_API_TOKEN` (default `dev-token`), backed by the Zoho simulator unless Zoho credentials are
 * in the environment (see `examples/shared/setup.ts`). Prints a "listening on <url>" line when ready.
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { syncWorkerRoutes } from '../src/fastify.js';
import { banner, createExampleSetup, exampleToken, listenAddress, listenFailure } from './shared/setup.js';

const setup = await createExampleSetup();
const token = exampleToken();
const { port, host } = listenAddress();

const app = Fastify({ logger: { level: process.env.LOG_LEVEL?.toLowerCase() === 'debug' ? 'debug' : 'warn' } });
await app.register(syncWorkerRoutes, { prefix: '/api/sync-worker', worker: setup.worker, token: token.token });
app.addHook('onClose', async () => setup.close());

try {
  await app.listen({ port, host });
} catch (error) {
  console.error(listenFailure(error, host, port));
  await app.close();
  process.exit(1);
}
const address = app.server.address() as AddressInfo;
for (const line of banner('Fastify', `http://${host}:${address.port}/api/sync-worker`, token, setup)) console.log(line);

const shutdown = (): void => {
  void app.close().finally(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
