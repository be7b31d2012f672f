/**
 * RedisSink against the real Redis at REDIS_URL: the core suite plus what only a real server shows
 * (the raw key layout with TYPE and CLUSTER KEYSLOT, WRONGTYPE replies, an unreachable server).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, SinkError } from '../../src/errors.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { compare, deletePrefix, makeRecord, REDIS_URL, randomPrefix, realRedis, write } from './helpers.js';
import { defineSinkSuite } from './sink-suite.js';

defineSinkSuite(realRedis);

const EVENT_A = '4433256000013547003';

/** CRC16-XMODEM as Redis Cluster uses it (polynomial 0x1021, initial value 0). */
function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The Redis Cluster hash slot of a key, computed locally (hash tag rule included). */
function localKeySlot(key: string): number {
  const start = key.indexOf('{');
  let tagged = key;
  if (start >= 0) {
    const end = key.indexOf('}', start + 1);
    if (end > start + 1) tagged = key.slice(start + 1, end);
  }
  return crc16(Buffer.from(tagged, 'utf8')) % 16384;
}

/**
 * `CLUSTER KEYSLOT key` from the server; a Redis started without cluster support refuses the
 * command ("cluster support disabled"), and then the slot is computed locally with the same rule.
 */
async function keySlot(redis: Redis, key: string): Promise<number> {
  try {
    return Number(await redis.call('CLUSTER', 'KEYSLOT', key));
  } catch (error) {
    if (!/cluster support disabled/i.test(String((error as Error).message))) throw error;
    return localKeySlot(key);
  }
}
const EVENT_B = '4433256000013547111';
const BASE = Date.UTC(2025, 0, 1);

describe('RedisSink on a real Redis', () => {
  const filePrefix = randomPrefix('raw');
  let redis: Redis;
  let counter = 0;
  const newSink = (): RedisSink => {
    counter += 1;
    return new RedisSink({ redis, keyPrefix: `${filePrefix}.${counter}` });
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    await deletePrefix(redis, filePrefix);
    redis.disconnect();
  });

  it('computes key slots like Redis Cluster (known values)', () => {
    expect(localKeySlot('foo')).toBe(12182);
    expect(localKeySlot('bar')).toBe(5061);
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(localKeySlot('{user1000}.following')).toBe(localKeySlot('user1000'));
    expect(localKeySlot('foo{}{bar}')).toBe(crc16(Buffer.from('foo{}{bar}')) % 16384); // empty tag: whole key
  });

  it('writes the documented key schema', async () => {
    const sink = newSink();
    const p = sink.keys.prefix;
    const a = makeRecord(EVENT_A, '101', BASE, { Tên: 'Phạm Văn Đồng' });
    const b = makeRecord(EVENT_B, '202', BASE + 1000);
    await write(sink, [a, b], 'scope1');
    await sink.state.saveEvents([{ id: EVENT_A, data: { ID: EVENT_A, Name: 'Sự kiện A' } }]);
    await sink.state.setEventMeta(EVENT_A, { sourceCount: 1, lastSyncAt: BASE, lastFullSyncAt: BASE });
    await sink.state.setSyncMeta({ lastSyncAt: BASE, lastFullSyncAt: BASE, lastStaleCheckAt: BASE });
    await sink.state.advanceWatermark(BASE + 1000);
    await sink.state.setCheckpoint('full', { runId: 'r', kind: 'full', cursor: 'c', nextPage: 2, maxModifiedAt: undefined, since: undefined, startedAt: BASE });
    const lease = await sink.state.acquireLease('me', 60_000);
    await sink.state.deadLetter([{ reason: 'invalid-id', detail: 'x', eventId: EVENT_A, raw: { ID: 'x' } }]);
    await sink.state.deadLetter([{ reason: 'missing-event', detail: 'y', eventId: undefined, raw: { ID: 'y' } }]);

    const expectedTypes: Record<string, string> = {
      [`${p}:{e:${EVENT_A}}:rec:101`]: 'string',
      [`${p}:{e:${EVENT_B}}:rec:202`]: 'string',
      [`${p}:{e:${EVENT_A}}:ids`]: 'hash',
      [`${p}:{e:${EVENT_B}}:ids`]: 'hash',
      [`${p}:{e:${EVENT_A}}:meta`]: 'hash',
      [`${p}:{e:${EVENT_A}}:seen:scope1`]: 'set',
      [`${p}:{e:${EVENT_B}}:seen:scope1`]: 'set',
      [`${p}:{e:${EVENT_A}}:dlq`]: 'stream',
      [`${p}:{e:${EVENT_A}}:dlq:digests`]: 'hash',
      [`${p}:{g}:events`]: 'hash',
      [`${p}:{g}:meta`]: 'hash',
      [`${p}:{g}:checkpoint:full`]: 'string',
      [`${p}:{g}:lease`]: 'string',
      [`${p}:{g}:fence`]: 'string',
      [`${p}:{g}:dlq`]: 'stream',
      [`${p}:{g}:dlq:digests`]: 'hash',
    };
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    expect(found.sort()).toEqual(Object.keys(expectedTypes).sort());
    for (const [key, type] of Object.entries(expectedTypes)) expect(await redis.type(key), key).toBe(type);

    expect(await redis.get(`${p}:{e:${EVENT_A}}:rec:101`)).toBe(JSON.stringify(a.data));
    expect(await redis.hgetall(`${p}:{e:${EVENT_A}}:ids`)).toEqual({ '101': String(BASE) });
    expect(await redis.hgetall(`${p}:{e:${EVENT_B}}:ids`)).toEqual({ '202': String(BASE + 1000) });
    expect(await redis.smembers(`${p}:{e:${EVENT_A}}:seen:scope1`)).toEqual(['101']);
    expect(await redis.hgetall(`${p}:{e:${EVENT_A}}:meta`)).toEqual({
      source_count: '1',
      last_sync_at: String(BASE),
      last_full_sync_at: String(BASE),
    });
    expect(await redis.hgetall(`${p}:{g}:events`)).toEqual({
      [EVENT_A]: JSON.stringify({ ID: EVENT_A, Name: 'Sự kiện A' }),
      [EVENT_B]: JSON.stringify({ ID: EVENT_B }), // registered by the upsert (HSETNX), never saved
    });
    expect(await redis.hgetall(`${p}:{g}:meta`)).toEqual({
      watermark: String(BASE + 1000),
      last_sync_at: String(BASE),
      last_full_sync_at: String(BASE),
      last_stale_check_at: String(BASE),
    });
    expect(JSON.parse((await redis.get(`${p}:{g}:checkpoint:full`))!)).toEqual({ runId: 'r', kind: 'full', cursor: 'c', nextPage: 2, startedAt: BASE });
    expect(await redis.get(`${p}:{g}:lease`)).toBe('me');
    expect(await redis.get(`${p}:{g}:fence`)).toBe(String(lease!.fence));
    const [[, fields]] = (await redis.xrange(`${p}:{e:${EVENT_A}}:dlq`, '-', '+')) as [[string, string[]]];
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['reason', 'detail', 'raw', 'raw_bytes', 'raw_sha256', 'raw_truncated', 'at']);

    const slot = (key: string): Promise<number> => keySlot(redis, key);
    for (const eventId of [EVENT_A, EVENT_B]) {
      const keys = Object.keys(expectedTypes).filter((k) => k.includes(`{e:${eventId}}`));
      const slots = await Promise.all(keys.map(slot));
      expect(new Set(slots).size, eventId).toBe(1);
      expect(slots[0]).toBe(await slot(`{e:${eventId}}`));
    }
    const globalSlots = await Promise.all(Object.keys(expectedTypes).filter((k) => k.includes('{g}')).map(slot));
    expect(new Set(globalSlots).size).toBe(1);
    expect(await slot(`${p}:{e:${EVENT_A}}:ids`)).not.toBe(await slot(`${p}:{e:${EVENT_B}}:ids`));
  });

  it('rejects with SinkError when the index hash has the wrong type (WRONGTYPE)', async () => {
    const sink = newSink();
    await redis.set(sink.keys.ids(EVENT_A), 'not a hash');
    const attempt = sink.upsertRecords([makeRecord(EVENT_B, '1', BASE), makeRecord(EVENT_A, '2', BASE)]);
    await expect(attempt).rejects.toBeInstanceOf(SinkError);
    const error = (await attempt.catch((e: unknown) => e)) as SinkError;
    expect(error.code).toBe('ERR_SYNC_SINK');
    expect(error.message).toContain(EVENT_A);
    expect(error.message).toContain(sink.keys.ids(EVENT_A));
    expect(String((error.cause as Error).message)).toMatch(/WRONGTYPE/);
    await expect(sink.countRecords(EVENT_A)).rejects.toBeInstanceOf(SinkError);
    await expect(compare(sink, [{ id: '2', eventId: EVENT_A, modifiedAt: BASE }], 's')).rejects.toBeInstanceOf(SinkError);
  });

  it('rejects with SinkError when a record key has the wrong type', async () => {
    const sink = newSink();
    await redis.hset(sink.keys.record(EVENT_A, '5'), 'x', '1');
    await expect(sink.upsertRecords([makeRecord(EVENT_A, '5', BASE)])).rejects.toBeInstanceOf(SinkError);
    await expect(sink.getRecordJson(EVENT_A, '5')).rejects.toBeInstanceOf(SinkError);
  });

  it('refuses a client with its own keyPrefix, or no client', () => {
    const prefixed = new Redis(REDIS_URL, { lazyConnect: true, keyPrefix: 'other:' });
    try {
      expect(() => new RedisSink({ redis: prefixed })).toThrow(ConfigError);
    } finally {
      prefixed.disconnect();
    }
    expect(() => new RedisSink({ redis: {} as Redis })).toThrow(ConfigError);
  });

  it('wraps a closed client in SinkError', async () => {
    const closed = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const sink = new RedisSink({ redis: closed, keyPrefix: `${filePrefix}.closed` });
    closed.disconnect();
    await expect(sink.countRecords(EVENT_A)).rejects.toBeInstanceOf(SinkError);
    await expect(sink.upsertRecords([makeRecord(EVENT_A, '1', BASE)])).rejects.toBeInstanceOf(SinkError);
  });

  it('ping() rejects with SinkError when nothing listens (no retries)', async () => {
    const dead = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    try {
      const started = Date.now();
      await expect(new RedisSink({ redis: dead }).ping()).rejects.toBeInstanceOf(SinkError);
      expect(Date.now() - started).toBeLessThan(3500);
    } finally {
      dead.disconnect();
    }
  });

  it('ping() rejects with SinkError within pingTimeoutMs when the command waits in the offline queue', async () => {
    const waiting = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 200 });
    waiting.on('error', () => undefined);
    try {
      const started = Date.now();
      const error = await new RedisSink({ redis: waiting }).ping().catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(SinkError);
      expect(String((error as Error).message)).toMatch(/did not answer PING within 3000 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(2900);
      expect(elapsed).toBeLessThan(3500);
    } finally {
      waiting.disconnect();
    }
  });
});
