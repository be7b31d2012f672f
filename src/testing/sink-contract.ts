/**
 * `testSinkContract`: the record-sink contract as a test suite anyone runs against their sink, in
 * the manner of unstorage's `testDriver` (one suite, gated by the sink's declared capabilities).
 *
 * It takes the test runner's `describe` and `it` as arguments and asserts with `node:assert`, so
 * the library never imports a test framework: pass vitest's (or jest's, or `node:test`'s).
 */
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import type { RecordSink } from '../adapters/sink.js';
import type { RecordStamp, SourceRecord } from '../adapters/source.js';

/** The two functions of a test runner the suite needs (vitest's, jest's and `node:test`'s fit). */
export interface SinkContractRunner {
  /** Groups tests, e.g. vitest's `describe`. */
  readonly describe: (name: string, body: () => void) => unknown;
  /** Defines one async test, e.g. vitest's `it`; `timeout` is passed as the third argument (ms). */
  readonly it: (name: string, body: () => Promise<void>, timeout?: number) => unknown;
}

/** What {@link testSinkContract} needs. */
export interface SinkContractOptions extends SinkContractRunner {
  /** Names the suite, e.g. `RedisSink (hash layout, real Redis)`. */
  readonly name: string;
  /**
   * Creates an empty sink for one test (e.g. under a fresh random key prefix). Called once per test.
   * Its second result, when given, is called after the test (delete the keys, close clients); a
   * result is read as `{ sink, cleanup }` only when its `cleanup` is a function.
   */
  readonly create: () => Promise<RecordSink | { sink: RecordSink; cleanup: () => Promise<void> }>;
  /** Per-test timeout. Unit: ms. @defaultValue 20000 */
  readonly timeoutMs?: number | undefined;
}

const EVENT_A = '4433256000013547003';
const EVENT_B = '4433256000013547111';
const BASE = Date.UTC(2025, 0, 1);

function record(eventId: string, id: string, modifiedAt: number, extra: Record<string, unknown> = {}): SourceRecord {
  return {
    id,
    eventId,
    modifiedAt,
    data: { ID: id, Event: { ID: eventId, display_value: 'Hội thảo' }, Full_Name: 'Nguyễn Thị Ánh', Seats: 2, Paid: true, ...extra },
  };
}

function sorted(ids: readonly string[]): string[] {
  return [...ids].sort();
}

async function allIds(sink: RecordSink, eventId: string): Promise<string[]> {
  const out = new Set<string>();
  for await (const chunk of sink.scanRecordIds(eventId)) for (const id of chunk) out.add(id);
  return sorted([...out]);
}

/**
 * Defines the contract suite for a record sink. Checks, on a fresh sink per test: truthful
 * added/updated/unchanged counts per event (same batch twice, changed content, a new time only),
 * removals that report only held IDs, counts, chunked ID scans, stamps, record reads (deep-equal
 * when `capabilities.exactRoundTrip`), `compareStamps` / `locateRecord` when declared, and ordered
 * writes (older versions refused and reported, tombstones after a delete with `deletedAt`, a newer
 * version after a delete wins, ambiguous times refused only when older under every reading) when
 * `capabilities.ordering`; one-call bookkeeping (events registered, IDs marked seen in a scope) when
 * `capabilities.notesWrites`.
 *
 * @example
 * ```ts
 * import { describe, it } from 'vitest';
 * import { testSinkContract } from '@org/zoho-redis-sync/testing';
 * testSinkContract({ name: 'my sink', describe, it, create: async () => new MySink(...) });
 * ```
 */
export function testSinkContract(options: SinkContractOptions): void {
  const { describe, it } = options;
  const timeout = options.timeoutMs ?? 20_000;
  const test = (name: string, body: (sink: RecordSink) => Promise<void>): void => {
    it(
      name,
      async () => {
        const created = await options.create();
        // `{ sink, cleanup }` only with a cleanup function: a sink may well have a `sink` property of its own.
        const pair = typeof (created as { cleanup?: unknown }).cleanup === 'function' && 'sink' in created && typeof created.sink === 'object';
        const { sink, cleanup } = pair ? (created as { sink: RecordSink; cleanup: () => Promise<void> }) : { sink: created as RecordSink, cleanup: undefined };
        try {
          await body(sink);
        } finally {
          await cleanup?.();
        }
      },
      timeout,
    );
  };

  describe(`record-sink contract: ${options.name}`, () => {
    test('declares a name and its capabilities, and answers ping', async (sink) => {
      ok(typeof sink.name === 'string' && sink.name.length > 0, 'name is a non-empty string');
      for (const flag of ['compareStamps', 'locateRecord', 'exactRoundTrip'] as const) {
        strictEqual(typeof sink.capabilities?.[flag], 'boolean', `capabilities.${flag} is a boolean`);
      }
      const ordering = sink.capabilities.ordering;
      ok(ordering === undefined || typeof ordering === 'boolean', 'capabilities.ordering is a boolean when declared');
      const notesWrites = sink.capabilities.notesWrites;
      ok(notesWrites === undefined || typeof notesWrites === 'boolean', 'capabilities.notesWrites is a boolean when declared');
      if (notesWrites === true) ok(ordering === true && sink.state !== undefined, 'capabilities.notesWrites comes with ordering and a state store (sink.state)');
      if (sink.capabilities.compareStamps) strictEqual(typeof sink.compareStamps, 'function', 'compareStamps() exists as declared');
      if (sink.capabilities.locateRecord) strictEqual(typeof sink.locateRecord, 'function', 'locateRecord() exists as declared');
      strictEqual(await sink.ping(), undefined);
    });

    test('counts added, updated and unchanged truthfully, per event in order of first appearance', async (sink) => {
      const batch = [record(EVENT_A, '1001', BASE), record(EVENT_B, '2001', BASE), record(EVENT_A, '1002', BASE), record(EVENT_A, '1003', BASE)];
      const first = await sink.upsertRecords(batch);
      deepStrictEqual([first.added, first.updated, first.unchanged], [4, 0, 0]);
      deepStrictEqual(
        first.events.map((e) => e.eventId),
        [EVENT_A, EVENT_B],
      );
      deepStrictEqual(sorted(first.events[0]!.added), ['1001', '1002', '1003']);
      deepStrictEqual(first.events[1]!.added, ['2001']);

      const second = await sink.upsertRecords(batch);
      deepStrictEqual([second.added, second.updated, second.unchanged], [0, 0, 4]);

      const changed = await sink.upsertRecords([
        record(EVENT_A, '1002', BASE + 1000, { Full_Name: 'Trần Văn Bình' }),
        record(EVENT_A, '1003', BASE),
        record(EVENT_A, '1004', BASE),
      ]);
      deepStrictEqual(changed.events, [{ eventId: EVENT_A, added: ['1004'], updated: ['1002'], unchanged: 1 }]);
      deepStrictEqual([changed.added, changed.updated, changed.unchanged], [1, 1, 1]);
      strictEqual(await sink.countRecords(EVENT_A), 4);
      strictEqual(await sink.countRecords(EVENT_B), 1);
      deepStrictEqual(await sink.upsertRecords([]), { added: 0, updated: 0, unchanged: 0, events: [] });
    });

    test('a record listed twice in one batch is processed in order', async (sink) => {
      const result = await sink.upsertRecords([record(EVENT_A, '1', BASE), record(EVENT_A, '1', BASE + 5, { Seats: 3 })]);
      deepStrictEqual(result.events, [{ eventId: EVENT_A, added: ['1'], updated: ['1'], unchanged: 0 }]);
      deepStrictEqual(await sink.readStamps(EVENT_A, ['1']), [BASE + 5]);
      strictEqual(await sink.countRecords(EVENT_A), 1);
    });

    test('keeps the time of an unchanged record that comes with a new modification instant', async (sink) => {
      await sink.upsertRecords([record(EVENT_A, '1', BASE)]);
      const again = await sink.upsertRecords([record(EVENT_A, '1', BASE + 5000)]);
      deepStrictEqual([again.added, again.updated, again.unchanged], [0, 0, 1]);
      deepStrictEqual(await sink.readStamps(EVENT_A, ['1', '2']), [BASE + 5000, undefined]);
      deepStrictEqual(await sink.readStamps(EVENT_A, []), []);
    });

    test('removes records and reports only the IDs it held', async (sink) => {
      await sink.upsertRecords(['1', '2', '3', '4', '5'].map((id) => record(EVENT_A, id, BASE)));
      await sink.upsertRecords([record(EVENT_B, '2', BASE)]);
      deepStrictEqual(sorted(await sink.removeRecords(EVENT_A, ['2', '4', '5', '99'])), ['2', '4', '5']);
      strictEqual(await sink.countRecords(EVENT_A), 2);
      strictEqual(await sink.countRecords(EVENT_B), 1, 'another event is untouched');
      strictEqual(await sink.getRecord(EVENT_A, '2'), undefined);
      deepStrictEqual(await sink.readStamps(EVENT_A, ['2', '1']), [undefined, BASE]);
      deepStrictEqual(await sink.removeRecords(EVENT_A, []), []);
      deepStrictEqual(await sink.removeRecords(EVENT_A, ['2']), [], 'removing again removes nothing');
      deepStrictEqual(await allIds(sink, EVENT_A), ['1', '3']);
    });

    test('scans every held ID of an event (2,500 records), only that event', async (sink) => {
      const ids = Array.from({ length: 2500 }, (_, i) => String(5_000_000 + i));
      const written = await sink.upsertRecords(ids.map((id) => record(EVENT_A, id, BASE)));
      strictEqual(written.added, 2500);
      await sink.upsertRecords([record(EVENT_B, '9', BASE)]);
      deepStrictEqual(await allIds(sink, EVENT_A), sorted(ids));
      deepStrictEqual(await allIds(sink, '4433256000013547999'), []);
      strictEqual(await sink.countRecords('4433256000013547999'), 0);
    });

    test('reads a record back', async (sink) => {
      const data = record(EVENT_A, '3001', BASE, { Note: 'Đăng ký — “ưu tiên” 😀', Tags: ['a', 'b'], Missing: null });
      await sink.upsertRecords([data]);
      const held = await sink.getRecord(EVENT_A, '3001');
      ok(held !== undefined, 'the record is held');
      if (sink.capabilities.exactRoundTrip) deepStrictEqual(held, data.data);
      else strictEqual(held.ID, '3001');
      strictEqual(await sink.getRecord(EVENT_A, '3002'), undefined);
      strictEqual(await sink.getRecord(EVENT_B, '3001'), undefined, 'records are kept per event');
    });

    test('compares stamps across events in one call (capability compareStamps)', async (sink) => {
      if (!sink.capabilities.compareStamps || !sink.compareStamps) return;
      await sink.upsertRecords([record(EVENT_A, '1', BASE), record(EVENT_A, '2', BASE), record(EVENT_B, '3', BASE)]);
      const stamps: RecordStamp[] = [
        { id: '1', eventId: EVENT_A, modifiedAt: BASE },
        { id: '2', eventId: EVENT_A, modifiedAt: BASE + 1 },
        { id: '4', eventId: EVENT_A, modifiedAt: BASE },
        { id: '3', eventId: EVENT_B, modifiedAt: BASE },
        { id: '5', eventId: EVENT_B, modifiedAt: BASE },
      ];
      const comparison = await sink.compareStamps(stamps);
      deepStrictEqual(comparison, { missing: [stamps[2], stamps[4]], stale: [stamps[1]] });
      deepStrictEqual(await sink.compareStamps([]), { missing: [], stale: [] });
    });

    test('refuses an older version and reports it; equal times: the later write wins (capability ordering)', async (sink) => {
      if (sink.capabilities.ordering !== true) return;
      await sink.upsertRecords([record(EVENT_A, '1', BASE + 2000, { Seats: 5 })]);
      const older = await sink.upsertRecords([record(EVENT_A, '1', BASE + 1000, { Seats: 1 }), record(EVENT_A, '2', BASE)]);
      strictEqual(older.refused, 1, 'one stale write refused');
      deepStrictEqual(older.events, [{ eventId: EVENT_A, added: ['2'], updated: [], unchanged: 0, refused: ['1'] }]);
      strictEqual((await sink.getRecord(EVENT_A, '1'))?.Seats === 5 || (await sink.getRecord(EVENT_A, '1'))?.Seats === '5', true, 'the newer version stays');
      deepStrictEqual(await sink.readStamps(EVENT_A, ['1']), [BASE + 2000]);
      const same = await sink.upsertRecords([record(EVENT_A, '1', BASE + 2000, { Seats: 7 })]);
      deepStrictEqual([same.updated, same.refused ?? 0], [1, 0], 'equal time, other content: the later write wins');
      // An ambiguous time (a DST repeated hour) whose latest reading is not older is never refused,
      // even when its earliest reading is.
      const ambiguous = await sink.upsertRecords([{ ...record(EVENT_A, '1', BASE - 1_800_000, { Seats: 8 }), modifiedAtLatest: BASE + 1_800_000 }]);
      deepStrictEqual([ambiguous.updated, ambiguous.refused ?? 0], [1, 0], 'ambiguous, not older under every reading: written');
      deepStrictEqual(await sink.readStamps(EVENT_A, ['1']), [BASE - 1_800_000]);
      const olderEverywhere = await sink.upsertRecords([{ ...record(EVENT_A, '1', BASE - 9_000_000, { Seats: 9 }), modifiedAtLatest: BASE - 5_400_000 }]);
      strictEqual(olderEverywhere.refused, 1, 'older under every reading: refused');
    });

    test('a delete with deletedAt leaves a tombstone; only a newer version comes back (capability ordering)', async (sink) => {
      if (sink.capabilities.ordering !== true) return;
      await sink.upsertRecords([record(EVENT_A, '1', BASE), record(EVENT_A, '2', BASE)]);
      deepStrictEqual(sorted(await sink.removeRecords(EVENT_A, ['1', '3'], { deletedAt: BASE + 10_000 })), ['1']);
      const stale = await sink.upsertRecords([record(EVENT_A, '1', BASE), record(EVENT_A, '3', BASE + 9000), record(EVENT_A, '1', BASE + 10_000)]);
      strictEqual(stale.refused, 3, 'versions not newer than the delete are refused, held or not');
      deepStrictEqual(await sink.readStamps(EVENT_A, ['1', '3']), [undefined, undefined]);
      const restored = await sink.upsertRecords([record(EVENT_A, '1', BASE + 11_000)]);
      deepStrictEqual([restored.added, restored.refused ?? 0], [1, 0], 'a newer version (a restore) wins');
      // Without deletedAt (a sweep, a reconciliation) nothing is guarded: the same version comes back.
      deepStrictEqual(await sink.removeRecords(EVENT_A, ['2']), ['2']);
      strictEqual((await sink.upsertRecords([record(EVENT_A, '2', BASE)])).added, 1);
    });

    test('notes its writes in its own state store in the same call (capability notesWrites)', async (sink) => {
      if (sink.capabilities.notesWrites !== true) return;
      const state = sink.state;
      ok(state !== undefined, 'a sink that notes writes has its own state store (sink.state)');
      const scope = 'contract-scope';
      const first = await sink.upsertRecords([record(EVENT_A, '1', BASE), record(EVENT_B, '2', BASE), record(EVENT_A, '3', BASE)], { noteWrites: { seenScope: scope } });
      deepStrictEqual(
        first.events.map((e) => [e.eventId, e.added.length, e.newlySeen]),
        [
          [EVENT_A, 2, 2],
          [EVENT_B, 1, 1],
        ],
        'per event: added and newly seen',
      );
      const again = await sink.upsertRecords([record(EVENT_A, '1', BASE), record(EVENT_A, '4', BASE)], { noteWrites: { seenScope: scope } });
      deepStrictEqual([again.unchanged, again.added, again.events[0]?.newlySeen], [1, 1, 1], 'an ID already seen is not newly seen');
      strictEqual(await state.countSeen(EVENT_A, scope), 3);
      deepStrictEqual(await state.filterUnseen(EVENT_A, scope, ['1', '3', '4', '5']), ['5']);
      deepStrictEqual(sorted(await state.listEventIds()), sorted([EVENT_A, EVENT_B]), 'the events are registered');
      // Without a scope: registered, nothing marked seen, no newlySeen.
      const plain = await sink.upsertRecords([record('4433256000013547999', '9', BASE)], { noteWrites: {} });
      strictEqual(plain.events[0]?.newlySeen, undefined);
      ok((await state.listEventIds()).includes('4433256000013547999'));
      await state.releaseScope(scope, [EVENT_A, EVENT_B]);
    });

    test('locates a record among events (capability locateRecord)', async (sink) => {
      if (!sink.capabilities.locateRecord || !sink.locateRecord) return;
      await sink.upsertRecords([record(EVENT_B, '77', BASE)]);
      strictEqual(await sink.locateRecord('77', [EVENT_A, EVENT_B]), EVENT_B);
      strictEqual(await sink.locateRecord('78', [EVENT_A, EVENT_B]), undefined);
      strictEqual(await sink.locateRecord('77', []), undefined);
    });
  });
}
