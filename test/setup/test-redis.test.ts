/**
 * The test run's Redis (issue 12 item 22): REDIS_URL if it answers, else redis://127.0.0.1:6379,
 * else a private redis-server on a free port (no persistence) stopped afterwards; where none of
 * that is possible, the first line says how to get Redis. Also the reusable throwaway server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { freePort, pingPort, type RedisServer, startRedisServer } from '../helpers/redis-server.js';
import { chooseTestRedis, NoTestRedisError, testRedisPreflight } from './test-redis.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the Redis of a test run', () => {
  it('is exposed to test files as process.env.REDIS_URL and inject("redisUrl"), and answers', async () => {
    expect(process.env.REDIS_URL).toBe(inject('redisUrl'));
    const port = Number(new URL(process.env.REDIS_URL!).port || 6379);
    expect(await pingPort(port, new URL(process.env.REDIS_URL!).hostname)).toBe(true);
  });

  it('starts a private redis-server on a free port, without persistence, when none answers at the default URL; stop() ends it', async () => {
    const deadPort = await freePort();
    const chosen = await chooseTestRedis({ redisUrl: undefined, defaultUrl: `redis://127.0.0.1:${deadPort}` });
    cleanups.push(async () => chosen.server?.stop());
    expect(chosen.origin).toBe('private');
    expect(chosen.server).toBeDefined();
    const server = chosen.server!;
    expect(chosen.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.port).not.toBe(6379);
    const redis = new Redis(chosen.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.config('GET', 'save')).toEqual(['save', '']);
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
      expect(await redis.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    } finally {
      redis.disconnect();
    }
    await server.stop();
    expect(server.exited).toBe(true);
    expect(await pingPort(server.port)).toBe(false);
    expect(existsSync(server.dir)).toBe(false);
  });

  it('uses REDIS_URL when it answers, and the default URL when that answers; starts nothing', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const named = await chooseTestRedis({ redisUrl: `${server.url}/3`, defaultUrl: 'redis://127.0.0.1:1' });
    expect(named).toEqual({ url: `${server.url}/3`, origin: 'REDIS_URL', server: undefined });
    const byDefault = await chooseTestRedis({ redisUrl: undefined, defaultUrl: server.url });
    expect(byDefault).toEqual({ url: server.url, origin: 'default', server: undefined });
  });

  it('a REDIS_URL that does not answer stops the run with a message naming it (password blanked), not a silent substitute', async () => {
    const deadPort = await freePort();
    const url = `redis://user:s3cret@127.0.0.1:${deadPort}/3`;
    const error = await chooseTestRedis({ redisUrl: url }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoTestRedisError);
    expect((error as Error).message).toBe(
      `npm test: REDIS_URL=redis://[redacted]@127.0.0.1:${deadPort}/3 does not answer (connect ECONNREFUSED 127.0.0.1:${deadPort}). ` +
        'Start that Redis, or unset REDIS_URL to let the tests use redis://127.0.0.1:6379 or start a private redis-server.',
    );
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('with no Redis answering and no redis-server to start, the message says how to get Redis', async () => {
    const deadPort = await freePort();
    const options = { redisUrl: undefined, defaultUrl: `redis://127.0.0.1:${deadPort}`, binary: '/nonexistent/redis-server' };
    const preflight = await testRedisPreflight(options);
    expect(preflight).toMatch(
      new RegExp(`^npm test needs Redis: none answers at redis://127\\.0\\.0\\.1:${deadPort} and no private redis-server could be started \\(/nonexistent/redis-server: .*ENOENT.*\\)\\. Install Redis 7 \\(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis\\)`),
    );
    const error = await chooseTestRedis(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoTestRedisError);
    expect((error as Error).message).toContain('Install Redis 7');
    // With a Redis to use or a redis-server to start, the preflight has nothing to say.
    expect(await testRedisPreflight({ redisUrl: undefined, defaultUrl: `redis://127.0.0.1:${deadPort}` })).toBeUndefined();
  });

  it('the first line of a run that cannot get Redis is the message (vitest started as npm test starts it)', () => {
    const deadPort = String(40_000 + Math.floor(Math.random() * 1000));
    const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/logger.test.ts'], {
      cwd: root,
      env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${deadPort}`, NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    const firstLine = `${run.stderr}${run.stdout}`.split('\n')[0];
    expect(firstLine).toMatch(new RegExp(`^npm test: REDIS_URL=redis://127\\.0\\.0\\.1:${deadPort} does not answer \\(connect ECONNREFUSED`));
  });
});

describe('startRedisServer (throwaway servers for tests)', () => {
  let server: RedisServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('kill() drops it at once, restart() brings it back on the same port (empty: no persistence)', async () => {
    server = await startRedisServer();
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    try {
      await redis.set('k', 'v');
      await server.kill();
      expect(server.exited).toBe(true);
      expect(await pingPort(server.port)).toBe(false);
      await server.restart();
      expect(await pingPort(server.port)).toBe(true);
      expect(await redis.get('k')).toBeNull();
    } finally {
      redis.disconnect();
    }
  });

  it('passes extra arguments through (e.g. maxmemory) and reports a server that cannot start with its output', async () => {
    server = await startRedisServer({ args: ['--maxmemory', '12mb'] });
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.config('GET', 'maxmemory')).toEqual(['maxmemory', String(12 * 1024 * 1024)]);
    } finally {
      redis.disconnect();
    }
    await expect(startRedisServer({ args: ['--no-such-option', 'x'], startTimeoutMs: 5000 })).rejects.toThrow(/exited .*no-such-option/is);
    await expect(startRedisServer({ port: server.port })).rejects.toThrow(/Address already in use/i);
  });
});
