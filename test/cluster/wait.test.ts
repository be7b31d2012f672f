/**
 * Write confirmation with `WAIT` on a real 6-node Redis Cluster: each record batch is confirmed by
 * the slot's replica before it counts as committed; with the replica stalled (SIGSTOP), the batch
 * fails, the sync run fails and the watermark does not move; once the replica answers again the
 * next run succeeds and Redis equals the simulator.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { makeRecord, randomPrefix } from '../redis/helpers.js';
import { type RedisClusterHandle, startRedisCluster } from '../helpers/redis-cluster.js';

describe('WAIT on a real Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = cluster.client();
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  /** The port of the replica of the master that serves `key`. */
  const replicaOf = async (key: string): Promise<number> => {
    const master = await cluster.masterOf(await cluster.keySlot(key));
    const replica = (await cluster.topology()).find((n) => n.role === 'replica' && n.masterId === master.id);
    if (!replica) throw new Error(`No replica of ${master.port}`);
    return replica.port;
  };

  it("'auto' waits for one replica on a cluster; a stalled replica fails the batch instead of counting it", async () => {
    const prefix = randomPrefix('wait');
    const eventId = '4433256000013547003';
    // A healthy replica acknowledges at once, but a busy CI machine can take longer than the short
    // timeout the stalled case uses: the healthy write gets the default bound (1 s, said in README).
    const healthy = new RedisSink({ redis, keyPrefix: prefix });
    const ok = await healthy.upsertRecords([makeRecord(eventId, '1', 1000)]);
    expect(ok.added).toBe(1);
    const sink = new RedisSink({ redis, keyPrefix: prefix, waitTimeoutMs: 300 });

    const port = await replicaOf(sink.keys.ids(eventId));
    cluster.pause(port);
    try {
      const failed = sink.upsertRecords([makeRecord(eventId, '2', 1000)]);
      await expect(failed).rejects.toBeInstanceOf(SinkError);
      await expect(failed).rejects.toThrow(/confirmed by 0 of 1 replicas within 300 ms \(WAIT\)/);
      await expect(sink.removeRecords(eventId, ['1'])).rejects.toThrow(/confirmed by 0 of 1 replicas/);
    } finally {
      cluster.resume(port);
    }
    // Without WAIT (waitForReplicas: 0) the same write is acknowledged by the master alone.
    const unconfirmed = new RedisSink({ redis, keyPrefix: randomPrefix('nowait'), waitForReplicas: 0 });
    expect((await unconfirmed.upsertRecords([makeRecord(eventId, '3', 1000)])).added).toBe(1);
  });

  it('a full sync whose replica stalls fails, leaves the watermark where it was, and the next run converges', async () => {
    const h: Harness = await createHarness({ dataset: { events: 12, registrations: 1500, seed: 5 } }, { redis });
    try {
      const sink = new RedisSink({ redis, keyPrefix: h.prefix, waitTimeoutMs: 300 });
      const worker = () => h.worker({ sink, maxRetries: 0 });
      const port = await replicaOf(sink.keys.ids(h.sim.listEvents()[0]!.id));
      cluster.pause(port);
      try {
        await expect(worker().performFullSync()).rejects.toBeInstanceOf(SinkError);
      } finally {
        cluster.resume(port);
      }
      expect((await sink.state.getSyncMeta()).watermark).toBeUndefined();
      expect((await sink.state.getSyncMeta()).lastSyncAt).toBeUndefined();
      await cluster.waitHealthy(20_000);
      // The next run, with the default confirmation bound (1 s): the short one only makes the stalled
      // run fail fast, and a busy machine can take longer than it to acknowledge a healthy write.
      const result = await h.worker({ sink: new RedisSink({ redis, keyPrefix: h.prefix }), maxRetries: 0 }).performFullSync();
      expect(result.kind).toBe('full');
      expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
      expect((await sink.state.getSyncMeta()).watermark).toBeDefined();
    } finally {
      await h.close();
    }
  }, 60_000);
});
