/**
 * Zoho calls made by pushes (outside any run) go into the daily tally in Redis, the one runs and
 * plans count in (review of issue 11): a worker on the same sink sees them in `getQuotaUsage()`.
 * Simulator + real Redis.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { zohoDay } from '../../src/worker/quota.js';
import { createPushHarness, type PushHarness, pushBody, signedJson, waitFor } from './helpers.js';

describe('pushes: Zoho calls in the daily tally', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('adds every batch read (retries included) to the tally of the Zoho day in quotaTimeZone', async () => {
    const zone = 'Asia/Ho_Chi_Minh';
    const pushes = h.pushes({ quotaTimeZone: zone, coalesceWindowMs: 500 });
    const worker = h.worker({ quotaTimeZone: zone, dailyCallLimit: 250 });
    const regs = h.sim.listRegistrations().slice(0, 250);
    for (const r of regs) expect((await pushes.handleZohoPush(signedJson(pushBody('edited', r.id)))).status).toBe(202);
    h.sim.clearRequests();
    let applied = 0;
    pushes.on('pushApplied', () => applied++);
    await pushes.start();
    await waitFor(() => applied === 250, 20_000, '250 applied');
    // Two by-ID listings (≤ 200 IDs each), and the settings/token calls of a fresh source, minus the token grant.
    const sent = h.sim.requests.filter((r) => r.kind !== 'token').length;
    expect(sent).toBeGreaterThanOrEqual(2);
    const usage = await worker.getQuotaUsage();
    expect(usage).toMatchObject({ day: zohoDay(Date.now(), zone), limit: 250 });
    expect(usage!.used.total).toBe(sent);
    expect(usage!.used.records + usage!.used.meta).toBe(sent);
    expect(await h.redis.hget(`${h.prefix}:{g}:quota:${zohoDay(Date.now(), zone)}`, 'records')).toBe(String(usage!.used.records));

    // A request Zoho answers with an error still spent a call: the retried read counts twice.
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, respond: { type: 'zoho', status: 500, code: 9999 }, times: 1 });
    h.sim.clearRequests();
    await pushes.handleZohoPush(signedJson(pushBody('edited', regs[0]!.id)));
    await waitFor(() => applied === 251, 20_000, 'applied after a retry');
    const after = await worker.getQuotaUsage();
    expect(after!.used.total).toBe(sent + h.sim.requests.filter((r) => r.kind !== 'token').length);
    expect(h.sim.requests.filter((r) => r.kind !== 'token').length).toBeGreaterThanOrEqual(2);
  });

  it('rejects a quotaTimeZone that is not an IANA zone', () => {
    expect(() => h.pushes({ quotaTimeZone: 'Mars/Olympus' })).toThrow(/quotaTimeZone/);
  });
});
