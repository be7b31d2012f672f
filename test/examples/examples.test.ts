/**
 * Every example in examples/ runs as written, against the simulator and the real Redis, each in its
 * own process with its own key prefix (deleted afterwards). Long-running servers are started, asked
 * for their status (or metrics), and stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL_FORM } from '../../src/redis/redis-url.js';
import { deletePrefix, REDIS_URL, randomPrefix } from '../redis/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = `examples-${randomBytes(8).toString('hex')}`;

/** Examples this file runs; the last test fails when an example is added without being run here. */
const COVERED = new Set<string>();

/** Our environment without Zoho credentials and sync settings (examples must use the simulator), plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ZOHO_') && !key.startsWith('SYNC_') && !key.startsWith('SIM_') && key !== 'PORT') env[key] = value;
  }
  return { ...env, REDIS_URL, LOG_LEVEL: 'warn', ...extra };
}

interface Child {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function run(example: string, env: Record<string, string>, args: string[] = []): Child {
  COVERED.add(example);
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/${example}`, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(c: Child, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(c.output());
    if (match) return match;
    if (c.child.exitCode !== null) throw new Error(`exited with ${c.child.exitCode} before ${pattern}:\n${c.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${c.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM to the example's process group; resolves its exit code. */
async function stop(c: Child): Promise<number | null> {
  if (c.child.exitCode !== null || c.child.pid === undefined) return c.child.exitCode;
  process.kill(-c.child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (c.child.exitCode === null && c.child.pid !== undefined) process.kill(-c.child.pid, 'SIGKILL');
  }, 10_000);
  const code = await c.exited;
  clearTimeout(timer);
  return code;
}

describe('examples/', () => {
  let redis: Redis;
  const prefixes: string[] = [];
  const prefix = (tag: string): string => {
    const p = randomPrefix(`ex-${tag}`);
    prefixes.push(p);
    return p;
  };
  const children: Child[] = [];
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  // Children still running are stopped together (each gets SIGTERM, then SIGKILL after 10 s), so a
  // busy machine cannot push the teardown past its timeout.
  afterAll(async () => {
    await Promise.all(children.map((c) => stop(c)));
    for (const p of prefixes) await deletePrefix(redis, `${p}:`);
    redis.disconnect();
  }, 60_000);

  it('quickstart.ts (npm run demo): the incident healed, 2,419 = 2,419, exit 0', async () => {
    const c = run('quickstart.ts', { DEMO_KEY_PREFIX: prefix('demo') });
    children.push(c);
    expect(await c.exited).toBe(0);
    expect(c.output()).toContain('Before: Zoho 2,419 registrations, Redis 2,355');
    expect(c.output()).toMatch(/After: Zoho 2,419 = Redis 2,419; 2,419 of 2,419 records equal record for record/);
  });

  it('quickstart.ts with a malformed REDIS_URL: the CLI\'s message in one line, exit 2 (no ioredis stack, no ioredis-mock)', async () => {
    for (const [url, why] of [
      ['http://127.0.0.1:6379', 'the scheme is http://'],
      ['127.0.0.1:6379', 'it has no scheme'],
    ] as const) {
      const c = run('quickstart.ts', { DEMO_KEY_PREFIX: prefix('demo-bad-url'), REDIS_URL: url });
      children.push(c);
      expect(await c.exited).toBe(2);
      expect(c.output()).toBe(
        `demo failed: REDIS_URL=${JSON.stringify(url)} is not a Redis URL: ${why}; expected ${REDIS_URL_FORM} [ERR_SYNC_INVALID_OPTION]\n`,
      );
    }
  });

  it('quickstart.ts with a REDIS_URL where nothing answers: one line naming the host, exit 1 (no ioredis stack, no ioredis-mock)', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const c = run('quickstart.ts', { DEMO_KEY_PREFIX: prefix('demo-down'), REDIS_URL: `redis://127.0.0.1:${port}` });
    children.push(c);
    expect(await c.exited).toBe(1);
    expect(c.output()).toBe(
      `demo failed: Cannot reach Redis at redis://127.0.0.1:${port} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}; ` +
        'start Redis there, or unset REDIS_URL to run the demo on an in-memory ioredis-mock [ERR_SYNC_SINK]\n',
    );
  });

  for (const [file, framework] of [
    ['express-server.ts', 'Express'],
    ['fastify-server.ts', 'Fastify'],
  ] as const) {
    it(`${file}: starts, answers GET /status with the bearer token (401 without), stops on SIGTERM`, async () => {
      const c = run(file, { PORT: '0', SYNC_API_TOKEN: TOKEN, SYNC_KEY_PREFIX: prefix(framework.toLowerCase()), SIM_EVENTS: '6', SIM_REGISTRATIONS: '300' });
      children.push(c);
      const [, baseUrl] = await waitFor(c, new RegExp(`Sync worker API \\(${framework}\\) listening on (http://\\S+)`));
      await waitFor(c, /curl -X POST .*full-sync/);
      const ok = await fetch(`${baseUrl}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as Record<string, unknown>;
      expect(Object.keys(body).slice(0, 4)).toEqual(['is_running', 'config', 'stats', 'last_sync_time']);
      expect(JSON.stringify(body)).not.toContain(TOKEN);
      const denied = await fetch(`${baseUrl}/status`);
      expect(denied.status).toBe(401);
      expect(await stop(c)).toBe(0);
    });
  }

  for (const [file, framework] of [
    ['express-server.ts', 'express'],
    ['fastify-server.ts', 'fastify'],
  ] as const) {
    it(`${file} on a busy port says "port N is in use" and exits 1 (no crash)`, async () => {
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const port = (busy.address() as AddressInfo).port;
      try {
        const c = run(file, { PORT: String(port), SYNC_API_TOKEN: TOKEN, SYNC_KEY_PREFIX: prefix(`busy-${framework}`), SIM_EVENTS: '2', SIM_REGISTRATIONS: '20' });
        children.push(c);
        expect(await c.exited).toBe(1);
        expect(c.output()).toContain(`Cannot listen on 127.0.0.1:${port}: port ${port} is in use (another server runs there); stop it, or set PORT to another port (PORT=0 picks a free one).`);
        expect(c.output()).not.toMatch(/Cannot read properties|TypeError|at .*express-server/);
      } finally {
        await new Promise<void>((resolve) => busy.close(() => resolve()));
      }
    });
  }

  it('test-sync-worker.ts drives a running server (fastify-server.ts) through the seed walkthrough and exits 0', async () => {
    const server = run('fastify-server.ts', { PORT: '0', SYNC_API_TOKEN: TOKEN, SYNC_KEY_PREFIX: prefix('walk'), SIM_EVENTS: '6', SIM_REGISTRATIONS: '300' });
    children.push(server);
    const [, baseUrl] = await waitFor(server, /listening on (http:\/\/\S+)/);
    const client = run('test-sync-worker.ts', { SYNC_API_URL: baseUrl!, SYNC_API_TOKEN: TOKEN, SYNC_WAIT_TIMEOUT_MS: '60000' });
    children.push(client);
    expect(await client.exited).toBe(0);
    expect(client.output()).toContain('All steps passed.');
    expect(await stop(server)).toBe(0);
  });

  it('monitoring.ts: serves /metrics with non-zero figures after its first sync and fires the alert hook', async () => {
    const c = run('monitoring.ts', { PORT: '0', SYNC_KEY_PREFIX: prefix('monitoring'), SIM_EVENTS: '8', SIM_REGISTRATIONS: '900' });
    children.push(c);
    const [, url] = await waitFor(c, /Metrics listening on (http:\/\/\S+)/);
    await waitFor(c, /Discrepancy demo: deleted 3 registrations .* found 3 extra in Redis and healed 3/);
    expect(c.output()).toMatch(/ALERT \[warning\] Redis differs from Zoho in \d events \{"missingInRedis":0,"extraInRedis":3,"stale":0\}/);
    const response = await fetch(url!);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const value = (sample: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      if (!line) throw new Error(`no ${sample} in\n${text}`);
      return Number(line.slice(sample.length + 1));
    };
    expect(value('zoho_redis_sync_runs_total{kind="full",outcome="succeeded"}')).toBe(1);
    expect(value('zoho_redis_sync_records_total{change="added"}')).toBe(900);
    expect(value('zoho_redis_sync_records_total{change="removed"}')).toBe(3);
    expect(value('zoho_redis_sync_zoho_calls_total{kind="records"}')).toBe(1);
    expect(value('zoho_redis_sync_discrepancy_records{type="extra_in_redis"}')).toBe(3);
    expect(value('zoho_redis_sync_worker_running')).toBe(1);
    expect(value('zoho_redis_sync_zoho_quota_remaining')).toBeLessThan(1000);
    expect(text).toMatch(/zoho_redis_sync_event_staleness_seconds\{event_id="\d+"\} \d/);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(await stop(c)).toBe(0);
  });

  it('custom-sink-node-redis.ts: syncs the 2,419 registrations through node-redis, exit 0', async () => {
    const c = run('custom-sink-node-redis.ts', { SYNC_KEY_PREFIX: prefix('node-redis') });
    children.push(c);
    expect(await c.exited).toBe(0);
    expect(c.output()).toContain('Full sync through node-redis: +2419 added, 0 updated; Redis holds 2419 of 2419 registrations');
  });

  it('every example in examples/ is run by this file', () => {
    const examples = readdirSync(new URL('../../examples/', import.meta.url)).filter((f) => f.endsWith('.ts'));
    expect(examples.sort()).toEqual([...COVERED].sort());
  });
});
