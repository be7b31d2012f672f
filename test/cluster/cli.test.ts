/**
 * Every CLI command on a real 6-node Redis Cluster, configured the way a user would:
 * `REDIS_CLUSTER_NODES=host:port,…`.
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, EXIT, runCli } from '../../src/cli/run.js';
import { redisConnectionFromEnv } from '../../src/redis/connection-config.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { configFromEnv } from '../../src/worker/options.js';
import { ConfigError } from '../../src/errors.js';
import { randomPrefix } from '../redis/helpers.js';
import { type RedisClusterHandle, startRedisCluster } from '../helpers/redis-cluster.js';

function capture(env: Record<string, string>): { io: CliIo; stderr: () => string; lines: () => { event: string; data: Record<string, unknown> }[] } {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => (out += s), isTTY: false, columns: 120 }, stderr: { write: (s: string) => (err += s) }, env },
    stderr: () => err,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { event: string; data: Record<string, unknown> }),
  };
}

describe('REDIS_CLUSTER_NODES', () => {
  it('is read as a cluster (and wins over REDIS_URL); a malformed entry names the variable', () => {
    expect(redisConnectionFromEnv({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001', REDIS_URL: 'redis://x:6379', REDIS_PASSWORD: 's3cret' })).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      username: undefined,
      password: 's3cret',
      label: 'cluster 10.0.0.1:7000,10.0.0.2:7001',
    });
    expect(redisConnectionFromEnv({ REDIS_URL: 'redis://u:pw@h:1' })).toEqual({ kind: 'standalone', url: 'redis://u:pw@h:1', label: 'redis://[redacted]@h:1' });
    expect(() => configFromEnv({ REDIS_CLUSTER_NODES: '10.0.0.1' })).toThrow(ConfigError);
    expect(() => configFromEnv({ REDIS_CLUSTER_NODES: '10.0.0.1:99999' })).toThrow(/REDIS_CLUSTER_NODES entry "10.0.0.1:99999"/);
    expect(redisConnectionFromEnv({ REDIS_CLUSTER_NODES: '[::1]:7000' })).toMatchObject({ nodes: [{ host: '::1', port: 7000 }] });
  });
});

describe('the CLI on a real Redis Cluster', () => {
  let cluster: RedisClusterHandle;
  let redis: Cluster;
  const prefix = randomPrefix('cli-cluster');
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = cluster.client();
    env = { REDIS_CLUSTER_NODES: cluster.nodesEnv, SIM_KEY_PREFIX: prefix, SIM_EVENTS: '12', SIM_REGISTRATIONS: '1500' };
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  }, 30_000);

  it('full-sync, incremental-sync, force-sync, discrepancy-check --heal and status all work', async () => {
    const full = capture(env);
    expect(await runCli(['full-sync', '--simulator'], full.io)).toBe(EXIT.OK);
    expect(full.stderr()).toBe('');
    expect(full.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ kind: 'full', added: 1500 });

    const inc = capture(env);
    expect(await runCli(['incremental-sync', '--simulator'], inc.io)).toBe(EXIT.OK);
    expect(inc.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ kind: 'incremental', added: 0, updated: 0 });

    const sink = new RedisSink({ redis, keyPrefix: prefix });
    const eventIds = await sink.state.listEventIds();
    expect(eventIds).toHaveLength(12);
    // Lose two records of one event, then let the check find and heal them.
    const [victimEvent] = eventIds;
    const held = await redis.hkeys(sink.keys.ids(victimEvent!));
    await sink.removeRecords(victimEvent!, held.slice(0, 2));

    const check = capture(env);
    expect(await runCli(['discrepancy-check', '--simulator', '--heal', '--fail-on-discrepancy'], check.io)).toBe(EXIT.DISCREPANCIES);
    expect(check.stderr()).toContain('2 missing in Redis');
    const clean = capture(env);
    expect(await runCli(['discrepancy-check', '--simulator', '--fail-on-discrepancy'], clean.io)).toBe(EXIT.OK);

    const force = capture(env);
    expect(await runCli(['force-sync', eventIds[3]!, '--simulator'], force.io)).toBe(EXIT.OK);
    expect(force.lines().find((l) => l.event === 'syncCompleted')!.data).toMatchObject({ kind: 'force', eventId: eventIds[3] });

    // Dead letters in two events' streams: two slots (most likely on two masters), summed by status.
    const slots = new Set([await cluster.keySlot(sink.keys.deadLetters(eventIds[0]!)), await cluster.keySlot(sink.keys.deadLetters(eventIds[1]!))]);
    expect(slots.size).toBe(2);
    await sink.state.deadLetter([
      { reason: 'invalid-id', detail: 'x', eventId: eventIds[0], raw: { ID: 'x' } },
      { reason: 'invalid-id', detail: 'y', eventId: eventIds[1], raw: { ID: 'y' } },
      { reason: 'missing-event', detail: 'z', eventId: undefined, raw: { ID: '1' } },
    ]);
    const status = capture(env);
    expect(await runCli(['status', '--simulator'], status.io)).toBe(EXIT.OK);
    expect(status.stderr()).toBe('');
    const [line] = status.lines();
    expect(line!.data).toMatchObject({
      redis_url: `cluster ${cluster.nodesEnv}`,
      key_prefix: prefix,
      events: 12,
      records: 1500,
      dead_letters: 3,
      lease: { held: false },
    });
  });

  it('an unreachable cluster fails in bounded time naming REDIS_CLUSTER_NODES', async () => {
    const c = capture({ REDIS_CLUSTER_NODES: '127.0.0.1:1', SIM_KEY_PREFIX: prefix });
    const started = Date.now();
    expect(await runCli(['status', '--simulator'], c.io)).toBe(EXIT.FAILED);
    expect(Date.now() - started).toBeLessThan(25_000);
    expect(c.stderr()).toContain('REDIS_CLUSTER_NODES');
  });
});
