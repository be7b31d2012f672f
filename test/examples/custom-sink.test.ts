/**
 * examples/custom-sink-node-redis.ts as the README's "Plugging in your own sink" says: the
 * contract suite on it (real Redis through node-redis), then a SyncWorker with a RedisStateStore
 * that syncs the demo's 2,419 registrations and keeps Redis equal to the simulator through an edit
 * and a deletion (the sink declares no extras: the core's fallbacks compare and locate).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { connectNodeRedis, NodeRedisSink } from '../../examples/custom-sink-node-redis.js';
import { silentLogger } from '../../src/logger.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { testSinkContract } from '../../src/testing.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness } from '../helpers/harness.js';
import { deletePrefix, REDIS_URL } from '../redis/helpers.js';

async function deleteKeysAndQuit(client: Awaited<ReturnType<typeof connectNodeRedis>>, prefix: string): Promise<void> {
  const cleaner = new Redis(REDIS_URL);
  try {
    await deletePrefix(cleaner, prefix);
  } finally {
    cleaner.disconnect();
    await client.quit();
  }
}

testSinkContract({
  name: 'NodeRedisSink',
  describe,
  it,
  create: async () => {
    const client = await connectNodeRedis(REDIS_URL);
    const prefix = `contract-${randomUUID()}`;
    return { sink: new NodeRedisSink(client, prefix), cleanup: () => deleteKeysAndQuit(client, prefix) };
  },
});

describe('NodeRedisSink with a RedisStateStore', () => {
  it('syncs the 2,419 registrations, then an edit and a deletion; a discrepancy check finds nothing', async () => {
    const h = await createHarness();
    const client = await connectNodeRedis(REDIS_URL);
    const prefix = `${h.prefix}-node-redis`;
    try {
      const sink = new NodeRedisSink(client, prefix);
      const state = new RedisStateStore({ redis: h.redis, keyPrefix: prefix });
      const worker = new SyncWorker({ source: h.source(), sink, state, logger: silentLogger, enableAutoSync: false });
      const first = await worker.performFullSync();
      expect(first).toMatchObject({ added: 2419, updated: 0, removed: 0 });
      const held = async (): Promise<number> => {
        let n = 0;
        for (const e of h.sim.listEvents()) n += await sink.countRecords(e.id);
        return n;
      };
      expect(await held()).toBe(2419);
      const [a, b] = h.sim.listRegistrations();
      expect(await sink.getRecord(a!.eventId, a!.id)).toEqual(h.sim.toApiRecord(a!));
      h.sim.editRegistration(a!.id, { Full_Name: 'Võ Thị Sáu' });
      h.sim.deleteRegistration(b!.id);
      const second = await worker.performFullSync();
      expect(second).toMatchObject({ added: 0, updated: 1, removed: 1 });
      expect(await sink.getRecord(a!.eventId, a!.id)).toEqual(h.sim.toApiRecord(h.sim.getRegistration(a!.id)!));
      expect(await held()).toBe(2418);
      const report = await worker.checkDiscrepancies();
      expect(report.hasDiscrepancies).toBe(false);
      expect((await worker.syncRecord(b!.id)).outcome).toBe('absent');
    } finally {
      await deleteKeysAndQuit(client, prefix);
      await h.close();
    }
  }, 120_000);
});
