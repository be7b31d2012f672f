/**
 * Ordered writes on the real Redis (issue 14 item 4): the upsert script refuses a version older
 * than the held one (under every reading of a DST-ambiguous time), a delete with `deletedAt` leaves
 * a tombstone with a TTL that refuses the deleted version and older ones, a newer version (a
 * restore) wins, and every tombstone key lives in the slot of the record and index it guards.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordSink } from '../../src/adapters/sink.js';
import type { SourceRecord } from '../../src/adapters/source.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { upsertInOrder } from '../../src/worker/record-ops.js';
import { ZohoDateTimeCodec } from '../../src/zoho/date-time.js';
import { deletePrefix, makeRecord, randomPrefix, realRedis } from './helpers.js';

const EVENT = '4433256000013547003';
const BASE = Date.UTC(2025, 0, 1);

/** The Redis Cluster hash tag of a key (text between its first `{` and the next `}`): keys with one tag share a slot. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('ordered writes (real Redis)', () => {
  let redis: Redis;
  const prefixes: string[] = [];
  const sinkWith = (options: Partial<ConstructorParameters<typeof RedisSink>[0]> = {}): RedisSink => {
    const keyPrefix = randomPrefix('order');
    prefixes.push(keyPrefix);
    return new RedisSink({ redis, keyPrefix, ...options });
  };

  beforeAll(() => {
    redis = realRedis.create();
  });
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(redis, p);
    redis.disconnect();
  });

  it('refuses a stale write, counts it per event and in total, and leaves the newer version byte for byte', async () => {
    const sink = sinkWith();
    await sink.upsertRecords([makeRecord(EVENT, '1', BASE + 2000, { Seats: 5 })]);
    const before = await redis.get(sink.keys.record(EVENT, '1'));
    const result = await sink.upsertRecords([makeRecord(EVENT, '1', BASE + 1000, { Seats: 1 }), makeRecord(EVENT, '2', BASE)]);
    expect(result).toEqual({
      added: 1,
      updated: 0,
      unchanged: 0,
      refused: 1,
      events: [{ eventId: EVENT, added: ['2'], updated: [], unchanged: 0, refused: ['1'] }],
    });
    expect(await redis.get(sink.keys.record(EVENT, '1'))).toBe(before);
    expect(await redis.hget(sink.keys.ids(EVENT), '1')).toBe(String(BASE + 2000));
    // Equal timestamps, other content (Zoho has second resolution): the later write wins, as before.
    const same = await sink.upsertRecords([makeRecord(EVENT, '1', BASE + 2000, { Seats: 6 })]);
    expect([same.updated, same.refused]).toEqual([1, undefined]);
    expect(JSON.parse((await redis.get(sink.keys.record(EVENT, '1')))!).Seats).toBe(6);
  });

  it('DST fall-back: a later edit with an earlier-looking ambiguous string is written; older under every reading is refused', async () => {
    const sink = sinkWith();
    const codec = new ZohoDateTimeCodec('MM-dd-yyyy', 'America/New_York');
    const at = (text: string, seats: number): SourceRecord => {
      const [earliest, latest] = codec.parseInterval(text)!;
      return { ...makeRecord(EVENT, '1', earliest, { Seats: seats, Modified_Time: text }), ...(latest > earliest ? { modifiedAtLatest: latest } : {}) };
    };
    // 2025-11-02: the first pass of 01:xx is EDT, the second EST. Edit 1 at 01:50 EDT (05:50Z)...
    expect((await sink.upsertRecords([at('11-02-2025 01:50:00', 1)])).added).toBe(1);
    expect(await redis.hget(sink.keys.ids(EVENT), '1')).toBe(String(Date.UTC(2025, 10, 2, 5, 50)));
    // ...edit 2 at 01:10 EST (06:10Z): its string reads 05:10Z first, but 06:10Z is not older than 05:50Z.
    const later = await sink.upsertRecords([at('11-02-2025 01:10:00', 2)]);
    expect([later.updated, later.refused]).toEqual([1, undefined]);
    expect(JSON.parse((await redis.get(sink.keys.record(EVENT, '1')))!).Seats).toBe(2);
    // The stored stamp is the earliest reading (05:10Z); an unambiguous 00:40 EDT (04:40Z) is older than it.
    const stale = await sink.upsertRecords([at('11-02-2025 00:40:00', 3)]);
    expect(stale.refused).toBe(1);
    // An ambiguous write older under both readings (01:05 → [05:05Z, 06:05Z]) against a held 02:30 EST (07:30Z): refused.
    await sink.upsertRecords([at('11-02-2025 02:30:00', 4)]);
    expect((await sink.upsertRecords([at('11-02-2025 01:05:00', 5)])).refused).toBe(1);
    expect(JSON.parse((await redis.get(sink.keys.record(EVENT, '1')))!).Seats).toBe(4);
  });

  it('a delete leaves a tombstone (stamp, TTL) that refuses the old version and lets a restore win', async () => {
    const sink = sinkWith();
    await sink.upsertRecords([makeRecord(EVENT, '1', BASE)]);
    const deletedAt = BASE + 60_000;
    expect(await sink.removeRecords(EVENT, ['1', '9'], { deletedAt })).toEqual(['1']);
    const tomb = sink.layout.tombstoneKey(EVENT, '1');
    expect(tomb).toBe(`${sink.keys.prefix}:{e:${EVENT}}:tomb:1`);
    expect(await redis.get(tomb)).toBe(String(deletedAt));
    const ttl = await redis.pttl(tomb);
    expect(ttl).toBeGreaterThan(86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    // A record never held gets a tombstone too (a sync may have listed it before the delete).
    expect(await redis.get(sink.layout.tombstoneKey(EVENT, '9'))).toBe(String(deletedAt));
    const resurrect = await sink.upsertRecords([makeRecord(EVENT, '1', BASE), makeRecord(EVENT, '9', deletedAt)]);
    expect([resurrect.added, resurrect.refused]).toEqual([0, 2]);
    expect(await sink.countRecords(EVENT)).toBe(0);
    // A newer version (a Zoho restore) wins and clears the tombstone.
    const restore = await sink.upsertRecords([makeRecord(EVENT, '1', deletedAt + 1000)]);
    expect([restore.added, restore.refused]).toEqual([1, undefined]);
    expect(await redis.exists(tomb)).toBe(0);
    // Deleting again keeps the larger stamp: the held time when it is newer than deletedAt.
    await sink.removeRecords(EVENT, ['1'], { deletedAt: BASE });
    expect(await redis.get(tomb)).toBe(String(deletedAt + 1000));
  });

  it('tombstones expire after tombstoneTtlMs: the old version can then be written again', async () => {
    const sink = sinkWith({ tombstoneTtlMs: 300 });
    await sink.upsertRecords([makeRecord(EVENT, '1', BASE)]);
    await sink.removeRecords(EVENT, ['1'], { deletedAt: BASE + 1000 });
    expect((await sink.upsertRecords([makeRecord(EVENT, '1', BASE)])).refused).toBe(1);
    const tomb = sink.layout.tombstoneKey(EVENT, '1');
    const deadline = Date.now() + 5000;
    while ((await redis.exists(tomb)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await redis.exists(tomb)).toBe(0);
    const again = await sink.upsertRecords([makeRecord(EVENT, '1', BASE)]);
    expect([again.added, again.refused]).toEqual([1, undefined]);
    // tombstoneTtlMs 0: no tombstones at all.
    const none = sinkWith({ tombstoneTtlMs: 0 });
    await none.upsertRecords([makeRecord(EVENT, '1', BASE)]);
    await none.removeRecords(EVENT, ['1'], { deletedAt: BASE + 1000 });
    expect(await redis.exists(none.layout.tombstoneKey(EVENT, '1'))).toBe(0);
    expect(() => sinkWith({ tombstoneTtlMs: -1 })).toThrow(/tombstoneTtlMs/);
  });

  it.each([
    ['hash encoding, HASH index', { encoding: 'hash' as const }],
    ['hash encoding, SET index with a stamp field', { recordKey: '<prefix>:reg:{<eventId>}:<id>', indexKey: '<prefix>:reg:{<eventId>}:all', encoding: 'hash' as const, index: 'set' as const, stampField: '_ts' }],
    ['JSON, custom templates', { recordKey: '<prefix>:app:{ev:<eventId>}:r:<id>', indexKey: '<prefix>:app:{ev:<eventId>}:index' }],
  ])('orders writes in every layout (%s), tombstones in the slot of their record and index', async (_label, layout) => {
    const keyPrefix = randomPrefix('order');
    prefixes.push(keyPrefix);
    const sink = new RedisSink({ redis, keyPrefix, layout });
    const event = EVENT;
    await sink.upsertRecords([makeRecord(event, '1', BASE + 2000, { Seats: 5 })]);
    expect((await sink.upsertRecords([makeRecord(event, '1', BASE + 1000, { Seats: 1 })])).refused).toBe(1);
    expect(await sink.readStamps(event, ['1'])).toEqual([BASE + 2000]);
    await sink.removeRecords(event, ['1'], { deletedAt: BASE + 3000 });
    expect((await sink.upsertRecords([makeRecord(event, '1', BASE + 3000)])).refused).toBe(1);
    expect((await sink.upsertRecords([makeRecord(event, '1', BASE + 4000)])).added).toBe(1);
    const tag = hashTag(sink.layout.indexKey(event));
    expect(tag).toContain(event);
    expect(hashTag(sink.layout.recordKey(event, '1'))).toBe(tag);
    expect(hashTag(sink.layout.tombstoneKey(event, '1'))).toBe(tag);
  });

  it('a sink without the ordering capability: the core drops older versions itself (check then write)', async () => {
    const inner = sinkWith();
    const plain: RecordSink = {
      name: 'plain',
      capabilities: { compareStamps: false, locateRecord: false, exactRoundTrip: true },
      ping: () => inner.ping(),
      // A plain overwrite: what a sink without ordering does. Simulated by clearing the held stamp first.
      upsertRecords: async (records) => {
        for (const r of records) await redis.hdel(inner.keys.ids(r.eventId), r.id);
        return inner.upsertRecords(records);
      },
      removeRecords: (e, ids) => inner.removeRecords(e, ids),
      countRecords: (e) => inner.countRecords(e),
      scanRecordIds: (e) => inner.scanRecordIds(e),
      readStamps: (e, ids) => inner.readStamps(e, ids),
      getRecord: (e, id) => inner.getRecord(e, id),
    };
    await plain.upsertRecords([makeRecord(EVENT, '1', BASE + 2000, { Seats: 5 })]);
    // Without the fallback the plain sink lets the older version win.
    const result = await upsertInOrder(plain, [makeRecord(EVENT, '1', BASE + 1000, { Seats: 1 }), makeRecord(EVENT, '2', BASE)]);
    expect(result).toEqual({
      added: 1,
      updated: 0,
      unchanged: 0,
      refused: 1,
      events: [{ eventId: EVENT, added: ['2'], updated: [], unchanged: 0, refused: ['1'] }],
    });
    expect((await inner.getRecord(EVENT, '1'))?.Seats).toBe(5);
    const ambiguous = await upsertInOrder(plain, [{ ...makeRecord(EVENT, '1', BASE, { Seats: 7 }), modifiedAtLatest: BASE + 2000 }]);
    expect([ambiguous.updated, ambiguous.refused]).toEqual([1, undefined]);
  });
});
