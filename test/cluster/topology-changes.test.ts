/**
 * Topology changes under a running full sync, on a real 6-node Redis Cluster started by the test:
 * - a live migration of one event's slot to another master (`CLUSTER SETSLOT … IMPORTING /
 *   MIGRATING`, `MIGRATE … KEYS`, `SETSLOT … NODE`) while the sync writes that event: the run fails
 *   cleanly or completes; afterwards every key of the slot lives on the new master only and Redis
 *   equals the simulator record for record (no duplicate, no reverted value);
 * - the master of an event's slot stalled (`kill -STOP`) for longer than the node timeout, so its
 *   replica is promoted: no run reports success with a record missing (WAIT + the post-sync
 *   verification against the listing), and the next run converges.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { CLUSTER_NODE_TIMEOUT_MS, type RedisClusterHandle, startRedisCluster } from '../helpers/redis-cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('topology changes during a full sync (real Redis Cluster, 3 masters + 3 replicas)', () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = cluster.client();
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  /** Moves `slot` from its master to another master, key batch by key batch, pausing between batches. */
  async function migrateSlot(slot: number): Promise<{ from: number; to: number }> {
    const nodes = await cluster.topology();
    const source = await cluster.masterOf(slot);
    const target = nodes.find((n) => n.role === 'master' && n.id !== source.id && !n.failing)!;
    const src = cluster.node(source.port);
    const dst = cluster.node(target.port);
    await dst.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await src.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    for (;;) {
      const keys = (await src.call('CLUSTER', 'GETKEYSINSLOT', slot, 50)) as string[];
      if (keys.length === 0) break;
      await src.call('MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'REPLACE', 'KEYS', ...keys);
      await sleep(20); // the sync keeps writing while the slot is half moved
    }
    for (const n of nodes.filter((x) => x.role === 'master')) {
      await cluster.node(n.port).call('CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    }
    return { from: source.port, to: target.port };
  }

  it('a live migration of an event slot mid-sync: the run fails cleanly or completes, then Redis equals the simulator, each key on one master', async () => {
    const h: Harness = await createHarness({ dataset: { events: 6, registrations: 3000, seed: 71 }, latencyMs: 40 }, { redis });
    try {
      const event = h.sim.listEvents()[0]!;
      const slot = await cluster.keySlot(h.sink.keys.ids(event.id));
      // Seed Redis with an older version of the event's records, so a reverted value would show.
      await h.worker().performFullSync();
      h.sim.clock.advance(5_000);
      for (const r of h.sim.listRegistrations(event.id).slice(0, 200)) h.sim.editRegistration(r.id);
      const worker = h.worker({ logger: silentLogger });
      let migration: Promise<{ from: number; to: number }> | undefined;
      worker.once('recordsUpdated', () => {
        migration = migrateSlot(slot);
      });
      const outcome = await worker.performFullSync().then(
        () => 'succeeded' as const,
        (e: { code?: string }) => e.code ?? 'failed',
      );
      expect(migration).toBeDefined();
      const moved = await migration!;
      // ioredis follows MOVED / ASK (sending ASKING) and retries TRYAGAIN for a pipeline whose
      // commands all got the same redirection; the sink sends one script per pipeline, so the run
      // completes through the migration (before: "ASK <slot> host:port" failed it).
      expect(outcome).toBe('succeeded');
      expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
      // No key of the slot stayed behind on the old master.
      expect(await cluster.node(moved.from).call('CLUSTER', 'COUNTKEYSINSLOT', slot)).toBe(0);
      expect(Number(await cluster.node(moved.to).call('CLUSTER', 'COUNTKEYSINSLOT', slot))).toBeGreaterThan(0);
      await h.worker().performFullSync();
      expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
      // Every record of the event holds the simulator's newest version.
      for (const r of h.sim.listRegistrations(event.id).slice(0, 200)) {
        expect(JSON.parse((await redis.get(h.sink.keys.record(event.id, r.id)))!)).toEqual(h.sim.toApiRecord(r));
      }
    } finally {
      await h.close();
    }
  }, 120_000);

  it(`a master stalled (kill -STOP) past the node timeout (${CLUSTER_NODE_TIMEOUT_MS} ms) mid-sync: no run reports success with a record missing`, async () => {
    await cluster.waitHealthy(30_000);
    const h: Harness = await createHarness({ dataset: { events: 6, registrations: 4000, seed: 73 }, latencyMs: 30 }, { redis });
    try {
      const event = h.sim.listEvents()[1]!;
      const master = await cluster.masterOf(await cluster.keySlot(h.sink.keys.ids(event.id)));
      const worker = h.worker({ logger: silentLogger, maxRetries: 2 });
      let stalled: Promise<void> | undefined;
      let pages = 0;
      worker.on('recordsAdded', () => {
        pages += 1;
        if (pages !== 3) return;
        stalled = (async () => {
          cluster.pause(master.port);
          await sleep(CLUSTER_NODE_TIMEOUT_MS * 3); // long enough for its replica to be promoted
          cluster.resume(master.port);
        })();
      });
      const outcome = await worker.performFullSync().then(
        () => 'succeeded' as const,
        (e: { code?: string }) => e.code ?? 'failed',
      );
      await stalled;
      expect(['succeeded', 'ERR_SYNC_SINK']).toContain(outcome);
      if (outcome === 'succeeded') expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
      await cluster.waitHealthy(60_000);
      const after = (await cluster.topology()).find((n) => n.port === master.port)!;
      expect(after.role).toBe('replica'); // the failover happened: the test exercised what it claims
      // The next run converges (a failed run left nothing that poisons it).
      let converged = false;
      for (let attempt = 0; attempt < 3 && !converged; attempt += 1) {
        converged = await h
          .worker({ logger: silentLogger })
          .performFullSync()
          .then(
            () => true,
            () => false,
          );
        if (!converged) await sleep(1000);
      }
      expect(converged).toBe(true);
      expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    } finally {
      await h.close();
    }
  }, 180_000);
});
