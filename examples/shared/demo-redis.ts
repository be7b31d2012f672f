/**
 * Redis for `npm run demo` (examples/quickstart.ts):
 *
 * - `REDIS_URL` set: it is checked as the CLI checks it (`checkRedisUrl`: a malformed URL is refused
 *   with the CLI's message, exit code 2), then connected to; when nothing answers there, the demo
 *   stops with one line naming the host (exit code 1) — you asked for that Redis, so no stand-in.
 * - `REDIS_URL` unset (or empty, as the CLI reads it): the default `redis://127.0.0.1:6379`; when
 *   nothing answers there, an in-memory ioredis-mock stands in, so the demo runs on a machine without Redis.
 *
 * ioredis' own error events are caught (no "[ioredis] Unhandled error event" stack).
 */
import { Redis } from 'ioredis';
import { SinkError } from '../../src/errors.js';
import { DEFAULT_REDIS_URL } from '../../src/redis/connection-config.js';
import { checkRedisUrl, redactRedisUrl } from '../../src/redis/redis-url.js';

/** The Redis the demo uses, and how to name it. */
export interface DemoRedis {
  readonly redis: Redis;
  /** `Redis at <url>` (password blanked) or `ioredis-mock (in memory)`. */
  readonly label: string;
}

/**
 * Connects the demo's Redis (see the file comment).
 *
 * @param env - the environment (`REDIS_URL`).
 * @param options.defaultUrl - the URL tried without `REDIS_URL` (default `redis://127.0.0.1:6379`).
 * @param options.log - where the one-line note of the ioredis-mock fallback goes (default `console.log`).
 * @param options.connectTimeoutMs - how long a connection attempt may take. Unit: ms; default 2000.
 * @throws {@link ConfigError} (option `REDIS_URL`) when `REDIS_URL` is not a Redis URL.
 * @throws {@link SinkError} when `REDIS_URL` is set and no Redis answers there (the message names the URL, password blanked, and why).
 */
export async function connectDemoRedis(
  env: Readonly<Record<string, string | undefined>>,
  options: { readonly defaultUrl?: string; readonly log?: (line: string) => void; readonly connectTimeoutMs?: number } = {},
): Promise<DemoRedis> {
  const given = env.REDIS_URL?.trim() || undefined;
  const url = given === undefined ? (options.defaultUrl ?? DEFAULT_REDIS_URL) : checkRedisUrl(given);
  const shown = redactRedisUrl(url);
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: options.connectTimeoutMs ?? 2000 });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await redis.connect();
    await redis.ping();
    return { redis, label: `Redis at ${shown}` };
  } catch (error) {
    redis.disconnect();
    const reason = (lastError ?? (error instanceof Error ? error : new Error(String(error)))).message.split('\n')[0];
    if (given !== undefined) {
      throw new SinkError(`Cannot reach Redis at ${shown} (REDIS_URL): ${reason}; start Redis there, or unset REDIS_URL to run the demo on an in-memory ioredis-mock`, {
        cause: error,
      });
    }
    const { default: RedisMock } = await import('ioredis-mock');
    (options.log ?? console.log)(`No Redis answers at ${shown}: using ioredis-mock (in memory) instead.`);
    return { redis: new RedisMock() as unknown as Redis, label: 'ioredis-mock (in memory)' };
  }
}
