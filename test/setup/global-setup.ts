/**
 * Vitest global setup: chooses the Redis of the run (test-redis.ts), exposes its URL to every test
 * file and child process as `process.env.REDIS_URL` (and as `inject('redisUrl')`), and stops the
 * private redis-server, if one was started, when the run ends.
 */
import type { TestProject } from 'vitest/node';
import { chooseTestRedis } from './test-redis.js';

declare module 'vitest' {
  interface ProvidedContext {
    /** The URL of the Redis the run uses. */
    redisUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const chosen = await chooseTestRedis({ redisUrl: process.env.REDIS_URL });
  process.env.REDIS_URL = chosen.url;
  project.provide('redisUrl', chosen.url);
  if (chosen.origin === 'private') {
    process.stderr.write(`No Redis at redis://127.0.0.1:6379: the tests use a private redis-server at ${chosen.url} (stopped at the end).\n`);
  }
  return async () => {
    await chosen.server?.stop();
  };
}
