import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncErrorCode, type SyncError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { createHarness, type Harness } from '../helpers/harness.js';

function memoryLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { errors, debug: () => {}, info: () => {}, warn: () => {}, error: (m) => errors.push(m) };
}

describe('events, status and the error policy', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 4 } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('a listener that throws never breaks a run; its error is re-emitted as `error`', async () => {
    const worker = h.worker();
    const errors: SyncError[] = [];
    worker.on('eventSynced', () => {
      throw new Error('listener bug');
    });
    worker.on('error', (e) => errors.push(e));
    const result = await worker.performFullSync();
    expect(result.added).toBe(300);
    expect(errors).toHaveLength(5);
    expect(errors[0]).toMatchObject({ code: SyncErrorCode.LISTENER });
    expect(errors[0]?.message).toContain('eventSynced listener threw: listener bug');
  });

  it('a rejecting async listener and a throwing one neither crash the process nor hide the event from later listeners', async () => {
    const worker = h.worker();
    const errors: SyncError[] = [];
    let later = 0;
    worker.on('syncCompleted', async () => {
      throw new Error('async listener rejects');
    });
    worker.on('syncCompleted', () => {
      throw new Error('sync listener throws');
    });
    worker.on('syncCompleted', () => {
      later += 1;
    });
    worker.once('syncStarted', () => undefined);
    worker.on('error', (e) => errors.push(e));
    await worker.performFullSync();
    await new Promise((r) => setTimeout(r, 20));
    expect(later).toBe(1);
    expect(errors.map((e) => e.message).sort()).toEqual([
      'A syncCompleted listener threw: async listener rejects',
      'A syncCompleted listener threw: sync listener throws',
    ]);
    expect(worker.listenerCount('syncStarted')).toBe(0); // once() still means once
  });

  it('concurrent start() calls start once; stop() during start-up leaves the worker stopped', async () => {
    const worker = h.worker({ enableAutoSync: true, syncIntervalMs: 3_600_000 });
    await Promise.all([worker.start(), worker.start()]);
    expect(worker.isRunning).toBe(true);
    await worker.stop();
    const other = h.worker({ enableAutoSync: true, syncIntervalMs: 3_600_000 });
    const starting = other.start();
    await other.stop();
    await starting;
    expect(other.isRunning).toBe(false);
    expect(other.currentRun).toBeUndefined();
  });

  it('a timer tick is skipped when another replica synced less than half an interval ago, never for its own runs', async () => {
    const worker = h.worker({ enableAutoSync: true, syncIntervalMs: 1000 });
    const reasons: string[] = [];
    worker.on('runSkipped', (p) => reasons.push(p.reason));
    const firstSync = new Promise((resolve) => worker.once('syncCompleted', resolve));
    await worker.start();
    await firstSync;
    // Its own start-up run wrote last_sync_at: the next tick still runs.
    const ownTick = new Promise<string>((resolve) => worker.once('syncStarted', (p) => resolve(p.kind)));
    expect(await ownTick).toBe('incremental');
    while (worker.currentRun) await new Promise((r) => setTimeout(r, 10));
    // Another replica's write (its clock may run ahead of ours): the next tick is skipped, with no Zoho call.
    await h.sink.state.setSyncMeta({ lastSyncAt: Date.now() + 5000 });
    h.sim.clearRequests();
    const skipped = new Promise((resolve) => worker.once('runSkipped', resolve));
    await skipped;
    await worker.stop();
    expect(reasons).toContain('recently-synced');
    expect(worker.getStatus().stats.recent_sync_skipped_runs).toBeGreaterThanOrEqual(1);
    expect(h.sim.requests.filter((r) => r.kind !== 'token')).toHaveLength(0);
  });

  it('a syncCompleted listener can start the next run at once (the finished run is already cleared)', async () => {
    const worker = h.worker();
    const next = new Promise<string>((resolve, reject) => {
      worker.once('syncCompleted', () => {
        try {
          expect(worker.currentRun).toBeUndefined();
          resolve(worker.trigger({ kind: 'incremental' }).kind);
        } catch (error) {
          reject(error);
        }
      });
    });
    await worker.performFullSync();
    expect(await next).toBe('incremental');
    while (worker.currentRun) await new Promise((r) => setTimeout(r, 10));
    expect(worker.getStatus().stats.successful_syncs).toBe(2);
  });

  it('an `error` with no listener is logged, not lost', async () => {
    const logger = memoryLogger();
    const worker = h.worker({ logger });
    h.sim.inject({ kind: 'records', times: 10, respond: { type: 'zoho', status: 404, code: 2894, message: 'No report named All_Registrations found.' } });
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_API, zohoCode: 2894 });
    expect(logger.errors.some((m) => m.includes('2894') || m.includes('No report named'))).toBe(true);
  });

  it('emits the typed lifecycle events in order with documented payloads', async () => {
    const worker = h.worker();
    const order: string[] = [];
    worker.on('syncStarted', (p) => order.push(`started:${p.kind}`));
    worker.on('eventSynced', () => order.push('eventSynced'));
    worker.on('syncCompleted', (r) => order.push(`completed:${r.added}:${r.apiCalls.records}`));
    await worker.performFullSync();
    expect(order[0]).toBe('started:full');
    expect(order.filter((o) => o === 'eventSynced')).toHaveLength(5);
    expect(order.at(-1)).toBe('completed:300:1');
  });

  it('getStatus has the original shape and never contains credentials or tokens', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    const status = worker.getStatus();
    expect(Object.keys(status).slice(0, 4)).toEqual(['is_running', 'config', 'stats', 'last_sync_time']);
    expect(Object.keys(status.stats)).toEqual(
      expect.arrayContaining(['total_syncs', 'successful_syncs', 'failed_syncs', 'records_added', 'records_updated', 'records_removed', 'last_sync_duration']),
    );
    const text = JSON.stringify(status);
    for (const secret of [h.sim.credentials.clientSecret, h.sim.credentials.refreshToken, h.sim.credentials.clientId]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toMatch(/1000\.[0-9a-f]{32}/); // no access token
    expect(status.is_running).toBe(false);
    expect(new Date(status.last_sync_time!).toISOString()).toBe(status.last_sync_time);
  });

  it('refuses a second trigger while a run is in flight, with the running run ID', async () => {
    const worker = h.worker();
    const first = worker.trigger({ kind: 'full' });
    expect(() => worker.trigger({ kind: 'incremental' })).toThrowError(expect.objectContaining({ code: SyncErrorCode.BUSY, runId: first.id }));
    await first.result;
    expect(worker.currentRun).toBeUndefined();
  });

  it('start() fails fast with a typed error when Redis is unreachable, and spends no Zoho call', async () => {
    const { Redis } = await import('ioredis');
    const { RedisSink } = await import('../../src/redis/redis-sink.js');
    const { SyncWorker } = await import('../../src/worker/sync-worker.js');
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    dead.on('error', () => undefined);
    const worker = new SyncWorker({ source: h.source(), sink: new RedisSink({ redis: dead }), logger: memoryLogger() });
    h.sim.clearRequests();
    const started = Date.now();
    await expect(worker.start()).rejects.toMatchObject({ code: SyncErrorCode.SINK });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(h.sim.requests).toHaveLength(0);
    expect(worker.isRunning).toBe(false);
    dead.disconnect();
  });

  it('start() runs a full sync and schedules incremental ticks; a tick during a run is skipped and counted', async () => {
    const worker = h.worker({ enableAutoSync: true, syncIntervalMs: 1000 });
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, respond: { type: 'timeout' } });
    const skipped = new Promise((resolve) => worker.once('tickSkipped', resolve));
    await worker.start();
    expect(worker.getStatus().is_running).toBe(true);
    expect(worker.currentRun?.kind).toBe('full');
    await skipped;
    expect(worker.getStatus().stats.skipped_ticks).toBeGreaterThanOrEqual(1);
    await worker.stop();
    expect(worker.getStatus().is_running).toBe(false);
    expect(worker.getStatus().last_run).toMatchObject({ kind: 'full', outcome: 'failed', error_code: SyncErrorCode.ABORTED });
  });
});
