/**
 * Nothing accepted is lost: pushes wait in the inbox while Zoho is down and apply when it returns;
 * after the retries they sit in the dead-letter stream with their reason, and replaying them applies them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPushHarness, type PushHarness, pushBody, signedJson, waitFor } from './helpers.js';

describe('pushes when Zoho fails (simulator + real Redis)', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('Zoho down while pushes arrive: they wait in the inbox and apply once it is back', async () => {
    const pushes = h.pushes({ maxAttempts: 1000, retryBaseMs: 20, retryMaxMs: 50 });
    await h.source().listEvents();
    h.sim.inject({ kind: 'records', times: 1_000_000, respond: { status: 503, body: { code: 1000, message: 'down' } } });
    const errors: string[] = [];
    pushes.on('error', (e) => errors.push(e.code));
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.recordId));
    await pushes.start();
    const regs = h.sim.listRegistrations().slice(0, 5);
    for (const r of regs) expect((await pushes.handleZohoPush(signedJson(pushBody('edited', r.id)))).status).toBe(202);
    await waitFor(() => errors.length >= 3, 10_000, 'failed attempts');
    expect(applied).toEqual([]);
    expect((await pushes.inbox.counts()).pending).toBe(5);
    h.sim.clearInjections();
    await waitFor(() => applied.length === 5, 10_000, 'applied after Zoho returned');
    expect(applied.sort()).toEqual(regs.map((r) => r.id).sort());
    expect(await pushes.inbox.counts()).toEqual({ pending: 0, dead: 0 });
    expect(pushes.getStatus().failed_batches).toBeGreaterThanOrEqual(3);
    for (const r of regs) expect(await h.redis.get(h.sink.keys.record(r.eventId, r.id))).toBe(JSON.stringify(h.sim.toApiRecord(r)));
  });

  it('after the retries the pushes are dead-lettered with the reason; replaying applies them', async () => {
    const pushes = h.pushes({ maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 20 });
    await h.source().listEvents();
    h.sim.inject({ kind: 'records', times: 1_000_000, respond: { status: 503, body: { code: 1000, message: 'down' } } });
    pushes.on('error', () => undefined);
    const dead: string[] = [];
    pushes.on('pushDeadLettered', (p) => dead.push(...p.recordIds));
    await pushes.start();
    const regs = h.sim.listRegistrations().slice(10, 13);
    for (const r of regs) await pushes.handleZohoPush(signedJson(pushBody('edited', r.id)));
    await waitFor(() => dead.length === 3, 10_000, 'dead-lettered');
    const letters = await pushes.listDeadLettered();
    expect(letters.map((l) => l.recordId).sort()).toEqual(regs.map((r) => r.id).sort());
    expect(letters.every((l) => l.attempts === 3 && l.reason.startsWith('ERR_SYNC_ZOHO'))).toBe(true);
    expect(await pushes.inbox.counts()).toEqual({ pending: 0, dead: 3 });
    for (const r of regs) expect(await h.redis.exists(h.sink.keys.record(r.eventId, r.id))).toBe(0);

    h.sim.clearInjections();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(p.recordId));
    expect(await pushes.replayDeadLettered()).toHaveLength(3);
    await waitFor(() => applied.length === 3, 10_000, 'replayed pushes applied');
    expect(await pushes.inbox.counts()).toEqual({ pending: 0, dead: 0 });
    for (const r of regs) expect(await h.redis.get(h.sink.keys.record(r.eventId, r.id))).toBe(JSON.stringify(h.sim.toApiRecord(r)));
  });
});
