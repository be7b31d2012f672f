/**
 * Example: Prometheus metrics and a custom alerting hook for a running `SyncWorker`.
 *
 *   npx tsx examples/monitoring.ts
 *   curl http://127.0.0.1:9464/metrics
 *
 * Serves `GET /metrics` on port 9464 (`PORT` overrides; `PORT=0` picks a free one), starts the worker
 * (a full sync now, an incremental sync every `SYNC_INTERVAL_MS`) and sends the worker's failure
 * events to `alert()`, the place to call your pager, Slack or Opsgenie. Backed by the Zoho simulator
 * unless Zoho credentials are in the environment (see `examples/shared/setup.ts`).
 *
 * With the simulator, once the first sync is done it deletes three registrations "in Zoho" and runs a
 * healing discrepancy check, so the discrepancy metrics and the alert hook have something to show.
 *
 * In your project, import from the package instead of `../src`:
 *   import { registerSyncMetrics } from '@org/zoho-redis-sync/metrics';
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { SyncErrorCodeValue } from '../src/errors.js';
import type { RunResult } from '../src/worker/run.js';
import { registerSyncMetrics } from '../src/metrics.js';
import { createExampleSetup } from './shared/setup.js';

const setup = await createExampleSetup();
const { worker } = setup;

// 1. Metrics: a registry of your own (or prom-client's global `register`), the worker's metrics on it.
const registry = new Registry();
collectDefaultMetrics({ register: registry }); // optional: the process's own CPU, memory, event loop
registerSyncMetrics(worker, registry, {
  // Your plan's daily Developer API limit per user (Free/Standard 250, Professional 500, Enterprise 1000).
  dailyCallLimit: Number(process.env.SYNC_DAILY_CALL_LIMIT || 1000),
});

// 2. Alerting: route the events that need a human to one hook.
interface Alert {
  readonly severity: 'warning' | 'critical';
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Replace the body with a call to your alerting service; keep it fast and never let it throw. */
async function alert(a: Alert): Promise<void> {
  console.warn(`ALERT [${a.severity}] ${a.summary} ${JSON.stringify(a.details)}`);
}

const critical: ReadonlySet<SyncErrorCodeValue> = new Set([
  'ERR_SYNC_ZOHO_QUOTA_EXHAUSTED', // no Zoho call succeeds until the quota resets at midnight (super admin's time zone)
  'ERR_SYNC_ZOHO_AUTH', // the refresh token was revoked or the client deleted
  'ERR_SYNC_SINK', // Redis is failing
]);
worker.on('syncFailed', (p) => {
  void alert({
    severity: critical.has(p.error.code) ? 'critical' : 'warning',
    summary: `${p.kind} sync failed: ${p.error.code}`,
    details: { runId: p.runId, message: p.error.message, failedAtPage: p.failedAtPage, zohoCalls: p.apiCalls.total },
  });
});
worker.on('discrepancyFound', (report) => {
  const t = report.totals;
  void alert({
    severity: 'warning',
    summary: `Redis differs from Zoho in ${t.eventsWithDiscrepancies} events`,
    details: { missingInRedis: t.missingInRedis, extraInRedis: t.extraInRedis, stale: t.stale },
  });
});
worker.on('massRemovalBlocked', (p) => {
  void alert({
    severity: 'critical',
    summary: `Mass-removal guard refused to remove ${p.wouldRemove} of ${p.held} records of event ${p.eventId}`,
    details: { maxShare: p.maxShare, hint: 'check the Zoho report and filters, then force-sync the event with allowMassRemoval' },
  });
});
worker.on('leaseLost', (p) => {
  void alert({ severity: 'warning', summary: 'This replica lost the sync lease mid-run', details: { runId: p.runId } });
});
worker.on('recordDeadLettered', (p) => {
  void alert({ severity: 'warning', summary: `A record went to the dead-letter stream (${p.reason})`, details: { eventId: p.eventId, detail: p.detail } });
});

// 3. The /metrics endpoint.
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(text);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      },
    );
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('Not found: try GET /metrics\n');
});

const port = process.env.PORT === undefined || process.env.PORT === '' ? 9464 : Number(process.env.PORT);
const host = process.env.HOST || '127.0.0.1';
server.on('error', (error) => {
  console.error(`Cannot listen on ${host}:${port}: ${error.message}`);
  void setup.close().finally(() => process.exit(1));
});
server.listen(port, host, () => {
  const address = server.address() as AddressInfo;
  console.log(`Metrics listening on http://${host}:${address.port}/metrics`);
  for (const line of setup.description) console.log(line);
});

const shutdown = (): void => {
  server.close();
  server.closeAllConnections();
  void setup.close().finally(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

// 4. Start syncing: a full sync now, then an incremental sync every SYNC_INTERVAL_MS.
const firstRun = new Promise<RunResult | undefined>((resolve) => {
  worker.once('syncCompleted', resolve);
  worker.once('syncFailed', () => resolve(undefined));
  worker.once('runSkipped', () => resolve(undefined)); // another replica holds the lease
});
await worker.start();
// With ENABLE_AUTO_SYNC=false, start() runs nothing: sync once by hand so the metrics have figures.
if (!worker.options.enableAutoSync) void worker.performFullSync().catch(() => undefined);
const first = await firstRun;
// The run is over for the worker once it released its lease, just after `syncCompleted`.
while (worker.currentRun) await new Promise((resolve) => setTimeout(resolve, 20));
if (first) console.log(`First sync: ${first.added} added, ${first.updated} updated, ${first.removed} removed, ${first.apiCalls.total} Zoho calls`);

// 5. Simulator only: make Redis drift from "Zoho" and let a healing check find and repair it.
if (setup.simulator) {
  const gone = setup.simulator.listRegistrations().slice(0, 3);
  for (const registration of gone) setup.simulator.deleteRegistration(registration.id);
  try {
    const report = await worker.checkDiscrepancies({ heal: true });
    console.log(
      `Discrepancy demo: deleted ${gone.length} registrations in the simulator; the check found ` +
        `${report.totals.extraInRedis} extra in Redis and healed ${report.healed?.removed ?? 0}. Scrape /metrics to see the figures.`,
    );
  } catch (error) {
    // A timer tick may have started an incremental sync meanwhile (BusyError): the demo just skips.
    console.log(`Discrepancy demo skipped: ${error instanceof Error ? error.message : String(error)}`);
  }
}
