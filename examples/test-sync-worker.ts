/**
 * Example client, in the role of the original design's `scripts/test-sync-worker.js`: drives a
 * running server through the sync-worker API and exits non-zero on any failure.
 *
 *   npx tsx examples/express-server.ts &          # or examples/fastify-server.ts
 *   npx tsx examples/test-sync-worker.ts [eventId]
 *
 * Steps: start the worker, read the status, wait for the run in flight (the start-up full sync),
 * run a discrepancy check (which also picks an event unless one is given), force-sync that event,
 * and check it again.
 *
 * Environment: `SYNC_API_URL` (default `http://localhost:3000/api/sync-worker`), `SYNC_API_TOKEN`
 * (default `dev-token`), `SYNC_WAIT_TIMEOUT_MS` (default 120000), `SYNC_EVENT_ID` (or the first
 * argument).
 */

const baseUrl = (process.env.SYNC_API_URL || 'http://localhost:3000/api/sync-worker').replace(/\/+$/, '');
const token = process.env.SYNC_API_TOKEN || 'dev-token';
const waitTimeoutMs = Number(process.env.SYNC_WAIT_TIMEOUT_MS || 120_000);
const requestedEventId = process.argv[2] || process.env.SYNC_EVENT_ID || undefined;

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

interface EventEntry {
  readonly eventId: string;
  readonly zohoCount: number;
  readonly redisCount: number;
  readonly missingInRedis: readonly string[];
  readonly extraInRedis: readonly string[];
  readonly stale: readonly string[];
}

class StepError extends Error {}

let stepNumber = 0;

async function call(method: 'GET' | 'POST', path: string): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    signal: AbortSignal.timeout(waitTimeoutMs),
  });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new StepError(`${method} ${path}: HTTP ${response.status}, body is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, body };
}

function expectStatus(answer: Answer, expected: number, what: string): void {
  if (answer.status === expected) return;
  const error = answer.body.error as { code?: string; message?: string } | undefined;
  const detail = error ? `${error.code}: ${error.message}` : JSON.stringify(answer.body).slice(0, 300);
  throw new StepError(`${what}: expected HTTP ${expected}, got ${answer.status} (${detail})`);
}

async function step<T>(title: string, run: () => Promise<T>): Promise<T> {
  stepNumber += 1;
  console.log(`\n${stepNumber}. ${title}`);
  const value = await run();
  return value;
}

function summariseStatus(body: Record<string, unknown>): string {
  const stats = body.stats as Record<string, number> | undefined;
  const run = body.current_run as { id: string; kind: string; records_fetched: number } | null;
  return [
    `is_running=${String(body.is_running)}`,
    `last_sync_time=${String(body.last_sync_time)}`,
    stats ? `syncs=${stats.successful_syncs}/${stats.total_syncs} added=${stats.records_added} updated=${stats.records_updated} removed=${stats.records_removed}` : '',
    run ? `current_run=${run.kind} ${run.id} (${run.records_fetched} records fetched)` : 'current_run=none',
  ]
    .filter(Boolean)
    .join(', ');
}

async function waitUntilIdle(): Promise<Record<string, unknown>> {
  const deadline = Date.now() + waitTimeoutMs;
  for (;;) {
    const answer = await call('GET', '/status');
    expectStatus(answer, 200, 'GET /status');
    if (answer.body.current_run === null) return answer.body;
    if (Date.now() > deadline) throw new StepError(`The run in flight did not finish within ${waitTimeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Triggers with `?wait=true`; a 409 (a timer run just started) is retried after that run ends. */
async function triggerAndWait(path: string): Promise<Record<string, unknown>> {
  for (let attempt = 1; ; attempt += 1) {
    const answer = await call('POST', `${path}?wait=true`);
    if (answer.status === 409 && attempt < 3) {
      console.log('   another run is in flight; waiting for it');
      await waitUntilIdle();
      continue;
    }
    expectStatus(answer, 200, `POST ${path}`);
    return answer.body;
  }
}

async function main(): Promise<void> {
  console.log(`Sync worker API at ${baseUrl}`);

  await step('Start the sync worker (POST /start)', async () => {
    const answer = await call('POST', '/start');
    expectStatus(answer, 200, 'POST /start');
    if (answer.body.is_running !== true) throw new StepError('POST /start answered is_running other than true');
    console.log(`   ${summariseStatus(answer.body)}`);
  });

  await step('Check status (GET /status)', async () => {
    const answer = await call('GET', '/status');
    expectStatus(answer, 200, 'GET /status');
    for (const key of ['is_running', 'config', 'stats', 'last_sync_time']) {
      if (!(key in answer.body)) throw new StepError(`GET /status lacks \`${key}\``);
    }
    console.log(`   ${summariseStatus(answer.body)}`);
  });

  await step('Wait for the run in flight to finish', async () => {
    const status = await waitUntilIdle();
    const last = status.last_run as { kind: string; outcome: string; error_code: string | null } | null;
    console.log(`   ${summariseStatus(status)}`);
    if (last) console.log(`   last run: ${last.kind} ${last.outcome}${last.error_code ? ` (${last.error_code})` : ''}`);
    if (last?.outcome === 'failed') throw new StepError(`The last run failed with ${last.error_code}`);
  });

  const eventId = await step('Check discrepancies (GET /discrepancy-check)', async () => {
    const answer = await call('GET', '/discrepancy-check');
    expectStatus(answer, 200, 'GET /discrepancy-check');
    const events = (answer.body.events ?? []) as EventEntry[];
    const totals = answer.body.totals as Record<string, number>;
    console.log(
      `   ${events.length} events checked; Zoho ${totals.zohoCount} records, Redis ${totals.redisCount}; ` +
        `missing ${totals.missingInRedis}, extra ${totals.extraInRedis}, stale ${totals.stale}`,
    );
    if (requestedEventId) return requestedEventId;
    const drifted = events.find((e) => e.missingInRedis.length + e.extraInRedis.length + e.stale.length > 0);
    const picked = drifted ?? events[0];
    if (!picked) throw new StepError('No event to force-sync: the events report is empty (pass an event ID as argument)');
    return picked.eventId;
  });

  await step(`Force sync event ${eventId} (POST /force-sync/${eventId})`, async () => {
    const result = await triggerAndWait(`/force-sync/${eventId}`);
    console.log(
      `   run ${String(result.runId)}: ${String(result.recordsFetched)} records fetched, ` +
        `added ${String(result.added)}, updated ${String(result.updated)}, removed ${String(result.removed)}, ` +
        `${String(result.durationMs)} ms`,
    );
  });

  await step('Check discrepancies again', async () => {
    const answer = await call('GET', '/discrepancy-check');
    expectStatus(answer, 200, 'GET /discrepancy-check');
    const entry = ((answer.body.events ?? []) as EventEntry[]).find((e) => e.eventId === eventId);
    if (!entry) throw new StepError(`Event ${eventId} is not in the discrepancy report`);
    const drift = entry.missingInRedis.length + entry.extraInRedis.length + entry.stale.length;
    console.log(`   event ${eventId}: Zoho ${entry.zohoCount}, Redis ${entry.redisCount}, ${drift} drifted records`);
    if (drift > 0) throw new StepError(`Event ${eventId} still differs after the forced sync`);
  });

  console.log('\nAll steps passed.');
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof StepError ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    console.error(`\nFAILED: ${message}`);
    process.exit(1);
  },
);
