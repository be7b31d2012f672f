/**
 * Redis going away under a running worker, on a private redis-server this file starts on a free
 * port (never the shared one): killed (SIGKILL) or stalled (SIGSTOP), with ioredis's defaults and
 * configured as BullMQ users configure it (`maxRetriesPerRequest: null`: a command waits for the
 * connection forever). The run settles with ERR_SYNC_SINK naming the Redis host and the cause,
 * `stop()` returns within its bound, and once Redis is back the next run converges.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { STOP_TIMEOUT_MS, SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { type PrivateRedis, startPrivateRedis } from '../helpers/redis-server.js';
import { CONVERGED, checkIntegrity, faultRow, recordEvents, sleep, until } from './helpers.js';

/** `promise`'s outcome, or `'pending'` after `ms` (the run must settle: a hang is the failure). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  const first = await Promise.race([outcome, pending]);
  clearTimeout(timer);
  return first;
}

describe('Redis stops answering mid-sync (private redis-server, Zoho simulator)', () => {
  let h: Harness | undefined;
  let server: PrivateRedis | undefined;
  let redis: Redis | undefined;
  afterEach(async () => {
    server?.resume();
    redis?.disconnect();
    await server?.stop();
    await h?.close();
    h = undefined;
    server = undefined;
    redis = undefined;
  });

  async function setUp(redisOptions: RedisOptions, sinkOptions: { commandTimeoutMs?: number } = {}) {
    h = await createHarness({ dataset: { events: 10, registrations: 6000, seed: 61 }, latencyMs: 120 });
    server = await startPrivateRedis();
    redis = new Redis(server.url, redisOptions);
    redis.on('error', () => undefined);
    const prefix = `zrs-outage-${randomBytes(3).toString('hex')}`;
    const sink = new RedisSink({ redis, keyPrefix: prefix, ...sinkOptions });
    const worker = new SyncWorker({ source: h.source(), sink, logger: silentLogger, enableAutoSync: false, maxRetries: 1, lease: { ttlMs: 3000 } });
    // The integrity check reads the private Redis.
    const view: Harness = { ...h, redis, sink, prefix };
    return { worker, sink, view, log: recordEvents(worker), port: server.port };
  }

  it('Redis killed under a running worker (ioredis defaults): ERR_SYNC_SINK naming the host and ECONNREFUSED, not a lost lease', async ({ task }) => {
    const { worker, view, log, port } = await setUp({}, { commandTimeoutMs: 1500 });
    worker.once('recordsAdded', () => void server!.kill('SIGKILL'));
    const outcome = await settledWithin(worker.performFullSync(), 30_000);
    expect(outcome).not.toBe('pending');
    const error = (outcome as { error?: { code?: string; message?: string } }).error;
    expect(error?.code).toBe(SyncErrorCode.SINK);
    expect(error?.message).toContain(`127.0.0.1:${port}`);
    expect(error?.message).toMatch(/ECONNREFUSED/);
    expect(log.leaseLost).toHaveLength(0);
    expect(worker.getStatus().lease.lost_count).toBe(0);
    expect(worker.getStatus().last_run).toMatchObject({ outcome: 'failed', error_code: SyncErrorCode.SINK });

    await server!.restart(); // empty: no persistence
    // The client reconnects by itself, on its own backoff: ioredis 5 waits up to 2 s between
    // attempts, ioredis 6 up to 5 s plus jitter.
    await until(() => redis!.status === 'ready', 15_000, 'the client to reconnect');
    const after = await worker.performFullSync();
    expect(after.resumed).toBe(false);
    const integrity = await checkIntegrity(view);
    task.meta.fault = faultRow('Redis killed (SIGKILL) under a running worker: ERR_SYNC_SINK names host and cause', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('Redis shut down mid-sync with maxRetriesPerRequest: null: the run settles with ERR_SYNC_SINK (commandTimeoutMs)', async ({ task }) => {
    const { worker, view, log, port } = await setUp({ maxRetriesPerRequest: null }, { commandTimeoutMs: 1000 });
    worker.once('recordsAdded', () => void server!.kill('SIGKILL'));
    const outcome = await settledWithin(worker.performFullSync(), 30_000);
    expect(outcome).not.toBe('pending');
    const error = (outcome as { error?: { code?: string; message?: string } }).error;
    expect(error?.code).toBe(SyncErrorCode.SINK);
    expect(error?.message).toContain(`127.0.0.1:${port}`);
    expect(log.syncFailed).toHaveLength(1);

    await server!.restart();
    await until(() => redis!.status === 'ready', 15_000, 'the client to reconnect');
    await worker.performFullSync();
    const integrity = await checkIntegrity(view);
    task.meta.fault = faultRow('Redis shut down mid-sync, client with maxRetriesPerRequest: null: the run settles', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('the master demoted to a replica mid-sync (REPLICAOF, as a failover does): -READONLY fails the run with ERR_SYNC_SINK, the watermark stays; promoted back, the next run converges', async ({ task }) => {
    const { worker, sink, view, log } = await setUp({}, { commandTimeoutMs: 3000 });
    const admin = new Redis(server!.url);
    try {
      // A replica of a master that does not exist: it answers reads, refuses writes with -READONLY.
      worker.once('recordsAdded', () => void admin.call('REPLICAOF', '127.0.0.1', '1'));
      const outcome = await settledWithin(worker.performFullSync(), 30_000);
      expect(outcome).not.toBe('pending');
      const error = (outcome as { error?: { code?: string; message?: string } }).error;
      expect(error?.code).toBe(SyncErrorCode.SINK);
      expect(error?.message).toMatch(/READONLY/);
      expect(log.syncCompleted).toHaveLength(0);
      expect((await sink.state.getSyncMeta()).watermark).toBeUndefined();

      await admin.call('REPLICAOF', 'NO', 'ONE');
      const after = await worker.performFullSync();
      expect(after.kind).toBe('full');
      const integrity = await checkIntegrity(view);
      task.meta.fault = faultRow('master demoted to a replica mid-sync (-READONLY): the run fails, the next converges', integrity);
      expect(integrity).toEqual(CONVERGED);
    } finally {
      admin.disconnect();
    }
  });

  it(`Redis stalled (SIGSTOP) with maxRetriesPerRequest: null: stop() returns within ${STOP_TIMEOUT_MS} ms, the next run converges`, async ({ task }) => {
    // A deadline longer than the test: only stop()'s own bound can end the wait.
    const { worker, view, log } = await setUp({ maxRetriesPerRequest: null }, { commandTimeoutMs: 120_000 });
    const stalled = new Promise<void>((resolve) => {
      worker.once('recordsAdded', () => {
        server!.pause();
        resolve();
      });
    });
    const run = worker.performFullSync().catch((e: unknown) => e);
    await stalled;
    await sleep(200);
    const started = Date.now();
    await worker.stop();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(STOP_TIMEOUT_MS + 3000);
    expect(worker.isRunning).toBe(false);

    server!.resume();
    const failure = (await run) as { code?: string };
    expect(failure.code).toBe(SyncErrorCode.ABORTED);
    expect(log.syncFailed).toHaveLength(1);
    await worker.performFullSync();
    await worker.performFullSync(); // the first one resumed from the checkpoint; this one also sweeps
    const integrity = await checkIntegrity(view);
    task.meta.fault = faultRow('Redis stalled (SIGSTOP), maxRetriesPerRequest: null: stop() returns within its bound', integrity);
    expect(integrity).toEqual(CONVERGED);
  });
});

describe('the lease refusal says who holds it and when it expires (real Redis)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("after this host's own crash: names the dead process and when its lease expires", async () => {
    h = await createHarness({ dataset: { events: 2, registrations: 10, seed: 62 } });
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    expect(deadPid).toBeGreaterThan(0);
    await h.sink.state.acquireLease(`${hostname()}:${deadPid}:${randomUUID()}`, 20_000);
    const worker = h.worker();
    const before = Date.now();
    const error = (await worker.performFullSync().catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(error.code).toBe(SyncErrorCode.LEASE);
    expect(error.message).toContain(`earlier process on this host (pid ${deadPid}`);
    const expires = /expires in (\d+) s, at (\S+?);/.exec(error.message ?? '');
    expect(expires).not.toBeNull();
    expect(Number(expires![1])).toBeGreaterThan(15);
    expect(Number(expires![1])).toBeLessThanOrEqual(20);
    expect(Date.parse(expires![2]!)).toBeGreaterThan(before + 15_000);
  });

  it('held by a replica on another host: names that host', async () => {
    h = await createHarness({ dataset: { events: 2, registrations: 10, seed: 63 } });
    await h.sink.state.acquireLease(`replica-b.internal:4242:${randomUUID()}`, 20_000);
    const error = (await h.worker().performFullSync().catch((e: unknown) => e)) as { message?: string };
    expect(error.message).toMatch(/^The sync lease is held by a replica on host replica-b\.internal \(pid 4242\); it expires in \d+ s, at /);
  });
});
