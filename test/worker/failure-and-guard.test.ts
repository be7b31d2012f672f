import { afterEach, describe, expect, it } from 'vitest';
import { MassRemovalError, SyncErrorCode } from '../../src/errors.js';
import type { MassRemovalBlockedPayload, SyncFailedPayload } from '../../src/worker/events.js';
import { createHarness, type Harness } from '../helpers/harness.js';

describe('failures midway, resume and the mass-removal guard (simulator + real Redis)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('a failure on page 3 of 5 keeps every record, removes nothing, reports page 3; the next run converges', async () => {
    h = await createHarness({ dataset: { events: 40, registrations: 4500, seed: 2 } });
    const worker = h.worker({ maxRetries: 1 });
    await worker.performFullSync();
    const deleted = h.sim.listRegistrations().slice(0, 5).map((r) => r.id);
    for (const id of deleted) h.sim.deleteRegistration(id);
    const held = await h.redisIds();

    // Page 3 answers 500 on the first try and on the retry: beyond the retries.
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, page: 3, times: 2, respond: { type: 'zoho', status: 500, code: 2930 } });
    const failures: SyncFailedPayload[] = [];
    worker.on('syncFailed', (p) => failures.push(p));
    worker.on('error', () => undefined);
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_API });
    expect(failures[0]?.failedAtPage).toBe(3);
    expect(worker.getStatus().last_run).toMatchObject({ outcome: 'failed', failed_at_page: 3 });
    expect(await h.redisIds()).toEqual(held); // nothing removed, nothing lost
    expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 3 });

    // The next run resumes from page 3 and still finds the deletions (ID-only pass); the one after has nothing to do.
    h.sim.clearRequests();
    const resumed = await worker.performFullSync();
    expect(resumed.resumed).toBe(true);
    expect(resumed.removed).toBe(5);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    const firstPage = h.sim.requests.find((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport);
    expect(firstPage?.cursor).toBeDefined();
    expect(await h.sink.state.getCheckpoint('full')).toBeUndefined();
    const converged = await worker.performFullSync();
    expect(converged.resumed).toBe(false);
    expect(converged.removed).toBe(0);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('the guard refuses to remove 90 % of an event, emits, fails the run, removes nothing', async () => {
    h = await createHarness();
    const worker = h.worker();
    await worker.performFullSync();
    const event = h.sim.listEvents().find((e) => h.sim.registrationCount(e.id) >= 20)!;
    const regs = h.sim.listRegistrations(event.id);
    const keep = Math.ceil(regs.length / 10);
    for (const r of regs.slice(keep)) h.sim.deleteRegistration(r.id);
    const before = await h.redisIds();

    const blocked: MassRemovalBlockedPayload[] = [];
    worker.on('massRemovalBlocked', (p) => blocked.push(p));
    worker.on('error', () => undefined);
    const error = await worker.performFullSync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MassRemovalError);
    expect(error).toMatchObject({ code: SyncErrorCode.MASS_REMOVAL, eventId: event.id, wouldRemove: regs.length - keep, held: regs.length });
    expect(blocked).toEqual([{ runId: expect.any(String), eventId: event.id, wouldRemove: regs.length - keep, held: regs.length, maxShare: 0.5 }]);
    expect(await h.redisIds()).toEqual(before);

    // Forced, it goes through.
    const forced = await worker.forceSyncEvent(event.id, { allowMassRemoval: true });
    expect(forced.removed).toBe(regs.length - keep);
    expect(await h.redisIds()).toEqual(h.simIds());
  });

  it('a crash mid-listing (process gone) resumes from the last committed page on the next start', async () => {
    h = await createHarness({ dataset: { events: 40, registrations: 3500, seed: 3 } });
    const first = h.worker({ maxRetries: 0 });
    first.on('error', () => undefined);
    // Page 3 never answers: the run is stopped there, as a killed process would leave it.
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, page: 3, respond: { type: 'timeout' } });
    const handle = first.trigger({ kind: 'full' });
    while (handle.progress.pages < 2) await new Promise((r) => setTimeout(r, 10));
    await first.stop();
    await expect(handle.result).rejects.toMatchObject({ code: SyncErrorCode.ABORTED });
    expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 3, kind: 'full' });

    h.sim.clearInjections();
    h.sim.clearRequests();
    const second = h.worker({ enableAutoSync: true, syncIntervalMs: 3_600_000 });
    const done = new Promise((resolve) => second.once('syncCompleted', resolve));
    await second.start();
    const result = (await done) as { resumed: boolean; pages: number };
    expect(result.resumed).toBe(true);
    expect(result.pages).toBe(2 + 4); // record pages 3 and 4 only, then the ID-only pass over all 4 pages
    const registrationCalls = h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport);
    expect(registrationCalls.filter((r) => r.query.field_config !== 'custom').map((r) => r.page)).toEqual([3, 4]);
    expect(registrationCalls.filter((r) => r.query.field_config === 'custom').map((r) => r.page)).toEqual([1, 2, 3, 4]);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });
});
