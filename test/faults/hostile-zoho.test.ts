/**
 * Fault rows of issue 12 items 1–4, 6 and 14 (a hostile Zoho): each fault fails a full sync with
 * its own typed error, stores nothing that is not Zoho's, spends a bounded number of calls; then
 * the fault goes away and the worker converges — checked record for record against the simulator
 * (an ID that is not the simulator's counts as `extra`, so foreign data would show).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { SyncWorker } from '../../src/worker/sync-worker.js';
import type { FetchFunction } from '../../src/zoho/http-client.js';
import type { ZohoCreatorSourceOptions } from '../../src/zoho/source-options.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { type Loopback, json, row, startLoopback } from '../zoho/loopback.js';
import { CONVERGED, checkIntegrity, faultRow } from './helpers.js';

const MB = 1024 * 1024;
const DATASET = { events: 10, registrations: 1200 };

/** One synthetic answer to a records request, or `undefined` to let the simulator answer. */
type Answer = { rows: Record<string, unknown>[]; cursor?: string } | Response | undefined;

/**
 * A `fetch` that, while `active.on`, lets `plan` answer the registrations listing (call counts
 * from 1 per run of the plan); everything else goes to the simulator.
 */
function hostileFetch(h: Harness, plan: (call: number, cursor: string | null) => Answer, active: { on: boolean }): FetchFunction {
  let call = 0;
  return async (input, init) => {
    if (!active.on || !String(input).includes(`/report/${h.sim.config.registrationsReport}?`)) return globalThis.fetch(input, init);
    const answer = plan(++call, new Headers(init?.headers).get('record_cursor'));
    if (answer === undefined) return globalThis.fetch(input, init);
    if (answer instanceof Response) return answer;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (answer.cursor !== undefined) headers.record_cursor = answer.cursor;
    return new Response(JSON.stringify({ code: 3000, data: answer.rows }), { status: 200, headers });
  };
}

/** The simulator's own records (so anything a faulty page stores is still Zoho's truth). */
const regs = (h: Harness, from: number, count: number): Record<string, unknown>[] =>
  h.sim.listRegistrations().slice(from, from + count).map((r) => h.sim.toApiRecord(r));

function capturingLogger(lines: string[]): Logger {
  const put = (message: string, fields?: Record<string, unknown>): void => {
    lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { debug: put, info: put, warn: put, error: put };
}

/** The fault is gone: the next runs (a resume, then a complete one) converge. Returns the row. */
async function recover(h: Harness, worker: SyncWorker, fault: string) {
  await worker.performFullSync();
  await worker.performFullSync();
  const integrity = await checkIntegrity(h);
  expect(integrity).toEqual(CONVERGED);
  return faultRow(fault, integrity);
}

describe('hostile Zoho (real Redis + simulator)', () => {
  let h: Harness | undefined;
  const servers: Loopback[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    await h?.close();
    h = undefined;
  });

  async function evilHost(): Promise<Loopback> {
    const evil = await startLoopback((req, res) => {
      if (req.method === 'POST') return json(res, 200, { access_token: '1000.evil-000000000000000000', expires_in: 3600, token_type: 'Bearer' });
      return json(res, 200, { code: 3000, data: [row('6666666666666666666', h!.sim.listEvents()[0]!.id)] });
    });
    servers.push(evil);
    return evil;
  }

  function worker(sourceOptions: Partial<ZohoCreatorSourceOptions> = {}, workerOptions: Parameters<Harness['worker']>[0] = {}): SyncWorker {
    const w = h!.worker({ lease: { enabled: false }, ...workerOptions }, sourceOptions);
    w.on('error', () => undefined);
    return w;
  }

  it('the token grant is redirected (307) to another host: ERR_SYNC_ZOHO_REDIRECT, the secret never goes there', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 31 } });
    const evil = await evilHost();
    h.sim.inject({ kind: 'token', respond: { status: 307, body: '', headers: { location: `${evil.url}/oauth/v2/token` } } });
    const w = worker();
    await expect(w.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_REDIRECT });
    expect(evil.requests).toHaveLength(0);
    expect(h.sim.countRequests({ kind: 'token' })).toBe(1);
    task.meta.fault = await recover(h, w, 'token grant redirected (307) to another host');
  });

  it('page 2 is redirected (302) to a host serving other records: refused, the other host never asked, nothing foreign stored', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 32 } });
    const evil = await evilHost();
    h.sim.inject({
      kind: 'records',
      report: h.sim.config.registrationsReport,
      page: 2,
      respond: { status: 302, body: '', headers: { location: `${evil.url}/creator/v2.1/data/x/y/report/All` } },
    });
    const w = worker();
    await expect(w.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_REDIRECT, httpStatus: 302 });
    expect(evil.requests).toHaveLength(0);
    expect(await h.redisIds()).not.toContain('6666666666666666666');
    task.meta.fault = await recover(h, w, 'API page redirected (302) to another host');
  });

  it('Zoho echoes the client secret and refresh token in its error message: scrubbed from status and logs', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 33 } });
    const { clientSecret, refreshToken } = h.sim.credentials;
    h.sim.inject({
      kind: 'records',
      report: h.sim.config.registrationsReport,
      page: 2,
      respond: { type: 'zoho', status: 400, code: 2945, message: `invalid oauthscope for ${refreshToken} (client ${clientSecret})` },
    });
    const lines: string[] = [];
    const w = worker({ logger: capturingLogger(lines) }, { logger: capturingLogger(lines), logLevel: 'debug' });
    const error = await w.performFullSync().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_API, zohoCode: 2945 });
    const said = [String((error as Error).message), JSON.stringify(error), JSON.stringify(w.getStatus()), ...lines].join('\n');
    expect(said).toContain('[redacted]');
    expect(said).not.toContain(clientSecret);
    expect(said).not.toContain(refreshToken);
    task.meta.fault = await recover(h, w, 'Zoho echoes secrets in an error message');
  });

  it('the token names another api_domain and the host answers 1030: not switched; the error names both hosts and dataCentre', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 34 } });
    const foreign = { access_token: '1000.other-dc-token-0000000000', expires_in: 3600, api_domain: 'https://www.zohoapis.eu', token_type: 'Bearer' };
    h.sim.inject({ kind: 'token', times: 2, respond: { status: 200, body: foreign } });
    const w = worker();
    const error = await w.performFullSync().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_API, zohoCode: 1030 });
    expect((error as Error).message).toContain('www.zohoapis.eu');
    expect((error as Error).message).toContain(new URL(h.sim.apiBaseUrl).host);
    expect((error as Error).message).toContain('`dataCentre`');
    task.meta.fault = await recover(h, w, 'token for another api_domain, then code 1030');
  });

  it('the same record_cursor forever: the listing stops at the repeat (3 calls), nothing removed', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 35 } });
    const active = { on: true };
    let fresh = 1000;
    const fetch = hostileFetch(h, (call) => (call === 1 ? undefined : { rows: regs(h!, fresh++, 1), cursor: 'SAME' }), active);
    const w = worker({ fetch });
    await expect(w.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
    expect(fresh - 1000).toBe(2); // pages 2 and 3: page 3 repeated page 2's cursor
    active.on = false;
    task.meta.fault = await recover(h, w, 'record_cursor repeats forever');
  });

  it('a 3-cursor cycle A → B → C → A: stopped when A comes again', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 36 } });
    const active = { on: true };
    const cycle = ['A', 'B', 'C'];
    let pages = 0;
    const fetch = hostileFetch(h, (call) => (call === 1 ? undefined : { rows: regs(h!, 1000 + pages, 1), cursor: cycle[pages++ % 3] }), active);
    const w = worker({ fetch });
    const error = await w.performFullSync().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
    expect((error as Error).message).toContain('page 5 returned a record_cursor that page 2 had returned already');
    expect(pages).toBe(4);
    active.on = false;
    task.meta.fault = await recover(h, w, 'record_cursor cycle of 3');
  });

  it('fresh cursors but pages of only already-listed IDs: stopped at the first such page', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 37 } });
    const active = { on: true };
    let pages = 0;
    const fetch = hostileFetch(h, (call) => (call === 1 ? undefined : { rows: regs(h!, 1000, 5), cursor: `fresh-${++pages}` }), active);
    const w = worker({ fetch });
    await expect(w.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
    expect(pages).toBe(2);
    active.on = false;
    task.meta.fault = await recover(h, w, 'pages of already-listed IDs only');
  });

  it('an endless chain of one-record pages: the run stops at maxCallsPerRun and says how many calls it made', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 38 } });
    const active = { on: true };
    let pages = 0;
    const fetch = hostileFetch(h, (call) => (call === 1 ? undefined : { rows: regs(h!, 1000 + (pages % 200), 1), cursor: `next-${++pages}` }), active);
    const w = worker({ fetch }, { maxCallsPerRun: 60 });
    const error = await w.performFullSync().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.CALL_LIMIT, calls: 60, limit: 60 });
    // 60 requests in all: the events listing, page 1 from the simulator, 58 synthetic pages.
    expect(h.sim.countRequests({ kind: 'records' })).toBe(2); // the events listing and page 1
    expect(pages).toBe(58);
    active.on = false;
    task.meta.fault = await recover(h, w, 'endless one-record pages (call ceiling)');
  });

  it('a 50 MB page: refused past maxResponseBytes, reading stopped early', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 39 } });
    const active = { on: true };
    let pulled = 0;
    const chunk = new TextEncoder().encode(`${JSON.stringify(regs(h, 0, 1)[0])},`.repeat(200));
    const huge = (): Response => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"code":3000,"data":['));
        },
        pull(controller) {
          if (pulled >= 50 * MB) return controller.close();
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      return new Response(stream, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const fetch = hostileFetch(h, (call) => (call === 2 ? huge() : undefined), active);
    const w = worker({ fetch, maxResponseBytes: MB });
    await expect(w.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE });
    expect(pulled).toBeLessThan(2 * MB);
    active.on = false;
    task.meta.fault = await recover(h, w, '50 MB response (maxResponseBytes)');
  });

  it('the meta API serves a date_format that would rewrite the criteria: ConfigError before any records call', async ({ task }) => {
    h = await createHarness({ dataset: { ...DATASET, seed: 40 } });
    const { appLinkName, accountOwner, timeZone } = h.sim.config;
    h.sim.inject({
      kind: 'meta',
      respond: {
        status: 200,
        body: {
          code: 3000,
          applications: [{ link_name: appLinkName, workspace_name: accountOwner, time_zone: timeZone, date_format: "dd-MMM-yyyy'' || 'ID' != 0 || ''dd-MMM-yyyy" }],
        },
      },
    });
    const w = worker({ dateFormat: undefined, timeZone: undefined });
    await expect(w.performIncrementalSync()).rejects.toMatchObject({ code: SyncErrorCode.INVALID_OPTION, option: 'dateFormat' });
    expect(h.sim.countRequests({ kind: 'records', report: h.sim.config.registrationsReport })).toBe(0);
    task.meta.fault = await recover(h, w, 'date_format with quoted text from the meta API');
  });
});
