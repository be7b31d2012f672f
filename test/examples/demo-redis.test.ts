/**
 * examples/shared/demo-redis.ts, in-process: which Redis `npm run demo` uses. Without REDIS_URL and
 * no Redis at the default it falls back to ioredis-mock (so `npm ci && npm run demo` works on a
 * machine without Redis); an explicit REDIS_URL is checked and must answer.
 */
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigError, SinkError } from '../../src/errors.js';
import { connectDemoRedis } from '../../examples/shared/demo-redis.js';
import { REDIS_URL } from '../redis/helpers.js';

/** A TCP port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connectDemoRedis (npm run demo)', () => {
  it('without REDIS_URL and no Redis at the default: ioredis-mock, with a one-line note', async () => {
    const port = await freePort();
    const notes: string[] = [];
    for (const env of [{}, { REDIS_URL: '' }, { REDIS_URL: '  ' }]) {
      const { redis, label } = await connectDemoRedis(env, { defaultUrl: `redis://127.0.0.1:${port}`, log: (line) => notes.push(line) });
      try {
        expect(label).toBe('ioredis-mock (in memory)');
        expect(await redis.set('demo-redis-test', 'x')).toBe('OK');
        expect(await redis.get('demo-redis-test')).toBe('x');
      } finally {
        redis.disconnect();
      }
    }
    expect(notes).toEqual(Array(3).fill(`No Redis answers at redis://127.0.0.1:${port}: using ioredis-mock (in memory) instead.`));
  });

  it('without REDIS_URL and a Redis at the default: that Redis', async () => {
    const { redis, label } = await connectDemoRedis({}, { defaultUrl: REDIS_URL, log: () => expect.fail('no fallback expected') });
    try {
      expect(label).toBe(`Redis at ${REDIS_URL}`);
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('an explicit REDIS_URL: malformed is a ConfigError naming REDIS_URL; unreachable is a SinkError naming the host; neither falls back', async () => {
    const log = (): void => expect.fail('no fallback expected');
    const malformed = await connectDemoRedis({ REDIS_URL: 'http://127.0.0.1:6379' }, { log }).catch((e: unknown) => e);
    expect(malformed).toBeInstanceOf(ConfigError);
    expect((malformed as ConfigError).option).toBe('REDIS_URL');
    expect((malformed as ConfigError).code).toBe('ERR_SYNC_INVALID_OPTION');
    const port = await freePort();
    const down = await connectDemoRedis({ REDIS_URL: `redis://user:hunter2@127.0.0.1:${port}` }, { log }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(SinkError);
    expect((down as SinkError).message).toBe(
      `Cannot reach Redis at redis://[redacted]@127.0.0.1:${port} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}; start Redis there, or unset REDIS_URL to run the demo on an in-memory ioredis-mock`,
    );
  });
});
