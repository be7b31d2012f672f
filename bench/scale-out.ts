/**
 * The scale-out section of `npm run bench` (issue 13): a fanned-out full sync of 100 events ×
 * 1,000 registrations against the simulator with 250 ms per call and one shared call budget of
 * 600 calls/min (10 per 1-second window: the same rate, spread evenly), run by 1, 2 and 4 worker
 * processes of `@org/zoho-redis-sync/bullmq`.
 *
 * Reported: wall time; speed-up over 1 process; the bound `min(N, latency × rate)` (N processes
 * each waiting `latency` per call cannot exceed N calls in flight, and the budget admits `rate`
 * calls per second); Zoho record calls against the single-listing minimum `ceil(records / 1000)`;
 * Redis commands processed (`INFO stats total_commands_processed` of a redis-server of its own, so
 * nobody else's traffic is counted; pipelined commands count one each, so this bounds the round
 * trips from above). Partitions are planned from the counts a first (untimed) full sync left in Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DistributedSync } from '../src/bullmq.js';
import { silentLogger } from '../src/logger.js';
import { RedisSink } from '../src/redis/redis-sink.js';
import { SyncWorker } from '../src/worker/sync-worker.js';
import { ZohoCreatorSource } from '../src/zoho/zoho-creator-source.js';
import { forkTs, QUICK, round, startSim, stopChild } from './common.js';
import type { DistributedBenchChild } from './distributed-child.js';

/** What the bench's table functions look like (bench/run.ts passes its own). */
export interface BenchHooks {
  section(title: string): void;
  row(r: { figure: string; value: string; baseline: string; ratio: string; target: string; met: boolean | undefined }): void;
  log(message: string): void;
  results: Record<string, unknown>;
}

const EVENTS = 100;
const PER_EVENT = QUICK ? 300 : 1000;
const LATENCY_MS = 250;
const RATE_PER_S = 10; // 600 calls per minute
const WORKERS = [1, 2, 4] as const;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function startRedis(): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'zrs-bench-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined); // refused until the server listens
  for (let i = 0; i < 100; i += 1) {
    try {
      await probe.connect();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return {
    url,
    close: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function commandsProcessed(redis: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? 0);
}

/** Runs the section and adds its rows. */
export async function scaleOutBench(hooks: BenchHooks): Promise<void> {
  const registrations = EVENTS * PER_EVENT;
  hooks.section(
    `Scale-out: full sync of ${EVENTS} events × ${PER_EVENT.toLocaleString('en-US')} registrations, ${LATENCY_MS} ms per call, shared ${RATE_PER_S * 60} calls/min, 1/2/4 worker processes`,
  );
  const sim = await startSim({ events: EVENTS, registrations, seed: 13, latencyMs: LATENCY_MS });
  const server = await startRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
  const prefix = 'zrs-bench-scale';
  const sink = new RedisSink({ redis, keyPrefix: prefix });
  const minimum = Math.ceil(registrations / 1000);
  try {
    hooks.log('(seeding Redis with one single-process full sync: the partitions are planned from its counts)');
    const seedSource = new ZohoCreatorSource({ ...sim.info.credentials, ...sim.info.config, apiBaseUrl: sim.info.apiBaseUrl, accountsBaseUrl: sim.info.accountsBaseUrl });
    await new SyncWorker({ source: seedSource, sink, enableAutoSync: false, logger: silentLogger }).performFullSync();
    await seedSource.close();

    const runs: { n: number; wallMs: number; recordCalls: number; totalCalls: number; redisCommands: number; added: number; unchanged: number }[] = [];
    for (const n of WORKERS) {
      const queuePrefix = `{zrs-bench-q${n}}`;
      const config: DistributedBenchChild = { redisUrl: server.url, prefix, queuePrefix, sim: sim.info, callsPerWindow: RATE_PER_S, rateWindowMs: 1000 };
      const children: ChildProcess[] = [];
      for (let i = 0; i < n; i += 1) children.push(forkTs('distributed-child.ts', [JSON.stringify(config)]));
      await Promise.all(children.map((c) => new Promise<void>((resolve) => c.once('message', () => resolve()))));
      const connection = new Redis(server.url, { maxRetriesPerRequest: null });
      // The observer only triggers and reports (processJobs: false): its source is never called.
      const observerSource = new ZohoCreatorSource({ ...sim.info.credentials, ...sim.info.config, apiBaseUrl: sim.info.apiBaseUrl, accountsBaseUrl: sim.info.accountsBaseUrl });
      const observer = new DistributedSync({ connection, redis, source: observerSource, sink, queuePrefix, processJobs: false, enableScheduler: false, logger: silentLogger });
      await observer.start();
      await sim.clearRequests();
      const before = await commandsProcessed(redis);
      const started = performance.now();
      const result = await observer.performFullSync();
      const wallMs = performance.now() - started;
      const redisCommands = (await commandsProcessed(redis)) - before;
      const requests = await sim.requests();
      await observer.stop();
      await observerSource.close();
      connection.disconnect();
      await Promise.all(children.map((c) => stopChild(c)));
      runs.push({ n, wallMs, recordCalls: requests.records, totalCalls: requests.records + requests.meta + requests.token, redisCommands, added: result.added, unchanged: result.unchanged });
      hooks.log(`  ${n} process(es): ${round(wallMs / 1000)} s, ${requests.records} record calls, ${redisCommands} Redis commands`);
    }
    const t1 = runs[0]!.wallMs;
    for (const r of runs) {
      const speedUp = t1 / r.wallMs;
      const bound = Math.min(r.n, (LATENCY_MS / 1000) * RATE_PER_S);
      hooks.row({
        figure: `${r.n} process${r.n > 1 ? 'es' : ''}: wall time, speed-up vs bound min(N, latency × rate)`,
        value: `${round(r.wallMs / 1000)} s, ${round(speedUp)}×`,
        baseline: `bound ${round(bound)}×`,
        ratio: `${round(speedUp / bound)}`,
        target: r.n === 1 ? '—' : '≥ 0.8',
        met: r.n === 1 ? undefined : speedUp / bound >= 0.8,
      });
    }
    for (const r of runs) {
      hooks.row({
        figure: `${r.n} process${r.n > 1 ? 'es' : ''}: Zoho record calls vs one whole-report listing`,
        value: String(r.recordCalls),
        baseline: String(minimum),
        ratio: `${round(r.recordCalls / minimum)}`,
        target: '≤ 1.1',
        met: r.recordCalls / minimum <= 1.1,
      });
    }
    for (const r of runs) {
      hooks.row({
        figure: `${r.n} process${r.n > 1 ? 'es' : ''}: Redis commands per record (upper bound of round trips)`,
        value: `${r.redisCommands}`,
        baseline: `${registrations} records`,
        ratio: `${round(r.redisCommands / registrations)}`,
        target: '—',
        met: undefined,
      });
    }
    hooks.results.scaleOut = { events: EVENTS, perEvent: PER_EVENT, latencyMs: LATENCY_MS, ratePerSecond: RATE_PER_S, minimumCalls: minimum, runs };
  } finally {
    redis.disconnect();
    await server.close();
    await sim.close();
  }
}
