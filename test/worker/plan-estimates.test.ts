/**
 * Review findings on `worker.plan()` and the daily budget: a plan on an empty Redis is a floor and
 * says so (the budget admits a run on it only when the floor fits, and the run stops at the calls left), and the plan's listing label is the one
 * that will run (a bulk strategy the source will list page by page is labelled `paged`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QuotaBudgetError } from '../../src/errors.js';
import { createHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

describe('a plan without record counts in Redis', () => {
  it('says the estimate is a floor (exact: false, and why); the run is admitted on it and stops at the calls left instead of overrunning', async () => {
    // 5 pages of records: a full sync costs token 1 + events list 1 + records 5 = 7 calls; the
    // empty-Redis estimate sees one page (3 calls). The review saw 8 calls made against a limit of 6.
    h = await createHarness({ dataset: { events: 4, registrations: 4200, seed: 31 } });
    const worker = h.worker({ dailyCallLimit: 6, listingStrategy: 'paged' });
    const plan = await worker.plan('full', { writes: false });
    expect(plan.countsKnown).toBe(false);
    expect(plan.calls?.exact).toBe(false);
    expect(plan.inexact.join(' ')).toContain('Redis holds no events or record counts yet');
    expect(plan.calls!.total).toBeLessThanOrEqual(6); // the floor fits, so the run is admitted
    h.sim.clearRequests();
    const stopped = worker.performFullSync();
    await expect(stopped).rejects.toBeInstanceOf(QuotaBudgetError);
    await expect(stopped).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', stoppedMidRun: true, callsLeft: 0 });
    await expect(stopped).rejects.toThrow(/every call left today/);
    // Never past the limit: token, events list and 4 of the 5 pages; the 5th page was not requested.
    expect(h.sim.requests).toHaveLength(6);
    expect((await worker.getQuotaUsage())?.used.total).toBe(6);
    // A run over the calls left now is refused up front (nothing sent).
    h.sim.clearRequests();
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', stoppedMidRun: false });
    expect(h.sim.requests).toHaveLength(0);

    // Forced, it continues from the checkpoint; afterwards Redis holds the counts and the plan is exact.
    const run = await worker.performFullSync({ ignoreQuotaBudget: true });
    expect(run.resumed).toBe(true);
    expect(await h.sink.countRecords(h.sim.listEvents()[0]!.id)).toBe(h.sim.registrationCount(h.sim.listEvents()[0]!.id));
    const again = await h.worker({ listingStrategy: 'paged' }).plan('full', { writes: false });
    expect(again).toMatchObject({ countsKnown: true, inexact: [] });
    expect(again.calls).toMatchObject({ exact: true });
  });

  it("a plan with writes estimates an empty Redis's first full sync from its own ID listing: exact", async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 4200, seed: 35 } });
    const worker = h.worker({ listingStrategy: 'paged' });
    const plan = await worker.plan('full');
    expect(plan).toMatchObject({ countsKnown: true, expectedRecords: 4200 });
    expect(plan.writes).toMatchObject({ listed: 4200, upserts: 4200, removals: 0 });
    const run = await worker.performFullSync();
    expect(plan.calls).toMatchObject({ exact: true, records: 5, total: run.apiCalls.total });
  });

  it('budgets by expectedRecordCount when it is set (not exact, but admitted or refused by it)', async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 4200, seed: 32 } });
    const tooSmall = h.worker({ dailyCallLimit: 6, listingStrategy: 'paged', expectedRecordCount: 4200 });
    const plan = await tooSmall.plan('full', { writes: false });
    expect(plan).toMatchObject({ countsKnown: true, expectedRecords: 4200 });
    expect(plan.calls).toMatchObject({ exact: false, records: 5 });
    expect(plan.inexact.join(' ')).toContain('expectedRecordCount');
    await expect(tooSmall.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', countsKnown: true });
    const fits = h.worker({ dailyCallLimit: 7, listingStrategy: 'paged', expectedRecordCount: 4200 });
    const run = await fits.performFullSync();
    expect(run.apiCalls.total).toBe(7);
    expect(plan.calls?.total).toBe(7);
  });

  it('counts a force plan of an event Redis holds no count of as unknown, and admits it on its floor (never refused for good)', async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 900, seed: 33 } });
    const event = h.sim.listEvents()[0]!;
    const worker = h.worker({ dailyCallLimit: 100, listingStrategy: 'paged' });
    const plan = await worker.plan('force', { eventId: event.id, writes: false });
    expect(plan.countsKnown).toBe(false);
    expect(plan.inexact.join(' ')).toContain('no record count for 1 of the events');
    // Refusing a floor would refuse this event's sync every day: it is admitted, and counted after.
    const run = await worker.forceSyncEvent(event.id);
    expect(run.added).toBe(h.sim.registrationCount(event.id));
    expect((await worker.plan('force', { eventId: event.id, writes: false })).countsKnown).toBe(true);
    // A floor over the calls left is refused up front.
    const tight = h.worker({ dailyCallLimit: run.apiCalls.total + 1, listingStrategy: 'paged' });
    const other = h.sim.listEvents()[1]!;
    await expect(tight.forceSyncEvent(other.id)).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', countsKnown: false, stoppedMidRun: false });
  });

});

describe('plans and syncRecord() under dailyCallLimit', () => {
  it('a plan does not spend the calls its run needs: no ID listing for writes past the calls left; syncRecord() is refused with none left', async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 4200, seed: 37 } });
    await h.worker({ listingStrategy: 'paged' }).performFullSync();
    const used = (await h.worker().getQuotaUsage())!.used.total;
    // 3 calls left: the comparison behind `writes` would need 5 ID pages.
    const worker = h.worker({ listingStrategy: 'paged', dailyCallLimit: used + 3 });
    h.sim.clearRequests();
    const plan = await worker.plan('full');
    expect(plan.writes).toBeUndefined();
    expect(plan.inexact.join(' ')).toContain('The writes are not listed: their ID-only listing needs about 5 Zoho calls and 3 are left today');
    expect(h.sim.requests).toHaveLength(0);
    // With enough left the same plan lists them.
    const roomy = await h.worker({ listingStrategy: 'paged', dailyCallLimit: used + 100 }).plan('full');
    expect(roomy.writes).toMatchObject({ upserts: 0, removals: 0, listed: 4200 });

    const spent = (await worker.getQuotaUsage())!.used.total;
    const none = h.worker({ dailyCallLimit: spent });
    const record = h.sim.listRegistrations()[0]!;
    h.sim.clearRequests();
    await expect(none.syncRecord(record.id)).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', callsLeft: 0 });
    expect(h.sim.requests).toHaveLength(0);
    await expect(none.syncRecord(record.id, { ignoreQuotaBudget: true })).resolves.toMatchObject({ outcome: 'unchanged' });
  });
});

describe('a healing check planned without writes', () => {
  it('is not exact: the re-read of the events that differ is known only once compared', async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 800, seed: 36 } });
    const worker = h.worker({ listingStrategy: 'paged' });
    await worker.performFullSync();
    const plain = await worker.plan('discrepancy-check', { writes: false });
    expect(plain.calls?.exact).toBe(true);
    const heal = await worker.plan('discrepancy-check', { heal: true, writes: false });
    expect(heal.calls?.exact).toBe(false);
    expect(heal.inexact.join(' ')).toContain('A heal re-reads the events whose records differ');
  });
});

describe("the plan's listing label", () => {
  it('says paged for a bulk strategy once the source knows Bulk Read is refused (missing scope)', async () => {
    h = await createHarness({
      dataset: { events: 3, registrations: 700, seed: 34 },
      scopes: ['ZohoCreator.report.READ', 'ZohoCreator.dashboard.READ'],
    });
    const worker = h.worker({ listingStrategy: 'bulk' });
    const before = await worker.plan('full', { writes: false });
    expect(before.listing).toBe('bulk'); // nothing known yet: the run will try bulk first
    await worker.performFullSync(); // refused once (code 2945), listed page by page
    h.sim.clearRequests();
    const plan = await worker.plan('full', { writes: false });
    expect(plan.listing).toBe('paged');
    expect(plan.bulkFallback).toContain('ZohoCreator.bulk.CREATE');
    const run = await worker.performFullSync();
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(0);
    expect(plan.calls).toMatchObject({ exact: true, total: run.apiCalls.total });
  });
});
