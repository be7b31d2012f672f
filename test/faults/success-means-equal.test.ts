/**
 * "Success" is a promise: a run that reports success leaves Redis equal to the source as of its
 * listing — also when it resumed from a checkpoint (it must still find the deletions among the
 * pages it skipped), and also when Redis lost data or restarted during it (real Redis, a private
 * redis-server where Redis is restarted, and the Zoho simulator).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { type PrivateRedis, startPrivateRedis } from '../helpers/redis-server.js';
import { CONVERGED, checkIntegrity, faultRow, recordEvents, until } from './helpers.js';

describe('success means equal (real Redis + Zoho simulator)', () => {
  let h: Harness | undefined;
  let server: PrivateRedis | undefined;
  let redis: Redis | undefined;
  afterEach(async () => {
    redis?.disconnect();
    await server?.stop();
    await h?.close();
    h = undefined;
    server = undefined;
    redis = undefined;
  });

  it('a resumed full sync still finds deletions made in the pages it skipped (ID-only pass)', async ({ task }) => {
    h = await createHarness({ dataset: { events: 20, registrations: 4200, seed: 91 } });
    const report = h.sim.config.registrationsReport;
    const worker = h.worker({ maxRetries: 0 });
    worker.on('error', () => undefined);
    await worker.performFullSync();
    // Page 3 fails: a checkpoint at page 3 stays.
    h.sim.inject({ kind: 'records', report, page: 3, respond: { type: 'zoho', status: 500, code: 2930 } });
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_API });
    expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 3 });

    // Meanwhile Zoho deletes records everywhere, the pages already read included, and adds one.
    const regs = h.sim.listRegistrations();
    const deleted = [regs[1]!, regs[500]!, regs[1500]!, regs[3900]!].map((r) => r.id);
    for (const id of deleted) h.sim.deleteRegistration(id);
    const added = h.sim.addRegistration(h.sim.listEvents()[0]!.id).id;

    const resumed = await worker.performFullSync();
    expect(resumed.resumed).toBe(true);
    expect(resumed.removed).toBe(deleted.length);
    expect(await h.redisIds()).toEqual(h.simIds());
    expect(await h.redisIds()).toContain(added);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('resumed full sync with deletions in the skipped pages (found by an ID-only pass)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('a checkpoint whose fence is newer than the fencing counter (Redis lost data) is discarded, not resumed', async ({ task }) => {
    h = await createHarness({ dataset: { events: 10, registrations: 3500, seed: 92 } });
    const worker = h.worker({ maxRetries: 0 });
    worker.on('error', () => undefined);
    await worker.performFullSync(); // fence 1
    for (let i = 0; i < 3; i++) {
      await h.sink.state.acquireLease(`other-${i}`, 60_000); // fences 2, 3, 4
      await h.sink.state.releaseLease(`other-${i}`);
    }
    // A run with fence 5 stops at page 3, leaving a real checkpoint.
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, page: 3, respond: { type: 'zoho', status: 500, code: 2930 } });
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_API });
    expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 3 });
    // Then Redis lost data: the fencing counter and a tenth of the records (the checkpoint survived).
    await h.redis.del(h.sink.keys.fence());
    const regs = h.sim.listRegistrations();
    for (const r of regs.filter((_, i) => i % 10 === 0)) await h.sink.removeRecords(r.eventId, [r.id]);

    const events = recordEvents(worker);
    const result = await worker.performFullSync(); // fence 1 again: older than the checkpoint's 5
    expect(result.resumed).toBe(false);
    expect(events.syncCompleted).toHaveLength(1);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('checkpoint fenced newer than the counter after data loss (discarded)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  for (const leaseEnabled of [true, false]) {
    it(`Redis restarted empty mid-sync (lease ${leaseEnabled ? 'on' : 'off'}): the run does not report success; the next run converges`, async ({ task }) => {
      h = await createHarness({ dataset: { events: 10, registrations: 6000, seed: 93 }, latencyMs: 60 });
      server = await startPrivateRedis();
      redis = new Redis(server.url);
      redis.on('error', () => undefined);
      const prefix = `zrs-equal-${randomBytes(3).toString('hex')}`;
      const sink = new RedisSink({ redis, keyPrefix: prefix, commandTimeoutMs: 3000 });
      const worker = new SyncWorker({ source: h.source(), sink, logger: silentLogger, enableAutoSync: false, maxRetries: 3, lease: { enabled: leaseEnabled } });
      const log = recordEvents(worker);
      let pagesAdded = 0;
      const restarted = new Promise<void>((resolve) => {
        worker.on('recordsAdded', () => {
          pagesAdded += 1;
          if (pagesAdded !== 15) return; // mid-listing: 1,500 records written
          void (async () => {
            await server!.kill('SIGKILL');
            await server!.restart();
            resolve();
          })();
        });
      });
      const outcome = await worker.performFullSync().then(
        () => 'succeeded',
        (e: { code?: string }) => e.code,
      );
      await restarted;
      expect(outcome).not.toBe('succeeded');
      expect(log.syncCompleted).toHaveLength(0);

      await until(() => redis!.status === 'ready', 15_000, 'the client to reconnect');
      const view: Harness = { ...h, redis, sink, prefix };
      const next = await worker.performFullSync();
      // With the lease, the checkpoint ioredis re-sent after the restart was refused (no fencing
      // counter); without one it may have been stored, and the resumed run's ID-only pass heals.
      if (leaseEnabled) expect(next.resumed).toBe(false);
      const integrity = await checkIntegrity(view);
      task.meta.fault = faultRow(`Redis restarted empty mid-sync, lease ${leaseEnabled ? 'on' : 'off'} (no false success)`, integrity);
      expect(integrity).toEqual(CONVERGED);
    });
  }
});
