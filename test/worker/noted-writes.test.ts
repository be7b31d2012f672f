/**
 * The one-call bookkeeping (`notesWrites`) cannot lose seen marks: a wrapper around `RedisSink` that
 * keeps its capabilities and state but drops the upsert options, or answers without the events, is
 * noted afterwards, so the sweep of the next full sync removes exactly what Zoho deleted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordSink, UpsertResult } from '../../src/adapters/sink.js';
import { createHarness, type Harness } from '../helpers/harness.js';

describe('notesWrites fallback (simulator + real Redis)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  for (const [label, answer] of [
    ['drops the options', (result: UpsertResult) => result],
    ['answers without events', (result: UpsertResult) => ({ ...result, events: [] })],
  ] as const) {
    it(`a wrapper that ${label}: the next full sync removes only the deleted record`, async () => {
      const inner = h.sink;
      const sink = Object.create(inner) as RecordSink; // the RedisSink's capabilities and state
      let calls = 0;
      sink.upsertRecords = async (records) => {
        calls += 1;
        return answer(await inner.upsertRecords(records));
      };
      const worker = h.worker({ sink } as never);
      const first = await worker.performFullSync();
      expect(calls).toBeGreaterThan(0);
      const gone = h.sim.listRegistrations()[0]!;
      h.sim.deleteRegistration(gone.id);
      const second = await worker.performFullSync();
      expect(second).toMatchObject({ removed: 1, added: 0, updated: 0, unchanged: first.added - 1 });
    });
  }
});
