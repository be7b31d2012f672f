/** Trusted mode (off by default): the pushed record is stored without reading Zoho; a delete removes without a read. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { recordCalls } from '../helpers/harness.js';
import { createPushHarness, type PushHarness, signedJson, waitFor } from './helpers.js';

describe('pushes in trusted mode', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('stores the pushed record without a Zoho record call, and removes on delete without one', async () => {
    const pushes = h.pushes({ trusted: true });
    await h.source().listEvents();
    await pushes.start();
    const event = h.sim.listEvents()[2]!;
    const reg = h.sim.addRegistration(event.id);
    const record = h.sim.toApiRecord(reg);
    h.sim.clearRequests();
    const outcomes: string[] = [];
    pushes.on('pushApplied', (p) => outcomes.push(`${p.action}:${p.outcome}`));
    const created = JSON.stringify({ action: 'created', record_id: reg.id, event_id: event.id, record });
    expect((await pushes.handleZohoPush(signedJson(created))).status).toBe(202);
    await waitFor(() => outcomes.length === 1, 10_000, 'created applied');
    expect(await h.redis.get(h.sink.keys.record(event.id, reg.id))).toBe(JSON.stringify(record));
    const deleted = JSON.stringify({ action: 'deleted', record_id: reg.id, event_id: event.id });
    await pushes.handleZohoPush(signedJson(deleted));
    await waitFor(() => outcomes.length === 2, 10_000, 'deleted applied');
    expect(outcomes).toEqual(['created:added', 'deleted:removed']);
    expect(await h.redis.exists(h.sink.keys.record(event.id, reg.id))).toBe(0);
    expect(recordCalls(h)).toBe(0);
  });

  it('is off by default: the same pushed record is read from Zoho (the body is only a hint)', async () => {
    const pushes = h.pushes();
    await pushes.start();
    const reg = h.sim.listRegistrations()[3]!;
    const forged = { ...h.sim.toApiRecord(reg), Name: 'forged' };
    let applied = 0;
    pushes.on('pushApplied', () => applied++);
    await pushes.handleZohoPush(signedJson(JSON.stringify({ action: 'edited', record_id: reg.id, record: forged })));
    await waitFor(() => applied === 1, 10_000, 'applied');
    expect(await h.redis.get(h.sink.keys.record(reg.eventId, reg.id))).toBe(JSON.stringify(h.sim.toApiRecord(reg)));
    expect(recordCalls(h)).toBe(1);
  });

  it('rejects options it cannot honour', () => {
    expect(() => h.pushes({ secret: 'short' })).toThrow(ConfigError);
    expect(() => h.pushes({ secret: undefined })).toThrow(/secret/);
    expect(() => h.pushes({ maxBatch: 201 })).toThrow(/200/);
    expect(() => h.pushes({ bogus: 1 } as never)).toThrow(/Unknown option/);
  });
});

describe('the shared-secret fallback', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('accepts the configured secret in X-ZRS-Push-Secret, refuses a wrong one, and is off unless configured', async () => {
    const shared = 'shared-fallback-secret-0123';
    const both = h.pushes({ sharedSecret: shared });
    const hmacOnly = h.pushes();
    const id = h.sim.listRegistrations()[0]!.id;
    const body = `action=edited&record_id=${id}`;
    const form = (secret: string) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-zrs-push-secret': secret }, body });
    expect((await both.handleZohoPush(form(shared))).status).toBe(202);
    const wrong = await both.handleZohoPush(form(`${shared}x`));
    expect([wrong.status, (wrong.body as { error: { code: string } }).error.code]).toEqual([401, 'ERR_SYNC_PUSH_SIGNATURE']);
    expect((await hmacOnly.handleZohoPush(form(shared))).status).toBe(401);
    expect((await both.inbox.counts()).pending).toBe(1);
  });
});
