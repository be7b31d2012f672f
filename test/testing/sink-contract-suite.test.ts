/**
 * The contract suite catches broken sinks: its tests are collected with a stand-in runner (the
 * suite takes `describe`/`it` as arguments) and run against sinks that lie in one way each.
 */
import type { Redis } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { describe, expect, it } from 'vitest';
import type { RecordSink } from '../../src/adapters/sink.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { testSinkContract } from '../../src/testing.js';
import { randomPrefix } from '../redis/helpers.js';

/** Runs the suite on sinks made by `wrap` and returns the names of the tests that failed. */
async function failingTests(wrap: (sink: RedisSink) => RecordSink): Promise<string[]> {
  const tests: { name: string; body: () => Promise<void> }[] = [];
  testSinkContract({
    name: 'collected',
    describe: (_name, body) => body(),
    it: (name, body) => tests.push({ name, body }),
    create: async () => wrap(new RedisSink({ redis: new RedisMock() as unknown as Redis, keyPrefix: randomPrefix('suite') })),
  });
  const failed: string[] = [];
  for (const t of tests) await t.body().catch(() => failed.push(t.name));
  expect(tests.length).toBe(12);
  return failed;
}

function delegate(sink: RedisSink, overrides: Partial<RecordSink>): RecordSink {
  const base: RecordSink = {
    name: sink.name,
    capabilities: sink.capabilities,
    ping: () => sink.ping(),
    state: sink.state,
    upsertRecords: (r, o) => sink.upsertRecords(r, o),
    removeRecords: (e, ids, o) => sink.removeRecords(e, ids, o),
    countRecords: (e) => sink.countRecords(e),
    scanRecordIds: (e) => sink.scanRecordIds(e),
    readStamps: (e, ids) => sink.readStamps(e, ids),
    getRecord: (e, id) => sink.getRecord(e, id),
    compareStamps: (s) => sink.compareStamps(s),
    locateRecord: (id, e) => sink.locateRecord(id, e),
  };
  return { ...base, ...overrides };
}

describe('testSinkContract', () => {
  it('passes an honest sink', async () => {
    expect(await failingTests((s) => delegate(s, {}))).toEqual([]);
  }, 60_000);

  it('fails a sink whose counts call unchanged records updated', async () => {
    const failed = await failingTests((s) =>
      delegate(s, {
        upsertRecords: async (records) => {
          const r = await s.upsertRecords(records);
          return { ...r, updated: r.updated + r.unchanged, unchanged: 0 };
        },
      }),
    );
    expect(failed).toContain('counts added, updated and unchanged truthfully, per event in order of first appearance');
  }, 60_000);

  it('tests the sink itself when it has a `sink` property of its own (a wrapper), and fails its wrong counts', async () => {
    const failed = await failingTests((s) => ({ ...delegate(s, { countRecords: async () => 0 }), sink: s }) as RecordSink);
    expect(failed).toContain('removes records and reports only the IDs it held');
  }, 60_000);

  it('fails a sink that declares notesWrites without a state store', async () => {
    const failed = await failingTests((s) => ({ ...delegate(s, {}), state: undefined }));
    expect(failed).toContain('declares a name and its capabilities, and answers ping');
  }, 60_000);

  it('fails a sink whose removals report IDs it did not hold, and one that promises a missing extra', async () => {
    const lying = await failingTests((s) =>
      delegate(s, {
        removeRecords: async (e, ids, o) => {
          await s.removeRecords(e, ids, o);
          return [...ids];
        },
      }),
    );
    expect(lying).toEqual([
      'removes records and reports only the IDs it held',
      'a delete with deletedAt leaves a tombstone; only a newer version comes back (capability ordering)',
    ]);
    const promising = await failingTests((s) => delegate(s, { locateRecord: undefined }));
    expect(promising).toContain('declares a name and its capabilities, and answers ping');
  }, 60_000);

  it('fails a sink that declares ordering but leaves no tombstone; skips the ordering tests for a sink without it', async () => {
    const forgetful = await failingTests((s) => delegate(s, { removeRecords: (e, ids) => s.removeRecords(e, ids) }));
    expect(forgetful).toEqual(['a delete with deletedAt leaves a tombstone; only a newer version comes back (capability ordering)']);
    const unordered = await failingTests((s) => delegate(s, { capabilities: { ...s.capabilities, ordering: false, notesWrites: false } }));
    expect(unordered).toEqual([]);
  }, 60_000);

  it('fails a sink that forgets a new time of an unchanged record', async () => {
    const failed = await failingTests((s) =>
      delegate(s, { readStamps: async (e, ids) => (await s.readStamps(e, ids)).map((t) => (t === undefined ? t : Math.min(t, Date.UTC(2025, 0, 1)))) }),
    );
    expect(failed).toContain('keeps the time of an unchanged record that comes with a new modification instant');
  }, 60_000);
});
