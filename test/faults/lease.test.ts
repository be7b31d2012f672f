/**
 * The cross-replica lease from one process's point of view (two real processes: faults.test.ts):
 * a manual trigger refused with a typed LeaseError (HTTP 409), an automatic run skipped instead of
 * failed, a lease lost mid-run (the run stops writing and says so), and renewals that survive a
 * passing Redis failure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SinkError, SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import type { RunResult } from '../../src/worker/run.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { CONVERGED, checkIntegrity, faultRow, recordEvents, sleep, until } from './helpers.js';

describe('the sync lease (real Redis + Zoho simulator)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a manual trigger that finds the lease held fails with LeaseError before any Zoho call', async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 41 } });
    const worker = h.worker();
    const log = recordEvents(worker);
    expect(await h.sink.state.acquireLease('other-replica', 60_000)).toBeDefined();
    h.sim.clearRequests();
    const handle = worker.trigger({ kind: 'full' });
    // What the HTTP layer awaits before answering 202: it rejects, and the error maps to 409.
    await expect(handle.accepted).rejects.toMatchObject({ name: 'LeaseError', code: SyncErrorCode.LEASE });
    await expect(handle.result).rejects.toMatchObject({ code: SyncErrorCode.LEASE });
    expect(h.sim.requests).toHaveLength(0);
    expect(log.syncStarted).toHaveLength(1);
    expect(log.syncFailed[0]).toMatchObject({ error: { code: SyncErrorCode.LEASE } });
    expect(log.runSkipped).toHaveLength(0);
    expect(worker.getStatus().stats).toMatchObject({ failed_syncs: 1, lease_skipped_runs: 0 });
    expect(await h.redis.get(h.sink.keys.lease())).toBe('other-replica'); // not ours: untouched
  });

  it("an automatic start-up run that finds the lease held is skipped, and the first tick runs once that lease expired", async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 42 } });
    const worker = h.worker({ enableAutoSync: true, syncIntervalMs: 60_000, lease: { ttlMs: 1000 } });
    const log = recordEvents(worker);
    // A crashed replica's lease, with 1 s to live.
    expect(await h.sink.state.acquireLease('crashed-replica', 1000)).toBeDefined();
    h.sim.clearRequests();
    const completed = new Promise<RunResult>((resolve) => worker.once('syncCompleted', resolve));
    const startedAt = Date.now();
    await worker.start();
    await until(() => worker.getStatus().stats.lease_skipped_runs === 1, 5000, 'the skipped start-up run');
    expect(log.runSkipped).toEqual([
      { runId: expect.any(String), kind: 'full', trigger: 'start', reason: 'lease-held', at: expect.any(String), pausedUntil: undefined },
    ]);
    expect(log.syncStarted).toHaveLength(0);
    expect(log.syncFailed).toHaveLength(0);
    expect(log.error).toHaveLength(0);
    expect(h.sim.requests).toHaveLength(0);
    expect(worker.getStatus().stats).toMatchObject({ total_syncs: 0, failed_syncs: 0 });

    // Not a whole interval (60 s) later: after min(syncIntervalMs, lease.ttlMs) = 1 s.
    const result = await completed;
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(result).toMatchObject({ kind: 'incremental', fellBackToFull: true, added: 300 });
    await worker.stop();
    expect(await checkIntegrity(h)).toEqual(CONVERGED);
  });

  it('a lease lost mid-run: the run stops writing, reports LeaseError and leaseLost; the next run converges', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 4000, seed: 43 }, latencyMs: 80 });
    const worker = h.worker({ lease: { ttlMs: 1000 } });
    const log = recordEvents(worker);
    const handle = worker.trigger({ kind: 'full' });
    await until(() => handle.progress.pages >= 1, 10_000, 'page 1');
    // The lease expired (say, a long GC pause) and another replica took it.
    await h.redis.del(h.sink.keys.lease());
    const other = await h.sink.state.acquireLease('other-replica', 60_000);
    expect(other).toBeDefined();
    await expect(handle.result).rejects.toMatchObject({ name: 'LeaseError', code: SyncErrorCode.LEASE });
    expect(log.leaseLost).toHaveLength(1);
    expect(worker.getStatus().lease).toMatchObject({ held: false, lost_count: 1 });
    expect(worker.getStatus().last_run).toMatchObject({ outcome: 'failed', error_code: SyncErrorCode.LEASE });
    // It stopped writing: nothing changes afterwards, and it did not release the other owner's lease.
    const held = await h.redisIds();
    const checkpoint = await h.sink.state.getCheckpoint('full');
    await sleep(400);
    expect(await h.redisIds()).toEqual(held);
    expect(await h.sink.state.getCheckpoint('full')).toEqual(checkpoint);
    expect(await h.redis.get(h.sink.keys.lease())).toBe('other-replica');

    await h.sink.state.releaseLease('other-replica');
    await worker.performFullSync();
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('lease lost mid-run (another replica took it)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('a renewal that fails for a moment (Redis unreachable) does not lose the lease', async () => {
    h = await createHarness({ dataset: { events: 30, registrations: 6000, seed: 44 }, latencyMs: 150 });
    class FlakyRenewals extends RedisStateStore {
      failures = 1;
      override async renewLease(owner: string, ttlMs: number): Promise<boolean> {
        if (this.failures > 0) {
          this.failures -= 1;
          throw new SinkError('Redis renew lease failed: connect ECONNREFUSED 127.0.0.1:6379');
        }
        return super.renewLease(owner, ttlMs);
      }
    }
    const state = new FlakyRenewals({ redis: h.redis, keyPrefix: h.prefix });
    const sink = new RedisSink({ redis: h.redis, keyPrefix: h.prefix });
    const worker = new SyncWorker({ source: h.source(), sink, state, logger: silentLogger, enableAutoSync: false, lease: { ttlMs: 1000 } });
    const log = recordEvents(worker);
    const result = await worker.performFullSync();
    expect(state.failures).toBe(0); // the failure happened during the run (first renewal, after ttl / 3)
    expect(result.durationMs).toBeGreaterThan(1000); // longer than the lease's time to live
    expect(log.leaseLost).toHaveLength(0);
    expect(worker.getStatus().lease.lost_count).toBe(0);
    expect(await checkIntegrity(h)).toEqual(CONVERGED);
    await worker.stop();
  });
});
