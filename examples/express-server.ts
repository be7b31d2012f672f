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
import { banner, createExampleSetup, exampleToken, listenAddress, listenFailure } from './shared/setup.js';

const setup = await createExampleSetup();
const token = exampleToken();
const { port, host } = listenAddress();

const app = express();
app.use('/api/sync-worker', createSyncWorkerRouter(setup.worker, { token: token.token }));

// Express 5 calls this back with the error when listening fails (EADDRINUSE, EACCES, ...).
const server = app.listen(port, host, (error?: Error) => {
  if (error) {
    console.error(listenFailure(error, host, port));
    void setup.close().finally(() => process.exit(1));
    return;
  }
  const address = server.address() as AddressInfo;
  for (const line of banner('Express', `http://${host}:${address.port}/api/sync-worker`, token, setup)) console.log(line);
});

const shutdown = (): void => {
  server.close();
  server.closeAllConnections();
  void setup.close().finally(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
