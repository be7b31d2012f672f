/**
 * Issue 12 item 4: no endless listing. A listing ends with `ERR_SYNC_ZOHO_LISTING_LOOP` when a
 * `record_cursor` comes again in its chain (any cycle) or a page brings no new record ID; and
 * every run has a ceiling on Zoho calls (`maxCallsPerRun`). Loopback servers play the hostile
 * Zoho; one case runs against the simulator with an injected looping page.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallLimitError, ConfigError, SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { createZohoSimulator } from '../../src/testing.js';
import { configFromEnv, resolveOptions } from '../../src/worker/options.js';
import { RunCallBudget } from '../../src/worker/run-context.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { ZohoCreatorSource } from '../../src/zoho/zoho-creator-source.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../redis/helpers.js';
import { type Loopback, accountsHandler, json, loopbackSourceOptions, row, startLoopback } from './loopback.js';

const servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

type Page = { ids: string[]; cursor?: string };
/**
 * A Creator host whose pages come from `pageFor(requestCursor, callNumber)`; the events report
 * answers the same way through `eventPageFor` (one plain event by default).
 */
async function hostileZoho(
  pageFor: (cursor: string | undefined, call: number) => Page,
  eventPageFor: (cursor: string | undefined, call: number) => Page = () => ({ ids: ['4000000000000000001'] }),
) {
  let api: Loopback | undefined;
  const accounts = await startLoopback(accountsHandler(['1000.loop-token-0000000000001'], () => api!.url));
  let recordCalls = 0;
  let eventCalls = 0;
  api = await startLoopback((req, res) => {
    const cursor = typeof req.headers.record_cursor === 'string' ? req.headers.record_cursor : undefined;
    const events = req.url.includes('/report/All_Events');
    const page = events ? eventPageFor(cursor, ++eventCalls) : pageFor(cursor, ++recordCalls);
    json(res, 200, { code: 3000, data: page.ids.map((id) => row(id)) }, page.cursor === undefined ? {} : { record_cursor: page.cursor });
  });
  servers.push(accounts, api);
  return { api, accounts, calls: () => ({ records: recordCalls, events: eventCalls }) };
}

const id = (n: number): string => String(4100000000000000000n + BigInt(n));

async function drain(source: ZohoCreatorSource): Promise<number> {
  let pages = 0;
  for await (const _page of source.readRecords()) pages++;
  return pages;
}

describe('listing loops', () => {
  it('the same cursor forever ends after 2 calls with ERR_SYNC_ZOHO_LISTING_LOOP', async () => {
    const zoho = await hostileZoho((_cursor, call) => ({ ids: [id(call)], cursor: 'SAME' }));
    const source = new ZohoCreatorSource(loopbackSourceOptions(zoho.api, zoho.accounts));
    const error = await drain(source).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ZohoApiError', code: SyncErrorCode.ZOHO_LISTING_LOOP, endpoint: 'All_Registrations' });
    expect((error as Error).message).toContain('page 2 returned a record_cursor that page 1 had returned already');
    expect(zoho.calls().records).toBe(2);
  });

  it('a 3-cursor cycle (A → B → C → A) ends after 4 calls', async () => {
    const next: Record<string, string> = { start: 'A', A: 'B', B: 'C', C: 'A' };
    const zoho = await hostileZoho((cursor, call) => ({ ids: [id(call)], cursor: next[cursor ?? 'start'] }));
    const error = await drain(new ZohoCreatorSource(loopbackSourceOptions(zoho.api, zoho.accounts))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
    expect((error as Error).message).toContain('page 4 returned a record_cursor that page 1 had returned already');
    expect(zoho.calls().records).toBe(4);
  });

  it('fresh cursors with pages of only already-listed IDs end at the first such page', async () => {
    const zoho = await hostileZoho((_cursor, call) => ({ ids: call === 1 ? [id(1), id(2)] : [id(2), id(1)], cursor: `C${call}` }));
    const error = await drain(new ZohoCreatorSource(loopbackSourceOptions(zoho.api, zoho.accounts))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
    expect((error as Error).message).toContain('page 2 brought 2 records, every one of them listed already');
    expect(zoho.calls().records).toBe(2);
  });

  it('a page that repeats some IDs but brings one new one goes on (honest overlap is fine)', async () => {
    const zoho = await hostileZoho((_cursor, call) => (call < 3 ? { ids: [id(call), id(call + 1)], cursor: `C${call}` } : { ids: [id(call + 1)] }));
    const pages = await drain(new ZohoCreatorSource(loopbackSourceOptions(zoho.api, zoho.accounts)));
    expect(pages).toBe(3);
  });

  it('listEvents: a repeating cursor and a page of known events both end the listing', async () => {
    const same = await hostileZoho(
      () => ({ ids: [] }),
      (_c, call) => ({ ids: [id(call)], cursor: 'SAME' }),
    );
    const sameError = await new ZohoCreatorSource(loopbackSourceOptions(same.api, same.accounts)).listEvents().catch((e: unknown) => e);
    expect(sameError).toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP, endpoint: 'All_Events' });
    expect(same.calls().events).toBe(2);

    const known = await hostileZoho(
      () => ({ ids: [] }),
      (_c, call) => ({ ids: [id(7)], cursor: `E${call}` }),
    );
    const knownError = await new ZohoCreatorSource(loopbackSourceOptions(known.api, known.accounts)).listEvents().catch((e: unknown) => e);
    expect(knownError).toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
    expect(known.calls().events).toBe(2);
  });

  it('against the simulator: an injected page that repeats itself with the same cursor is stopped at page 2', async () => {
    const sim = await createZohoSimulator({ dataset: { events: 3, registrations: 120, seed: 4 } });
    try {
      const rows = sim.listRegistrations().slice(0, 5).map((r) => sim.toApiRecord(r));
      sim.inject({
        kind: 'records',
        report: sim.config.registrationsReport,
        times: 500,
        respond: { status: 200, body: { code: 3000, data: rows }, headers: { record_cursor: 'LOOP' } },
      });
      const source = new ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl });
      const error = await drain(source).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_LISTING_LOOP });
      expect(sim.countRequests({ kind: 'records' })).toBe(2);
    } finally {
      await sim.close();
    }
  });
});

describe('maxCallsPerRun', () => {
  let redis: Redis;
  const prefix = randomPrefix('calls');
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('an endless chain of one-record pages (fresh cursor, new ID each) fails the run at the ceiling and says how many calls', async () => {
    const zoho = await hostileZoho((_cursor, call) => ({ ids: [id(call)], cursor: `next-${call}` }));
    const worker = new SyncWorker({
      source: new ZohoCreatorSource(loopbackSourceOptions(zoho.api, zoho.accounts)),
      sink: new RedisSink({ redis, keyPrefix: prefix }),
      enableAutoSync: false,
      logger: silentLogger,
      maxCallsPerRun: 40,
      lease: { enabled: false },
    });
    const error = await worker.performFullSync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallLimitError);
    expect(error).toMatchObject({ code: SyncErrorCode.CALL_LIMIT, calls: 40, limit: 40 });
    expect((error as Error).message).toContain('after 40 source calls');
    // One events page plus 39 record pages: the 41st request was never sent.
    expect(zoho.calls().events + zoho.calls().records).toBe(40);
    expect(worker.getStatus().last_run).toMatchObject({ outcome: 'failed', error_code: 'ERR_SYNC_CALL_LIMIT' });
  });

  it('the default ceiling is 5000 calls and the option is validated', () => {
    const source = new ZohoCreatorSource(loopbackSourceOptions('http://127.0.0.1:9', 'http://127.0.0.1:9'));
    const sink = new RedisSink({ redis, keyPrefix: prefix });
    expect(resolveOptions({ source, sink }).maxCallsPerRun).toBe(5000);
    expect(() => resolveOptions({ source, sink, maxCallsPerRun: 0 })).toThrow(ConfigError);
    expect(() => resolveOptions({ source, sink, maxCallsPerRun: 2.5 })).toThrow(ConfigError);
    expect(configFromEnv({ SYNC_MAX_CALLS_PER_RUN: '250' })).toEqual({ maxCallsPerRun: 250 });
    expect(() => configFromEnv({ SYNC_MAX_CALLS_PER_RUN: '0' })).toThrow(ConfigError);
    const budget = new RunCallBudget(2);
    budget.spend();
    budget.spend();
    expect(() => budget.spend()).toThrow(CallLimitError);
    expect(budget.spent).toBe(2);
  });
});
