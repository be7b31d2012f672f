/**
 * The sink and worker on a real 6-node Redis Cluster (3 masters + 3 replicas, started by the test):
 * full sync, incremental, force sync and a healed discrepancy check end with Redis equal to the
 * simulator record for record.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../helpers/harness.js';
import { type RedisClusterHandle, startRedisCluster } from '../helpers/redis-cluster.js';

describe('sync on a real Redis Cluster (3 masters + 3 replicas)', () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;
  let h: Harness;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = cluster.client();
    h = await createHarness({}, { redis });
  }, 90_000);

  afterAll(async () => {
    await h?.close();
    await cluster?.close();
  }, 30_000);

  it('spreads the events over all three masters', async () => {
    const events = h.sim.listEvents();
    const masters = new Set<number>();
    for (const e of events) masters.add((await cluster.masterOf(await cluster.keySlot(h.sink.keys.ids(e.id)))).port);
    expect(masters.size).toBe(3);
  });

  it('full sync: Redis equals the simulator', async () => {
    const result = await h.worker().performFullSync();
    expect(result.added).toBe(2419);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect((await h.sink.state.getSyncMeta()).watermark).toBeDefined();
  });

  it('incremental: edits, additions and deletions arrive', async () => {
    h.sim.clock.advance(5_000);
    const regs = h.sim.listRegistrations();
    for (let i = 0; i < 30; i += 1) h.sim.editRegistration(regs[i * 11]!.id);
    const added = h.sim.addRegistration(h.sim.listEvents()[5]!.id);
    const result = await h.worker().performIncrementalSync();
    expect(result.updated).toBe(30);
    expect(result.added).toBe(1);
    expect(JSON.parse((await redis.get(h.sink.keys.record(added.eventId, added.id)))!)).toEqual(h.sim.toApiRecord(added));
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('force sync of one event removes what left it and touches no other event', async () => {
    const event = h.sim.listEvents()[7]!;
    const other = h.sim.listEvents()[8]!;
    const gone = h.sim.listRegistrations().find((r) => r.eventId === event.id)!;
    h.sim.deleteRegistration(gone.id);
    const otherBefore = await h.dumpEvent(other.id);
    const result = await h.worker().forceSyncEvent(event.id);
    expect(result.removed).toBe(1);
    expect(await redis.hexists(h.sink.keys.ids(event.id), gone.id)).toBe(0);
    expect(await redis.exists(h.sink.keys.record(event.id, gone.id))).toBe(0);
    expect(await h.dumpEvent(other.id)).toEqual(otherBefore);
  });

  it('a discrepancy check with heal repairs lost, stale and extra records', async () => {
    const regs = h.sim.listRegistrations();
    const lost = regs[3]!;
    await h.sink.removeRecords(lost.eventId, [lost.id]);
    const stale = regs[40]!;
    await redis.hset(h.sink.keys.ids(stale.eventId), stale.id, '1000');
    const extraEvent = h.sim.listEvents()[2]!.id;
    await h.sink.upsertRecords([{ id: '999000000000000001', eventId: extraEvent, modifiedAt: 1, data: { ID: '999000000000000001' } }]);

    const report = await h.worker().checkDiscrepancies({ heal: true });
    expect(report.totals).toMatchObject({ missingInRedis: 1, extraInRedis: 1, stale: 1 });
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    const after = await h.worker().checkDiscrepancies();
    expect(after.hasDiscrepancies).toBe(false);
  });

  it("event metadata is fenced atomically in the event's slot: an older fence that passed the counter read is refused once a newer one wrote", async () => {
    const eventId = h.sim.listEvents()[4]!.id;
    const fenceKey = h.sink.keys.fence();
    const markKey = h.sink.keys.eventMetaFence(eventId);
    expect(await cluster.keySlot(markKey)).toBe(await cluster.keySlot(h.sink.keys.eventMeta(eventId)));
    const before = await redis.get(fenceKey);
    try {
      await redis.set(fenceKey, '41');
      await h.sink.state.setEventMeta(eventId, { sourceCount: 1 }, { fence: 41 });
      await redis.set(fenceKey, '42'); // a new owner took the lease…
      await h.sink.state.setEventMeta(eventId, { sourceCount: 2 }, { fence: 42 });
      expect(await redis.get(markKey)).toBe('42');
      await redis.set(fenceKey, '41'); // …and the stale owner's counter read came before it (simulated)
      await expect(h.sink.state.setEventMeta(eventId, { sourceCount: 3 }, { fence: 41 })).rejects.toMatchObject({ code: 'ERR_SYNC_LEASE' });
      expect((await h.sink.state.getEventStates([eventId]))[0]).toMatchObject({ sourceCount: 2 });
    } finally {
      if (before === null) await redis.del(fenceKey);
      else await redis.set(fenceKey, before);
      await redis.del(markKey);
    }
  });
});
