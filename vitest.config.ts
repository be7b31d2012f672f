import { defineConfig } from 'vitest/config';
import { testRedisPreflight } from './test/setup/test-redis.js';

export default defineConfig(async () => {
  // Without a Redis to use or start, say how to get one before anything else is printed.
  const problem = await testRedisPreflight({ redisUrl: process.env.REDIS_URL });
  if (problem !== undefined) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
  return {
    test: {
      include: ['test/**/*.test.ts'],
      // REDIS_URL, or redis://127.0.0.1:6379, or a private redis-server started for the run.
      globalSetup: ['./test/setup/global-setup.ts'],
      // Tests share one real Redis; each file uses its own key prefix, but files run one at a time
      // so that timing-sensitive tests are not starved on this 2-core machine.
      fileParallelism: false,
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
