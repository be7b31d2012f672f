/** The CLI's `pushes` (list pending / failed) and `replay-pushes` (apply the failed ones) against real Redis and the simulator. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliIo, EXIT, runCli } from '../../src/cli/run.js';
import { REDIS_URL } from '../helpers/harness.js';
import { createPushHarness, type PushHarness, pushBody, signedJson, waitFor } from './helpers.js';

function io(env: Record<string, string>): { io: CliIo; out: () => string } {
  let out = '';
  return { io: { stdout: { write: (s: string) => (out += s), isTTY: false }, stderr: { write: () => true }, env }, out: () => out };
}

describe('CLI pushes / replay-pushes', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('lists pending and failed pushes, and replay-pushes applies the failed ones', async () => {
    const env = {
      REDIS_URL,
      SYNC_KEY_PREFIX: h.prefix,
      ZOHO_CLIENT_ID: h.sim.credentials.clientId,
      ZOHO_CLIENT_SECRET: h.sim.credentials.clientSecret,
      ZOHO_REFRESH_TOKEN: h.sim.credentials.refreshToken,
      ZOHO_ACCOUNT_OWNER: h.sim.config.accountOwner,
      ZOHO_APP_LINK_NAME: h.sim.config.appLinkName,
      ZOHO_EVENTS_REPORT: h.sim.config.eventsReport,
      ZOHO_REGISTRATIONS_REPORT: h.sim.config.registrationsReport,
      ZOHO_EVENT_LOOKUP_FIELD: h.sim.config.eventLookupField,
      ZOHO_TIME_ZONE: h.sim.config.timeZone,
      ZOHO_DATE_FORMAT: h.sim.config.dateFormat,
      ZOHO_API_BASE_URL: h.sim.apiBaseUrl,
      ZOHO_ACCOUNTS_BASE_URL: h.sim.accountsBaseUrl,
    };
    const pushes = h.pushes({ maxAttempts: 2, retryBaseMs: 10 });
    pushes.on('error', () => undefined);
    h.sim.inject({ kind: 'records', times: 1_000_000, respond: { status: 503, body: { code: 1000, message: 'down' } } });
    const [a, b, c] = h.sim.listRegistrations();
    await pushes.handleZohoPush(signedJson(pushBody('edited', a!.id)));
    await pushes.handleZohoPush(signedJson(pushBody('edited', b!.id)));
    let dead = 0;
    pushes.on('pushDeadLettered', (p) => (dead += p.pushIds.length));
    await pushes.start();
    await waitFor(() => dead === 2, 10_000, 'dead-lettered');
    await pushes.stop();
    await pushes.handleZohoPush(signedJson(pushBody('created', c!.id)));

    const listed = io(env);
    expect(await runCli(['pushes', '--json'], listed.io)).toBe(EXIT.OK);
    const doc = JSON.parse(listed.out().trim().split('\n').at(-1)!) as { data: { totals: unknown; pending: { record_id: string }[]; failed: { record_id: string; attempts: number; reason: string }[] } };
    expect(doc.data.totals).toEqual({ pending: 1, failed: 2 });
    expect(doc.data.pending.map((e) => e.record_id)).toEqual([c!.id]);
    expect(doc.data.failed.map((e) => e.record_id)).toEqual([a!.id, b!.id]);
    expect(doc.data.failed.every((e) => e.attempts === 2 && e.reason.includes('ERR_SYNC_ZOHO'))).toBe(true);

    h.sim.clearInjections();
    const replayed = io(env);
    expect(await runCli(['replay-pushes', '--json'], replayed.io)).toBe(EXIT.OK);
    const result = JSON.parse(replayed.out().trim().split('\n').at(-1)!) as { data: unknown };
    expect(result.data).toMatchObject({ replayed: 2, applied: 2, failed: 0 });
    for (const r of [a!, b!]) expect(await h.redis.get(h.sink.keys.record(r.eventId, r.id))).toBe(JSON.stringify(h.sim.toApiRecord(r)));
    expect((await pushes.inbox.counts()).dead).toBe(0);
  });
});
