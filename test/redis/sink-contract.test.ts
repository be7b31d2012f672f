/**
 * RedisSink runs the exported record-sink contract suite (`@org/zoho-redis-sync/testing`) in every
 * documented layout, against the real Redis and ioredis-mock.
 */
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { describe, it } from 'vitest';
import type { RecordLayoutOptions } from '../../src/redis/layout.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { testSinkContract } from '../../src/testing.js';
import { KEY_LAYOUTS } from './layouts.js';
import { deletePrefix, REDIS_URL, randomPrefix } from './helpers.js';

const LAYOUTS: Record<string, RecordLayoutOptions | undefined> = {
  default: undefined,
  ...KEY_LAYOUTS,
  'hash records, hash index': { recordKey: '<prefix>:reg:{<eventId>}:<id>', indexKey: '<prefix>:reg:{<eventId>}:ids', encoding: 'hash' },
};

for (const [label, layout] of Object.entries(LAYOUTS)) {
  for (const backend of ['real Redis', 'ioredis-mock'] as const) {
    testSinkContract({
      name: `RedisSink, ${label} layout, ${backend}`,
      describe,
      it,
      create: async () => {
        const redis = backend === 'real Redis' ? new Redis(REDIS_URL, { maxRetriesPerRequest: 2 }) : (new RedisMock() as unknown as Redis);
        const prefix = randomPrefix('contract');
        const sink = new RedisSink({ redis, keyPrefix: prefix, layout, scanCount: 500 });
        return {
          sink,
          cleanup: async () => {
            await deletePrefix(redis, prefix);
            redis.disconnect();
          },
        };
      },
    });
  }
}
