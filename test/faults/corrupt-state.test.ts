/**
 * Corrupt or vanished state never poisons later runs (real Redis + the Zoho simulator): a watermark
 * that is not an epoch-ms instant, a lease key of the wrong type, an unreadable checkpoint, a record
 * key that vanished while its index entry stayed. Each is detected, reported once with the key's
 * name, discarded or repaired, and the run goes on safely.
 */
import { type Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { type PrivateRedis, startPrivateRedis } from '../helpers/redis-server.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { CONVERGED, checkIntegrity, faultRow, recordEvents } from './helpers.js';

/** A logger that keeps `warn` lines (message and fields). */
function warnings(): Logger & { lines: { message: string; fields: Record<string, unknown> | undefined }[] } {
  const lines: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  return {
    lines,
    debug: () => undefined,
    info: () => undefined,
    error: () => undefined,
    warn: (message: string, fields?: Record<string, unknown>) => void lines.push({ message, fields }),
  };
}

describe('corrupt state is detected, reported once and repaired (real Redis + Zoho simulator)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  for (const bad of ['9e15', '-1e15', '1e400', '0x10', '99999999999999999']) {
    it(`a watermark of ${bad}: reported with the key, discarded; the incremental sync lists in full and converges`, async ({ task }) => {
      h = await createHarness({ dataset: { events: 5, registrations: 400, seed: 81 } });
      const log = warnings();
      const worker = h.worker({ logger: log });
      await worker.performFullSync();
      await h.redis.hset(h.sink.keys.syncMeta(), 'watermark', bad);
      // Changes Zoho made meanwhile must be seen, whatever the stored value said.
      h.sim.clock.advance(5000);
      const edited = h.sim.editRegistration(h.sim.listRegistrations()[7]!.id).id;
      h.sim.deleteRegistration(h.sim.listRegistrations()[9]!.id);

      const result = await worker.performIncrementalSync();
      expect(result.fellBackToFull).toBe(true);
      expect(result.updated).toBeGreaterThanOrEqual(1);
      const about = log.lines.filter((l) => l.message.includes(h.sink.keys.syncMeta()));
      expect(about, JSON.stringify(log.lines)).toHaveLength(1);
      expect(about[0]!.message).toContain(bad.slice(0, 12));
      const stored = await h.redis.hget(h.sink.keys.syncMeta(), 'watermark');
      expect(stored).toMatch(/^\d{13}$/);
      expect(Number(stored)).toBeLessThanOrEqual(Date.now() + 24 * 3600_000);

      // Reported once: the next run finds a sound watermark and says nothing.
      const next = await worker.performIncrementalSync();
      expect(next.fellBackToFull).toBe(false);
      expect(log.lines.filter((l) => l.message.includes(h.sink.keys.syncMeta()))).toHaveLength(1);
      expect(await h.sink.getRecord(h.sim.getRegistration(edited)!.eventId, edited)).toEqual(h.sim.toApiRecord(h.sim.getRegistration(edited)!));
      const integrity = await checkIntegrity(h);
      task.meta.fault = faultRow(`corrupt watermark ${bad} (discarded, full listing)`, integrity);
      expect(integrity).toEqual(CONVERGED);
    });
  }

  it('a lease key of the wrong type (no TTL): reported with the key, removed; the run takes the lease', async ({ task }) => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 82 } });
    await h.redis.hset(h.sink.keys.lease(), 'owner', 'nobody');
    const log = warnings();
    const worker = h.worker({ logger: log });
    const events = recordEvents(worker);
    const result = await worker.performFullSync();
    expect(result.added).toBe(300);
    expect(events.runSkipped).toHaveLength(0);
    expect(log.lines.filter((l) => l.message.includes(h.sink.keys.lease()))).toHaveLength(1);
    expect(await h.redis.type(h.sink.keys.lease())).toBe('none'); // released after the run
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('lease key of the wrong type (removed, run goes on)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  for (const [label, corrupt] of [
    ['a string that is not an integer', (r: Redis | Cluster, key: string) => r.set(key, 'abc')],
    ['a hash', (r: Redis | Cluster, key: string) => r.hset(key, 'a', 'b')],
  ] as const) {
    it(`a fencing counter that is ${label}: reported with the key, removed; no lease is left behind, the run goes on`, async ({ task }) => {
      h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 84 } });
      await corrupt(h.redis, h.sink.keys.fence());
      // Before the repair: taking the lease fails on INCR and leaves no lease behind.
      await expect(h.sink.state.acquireLease('someone', 30_000)).rejects.toMatchObject({ code: 'ERR_SYNC_SINK' });
      expect(await h.redis.exists(h.sink.keys.lease())).toBe(0);
      const log = warnings();
      const worker = h.worker({ logger: log });
      const result = await worker.performFullSync();
      expect(result.added).toBe(300);
      expect(log.lines.filter((l) => l.message.includes(h.sink.keys.fence()))).toHaveLength(1);
      expect(await h.redis.get(h.sink.keys.fence())).toBe('1'); // a new counter
      await worker.performFullSync();
      expect(log.lines.filter((l) => l.message.includes(h.sink.keys.fence()))).toHaveLength(1);
      const integrity = await checkIntegrity(h);
      task.meta.fault = faultRow(`fencing counter that is ${label} (removed, run goes on)`, integrity);
      expect(integrity).toEqual(CONVERGED);
    });
  }

  it('a lease without expiry (set by hand): reported with the key and given one; runs take the lease after it', async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 85 } });
    await h.redis.set(h.sink.keys.lease(), 'otherhost:1:abc');
    const log = warnings();
    const repairs = await h.sink.state.repairState([]);
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatchObject({ key: h.sink.keys.lease(), value: 'otherhost:1:abc' });
    const ttl = await h.redis.pttl(h.sink.keys.lease());
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // Once it expires (shortened here), a run takes the lease.
    await h.redis.pexpire(h.sink.keys.lease(), 1);
    await new Promise((r) => setTimeout(r, 20));
    const result = await h.worker({ logger: log }).performFullSync();
    expect(result.added).toBe(300);
  });

  for (const [label, value] of [
    ['not JSON', '{"runId":'],
    ['JSON of the wrong shape', '{"runId":1,"cursor":[]}'],
  ] as const) {
    it(`an unreadable checkpoint (${label}): reported with the key, discarded; the full sync lists from page 1`, async ({ task }) => {
      h = await createHarness({ dataset: { events: 5, registrations: 2500, seed: 83 } });
      await h.redis.set(h.sink.keys.checkpoint('full'), value);
      const log = warnings();
      const worker = h.worker({ logger: log });
      const result = await worker.performFullSync();
      expect(result).toMatchObject({ added: 2500, resumed: false });
      expect(log.lines.filter((l) => l.message.includes(h.sink.keys.checkpoint('full')))).toHaveLength(1);
      await worker.performFullSync();
      expect(log.lines.filter((l) => l.message.includes(h.sink.keys.checkpoint('full')))).toHaveLength(1);
      const integrity = await checkIntegrity(h);
      task.meta.fault = faultRow(`unreadable checkpoint, ${label} (discarded)`, integrity);
      expect(integrity).toEqual(CONVERGED);
    });
  }
});

describe('a record key that vanished while its index entry stayed (real Redis + Zoho simulator)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('the discrepancy check reports it missing in Redis, and heals it', async ({ task }) => {
    h = await createHarness({ dataset: { events: 6, registrations: 600, seed: 84 } });
    const worker = h.worker();
    await worker.performFullSync();
    const regs = h.sim.listRegistrations();
    const vanished = [regs[3]!, regs[250]!, regs[599]!];
    // Evicted (allkeys-*), expired, or deleted by hand: the record key goes, the index entry stays.
    for (const r of vanished) await h.redis.del(h.sink.keys.record(r.eventId, r.id));
    expect(await h.redis.hexists(h.sink.keys.ids(vanished[0]!.eventId), vanished[0]!.id)).toBe(1);

    const report = await worker.checkDiscrepancies();
    expect(report.hasDiscrepancies).toBe(true);
    expect(report.totals.missingInRedis).toBe(3);
    expect(report.events.flatMap((e) => e.missingInRedis).sort()).toEqual(vanished.map((r) => r.id).sort());

    const healed = await worker.checkDiscrepancies({ heal: true });
    expect(healed.healed?.added).toBe(3);
    expect((await worker.checkDiscrepancies()).hasDiscrepancies).toBe(false);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('record keys vanished, index entries stayed (found, healed)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });
});

describe('an eviction policy that can evict the library keys is warned about (private redis-servers)', () => {
  const servers: PrivateRedis[] = [];
  const clients: Redis[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const s of servers.splice(0)) await s.stop();
  });

  async function startWorker(args: string[]): Promise<{ worker: SyncWorker; log: ReturnType<typeof warnings> }> {
    const server = await startPrivateRedis(args);
    servers.push(server);
    // ioredis's ready check sends INFO: off, for the server where INFO is renamed away.
    const redis = new Redis(server.url, { enableReadyCheck: false });
    clients.push(redis);
    const log = warnings();
    const source = { name: 'none', listEvents: async () => [], readRecords: async function* () {}, readStamps: async function* () {}, readChangedSince: async function* () {}, getRecord: async () => undefined };
    const worker = new SyncWorker({ source, sink: new RedisSink({ redis, keyPrefix: 'zrs-evict' }), logger: log, enableAutoSync: false });
    await worker.start();
    await worker.stop();
    return { worker, log };
  }

  it('allkeys-lru: start() warns once, status names the policy', async () => {
    const { worker, log } = await startWorker(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    expect(log.lines.filter((l) => l.message.includes('maxmemory-policy allkeys-lru'))).toHaveLength(1);
    expect(worker.getStatus().eviction).toMatchObject({ policy: 'allkeys-lru', warning: expect.stringContaining('set maxmemory-policy noeviction') });
  });

  it('volatile-ttl: warns that the lease and seen sets can vanish', async () => {
    const { worker } = await startWorker(['--maxmemory-policy', 'volatile-ttl']);
    expect(worker.getStatus().eviction.warning).toMatch(/lease and the seen sets/);
  });

  it('CONFIG disabled: the policy is read from INFO; both disabled: unknown, and said so', async () => {
    const viaInfo = await startWorker(['--rename-command', 'CONFIG', '', '--maxmemory-policy', 'allkeys-random']);
    expect(viaInfo.worker.getStatus().eviction.policy).toBe('allkeys-random');
    const blind = await startWorker(['--rename-command', 'CONFIG', '', '--rename-command', 'INFO', '']);
    expect(blind.worker.getStatus().eviction).toMatchObject({ policy: null, warning: expect.stringContaining('Could not read the maxmemory-policy') });
  });

  it('noeviction (the default): no warning', async () => {
    const { worker, log } = await startWorker([]);
    expect(worker.getStatus().eviction).toEqual({ policy: 'noeviction', warning: null });
    expect(log.lines).toHaveLength(0);
  });
});
