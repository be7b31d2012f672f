/**
 * How the sink meets a client that is not connected (yet, or any more), on the real Redis: a
 * `lazyConnect` client or one with `enableOfflineQueue: false` is waited for, errors name the Redis
 * host and the cause, every call has a deadline, and `REDIS_URL` is checked before ioredis sees it.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, SinkError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { describeRedisEndpoint } from '../../src/redis/commands.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { checkRedisUrl } from '../../src/redis/redis-url.js';
import { configFromEnv } from '../../src/worker/options.js';
import { createHarness } from '../helpers/harness.js';
import { freePort } from '../helpers/redis-server.js';
import { deletePrefix, makeRecord, REDIS_URL, randomPrefix } from './helpers.js';

const EVENT = '4433256000013547003';
const filePrefix = randomPrefix('conn');
const clients: Redis[] = [];
function client(options: RedisOptions, url: string = REDIS_URL): Redis {
  const redis = new Redis(url, options);
  redis.on('error', () => undefined);
  clients.push(redis);
  return redis;
}

afterAll(async () => {
  const cleaner = new Redis(REDIS_URL);
  await deletePrefix(cleaner, filePrefix);
  cleaner.disconnect();
  for (const c of clients) c.disconnect();
});

describe('a client that is still connecting is waited for', () => {
  it('ping() connects a lazyConnect client with enableOfflineQueue: false, then writes work', async () => {
    const redis = client({ lazyConnect: true, enableOfflineQueue: false });
    expect(redis.status).toBe('wait');
    const sink = new RedisSink({ redis, keyPrefix: `${filePrefix}.lazy` });
    await sink.ping();
    expect(redis.status).toBe('ready');
    await sink.upsertRecords([makeRecord(EVENT, '1', 1000)]);
    expect(await sink.countRecords(EVENT)).toBe(1);
  });

  it('start() waits for a client created a moment ago with enableOfflineQueue: false, and syncs', async () => {
    const h = await createHarness({ dataset: { events: 2, registrations: 30, seed: 71 } });
    try {
      const redis = client({ enableOfflineQueue: false });
      expect(redis.status).not.toBe('ready');
      const sink = new RedisSink({ redis, keyPrefix: `${filePrefix}.start` });
      const { SyncWorker } = await import('../../src/worker/sync-worker.js');
      const worker = new SyncWorker({ source: h.source(), sink, logger: silentLogger, enableAutoSync: false });
      await worker.start();
      const result = await worker.performFullSync();
      expect(result.added).toBe(30);
      await worker.stop();
    } finally {
      await h.close();
    }
  });

  it('ping() on a client that was closed says so instead of waiting', async () => {
    const redis = client({});
    await redis.ping();
    redis.disconnect();
    const error = await new RedisSink({ redis }).ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkError);
    expect(String((error as Error).message)).toMatch(/is closed/);
  });
});

describe('errors name the Redis host and the cause; every call has a deadline', () => {
  it('a refused connection: the error names host:port and ECONNREFUSED', async () => {
    const port = await freePort();
    const redis = client({ maxRetriesPerRequest: 1, retryStrategy: () => 50 }, `redis://127.0.0.1:${port}`);
    const sink = new RedisSink({ redis, keyPrefix: `${filePrefix}.refused` });
    expect(sink.endpoint).toBe(`127.0.0.1:${port}`);
    const error = await sink.countRecords(EVENT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkError);
    expect(String((error as Error).message)).toContain(`127.0.0.1:${port}`);
    expect(String((error as Error).message)).toMatch(/ECONNREFUSED/);
  });

  it('with maxRetriesPerRequest: null a call to a Redis that is down rejects at commandTimeoutMs, naming host and cause', async () => {
    const port = await freePort();
    const redis = client({ maxRetriesPerRequest: null, retryStrategy: () => 50 }, `redis://127.0.0.1:${port}`);
    const sink = new RedisSink({ redis, keyPrefix: `${filePrefix}.hang`, commandTimeoutMs: 300 });
    for (const call of [() => sink.countRecords(EVENT), () => sink.upsertRecords([makeRecord(EVENT, '1', 1)]), () => sink.state.getSyncMeta()]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SinkError);
      expect(String((error as Error).message)).toMatch(new RegExp(`Redis at 127\\.0\\.0\\.1:${port} did not answer .* within 300 ms \\(last connection error: connect ECONNREFUSED`));
    }
  });

  it('describes standalone, database and socket endpoints without a password', () => {
    const lazy = { lazyConnect: true };
    expect(describeRedisEndpoint(client(lazy, 'redis://:s3cret@10.0.0.5:6380/3'))).toBe('10.0.0.5:6380/3');
    expect(describeRedisEndpoint(client({ ...lazy, path: '/run/redis.sock' }))).toBe('/run/redis.sock');
  });

  it('rejects an unknown or out-of-range commandTimeoutMs', () => {
    const redis = client({ lazyConnect: true });
    expect(() => new RedisSink({ redis, commandTimeoutMs: 0 })).toThrow(ConfigError);
  });
});

describe('REDIS_URL is checked', () => {
  it('accepts redis://, rediss:// and socket paths', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/3', 'rediss://user:pw@cache.example.com:6380', 'redis://localhost', '/var/run/redis.sock']) {
      expect(checkRedisUrl(url)).toBe(url);
    }
    expect(configFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379/3' })).toEqual({});
  });

  it('rejects a URL without a scheme or with http://, naming the expected form and hiding the password', () => {
    for (const [url, why] of [
      ['127.0.0.1:6379', 'it has no scheme'],
      ['localhost', 'it has no scheme'],
      ['http://127.0.0.1:6379', 'the scheme is http://'],
      ['https://:hunter2@cache:6379', 'the scheme is https://'],
      ['redis://127.0.0.1:6379/cache', 'is not a database number'],
    ] as const) {
      let error: unknown;
      try {
        configFromEnv({ REDIS_URL: url });
      } catch (e) {
        error = e;
      }
      expect(error, url).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).option).toBe('REDIS_URL');
      expect((error as Error).message).toContain(why);
      expect((error as Error).message).toContain('expected redis://[[username]:password@]host[:port][/db]');
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
