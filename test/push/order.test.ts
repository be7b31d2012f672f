/**
 * Issue 14 item 4 (order), end to end on the simulator + real Redis: a full sync that listed an old
 * version of a record before a push applied a newer one (or a delete) cannot overwrite it (or
 * resurrect it); refused writes are counted in the run result, the status, the events and the
 * Prometheus metrics; a newer version after a delete (a restore) wins; a later edit in the second
 * pass of a DST fall-back hour (an earlier-looking Modified_Time) is written.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordSink } from '../../src/adapters/sink.js';
import { registerPushMetrics, registerSyncMetrics } from '../../src/metrics.js';
import type { RedisSink } from '../../src/redis/redis-sink.js';
import { SimulatorClock } from '../../src/testing.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { createPushHarness, type PushHarness, pushBody, signedJson, waitFor } from './helpers.js';

/** The harness sink, except that the upsert holding `recordId` waits for `release()` (after `reached` resolved). */
function gatedSink(inner: RedisSink, recordId: string): { sink: RecordSink; reached: Promise<void>; release: () => void } {
  let release!: () => void;
  let arrive!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const reached = new Promise<void>((r) => {
    arrive = r;
  });
  const sink: RecordSink = {
    name: inner.name,
    capabilities: inner.capabilities,
    state: inner.state,
    ping: () => inner.ping(),
    upsertRecords: async (records) => {
      if (records.some((r) => r.id === recordId)) {
        arrive();
        await gate;
      }
      return inner.upsertRecords(records);
    },
    removeRecords: (e, ids, o) => inner.removeRecords(e, ids, o),
    countRecords: (e) => inner.countRecords(e),
    scanRecordIds: (e) => inner.scanRecordIds(e),
    readStamps: (e, ids) => inner.readStamps(e, ids),
    getRecord: (e, id) => inner.getRecord(e, id),
    compareStamps: (s) => inner.compareStamps(s),
    locateRecord: (id, e) => inner.locateRecord(id, e),
  };
  return { sink, reached, release };
}

async function metricValue(registry: Registry, line: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('order: a sync page listed before a push cannot overwrite it (simulator + real Redis)', () => {
  let h: PushHarness;
  afterEach(async () => {
    await h?.close();
  });

  it('race: page 2 lists an old R, a push applies a newer R, page 2 is written -> Redis holds the newer R; counted everywhere', async () => {
    h = await createPushHarness();
    const r = h.sim.listRegistrations()[250]!; // page 2 of 200
    const gated = gatedSink(h.sink, r.id);
    const worker = h.worker({ sink: gated.sink }, { pageSize: 200 });
    const registry = new Registry();
    registerSyncMetrics(worker, registry);
    const refusedEvents: string[] = [];
    worker.on('staleWritesRefused', (p) => refusedEvents.push(...p.ids));
    const run = worker.performFullSync();
    await gated.reached;
    // Page 2's batches start while page 1's last ones finish, and page 3's while page 2's are held
    // (overlapped commits): wait (bounded) for page 1 to count as committed. Page 1 is in Redis,
    // page 2's R is held at the gate (page 3 may have committed meanwhile: at most 2 pages counted).
    for (let waited = 0; (worker.getStatus().current_run?.pages ?? 0) < 1 && waited < 5000; waited += 10) await new Promise((res) => setTimeout(res, 10));
    const first = h.sim.listRegistrations()[0]!;
    expect(await h.sink.readStamps(first.eventId, [first.id])).toEqual([first.modifiedAt]);
    expect(await h.sink.readStamps(r.eventId, [r.id])).toEqual([undefined]);
    expect([1, 2]).toContain(worker.getStatus().current_run?.pages);

    h.sim.clock.advance(5000);
    const newer = h.sim.editRegistration(r.id, { Full_Name: 'Trần Văn Mới' });
    const pushes = h.pushes();
    await pushes.start();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.outcome));
    expect((await pushes.handleZohoPush(signedJson(pushBody('edited', r.id)))).status).toBe(202);
    await waitFor(() => applied.length === 1, 10_000, 'pushApplied');
    expect(applied).toEqual(['added']);

    gated.release();
    const result = await run;
    const json = await h.redis.get(h.sink.keys.record(r.eventId, r.id));
    expect(JSON.parse(json!).Full_Name).toBe('Trần Văn Mới');
    expect(json).toBe(JSON.stringify(h.sim.toApiRecord(newer)));
    expect(await h.sink.readStamps(r.eventId, [r.id])).toEqual([newer.modifiedAt]);
    expect(result.staleWritesRefused).toBe(1);
    expect(refusedEvents).toEqual([r.id]);
    expect(worker.getStatus().stats.stale_writes_refused).toBe(1);
    expect(await metricValue(registry, 'zoho_redis_sync_stale_writes_refused_total')).toBe(1);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('race with a delete: page 2 lists R, a delete push is applied, page 2 is written -> R stays deleted', async () => {
    h = await createPushHarness();
    await h.worker().performFullSync();
    const r = h.sim.listRegistrations()[250]!;
    const gated = gatedSink(h.sink, r.id);
    const worker = h.worker({ sink: gated.sink }, { pageSize: 200 });
    const run = worker.performFullSync();
    await gated.reached;

    h.sim.deleteRegistration(r.id);
    const pushes = h.pushes();
    await pushes.start();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.outcome));
    await pushes.handleZohoPush(signedJson(pushBody('deleted', r.id)));
    await waitFor(() => applied.length === 1, 10_000, 'pushApplied');
    expect(applied).toEqual(['removed']);
    const tomb = h.sink.layout.tombstoneKey(r.eventId, r.id);
    expect(Number(await h.redis.get(tomb))).toBeGreaterThanOrEqual(r.modifiedAt);

    gated.release();
    const result = await run; // the held-vs-listed check allows the refused record
    expect(await h.redis.exists(h.sink.keys.record(r.eventId, r.id))).toBe(0);
    expect(await h.redis.hexists(h.sink.keys.ids(r.eventId), r.id)).toBe(0);
    expect(result.staleWritesRefused).toBe(1);
    expect(worker.getStatus().stats.stale_writes_refused).toBe(1);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    // The next full sync agrees (R is gone from Zoho too) and refuses nothing.
    const again = await h.worker().performFullSync();
    expect([again.added, again.removed, again.staleWritesRefused]).toEqual([0, 0, 0]);
  });

  it('trusted pushes: an older pushed version is refused and counted; after a delete, a newer version (a restore) wins', async () => {
    h = await createPushHarness();
    await h.worker().performFullSync();
    const r = h.sim.listRegistrations()[10]!;
    const pushes = h.pushes({ trusted: true });
    const registry = new Registry();
    registerPushMetrics(pushes, registry);
    await pushes.start();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.outcome));
    const asPushed = (modifiedAt: number, name: string): Record<string, unknown> => ({
      ...h.sim.toApiRecord(r),
      Full_Name: name,
      Modified_Time: h.sim.formatDateTime(modifiedAt),
    });
    // One hour older than what Redis holds: refused.
    await pushes.handleZohoPush(signedJson(pushBody('edited', r.id, { record: asPushed(r.modifiedAt - 3_600_000, 'Cũ') })));
    await waitFor(() => applied.length === 1, 10_000, 'pushApplied');
    expect(applied).toEqual(['refused']);
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(r.eventId, r.id)))!).Full_Name).toBe(r.fields.Full_Name);
    expect(pushes.getStatus().stale_writes_refused).toBe(1);
    expect(await metricValue(registry, 'zoho_redis_sync_push_stale_writes_refused_total')).toBe(1);
    expect(await metricValue(registry, 'zoho_redis_sync_pushes_applied_total{outcome="refused"}')).toBe(1);

    // Deleted, then the same version again (a retried push): refused; then restored with a newer time: written.
    await pushes.handleZohoPush(signedJson(pushBody('deleted', r.id, { event_id: r.eventId })));
    await waitFor(() => applied.length === 2, 10_000, 'delete applied');
    await pushes.handleZohoPush(signedJson(pushBody('edited', r.id, { record: asPushed(r.modifiedAt, 'Lại') })));
    await waitFor(() => applied.length === 3, 10_000, 'stale re-push applied');
    const restoredAt = Math.ceil((Date.now() + 5000) / 1000) * 1000;
    await pushes.handleZohoPush(signedJson(pushBody('created', r.id, { record: asPushed(restoredAt, 'Khôi phục') })));
    await waitFor(() => applied.length === 4, 10_000, 'restore applied');
    expect(applied).toEqual(['refused', 'removed', 'refused', 'added']);
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(r.eventId, r.id)))!).Full_Name).toBe('Khôi phục');
    expect(await h.redis.exists(h.sink.layout.tombstoneKey(r.eventId, r.id))).toBe(0);
    expect(pushes.getStatus().stale_writes_refused).toBe(2);
  });

  it('a tombstone yields to what Zoho holds now: after a trusted delete of a record Zoho still has, the next full sync and syncRecord() bring it back', async () => {
    h = await createPushHarness();
    await h.worker().performFullSync();
    const [r, s] = [h.sim.listRegistrations()[12]!, h.sim.listRegistrations()[13]!];
    const pushes = h.pushes({ trusted: true });
    await pushes.start();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.outcome));
    // A wrong (or replayed-by-mistake) trusted delete: Zoho still has both records.
    await pushes.handleZohoPush(signedJson(pushBody('deleted', r.id, { event_id: r.eventId })));
    await pushes.handleZohoPush(signedJson(pushBody('deleted', s.id, { event_id: s.eventId })));
    await waitFor(() => applied.length === 2, 10_000, 'deletes applied');
    expect(applied).toEqual(['removed', 'removed']);
    expect(await h.redis.exists(h.sink.layout.tombstoneKey(r.eventId, r.id))).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the next reads start after the tombstones' stamps

    // Read from Zoho after the tombstone was stamped: that is what Zoho holds now, and it wins.
    const result = await h.worker().performFullSync();
    expect(result.staleWritesRefused ?? 0).toBe(0);
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(r.eventId, r.id)))!)).toEqual(h.sim.toApiRecord(r));
    expect(await h.redis.exists(h.sink.layout.tombstoneKey(r.eventId, r.id))).toBe(0);
    const synced = await h.worker().syncRecord(s.id);
    expect(synced.outcome).not.toBe('refused');
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(s.eventId, s.id)))!)).toEqual(h.sim.toApiRecord(s));
    expect((await h.worker().checkDiscrepancies()).hasDiscrepancies).toBe(false);
  });

  it('a trusted push whose record carries another ID than its record_id is rejected, and the other record is untouched', async () => {
    h = await createPushHarness();
    await h.worker().performFullSync();
    const [x, y] = [h.sim.listRegistrations()[20]!, h.sim.listRegistrations()[21]!];
    const pushes = h.pushes({ trusted: true });
    await pushes.start();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.outcome));
    const forged = { ...h.sim.toApiRecord(y), Full_Name: 'forged', Modified_Time: h.sim.formatDateTime(Math.ceil((Date.now() + 5000) / 1000) * 1000) };
    await pushes.handleZohoPush(signedJson(pushBody('edited', x.id, { record: forged })));
    await waitFor(() => applied.length === 1, 10_000, 'pushApplied');
    expect(applied).toEqual(['rejected']);
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(y.eventId, y.id)))!)).toEqual(h.sim.toApiRecord(y));
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(x.eventId, x.id)))!)).toEqual(h.sim.toApiRecord(x));
  });
});

describe('order across a DST fall-back (simulator in America/New_York + real Redis)', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('an edit at 01:10 EST after one at 01:50 EDT (an earlier string, a later instant) is written, stored as its earliest reading', async () => {
    // 2025-11-02 05:50Z = 01:50 EDT (first pass of the repeated hour).
    h = await createHarness({
      dataset: { events: 2, registrations: 30, seed: 7 },
      timeZone: 'America/New_York',
      clock: new SimulatorClock(Date.UTC(2025, 10, 2, 5, 50)),
    });
    const worker = h.worker();
    await worker.performFullSync();
    const r = h.sim.listRegistrations()[3]!;
    h.sim.editRegistration(r.id, { Full_Name: 'first pass' });
    expect(h.sim.toApiRecord(h.sim.getRegistration(r.id)!).Modified_Time).toMatch(/ 01:50:00$/);
    expect((await worker.syncRecord(r.id)).outcome).toBe('updated');
    expect(await h.sink.readStamps(r.eventId, [r.id])).toEqual([Date.UTC(2025, 10, 2, 5, 50)]);

    // 06:10Z = 01:10 EST (second pass): the string says 01:10, earlier than 01:50.
    h.sim.clock.set(Date.UTC(2025, 10, 2, 6, 10));
    const second = h.sim.editRegistration(r.id, { Full_Name: 'second pass' });
    expect(h.sim.toApiRecord(second).Modified_Time).toMatch(/ 01:10:00$/);
    expect((await worker.syncRecord(r.id)).outcome).toBe('updated');
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(r.eventId, r.id)))!).Full_Name).toBe('second pass');
    // Stored as its earliest reading (05:10Z): what the codec's parse gives, so staleness checks agree.
    expect(await h.sink.readStamps(r.eventId, [r.id])).toEqual([Date.UTC(2025, 10, 2, 5, 10)]);
    expect(worker.getStatus().stats.stale_writes_refused).toBe(0);
    // The next incremental sync re-reads it (overlap) and agrees.
    const inc = await worker.performIncrementalSync();
    expect(inc.staleWritesRefused).toBe(0);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });
});
