/**
 * `worker.plan()` (call estimates, exact writes, no writes made) and the per-day quota tally in
 * Redis (shared by replicas, refusing a run over budget), on the simulator and the real Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { zohoDay } from '../../src/worker/quota.js';
import { createHarness, type Harness, loseRecords } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

/** Every record key and index of every event as DUMP bytes (pipelined). */
async function snapshot(harness: Harness): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const event of harness.sim.listEvents()) Object.assign(out, await harness.dumpEvent(event.id));
  out.meta = JSON.stringify(await harness.sink.state.getSyncMeta());
  return out;
}

describe('worker.plan()', () => {
  it('estimates a paged full sync exactly and lists the exact writes, writing nothing', async () => {
    h = await createHarness({ dataset: { events: 6, registrations: 2600, seed: 11 } });
    const worker = h.worker({ listingStrategy: 'paged' });
    await worker.performFullSync();
    const lost = await loseRecords(h, 3);
    const deleted = h.sim.listRegistrations()[5]!;
    h.sim.deleteRegistration(deleted.id);
    h.sim.clock.advance(2000);
    const edited = h.sim.editRegistration(h.sim.listRegistrations()[40]!.id);

    const before = await snapshot(h);
    const plan = await worker.plan('full');
    expect(await snapshot(h)).toEqual(before);
    expect(plan.listing).toBe('paged');
    // From the plan's own ID listing (Zoho holds one record less now), not Redis's count of the last run.
    expect(plan.expectedRecords).toBe(2599);
    expect(plan.writes?.listed).toBe(2599);
    expect(plan.writes?.upserts).toBe(4);
    expect(plan.writes?.removals).toBe(1);
    const upserted = plan.writes!.events.flatMap((e) => e.upsertIds ?? []).sort();
    expect(upserted).toEqual([...lost, edited.id].sort());
    expect(plan.writes!.events.flatMap((e) => e.removalIds ?? [])).toEqual([deleted.id]);
    expect(plan.planCalls.ids).toBe(3); // the ID-only listing behind `writes`

    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 3, updated: 1, removed: 1 });
    expect(plan.calls).toMatchObject({ exact: true, records: result.apiCalls.records, meta: result.apiCalls.meta, token: result.apiCalls.token });
    expect(plan.calls?.total).toBe(result.apiCalls.total);
  });

  it('estimates a resumed paged full sync exactly: the pages left, then the ID-only pass over the whole listing', async () => {
    h = await createHarness({ dataset: { events: 6, registrations: 4500, seed: 17 } });
    const worker = h.worker({ listingStrategy: 'paged', maxRetries: 0 });
    await worker.performFullSync();
    // The next full sync stops part-way through its 5 pages; its checkpoint names the next one.
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, after: 2, respond: { type: 'zoho', status: 500, code: 9999 } });
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_API' });
    expect((await h.sink.state.getCheckpoint('full'))?.nextPage).toBe(3);

    const plan = await worker.plan('full', { writes: false });
    const result = await worker.performFullSync();
    expect(result).toMatchObject({ resumed: true, unchanged: 2500 }); // pages 3–5 listed again; the ID-only pass finds nothing else
    expect(plan.calls).toMatchObject({ exact: true, records: 3, ids: 5 });
    expect(plan.calls).toMatchObject({ records: result.apiCalls.records, ids: result.apiCalls.ids, meta: result.apiCalls.meta, token: result.apiCalls.token });
  });

  it('estimates a bulk full sync within two calls, and an incremental and a discrepancy check', async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 1500, seed: 12 }, bulkRecordsPerJob: 200_000 });
    const worker = h.worker({ listingStrategy: 'bulk' }, { bulkPollMs: 5 });
    const first = await worker.plan('full', { writes: false });
    const run = await worker.performFullSync();
    expect(first.listing).toBe('bulk');
    expect(first.calls?.exact).toBe(false);
    expect(Math.abs((first.calls?.total ?? 0) - run.apiCalls.total)).toBeLessThanOrEqual(2);

    const incremental = await worker.plan('incremental');
    const inc = await worker.performIncrementalSync();
    expect(incremental.calls?.total).toBe(inc.apiCalls.total);

    const check = await worker.plan('discrepancy-check', { heal: true });
    expect(check.writes).toEqual({ upserts: 0, removals: 0, rejected: 0, listed: 1500, events: [] });
  });

  it('names only counts beyond maxIdsPerEvent, and flags removals the guard would block', async () => {
    h = await createHarness({ dataset: { events: 2, registrations: 400, seed: 13 } });
    const worker = h.worker({ listingStrategy: 'paged' });
    await worker.performFullSync();
    const event = h.sim.listEvents()[0]!;
    const regs = h.sim.listRegistrations(event.id);
    for (const r of regs.slice(0, Math.ceil(regs.length * 0.6))) h.sim.deleteRegistration(r.id);
    const plan = await worker.plan('discrepancy-check', { heal: true, maxIdsPerEvent: 10 });
    const entry = plan.writes!.events.find((e) => e.eventId === event.id)!;
    expect(entry.removals).toBe(Math.ceil(regs.length * 0.6));
    expect(entry.removalIds).toBeUndefined();
    expect(entry.removalBlocked).toBe(true);
  });
});

describe('quota accounting in Redis', () => {
  it('tallies calls per Zoho day in Redis, readable from another replica, and shows them in the status', async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 900, seed: 14 } });
    const a = h.worker({ quotaTimeZone: 'Asia/Ho_Chi_Minh' });
    const b = h.worker({ quotaTimeZone: 'Asia/Ho_Chi_Minh', dailyCallLimit: 250 });
    const run = await a.performFullSync();
    const day = zohoDay(Date.now(), 'Asia/Ho_Chi_Minh');
    const seen = await b.getQuotaUsage();
    expect(seen).toMatchObject({ day, timeZone: 'Asia/Ho_Chi_Minh', limit: 250, left: 250 - run.apiCalls.total });
    expect(seen?.used).toEqual(run.apiCalls);
    expect(await h.redis.hgetall(`${h.prefix}:{g}:quota:${day}`)).toEqual({
      token: String(run.apiCalls.token),
      records: String(run.apiCalls.records),
      meta: String(run.apiCalls.meta),
    });
    expect(await h.redis.ttl(`${h.prefix}:{g}:quota:${day}`)).toBeGreaterThan(86_400);
    // b's own call (a token mint and Get Record by ID) adds to the same tally.
    await b.syncRecord(h.sim.listRegistrations()[0]!.id);
    const extra = b.getStatus().api_calls.total.total;
    expect(extra).toBe(2);
    expect(b.getStatus().quota.calls_today).toEqual({
      day,
      time_zone: 'Asia/Ho_Chi_Minh',
      used: run.apiCalls.total + extra,
      limit: 250,
      left: 250 - run.apiCalls.total - extra,
    });
    expect((await a.getQuotaUsage())?.used.total).toBe(run.apiCalls.total + extra);
  });

  it('refuses a run whose plan exceeds the calls left today, before any Zoho call, unless forced', async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 2500, seed: 15 } });
    const worker = h.worker({ dailyCallLimit: 6, listingStrategy: 'paged' });
    await worker.performFullSync({ ignoreQuotaBudget: true }); // 1 token + 1 events + 3 pages = 5
    h.sim.clearRequests();
    const refused = worker.performFullSync();
    await expect(refused).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', estimatedCalls: 4, callsLeft: 1 });
    expect(h.sim.requests).toHaveLength(0);
    const plan = await worker.plan('full', { writes: false });
    expect(plan).toMatchObject({ fitsQuota: false, quota: { left: 1, limit: 6 } });
    const forced = await worker.performFullSync({ ignoreQuotaBudget: true });
    expect(forced.unchanged).toBe(2500);
    expect((await worker.getQuotaUsage())?.left).toBe(0);
  });
});

describe('HTTP ?dry_run=true', () => {
  it('answers the plan instead of running', async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 600, seed: 16 } });
    const worker = h.worker({ listingStrategy: 'paged' });
    const { createSyncRoutes } = await import('../../src/http/routes.js');
    const routes = createSyncRoutes(worker, { token: 'secret-token-0123456789' });
    const full = routes.find((r) => r.name === 'full-sync')!;
    h.sim.clearRequests();
    const response = await full.handler({
      method: 'POST',
      path: '/full-sync',
      headers: { authorization: 'Bearer secret-token-0123456789' },
      query: { dry_run: 'true' },
      params: {},
      raw: undefined,
    } as unknown as Parameters<typeof full.handler>[0]);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ kind: 'full', listing: 'paged', writes: { upserts: 600, removals: 0 } });
    expect(worker.getStatus().last_run).toBeNull();
    const bad = await full.handler({
      method: 'POST',
      path: '/full-sync',
      headers: { authorization: 'Bearer secret-token-0123456789' },
      query: { dry_run: 'maybe' },
      params: {},
      raw: undefined,
    } as unknown as Parameters<typeof full.handler>[0]);
    expect(bad.status).toBe(400);
  });
});
