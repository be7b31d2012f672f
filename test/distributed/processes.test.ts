/**
 * Distributed mode across real processes: three worker processes (`node --import tsx`), one of
 * them SIGKILLed in the middle of a partition job; the run still succeeds and Redis ends equal to
 * the simulator record for record. Then the Job Scheduler, upserted by every replica, fires the
 * incremental exactly once per interval.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistributedSync } from '../../src/bullmq.js';
import { silentLogger } from '../../src/logger.js';
import { type Child, spawnChild } from '../faults/helpers.js';
import { createHarness, type Harness, REDIS_URL, deleteQueueKeys } from '../helpers/harness.js';
import type { DistributedChildConfig } from './fixtures/distributed-child.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/distributed-child.ts', import.meta.url));

describe('distributed mode with 3 worker processes', () => {
  let h: Harness;
  const queuePrefix = `{zrs-q-${randomBytes(4).toString('hex')}}`;
  const children: Child[] = [];
  let connection: Redis;
  let observer: DistributedSync;

  const spawnWorker = (enableScheduler: boolean, syncIntervalMs = 1000): Child => {
    const config: DistributedChildConfig = {
      redisUrl: REDIS_URL,
      prefix: h.prefix,
      queuePrefix,
      enableScheduler,
      syncIntervalMs,
      source: {
        ...h.sim.credentials,
        ...h.sim.config,
        apiBaseUrl: h.sim.apiBaseUrl,
        accountsBaseUrl: h.sim.accountsBaseUrl,
      } as unknown as Record<string, string>,
    };
    const child = spawnChild(FIXTURE, { ZRS_CHILD: JSON.stringify(config) });
    children.push(child);
    return child;
  };

  beforeAll(async () => {
    h = await createHarness({ dataset: { events: 40, registrations: 8000, seed: 3 }, latencyMs: 150 });
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    observer = new DistributedSync({
      connection,
      redis: h.redis,
      source: h.source(),
      sink: h.sink,
      queuePrefix,
      processJobs: false,
      enableScheduler: false,
      logger: silentLogger,
    });
    await observer.start();
  }, 30_000);

  afterAll(async () => {
    await observer?.stop();
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    }
    await deleteQueueKeys(queuePrefix);
    connection?.disconnect();
    await h?.close();
  }, 30_000);

  it('one process SIGKILLed mid-job: the full sync succeeds and Redis equals the simulator', async () => {
    const workers = [spawnWorker(false), spawnWorker(false), spawnWorker(false)];
    await Promise.all(workers.map((w) => w.waitFor((l) => l.type === 'ready', 30_000)));
    const victim = workers[0]!;
    const handle = observer.trigger({ kind: 'full' });
    await victim.waitFor((l) => l.type === 'job' && l.name === 'partition' && l.phase === 'start', 30_000);
    await new Promise((r) => setTimeout(r, 200)); // in the middle of its listing
    victim.proc.kill('SIGKILL');
    const result = await handle.result;
    expect(result.kind).toBe('full');
    expect(result.eventsSynced).toBeGreaterThanOrEqual(40);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    // Every registration is held once: no duplicate in any event's index.
    expect((await h.redisIds()).length).toBe(h.sim.listRegistrations().length);
    // The killed job was finished by another process.
    const killedJob = victim.lines.find((l) => l.type === 'job' && l.name === 'partition' && l.phase === 'start')!.jobId as string;
    const finishers = workers.slice(1).filter((w) => w.lines.some((l) => l.type === 'job' && l.jobId === killedJob && l.phase === 'end' && l.ok === true));
    expect(finishers).toHaveLength(1);
  }, 90_000);

  it('the scheduler, upserted by every replica, fires the incremental once per interval', async () => {
    const intervalMs = 1000;
    const workers = [spawnWorker(true, intervalMs), spawnWorker(true, intervalMs)];
    await Promise.all(workers.map((w) => w.waitFor((l) => l.type === 'ready', 30_000)));
    await new Promise((r) => setTimeout(r, 5500));
    await observer.removeScheduler();
    const started = new Map<string, number>();
    for (const c of children) {
      for (const l of c.lines) if (l.type === 'job' && l.name === 'incremental' && l.phase === 'start') started.set(l.jobId as string, (started.get(l.jobId as string) ?? 0) + 1);
    }
    // Each firing is one job, started by one process; firings are one interval apart.
    expect(started.size).toBeGreaterThanOrEqual(3);
    expect([...started.values()].every((n) => n === 1)).toBe(true);
    const times = [...started.keys()].map((id) => Number(id.split(':').pop())).sort((a, b) => a - b);
    for (let i = 1; i < times.length; i += 1) expect(times[i]! - times[i - 1]!).toBe(intervalMs);
  }, 60_000);
});
