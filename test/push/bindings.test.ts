/**
 * The push route through both HTTP bindings over real sockets: the exact requests the README's
 * Deluge snippets produce are accepted and applied; every kind of bad request is refused with its
 * documented code, queues nothing and calls Zoho not at all.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyncWorkerRouter } from '../../src/express.js';
import { syncWorkerRoutes } from '../../src/fastify.js';
import { computeHmac } from '../../src/push/signature.js';
import type { ZohoPushes } from '../../src/push/zoho-pushes.js';
import type { SyncWorker } from '../../src/worker/sync-worker.js';
import { createPushHarness, type PushHarness, SECRET, waitFor } from './helpers.js';

const MOUNT = '/api/sync-worker';
const TOKEN = 'router-bearer-token-0123456789';

/** What Deluge's `Map.toString()` gives for the snippet's map: compact JSON, BIGINT IDs as bare numbers — [inferred]. */
function delugeBody(action: string, recordId: string, eventId: string): string {
  return `{"action":"${action}","record_id":${recordId},"event_id":${eventId}}`;
}

/** Headers as the snippet sets them: `zoho.currenttime.toLong()` (epoch ms) and `zoho.encryption.hmacsha256(secret, ts + "." + body, "hex")`. */
function delugeHeaders(body: string, now = Date.now(), contentType = 'application/json'): Record<string, string> {
  const timestamp = String(now);
  return {
    'Content-Type': contentType,
    'X-ZRS-Timestamp': timestamp,
    'X-ZRS-Signature': computeHmac(SECRET, timestamp, body).toString('hex'),
  };
}

type Mount = (worker: SyncWorker, pushes: ZohoPushes) => Promise<{ url: string; close: () => Promise<void> }>;

const bindings: [string, Mount][] = [
  [
    'express',
    async (worker, pushes) => {
      const app = express();
      app.use(MOUNT, createSyncWorkerRouter(worker, { token: TOKEN, pushes }));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${MOUNT}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      };
    },
  ],
  [
    'fastify',
    async (worker, pushes) => {
      const app = Fastify();
      await app.register(syncWorkerRoutes, { prefix: MOUNT, worker, token: TOKEN, pushes });
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      return { url: `${address}${MOUNT}`, close: () => app.close() };
    },
  ],
];

for (const [name, mount] of bindings) {
  describe(`push route (${name})`, () => {
    let h: PushHarness;
    let pushes: ZohoPushes;
    let url: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      h = await createPushHarness();
      pushes = h.pushes({ maxBodyBytes: 64 * 1024 });
      ({ url, close } = await mount(h.worker(), pushes));
    });
    afterAll(async () => {
      await close();
      await h.close();
    });

    const post = (headers: Record<string, string>, body: string | Buffer) => fetch(`${url}/push`, { method: 'POST', headers, body });

    it('accepts the Created / Edited / Deleted snippets byte for byte and applies them', async () => {
      const event = h.sim.listEvents()[1]!;
      const created = h.sim.addRegistration(event.id);
      const edited = h.sim.listRegistrations(event.id)[0]!;
      const deleted = h.sim.listRegistrations(event.id)[1]!;
      await h.sink.upsertRecords([{ id: deleted.id, eventId: event.id, modifiedAt: 1, data: { ID: deleted.id } }]);
      h.sim.deleteRegistration(deleted.id);
      const outcomes = new Map<string, string>();
      pushes.on('pushApplied', (p) => outcomes.set(p.recordId, p.outcome));
      await pushes.start();
      for (const [action, id] of [['created', created.id], ['edited', edited.id], ['deleted', deleted.id]] as const) {
        const body = delugeBody(action, id, event.id);
        const response = await post(delugeHeaders(body), body);
        expect(response.status).toBe(202);
        expect(await response.json()).toMatchObject({ accepted: true, action, record_id: id });
      }
      await waitFor(() => outcomes.size === 3, 10_000, 'three pushes applied');
      expect(Object.fromEntries(outcomes)).toEqual({ [created.id]: 'added', [edited.id]: 'added', [deleted.id]: 'removed' });
      expect(await h.redis.get(h.sink.keys.record(event.id, created.id))).toBe(JSON.stringify(h.sim.toApiRecord(created)));
      expect(await h.redis.exists(h.sink.keys.record(event.id, deleted.id))).toBe(0);
      await pushes.stop();
    });

    it('accepts the snippet when Creator sends its TEXT body as text/plain, and a form-encoded push with the shared-secret fallback off', async () => {
      const reg = h.sim.listRegistrations()[5]!;
      const body = delugeBody('edited', reg.id, reg.eventId);
      expect((await post(delugeHeaders(body, Date.now(), 'text/plain;charset=UTF-8'), body)).status).toBe(202);
      const form = `action=edited&record_id=${reg.id}`;
      expect((await post(delugeHeaders(form, Date.now(), 'application/x-www-form-urlencoded'), form)).status).toBe(202);
      const pending = await pushes.listPending();
      expect(pending.slice(-2).map((e) => e.recordId)).toEqual([reg.id, reg.id]);
    });

    it('refuses bad requests with the documented codes, queuing nothing and calling Zoho never', async () => {
      const reg = h.sim.listRegistrations()[7]!;
      const body = delugeBody('edited', reg.id, reg.eventId);
      const before = (await pushes.inbox.counts()).pending;
      h.sim.clearRequests();
      const rejected: string[] = [];
      pushes.on('pushRejected', (p) => rejected.push(p.code));
      const replayHeaders = delugeHeaders(body);
      expect((await post(replayHeaders, body)).status).toBe(202);
      const cases: [string, Record<string, string>, string | Buffer, number, string][] = [
        ['bad signature', { ...delugeHeaders(body), 'X-ZRS-Signature': 'ab'.repeat(32) }, body, 401, 'ERR_SYNC_PUSH_SIGNATURE'],
        ['body changed after signing', delugeHeaders(body), body.replace('edited', 'deleted'), 401, 'ERR_SYNC_PUSH_SIGNATURE'],
        ['old timestamp', delugeHeaders(body, Date.now() - 6 * 60_000), body, 401, 'ERR_SYNC_PUSH_EXPIRED'],
        ['replayed signature', replayHeaders, body, 409, 'ERR_SYNC_PUSH_REPLAYED'],
        ['missing secret', { 'Content-Type': 'application/json' }, body, 401, 'ERR_SYNC_PUSH_SIGNATURE'],
        ['bearer token instead of a signature', { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body, 401, 'ERR_SYNC_PUSH_SIGNATURE'],
        ['wrong content type', delugeHeaders(body, Date.now(), 'multipart/form-data; boundary=x'), body, 415, 'ERR_SYNC_PUSH_CONTENT_TYPE'],
        ['1 MB body', delugeHeaders('x'), Buffer.alloc(1024 * 1024, 0x20), 413, 'ERR_SYNC_PUSH_TOO_LARGE'],
        ['no record ID', delugeHeaders('{"action":"edited"}'), '{"action":"edited"}', 400, 'ERR_SYNC_INVALID_INPUT'],
      ];
      for (const [label, headers, payload, status, code] of cases) {
        const response = await post(headers, payload);
        const answer = (await response.json()) as { error: { code: string; message: string } };
        expect({ label, status: response.status, code: answer.error.code }).toEqual({ label, status, code });
        expect(answer.error.message).not.toContain(SECRET);
      }
      expect(rejected).toEqual(cases.map((c) => c[4]));
      // Only the one good push was queued, and nothing reached Zoho.
      expect((await pushes.inbox.counts()).pending).toBe(before + 1);
      expect(h.sim.requests).toHaveLength(0);
    });

    it('shows push counts and lag in GET /status', async () => {
      const response = await fetch(`${url}/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const status = (await response.json()) as { pushes: { received: number; applied: number; lag_ms: { p50: number | null } } };
      expect(status.pushes.received).toBeGreaterThanOrEqual(6);
      expect(status.pushes.applied).toBe(3);
      expect(status.pushes.lag_ms.p50).not.toBeNull();
    });
  });
}
