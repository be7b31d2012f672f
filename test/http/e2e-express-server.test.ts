/**
 * End to end: starts `examples/express-server.ts` as a child process (simulator + real Redis), runs
 * the seed's curl walkthrough with `fetch` and the bearer token (start, status, force-sync,
 * discrepancy-check, full-sync), then runs `examples/test-sync-worker.ts` against it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiscrepancyReport } from '../../src/worker/discrepancy.js';
import type { SyncWorkerStatus } from '../../src/worker/status.js';
import { deletePrefix, REDIS_URL, randomPrefix } from '../redis/helpers.js';
import type { AcceptedBody, ErrorBody } from './router-contract.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = `e2e-${randomBytes(12).toString('hex')}`;
const PREFIX = randomPrefix('http-e2e');
const EVENTS = 12;
const REGISTRATIONS = 600;

/** The environment of a child: ours without Zoho credentials (the example must use the simulator). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('ZOHO_') && !key.startsWith('SYNC_')) env[key] = value;
  return { ...env, ...extra };
}

interface Started {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly sampleEventId: string;
  output(): string;
}

/** Spawns the example server in its own process group and waits for its "listening on <url>" line. */
async function startServer(): Promise<Started> {
  const child = spawn('npx', ['tsx', 'examples/express-server.ts'], {
    cwd: ROOT,
    env: childEnv({
      PORT: '0',
      SYNC_API_TOKEN: TOKEN,
      SYNC_KEY_PREFIX: PREFIX,
      REDIS_URL,
      SIM_EVENTS: String(EVENTS),
      SIM_REGISTRATIONS: String(REGISTRATIONS),
      LOG_LEVEL: 'warn',
    }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within 60 s:\n${output}`)), 60_000);
    const check = (): void => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match && /sample event \d+/.test(output)) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example server exited with ${code}:\n${output}`));
    });
  });
  const sampleEventId = /sample event (\d+)/.exec(output)![1]!;
  return { child, baseUrl, sampleEventId, output: () => output };
}

/** Stops the child's process group (it was started detached) and waits for it to exit. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

describe('examples/express-server.ts: the seed curl walkthrough', () => {
  let server: Started;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    server = await startServer();
  }, 90_000);

  afterAll(async () => {
    if (server) await stopServer(server.child);
    await deletePrefix(redis, PREFIX);
    redis.disconnect();
  });

  /** `token: null` sends no Authorization header. */
  const call = async (method: 'GET' | 'POST', path: string, token: string | null = TOKEN): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    const text = await response.text();
    expect(text).not.toContain(TOKEN);
    return { status: response.status, body: JSON.parse(text) as unknown };
  };

  const getStatus = async (): Promise<SyncWorkerStatus> => {
    const { status, body } = await call('GET', '/status');
    expect(status).toBe(200);
    return body as SyncWorkerStatus;
  };

  const waitForRun = async (runId: string): Promise<SyncWorkerStatus> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await getStatus();
      if (s.current_run === null && s.last_run?.id === runId) return s;
      if (Date.now() > deadline) throw new Error(`run ${runId} did not finish`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  /** A trigger answered 202; a 409 (the start-up full sync still running) is checked, waited out and retried. */
  const trigger = async (path: string): Promise<AcceptedBody> => {
    for (;;) {
      const { status, body } = await call('POST', path);
      if (status === 409) {
        const error = (body as ErrorBody).error;
        expect(error.code).toBe('ERR_SYNC_BUSY');
        const running = (await getStatus()).current_run;
        if (running) {
          expect(error.run_id).toBe(running.id);
          await waitForRun(running.id);
        }
        continue;
      }
      expect(status, JSON.stringify(body)).toBe(202);
      return body as AcceptedBody;
    }
  };

  it('prints the token header and the walkthrough at start', async () => {
    // The banner arrives in several stdout chunks: wait (bounded) for its last part.
    const deadline = Date.now() + 10_000;
    while (!server.output().includes('curl -X POST') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(server.output()).toContain('Bearer token: from SYNC_API_TOKEN');
    expect(server.output()).toContain(`curl -X POST -H "Authorization: Bearer $SYNC_API_TOKEN" ${server.baseUrl}/start`);
  });

  it('refuses requests without the token (401)', async () => {
    const { status, body } = await call('GET', '/status', null);
    expect(status).toBe(401);
    expect((body as ErrorBody).error.code).toBe('ERR_SYNC_UNAUTHORIZED');
  });

  it('1. curl -X POST .../start → 200, worker running (auto full sync started)', async () => {
    const { status, body } = await call('POST', '/start');
    expect(status).toBe(200);
    expect(body).toMatchObject({ is_running: true, config: { enableAutoSync: true } });
  });

  it('2. curl .../status → 200 with the seed status shape', async () => {
    const s = await getStatus();
    expect(s).toMatchObject({ is_running: true, config: expect.any(Object), stats: expect.any(Object) });
    expect('last_sync_time' in s).toBe(true);
  });

  it('3. curl -X POST .../force-sync/<eventId> → 202, then the run succeeds', { timeout: 90_000 }, async () => {
    const accepted = await trigger(`/force-sync/${server.sampleEventId}`);
    expect(accepted).toMatchObject({ kind: 'force', event_id: server.sampleEventId, run_id: expect.any(String) });
    const s = await waitForRun(accepted.run_id);
    expect(s.last_run).toMatchObject({ kind: 'force', event_id: server.sampleEventId, outcome: 'succeeded' });
    expect(s.stats.records_added).toBe(REGISTRATIONS);
  });

  it('4. curl .../discrepancy-check → 200, Redis equals Zoho', async () => {
    const { status, body } = await call('GET', '/discrepancy-check');
    expect(status).toBe(200);
    const report = body as DiscrepancyReport;
    expect(report.hasDiscrepancies).toBe(false);
    expect(report.events).toHaveLength(EVENTS);
    expect(report.totals).toMatchObject({ zohoCount: REGISTRATIONS, redisCount: REGISTRATIONS });
  });

  it('5. curl -X POST .../full-sync → 202, then the run succeeds with nothing to change', { timeout: 90_000 }, async () => {
    const accepted = await trigger('/full-sync');
    expect(accepted).toMatchObject({ kind: 'full', event_id: null, status_url: './status' });
    const s = await waitForRun(accepted.run_id);
    expect(s.last_run).toMatchObject({ kind: 'full', outcome: 'succeeded' });
    expect(s.stats).toMatchObject({ records_added: REGISTRATIONS, records_removed: 0, failed_syncs: 0 });
  });

  it('examples/test-sync-worker.ts passes against the server and exits 0', { timeout: 90_000 }, async () => {
    const script = spawn('npx', ['tsx', 'examples/test-sync-worker.ts'], {
      cwd: ROOT,
      env: childEnv({ SYNC_API_URL: server.baseUrl, SYNC_API_TOKEN: TOKEN }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    script.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    script.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => script.once('exit', resolve));
    expect(code, output).toBe(0);
    expect(output).toContain('All steps passed.');
  });

  it('examples/test-sync-worker.ts exits non-zero with a wrong token', { timeout: 90_000 }, async () => {
    const script = spawn('npx', ['tsx', 'examples/test-sync-worker.ts'], {
      cwd: ROOT,
      env: childEnv({ SYNC_API_URL: server.baseUrl, SYNC_API_TOKEN: 'wrong-token' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    script.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    script.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => script.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain('expected HTTP 200, got 401');
  });
});
