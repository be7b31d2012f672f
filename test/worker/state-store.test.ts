/**
 * The split between the record sink and the state store, seen from `SyncWorker`: `sink.state` is
 * the default, any `StateStore` can be passed, a sink without one needs `state`, and contract
 * violations are rejected when the worker is built.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordSink } from '../../src/adapters/sink.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness, type Harness } from '../helpers/harness.js';

describe('SyncWorker with a record sink and a state store', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('keeps its bookkeeping in the given state store, under its own prefix, and the records in the sink', async () => {
    h = await createHarness({ dataset: { events: 6, registrations: 300, seed: 9 } });
    const statePrefix = `${h.prefix}-state`;
    const state = new RedisStateStore({ redis: h.redis, keyPrefix: statePrefix });
    const worker = new SyncWorker({ source: h.source(), sink: h.sink, state, logger: silentLogger, enableAutoSync: false });
    const result = await worker.performFullSync();
    expect(result.added).toBe(300);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    // The bookkeeping went to the state store's prefix, none to the sink's own.
    expect((await state.getSyncMeta()).lastFullSyncAt).toBeTypeOf('number');
    expect((await state.listEventIds()).sort()).toEqual(h.sim.listEvents().map((e) => e.id).sort());
    expect(await h.redis.exists(h.sink.keys.syncMeta(), h.sink.keys.events(), h.sink.keys.fence())).toBe(0);
    expect(await h.redis.get(state.keys.fence())).toBe('1');
    try {
      await h.redis.del(state.keys.syncMeta(), state.keys.events(), state.keys.fence());
      for (const e of h.sim.listEvents()) await h.redis.del(state.keys.eventMeta(e.id));
    } finally {
      worker.removeAllListeners();
    }
  });

  it('defaults to sink.state, so `sink: new RedisSink(...)` alone keeps working', async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 50, seed: 10 } });
    const worker = h.worker();
    await worker.performFullSync();
    expect((await h.sink.state.getSyncMeta()).lastFullSyncAt).toBeTypeOf('number');
    expect(await h.redis.get(h.sink.keys.fence())).toBe('1');
  });

  it('rejects a sink without a state store, a sink missing a method, and capabilities that promise a missing method', async () => {
    h = await createHarness({ dataset: { events: 1, registrations: 1, seed: 11 } });
    const { state: _state, ...rest } = Object.fromEntries(
      ['ping', 'upsertRecords', 'removeRecords', 'countRecords', 'scanRecordIds', 'readStamps', 'getRecord'].map((m) => [
        m,
        (h!.sink as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(h!.sink),
      ]),
    ) as Record<string, unknown>;
    const bare = { ...rest, name: 'bare', capabilities: { compareStamps: false, locateRecord: false, exactRoundTrip: true } } as unknown as RecordSink;
    const source = h.source();
    expect(() => new SyncWorker({ source, sink: bare })).toThrow(ConfigError);
    expect(() => new SyncWorker({ source, sink: bare })).toThrow(/`state`/);
    expect(() => new SyncWorker({ source, sink: bare, state: h!.sink.state, logger: silentLogger })).not.toThrow();
    const { readStamps: _r, ...noStamps } = bare as unknown as Record<string, unknown>;
    expect(() => new SyncWorker({ source, sink: noStamps as unknown as RecordSink, state: h!.sink.state })).toThrow(/missing readStamps/);
    const promising = { ...bare, capabilities: { compareStamps: true, locateRecord: false, exactRoundTrip: true } } as RecordSink;
    expect(() => new SyncWorker({ source, sink: promising, state: h!.sink.state })).toThrow(/compareStamps/);
    expect(() => new SyncWorker({ source, sink: bare, state: {} as never })).toThrow(/missing ping/);
  });

  it('syncs through the core fallbacks when the sink declares no extras', async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 200, seed: 12 } });
    const sink = h.sink;
    const methods = ['ping', 'upsertRecords', 'removeRecords', 'countRecords', 'scanRecordIds', 'readStamps', 'getRecord'] as const;
    const calls: string[] = [];
    const bare = Object.fromEntries(
      methods.map((m) => [
        m,
        (...args: unknown[]) => {
          calls.push(m);
          return (sink[m] as (...a: unknown[]) => unknown).apply(sink, args);
        },
      ]),
    ) as unknown as RecordSink;
    const plain: RecordSink = { ...bare, name: 'plain', capabilities: { compareStamps: false, locateRecord: false, exactRoundTrip: true } };
    const worker = new SyncWorker({ source: h.source(), sink: plain, state: sink.state, logger: silentLogger, enableAutoSync: false });
    await worker.performFullSync();
    const [victim] = h.simIds();
    await h.redis.del(`${h.prefix}:{e:${h.sim.listRegistrations()[0]!.eventId}}:ids`);
    const report = await worker.checkDiscrepancies({ heal: true });
    expect(report.totals.missingInRedis).toBeGreaterThan(0);
    expect(calls).toContain('readStamps'); // compareStamps fell back to readStamps per event
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect(victim).toBeDefined();
    // syncRecord locates through readStamps too.
    const reg = h.sim.listRegistrations()[0]!;
    calls.length = 0;
    expect((await worker.syncRecord(reg.id)).outcome).toBe('unchanged');
    expect(calls).toContain('readStamps');
  });
});
