/**
 * Which Redis `npm test` uses, decided once before any test file runs (see global-setup.ts):
 *
 * 1. `REDIS_URL` set: that Redis, which must answer PING (if it does not, the run stops with a
 *    message naming it: a Redis you named is never silently replaced by another).
 * 2. Otherwise `redis://127.0.0.1:6379` if it answers.
 * 3. Otherwise a private `redis-server` on a free port (no persistence), stopped after the run.
 * 4. Where none of that is possible, the run stops with {@link noRedisMessage}.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from '../helpers/redis-server.js';

/** Where the tests look first when `REDIS_URL` is not set. */
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** `url` with any password blanked. */
export function blankPassword(url: string): string {
  return url.replace(/\/\/([^/@]*)@/, '//[redacted]@');
}

/** The message printed first when no Redis can be had. */
export function noRedisMessage(defaultUrl: string, reason: string): string {
  return (
    `npm test needs Redis: none answers at ${defaultUrl} and no private redis-server could be started (${reason}). ` +
    'Install Redis 7 (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) so the tests can start their own, ' +
    'or point REDIS_URL at one that runs (REDIS_URL=redis://host:port/db npm test).'
  );
}

/** The message printed first when `REDIS_URL` names a Redis that does not answer. */
export function deadRedisUrlMessage(url: string, reason: string): string {
  return (
    `npm test: REDIS_URL=${blankPassword(url)} does not answer (${reason}). ` +
    'Start that Redis, or unset REDIS_URL to let the tests use redis://127.0.0.1:6379 or start a private redis-server.'
  );
}

/**
 * Whether the Redis at `url` (credentials and DB included) answers PING within `timeoutMs`.
 * Resolves `undefined` when it does, else the reason (e.g. `connect ECONNREFUSED 127.0.0.1:6379`).
 */
export async function redisProblem(url: string, timeoutMs = 1500): Promise<string | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: Error | undefined; // the socket's error (ECONNREFUSED …); connect() only says "Connection is closed."
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await redis.connect();
    const pong = await redis.ping();
    return pong === 'PONG' ? undefined : `PING answered ${pong}`;
  } catch (error) {
    return (lastError ?? (error instanceof Error ? error : new Error(String(error)))).message;
  } finally {
    redis.disconnect();
  }
}

/** The Redis chosen for a test run. */
export interface TestRedis {
  /** The URL tests connect to (what `process.env.REDIS_URL` is set to). */
  readonly url: string;
  /** Where it came from. */
  readonly origin: 'REDIS_URL' | 'default' | 'private';
  /** The private server, when one was started (stop it after the run). */
  readonly server: RedisServer | undefined;
}

/** Thrown when no Redis can be had; its message is meant to be the first line the user reads. */
export class NoTestRedisError extends Error {
  override readonly name = 'NoTestRedisError';
}

/** Options of {@link chooseTestRedis} (tests of the setup itself override them). */
export interface ChooseTestRedisOptions {
  /** `process.env.REDIS_URL`. */
  readonly redisUrl: string | undefined;
  /** Default {@link DEFAULT_TEST_REDIS_URL}. */
  readonly defaultUrl?: string;
  /** The redis-server executable; default `redis-server` on PATH. */
  readonly binary?: string;
}

/**
 * Picks the Redis for a test run (see the module comment).
 *
 * @throws {@link NoTestRedisError} when `REDIS_URL` names a Redis that does not answer, or when none
 *   answers at the default URL and redis-server cannot be started.
 */
export async function chooseTestRedis(options: ChooseTestRedisOptions): Promise<TestRedis> {
  const defaultUrl = options.defaultUrl ?? DEFAULT_TEST_REDIS_URL;
  if (options.redisUrl) {
    const problem = await redisProblem(options.redisUrl);
    if (problem !== undefined) throw new NoTestRedisError(deadRedisUrlMessage(options.redisUrl, problem));
    return { url: options.redisUrl, origin: 'REDIS_URL', server: undefined };
  }
  if ((await redisProblem(defaultUrl)) === undefined) return { url: defaultUrl, origin: 'default', server: undefined };
  try {
    const server = await startRedisServer({ binary: options.binary });
    return { url: server.url, origin: 'private', server };
  } catch (error) {
    throw new NoTestRedisError(noRedisMessage(defaultUrl, error instanceof Error ? error.message : String(error)));
  }
}

/**
 * The same decision as {@link chooseTestRedis} without starting anything: the message to print
 * (and stop with) when the run cannot get a Redis, else `undefined`. Runs while the test config
 * loads, so that this message is the first line of the run's output.
 */
export async function testRedisPreflight(options: ChooseTestRedisOptions): Promise<string | undefined> {
  const defaultUrl = options.defaultUrl ?? DEFAULT_TEST_REDIS_URL;
  if (options.redisUrl) {
    const problem = await redisProblem(options.redisUrl);
    return problem === undefined ? undefined : deadRedisUrlMessage(options.redisUrl, problem);
  }
  if ((await redisProblem(defaultUrl)) === undefined) return undefined;
  const binary = options.binary ?? 'redis-server';
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (probe.error) return noRedisMessage(defaultUrl, `${binary}: ${probe.error.message}`);
  if (probe.status !== 0) return noRedisMessage(defaultUrl, `${binary} --version exited ${probe.status}`);
  return undefined;
}
