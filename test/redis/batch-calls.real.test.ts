/**
 * RedisSink's one-call batches on a real Redis: a batch of many events in one upsert call (its reply
 * stays within Lua's unpack limit), thousands of records of one event in one call (chunked unpack),
 * an index of the wrong type failing the call before anything is written, and `singleSlotScripts`
 * keeping one call per event without the `notesWrites` capability.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SinkError } from '../../src/errors.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { deletePrefix, makeRecord, REDIS_URL, randomPrefix, spyPipelineSizes } from './helpers.js';

const BASE = Date.UTC(2025, 0, 1);
const EVENT_A = '4433256000013547001';
const EVENT_B = '4433256000013547002';

describe('RedisSink batch calls (real Redis)', () => {
  let redis: Redis;
  const prefix = randomPrefix('batch-calls');
  let n = 0;
  const newSink = (options: { batchSize?: number; singleSlotScripts?: boolean } = {}): RedisSink => {
    n += 1;
    return new RedisSink({ redis, keyPrefix: `${prefix}.${n}`, ...options });
  };

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    for (let i = 1; i <= n; i++) await deletePrefix(redis, `${prefix}.${i}`);
    redis.disconnect();
  });

  it('5,000 records of 5,000 events with a seen scope: split into calls of at most 1,000 events, all noted', async () => {
    const sink = newSink({ batchSize: 5000 });
    const records = Array.from({ length: 5000 }, (_, i) => makeRecord(`44332560000${String(i).padStart(8, '0')}`, '1', BASE));
    const result = await sink.upsertRecords(records, { noteWrites: { seenScope: 's' } });
    expect(result.added).toBe(5000);
    expect(result.events).toHaveLength(5000);
    expect(result.events.every((e) => e.newlySeen === 1)).toBe(true);
    expect(await sink.state.countSeen('4433256000000004999', 's')).toBe(1);
    expect((await sink.state.listEventIds()).length).toBe(5000);
  });

  it('2,500 + 2,500 records of two events in one call, then again with new times: chunked unpack, exact counts', async () => {
    const sink = newSink({ batchSize: 5000 });
    const records = Array.from({ length: 5000 }, (_, i) => makeRecord(i < 2500 ? EVENT_A : EVENT_B, String(i), BASE));
    const first = await sink.upsertRecords(records, { noteWrites: { seenScope: 's' } });
    expect([first.added, first.events.map((e) => e.newlySeen)]).toEqual([5000, [2500, 2500]]);
    const again = await sink.upsertRecords(
      records.map((r) => ({ ...r, modifiedAt: r.modifiedAt + (Number(r.id) % 2) })),
      { noteWrites: { seenScope: 's' } },
    );
    expect([again.unchanged, again.events.map((e) => e.newlySeen)]).toEqual([5000, [0, 0]]);
    expect(await sink.readStamps(EVENT_A, ['1', '2'])).toEqual([BASE + 1, BASE]);
  });

  it('an index of another type fails the call before any record is written (first sync, several events)', async () => {
    const sink = newSink();
    await redis.set(sink.keys.ids(EVENT_B), 'not a hash');
    const attempt = sink.upsertRecords([makeRecord(EVENT_A, '1', BASE), makeRecord(EVENT_B, '2', BASE)], { noteWrites: { seenScope: 's' } });
    await expect(attempt).rejects.toBeInstanceOf(SinkError);
    expect(String(((await attempt.catch((e: unknown) => e)) as SinkError).cause)).toMatch(/WRONGTYPE/);
    expect(await redis.exists(sink.keys.record(EVENT_A, '1'), sink.keys.record(EVENT_B, '2'))).toBe(0);
    expect(await redis.exists(sink.keys.ids(EVENT_A))).toBe(0);
    expect(await sink.state.countSeen(EVENT_A, 's')).toBe(0);
  });

  for (const [what, damage] of [
    ['a seen set', (sink: RedisSink) => redis.set(sink.keys.seen(EVENT_B, 's'), 'not a set')],
    ['a record key', (sink: RedisSink) => redis.hset(sink.keys.record(EVENT_B, '2'), 'x', '1')],
  ] as const) {
    it(`${what} of another type fails the call before the bookkeeping too: no event registered, no ID marked seen`, async () => {
      const sink = newSink();
      await damage(sink);
      const attempt = sink.upsertRecords([makeRecord(EVENT_A, '1', BASE), makeRecord(EVENT_B, '2', BASE)], { noteWrites: { seenScope: 's' } });
      await expect(attempt).rejects.toBeInstanceOf(SinkError);
      expect(await sink.state.listEventIds()).toEqual([]);
      expect(await sink.state.countSeen(EVENT_A, 's')).toBe(0);
      expect(await redis.exists(sink.keys.record(EVENT_A, '1'))).toBe(0);
    });
  }

  it('an unusable seenScope is refused by its option name before anything is written', async () => {
    const sink = newSink();
    const attempt = sink.upsertRecords([makeRecord(EVENT_A, '1', BASE)], { noteWrites: { seenScope: 'a b' } });
    await expect(attempt).rejects.toThrow(/^seenScope "a b" must not contain/);
    expect(await sink.countRecords(EVENT_A)).toBe(0);
  });

  it('singleSlotScripts: one call per event, no notesWrites (noteWrites refused)', async () => {
    const sink = newSink({ singleSlotScripts: true });
    expect(sink.capabilities.notesWrites).toBe(false);
    const records = [makeRecord(EVENT_A, '1', BASE), makeRecord(EVENT_B, '2', BASE), makeRecord(EVENT_A, '3', BASE)];
    await expect(sink.upsertRecords(records, { noteWrites: {} })).rejects.toThrow(/notesWrites/);
    const { sizes, restore } = spyPipelineSizes(redis);
    try {
      const result = await sink.upsertRecords(records);
      expect(result.events.map((e) => [e.eventId, e.added.length])).toEqual([
        [EVENT_A, 2],
        [EVENT_B, 1],
      ]);
    } finally {
      restore();
    }
    expect(sizes).toEqual([2]); // one pipeline, one script call per event
    expect(() => new RedisSink({ redis, singleSlotScripts: 'yes' as unknown as boolean })).toThrow(/singleSlotScripts/);
  });
});
