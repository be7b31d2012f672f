import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import type { SyncFailedPayload } from '../../src/worker/events.js';
import { createHarness, type Harness, loseRecords, recordCalls } from '../helpers/harness.js';

describe('full sync, end to end (simulator + real Redis)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('heals the incident: 2,355 held, 2,419 in Zoho -> exactly the simulator IDs, records_added 64', async () => {
    await h.worker().performFullSync();
    const lost = await loseRecords(h, 64);
    expect((await h.redisIds()).length).toBe(2355);

    const worker = h.worker();
    const added: string[] = [];
    worker.on('recordsAdded', (p) => added.push(...p.ids));
    const result = await worker.performFullSync();

    expect(await h.redisIds()).toEqual(h.simIds());
    expect(h.simIds()).toHaveLength(2419);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect(result.added).toBe(64);
    expect(added.sort()).toEqual(lost);
    const status = worker.getStatus();
    expect(status.stats).toMatchObject({ total_syncs: 1, successful_syncs: 1, failed_syncs: 0, records_added: 64, records_updated: 0, records_removed: 0 });
    expect(status.last_sync_time).toBe(result.finishedAt);

    // Nothing changed: a second full sync reports 0 added, 0 updated, 0 removed.
    const again = await worker.performFullSync();
    expect([again.added, again.updated, again.removed, again.unchanged]).toEqual([0, 0, 0, 2419]);
    expect(worker.getStatus().stats).toMatchObject({ total_syncs: 2, successful_syncs: 2, records_added: 64, records_updated: 0, records_removed: 0 });
  });

  it('costs ceil(N / 1000) registration calls plus the events list', async () => {
    const worker = h.worker();
    h.sim.clearRequests();
    const result = await worker.performFullSync();
    const registrationCalls = h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport);
    const eventCalls = h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.eventsReport);
    expect(registrationCalls).toHaveLength(3);
    expect(registrationCalls.map((r) => r.records)).toEqual([1000, 1000, 419]);
    expect(eventCalls).toHaveLength(1);
    expect(recordCalls(h)).toBe(4);
    // The source files the events list under `meta`, registrations under `records`.
    expect(result.apiCalls.records).toBe(3);
    expect(result.apiCalls.meta).toBe(1); // the events list; no app-settings call, time zone and format are configured
    expect(result.apiCalls.total).toBe(result.apiCalls.token + 4);
    expect(worker.getStatus().api_calls.last_run).toEqual(result.apiCalls);
  });

  it('reports failure (not success) when a Redis key has the wrong type', async () => {
    const reg = h.sim.listRegistrations()[0]!;
    await h.redis.set(h.sink.keys.ids(reg.eventId), 'not a hash');
    const worker = h.worker();
    const failures: SyncFailedPayload[] = [];
    worker.on('syncFailed', (p) => failures.push(p));
    worker.on('error', () => undefined);
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.SINK });
    expect(failures).toHaveLength(1);
    expect(failures[0]?.error.message).toMatch(/WRONGTYPE/);
    expect(worker.getStatus().stats).toMatchObject({ total_syncs: 1, successful_syncs: 0, failed_syncs: 1 });
    expect(worker.getStatus().last_run).toMatchObject({ outcome: 'failed', error_code: SyncErrorCode.SINK });
    expect(worker.getStatus().last_sync_time).toBeNull();
  });

  it('removes registrations Zoho no longer has, after a complete listing', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    const gone = h.sim.listRegistrations().slice(0, 3);
    for (const r of gone) h.sim.deleteRegistration(r.id);
    const removed: string[] = [];
    worker.on('recordsRemoved', (p) => removed.push(...p.ids));
    const result = await worker.performFullSync();
    expect(result.removed).toBe(3);
    expect(removed.sort()).toEqual(gone.map((r) => r.id).sort());
    expect(await h.redisIds()).toEqual(h.simIds());
    expect(worker.getStatus().stats.records_removed).toBe(3);
  });

  it('stores Vietnamese text byte for byte', async () => {
    await h.worker().performFullSync();
    const reg = h.sim.listRegistrations().find((r) => /[^ -~]/.test(JSON.stringify(h.sim.toApiRecord(r))))!; // any non-ASCII character
    const stored = await h.redis.getBuffer(`${h.prefix}:{e:${reg.eventId}}:rec:${reg.id}`);
    expect(stored?.equals(Buffer.from(JSON.stringify(h.sim.toApiRecord(reg)), 'utf8'))).toBe(true);
  });
});
