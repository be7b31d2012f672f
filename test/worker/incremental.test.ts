import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, loseRecords, recordCalls } from '../helpers/harness.js';

describe('incremental sync (simulator + real Redis)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('falls back to a full sync when there is no watermark yet', async () => {
    const result = await h.worker().performIncrementalSync();
    expect(result.fellBackToFull).toBe(true);
    expect(result.added).toBe(2419);
    expect(result.watermark).toBeDefined();
  });

  it('with nothing changed across 40 events costs at most 2 record-API calls', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    h.sim.clearRequests();
    const result = await worker.performIncrementalSync();
    expect(recordCalls(h)).toBeLessThanOrEqual(2);
    expect(h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport)).toHaveLength(1);
    expect([result.added, result.updated, result.removed]).toEqual([0, 0, 0]);
    expect(result.staleCheck).toBe(false);
  });

  it('picks up 1,500 changes spread over 40 events in at most 3 record-API calls, one criteria query', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    h.sim.clock.advance(5_000);
    const regs = h.sim.listRegistrations();
    const changed = new Set<string>();
    for (let i = 0; changed.size < 1500; i += 1) {
      const reg = regs[(i * 7) % regs.length]!;
      if (changed.has(reg.id)) continue;
      h.sim.editRegistration(reg.id);
      changed.add(reg.id);
    }
    expect(new Set([...changed].map((id) => h.sim.getRegistration(id)?.eventId)).size).toBe(40);
    h.sim.clearRequests();
    const result = await worker.performIncrementalSync();
    expect(recordCalls(h)).toBeLessThanOrEqual(3);
    const registrationCalls = h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport);
    expect(registrationCalls).toHaveLength(2);
    // One criteria over the whole report, never one query per event.
    expect(new Set(registrationCalls.map((r) => r.query.criteria)).size).toBe(1);
    expect(registrationCalls[0]?.query.criteria).toMatch(/^\(Modified_Time >= '.+'\)$/);
    expect(result.updated).toBe(1500);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('sees two edits in the same second as the stored watermark (inclusive bound, de-duplicated)', async () => {
    const worker = h.worker({ incrementalOverlapMs: 0 });
    await worker.performFullSync();
    h.sim.clock.advance(60_000);
    const [a, b, c] = h.sim.listRegistrations();
    h.sim.editRegistration(a!.id);
    const first = await worker.performIncrementalSync();
    expect(first.updated).toBe(1);
    expect(first.watermark).toBe(new Date(h.sim.getRegistration(a!.id)!.modifiedAt).toISOString());
    // Same second as the watermark: a `>` bound would miss both of these.
    h.sim.editRegistration(b!.id);
    h.sim.editRegistration(c!.id);
    expect(h.sim.getRegistration(c!.id)!.modifiedAt).toBe(h.sim.getRegistration(a!.id)!.modifiedAt);
    const second = await worker.performIncrementalSync();
    expect(second.updated).toBe(2); // a is re-read by the inclusive bound but is unchanged
    expect(second.unchanged).toBe(1);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('never moves the watermark backwards', async () => {
    const worker = h.worker({ incrementalOverlapMs: 0 });
    await worker.performFullSync();
    const before = (await h.sink.state.getSyncMeta()).watermark!;
    await h.sink.state.advanceWatermark(before - 3_600_000);
    expect((await h.sink.state.getSyncMeta()).watermark).toBe(before);
    const result = await worker.performIncrementalSync();
    expect(Date.parse(result.watermark!)).toBeGreaterThanOrEqual(before);
    // A source instant, at second resolution, once a single-page listing committed it.
    expect(Date.parse(result.watermark!) % 1000).toBe(0);
  });

  it('heals the incident: 64 missing listed, one incremental sync with a staleness check heals, next check clean', async () => {
    await h.worker().performFullSync();
    const lost = await loseRecords(h, 64);
    const worker = h.worker({ staleAfterMs: 0, staleCheckIntervalMs: 0 });
    const report = await worker.checkDiscrepancies();
    expect(report.events.flatMap((e) => e.missingInRedis).sort()).toEqual(lost);
    expect(report.totals).toMatchObject({ zohoCount: 2419, redisCount: 2355, missingInRedis: 64, extraInRedis: 0, stale: 0 });

    const result = await worker.performIncrementalSync();
    expect(result.staleCheck).toBe(true);
    expect(result.added).toBe(64);
    const clean = await worker.checkDiscrepancies();
    expect(clean.hasDiscrepancies).toBe(false);
    expect(clean.totals).toMatchObject({ zohoCount: 2419, redisCount: 2419 });
  });

  it('checks all 40 stale events with one ID-only pass: at most ceil(N/1000) + 1 calls beside the change query', async () => {
    const worker = h.worker({ staleAfterMs: 0, staleCheckIntervalMs: 0 });
    await worker.performFullSync();
    h.sim.clearRequests();
    const result = await worker.performIncrementalSync();
    expect(result.staleCheck).toBe(true);
    const idListings = h.sim.requests.filter((r) => r.kind === 'records' && r.query.field_config === 'custom');
    expect(idListings).toHaveLength(Math.ceil(2419 / 1000));
    expect(idListings.every((r) => r.query.criteria === undefined)).toBe(true); // all events together, not 40 passes
    const changeQueries = h.sim.requests.filter((r) => r.kind === 'records' && r.query.criteria?.startsWith('(Modified_Time'));
    expect(recordCalls(h) - changeQueries.length).toBeLessThanOrEqual(Math.ceil(2419 / 1000) + 1);
  });

  it('removes three registrations deleted in Zoho at the next reconciling run, reported in records_removed', async () => {
    const worker = h.worker({ staleAfterMs: 0, staleCheckIntervalMs: 0 });
    await worker.performFullSync();
    const gone = h.sim.listRegistrations().slice(10, 13).map((r) => r.id);
    for (const id of gone) h.sim.deleteRegistration(id);
    const removed: string[] = [];
    worker.on('recordsRemoved', (p) => removed.push(...p.ids));
    const result = await worker.performIncrementalSync();
    expect(result.removed).toBe(3);
    expect(removed.sort()).toEqual(gone.sort());
    expect(worker.getStatus().stats.records_removed).toBe(3);
    expect(await h.redisIds()).toEqual(h.simIds());
  });

  it('skips the staleness check within staleCheckIntervalMs', async () => {
    const worker = h.worker({ staleAfterMs: 0, staleCheckIntervalMs: 3_600_000 });
    await worker.performFullSync();
    expect((await worker.performIncrementalSync()).staleCheck).toBe(true);
    h.sim.clearRequests();
    expect((await worker.performIncrementalSync()).staleCheck).toBe(false);
    expect(h.sim.requests.filter((r) => r.query.field_config === 'custom')).toHaveLength(0);
  });
});
