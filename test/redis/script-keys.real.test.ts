/**
 * Every key a record script touches is declared in KEYS (Redis Cluster routes a script by its
 * declared keys and follows slot migrations only for them). Checked on the real Redis with
 * `MONITOR`, which reports each `EVALSHA` with its keys and every command the script runs inside
 * (source `lua`). MONITOR runs on a private redis-server: on the shared one it would see (and slow)
 * everyone's traffic.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { type PrivateRedis, startPrivateRedis } from '../helpers/redis-server.js';
import { makeRecord, randomPrefix } from './helpers.js';

const EVENT = '4433256000013547003';
const BASE = Date.UTC(2025, 0, 1);

interface Seen {
  readonly args: string[];
  readonly source: string;
}

describe('record scripts declare every key they touch (real Redis, MONITOR)', () => {
  const prefix = randomPrefix('keys');
  let server: PrivateRedis;
  let redis: Redis;
  let monitorClient: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 2 });
    monitorClient = new Redis(server.url, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    redis?.disconnect();
    monitorClient?.disconnect();
    await server?.stop();
  });

  it('upsert and remove touch only KEYS', async () => {
    const sink = new RedisSink({ redis, keyPrefix: prefix });
    await sink.ping();
    const seen: Seen[] = [];
    const monitor = await monitorClient.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args.some((a) => String(a).startsWith(prefix))) seen.push({ args: args.map(String), source: String(source) });
    });
    try {
      await sink.upsertRecords([makeRecord(EVENT, '1', BASE), makeRecord(EVENT, '2', BASE)]);
      await sink.upsertRecords([makeRecord(EVENT, '1', BASE + 1, { Name: 'changed' }), makeRecord(EVENT, '2', BASE)]);
      await sink.removeRecords(EVENT, ['1', '2', '3']);
      // MONITOR output is asynchronous: wait (bounded) until the last remove's inner HDEL of '3' arrived.
      const deadline = Date.now() + 5000;
      while (!seen.some((s) => s.source === 'lua' && s.args[0]?.toLowerCase() === 'hdel' && s.args[2] === '3') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      monitor.disconnect();
    }
    const scriptCalls = seen.filter((s) => s.source !== 'lua' && /^eval/i.test(s.args[0] ?? ''));
    expect(scriptCalls.length).toBe(3);
    const inner = seen.filter((s) => s.source === 'lua');
    expect(inner.length).toBeGreaterThan(0);
    // The commands of each script call come right after it; every key they use was declared.
    let declared = new Set<string>();
    for (const s of seen) {
      if (s.source !== 'lua' && /^eval/i.test(s.args[0] ?? '')) {
        const numKeys = Number(s.args[2]);
        declared = new Set(s.args.slice(3, 3 + numKeys));
      } else if (s.source === 'lua') {
        expect(declared, `${s.args.join(' ')} uses an undeclared key`).toContain(s.args[1]);
      }
    }
    expect(declared.has(sink.keys.record(EVENT, '3'))).toBe(true);
  });
});
