/**
 * `WAIT` confirmation on a standalone Redis (the shared one, which has no replicas): `'auto'`
 * resolves to no `WAIT` at all, an explicit replica count the server cannot meet fails each batch
 * with a SinkError after `waitTimeoutMs`, and bad options are refused with the option named.
 * (The cluster side is in test/cluster/wait.test.ts and test/cluster/topology-changes.test.ts.)
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, SinkError } from '../../src/errors.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { ReplicaWait } from '../../src/redis/replica-wait.js';
import { deletePrefix, makeRecord, REDIS_URL, randomPrefix } from './helpers.js';

describe('WAIT on a standalone Redis without replicas', () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(redis, p);
    redis.disconnect();
  });
  const sink = (options: ConstructorParameters<typeof RedisSink>[0] extends infer O ? Omit<O, 'redis'> : never) => {
    const keyPrefix = randomPrefix('wait');
    prefixes.push(keyPrefix);
    return new RedisSink({ redis, keyPrefix, ...options });
  };

  it("'auto' resolves to 0 here (connected_slaves:0): batches are written without WAIT", async () => {
    expect(await new ReplicaWait(redis, false).required()).toBe(0);
    const result = await sink({}).upsertRecords([makeRecord('4433256000000100001', '1', 1000)]);
    expect(result.added).toBe(1);
  });

  it('waitForReplicas: 1 cannot be met here: each upsert and removal fails after waitTimeoutMs, naming WAIT', async () => {
    const s = sink({ waitForReplicas: 1, waitTimeoutMs: 50 });
    const started = Date.now();
    await expect(s.upsertRecords([makeRecord('4433256000000100001', '2', 1000)])).rejects.toThrow(/confirmed by 0 of 1 replicas within 50 ms \(WAIT\)/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    await expect(s.removeRecords('4433256000000100001', ['2'])).rejects.toBeInstanceOf(SinkError);
  });

  it('refuses bad options with the option named', () => {
    expect(() => sink({ waitForReplicas: -1 })).toThrow(ConfigError);
    expect(() => sink({ waitForReplicas: 'all' as never })).toThrow(/waitForReplicas must be 'auto' or an integer from 0 to 100/);
    expect(() => sink({ waitTimeoutMs: 0 })).toThrow(/waitTimeoutMs must be an integer from 1 to 60000/);
    // WAIT blocks its connection: a WAIT longer than the command deadline would fail some other command instead.
    expect(() => sink({ waitTimeoutMs: 12_000 })).toThrow(/waitTimeoutMs \(12000 ms\) must be shorter than commandTimeoutMs \(10000 ms\)/);
    expect(() => sink({ waitTimeoutMs: 12_000, commandTimeoutMs: 20_000 })).not.toThrow();
  });
});
