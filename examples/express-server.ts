/**
 * Example: the sync-worker API mounted in an Express app under `/api/sync-worker`.
 *
 *   npx tsx examples/express-server.ts
 *
 * Serves on port 3000 (`PORT` overrides; `PORT=0` picks a free one), bearer token from
 * `SYNC_API_TOKEN` (default `dev-token`), backed by the Zoho simulator unless Zoho credentials are
 * in the environment (see `examples/shared/setup.ts`). Prints a "listening on <url>" line when ready.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createSyncWorkerRouter } from '../src/express.js';
import { banner, createExampleSetup, exampleToken, listenAddress } from './shared/setup.js';

const setup = await createExampleSetup();
const token = exampleToken();
const { port, host } = listenAddress();

const app = express();
app.use('/api/sync-worker', createSyncWorkerRouter(setup.worker, { token: token.token }));

const server = app.listen(port, host, () => {
  const address = server.address() as AddressInfo;
  for (const line of banner('Express', `http://${host}:${address.port}/api/sync-worker`, token, setup)) console.log(line);
});
server.on('error', (error) => {
  console.error(`Cannot listen on ${host}:${port}: ${error.message}`);
  void setup.close().finally(() => process.exit(1));
});

const shutdown = (): void => {
  server.close();
  server.closeAllConnections();
  void setup.close().finally(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
