/**
 * Test helpers for the Redis sink tests: a random key prefix per test file, client factories and
 * cleanup of the prefix's keys (never FLUSHALL / FLUSHDB: the Redis is shared).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { vi } from 'vitest';
import type { StampComparison, UpsertResult } from '../../src/adapters/sink.js';
import type { RecordStamp, SourceRecord } from '../../src/adapters/source.js';
import type { RedisSink } from '../../src/redis/redis-sink.js';

/** URL of the real Redis the tests use. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh client factory plus its name, as the shared suite receives it. */
export interface ClientFactory {
  /** Label used in `describe`. */
  readonly label: string;
  /** Creates a client; the suite closes it with `disconnect()`. */
  readonly create: () => Redis;
}

/** Real Redis at {@link REDIS_URL}. */
export const realRedis: ClientFactory = {
  label: 'real Redis',
  create: () => new Redis(REDIS_URL, { maxRetriesPerRequest: 2 }),
};

/** ioredis-mock (in-process; instances share data, so prefixes keep tests apart). */
export const mockRedis: ClientFactory = {
  label: 'ioredis-mock',
  create: () => new RedisMock(),
};

/** A random key prefix for one test file, e.g. `zrs-test-1a2b3c4d`. */
export function randomPrefix(tag = 'test'): string {
  return `zrs-${tag}-${randomBytes(4).toString('hex')}`;
}

/**
 * Records how many commands each pipeline of `redis` holds when it is sent, until `restore()`.
 * @returns `sizes` (filled as pipelines are sent) and `restore` (removes the spy).
 */
export function spyPipelineSizes(redis: Redis): { sizes: number[]; restore: () => void } {
  const sizes: number[] = [];
  const original = redis.pipeline.bind(redis);
  const spy = vi.spyOn(redis, 'pipeline').mockImplementation((commands?: unknown[][]) => {
    const pipeline = original(commands);
    const exec = pipeline.exec.bind(pipeline);
    pipeline.exec = ((callback) => {
      sizes.push(pipeline.length);
      return exec(callback);
    }) as typeof pipeline.exec;
    return pipeline;
  });
  return { sizes, restore: () => spy.mockRestore() };
}

/** Deletes every key that starts with `prefix` (SCAN + DEL, in steps). The prefix is random, so nothing else matches. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Builds a record of an event with some data. */
export function makeRecord(eventId: string, id: string, modifiedAt: number, data: Record<string, unknown> = {}): SourceRecord {
  return { id, eventId, modifiedAt, data: { ID: id, Event: { ID: eventId }, ...data } };
}

/**
 * Writes records the way the worker does: the state store notes them first (event registration,
 * seen scope), then the record sink upserts them.
 */
export async function write(sink: RedisSink, records: readonly SourceRecord[], seenScope?: string): Promise<UpsertResult> {
  await sink.state.noteWrites(records, seenScope);
  return sink.upsertRecords(records);
}

/** Compares stamps the way a reconciliation does: the sink's comparison and the seen marks, sent together. */
export async function compare(sink: RedisSink, stamps: readonly RecordStamp[], scope: string): Promise<StampComparison> {
  const [comparison] = await Promise.all([sink.compareStamps(stamps), sink.state.markSeen(stamps, scope)]);
  return comparison;
}
