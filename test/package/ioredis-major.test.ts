/**
 * Which ioredis major the suite ran on: the one in node_modules must be inside the peer range, and
 * the one `ZRS_IOREDIS_MAJOR` names when set (`npm run test:ioredis6` sets 6), so a CI log that
 * claims a run on ioredis 6 cannot have run on 5.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { REDIS_URL } from '../redis/helpers.js';

const require = createRequire(import.meta.url);
const installed = (require('ioredis/package.json') as { version: string }).version;
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { peerDependencies: Record<string, string> };

describe('ioredis under test', () => {
  it('is a major of the peer range (and the one ZRS_IOREDIS_MAJOR names)', async () => {
    const major = Number(installed.split('.')[0]);
    expect(pkg.peerDependencies.ioredis).toBe('^5.11.1 || ^6.0.0');
    expect([5, 6]).toContain(major);
    if (process.env.ZRS_IOREDIS_MAJOR) expect(major).toBe(Number(process.env.ZRS_IOREDIS_MAJOR));
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});
