import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordCalls } from '../helpers/harness.js';
import { createPushHarness, type PushHarness, pushBody, signedJson, waitFor } from './helpers.js';

describe('pushes: apply from the inbox (simulator + real Redis)', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('a push for a created record appears in Redis after exactly 1 Zoho record call', async () => {
    const pushes = h.pushes();
    await pushes.start();
    const event = h.sim.listEvents()[0]!;
    const reg = h.sim.addRegistration(event.id);
    // Warm the settings (meta) and token calls, which are not per push.
    await h.source().listEvents();
    h.sim.clearRequests();
    const applied: string[] = [];
    pushes.on('pushApplied', (p) => applied.push(`${p.recordId}:${p.outcome}`));
    const answer = await pushes.handleZohoPush(signedJson(pushBody('created', reg.id)));
    expect(answer.status).toBe(202);
    await waitFor(() => applied.length === 1, 10_000, 'pushApplied');
    expect(applied).toEqual([`${reg.id}:added`]);
    expect(await h.redis.get(h.sink.keys.record(event.id, reg.id))).toBe(JSON.stringify(h.sim.toApiRecord(reg)));
    expect(recordCalls(h)).toBe(1);
    expect(await pushes.inbox.counts()).toEqual({ pending: 0, dead: 0 });
  });

  it('500 pushes within the window cost 3 Zoho listings and all land in Redis', async () => {
    const pushes = h.pushes({ coalesceWindowMs: 3000 });
    await h.source().listEvents();
    const regs = h.sim.listRegistrations().slice(0, 500);
    const answers = await Promise.all(regs.map((r) => pushes.handleZohoPush(signedJson(pushBody('edited', r.id)))));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    h.sim.clearRequests();
    let applied = 0;
    pushes.on('pushApplied', () => applied++);
    await pushes.start();
    await waitFor(() => applied === 500, 20_000, '500 applied');
    expect(recordCalls(h)).toBeLessThanOrEqual(3);
    expect(pushes.getStatus().batches).toBe(3);
    expect((await h.diff()).missing.filter((id) => regs.some((r) => r.id === id))).toEqual([]);
  });

  it('a deleted push removes the record; a forged delete of a record Zoho still has changes nothing', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    const [gone, kept] = h.sim.listRegistrations();
    h.sim.deleteRegistration(gone!.id);
    const pushes = h.pushes();
    await pushes.start();
    const outcomes = new Map<string, string>();
    pushes.on('pushApplied', (p) => outcomes.set(p.recordId, p.outcome));
    await pushes.handleZohoPush(signedJson(pushBody('deleted', gone!.id)));
    await pushes.handleZohoPush(signedJson(pushBody('deleted', kept!.id)));
    await waitFor(() => outcomes.size === 2);
    expect(outcomes.get(gone!.id)).toBe('removed');
    expect(outcomes.get(kept!.id)).toBe('unchanged');
    expect(await h.redis.exists(h.sink.keys.record(gone!.eventId, gone!.id))).toBe(0);
    expect(await h.redis.exists(h.sink.keys.record(kept!.eventId, kept!.id))).toBe(1);
  });
});
