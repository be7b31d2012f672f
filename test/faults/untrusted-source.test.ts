/**
 * What a source hands the worker is checked by the worker, whatever the source: IDs that are not
 * 1–19 digits (a newline, `*`, `:`, a megabyte of text), event IDs `*` and `1:x`, records nested
 * thousands of levels deep. Each goes to the dead-letter stream with its own reason; the rest of
 * the page is stored and the run succeeds (real Redis + the Zoho simulator).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ListOptions, SourceAdapter, SourceEvent, SourcePage, SourceRecord } from '../../src/adapters/source.js';
import { DEAD_LETTER_FIELDS } from '../../src/redis/key-schema.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { CONVERGED, checkIntegrity, faultRow, recordEvents } from './helpers.js';

/** `{"a":{"a":…1…}}` nested `depth` levels deep (about 2 bytes a level). */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A custom source: the simulator's, with `tamper` applied to each page and event list. */
function tamperedSource(
  inner: SourceAdapter,
  tamper: { page?: (page: SourcePage<SourceRecord>) => SourcePage<SourceRecord>; events?: (events: SourceEvent[]) => SourceEvent[] },
): SourceAdapter {
  return {
    name: 'custom',
    listEvents: async (o) => (tamper.events ?? ((e) => e))(await inner.listEvents(o)),
    readRecords: async function* (o?: ListOptions) {
      for await (const page of inner.readRecords(o)) yield (tamper.page ?? ((p) => p))(page);
    },
    readStamps: (o) => inner.readStamps(o),
    readChangedSince: (since, o) => inner.readChangedSince(since, o),
    getRecord: (id, o) => inner.getRecord(id, o),
    getCallCounts: () => inner.getCallCounts!(),
  };
}

async function deadLetters(h: Harness, keys: readonly string[]): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  for (const key of keys) {
    for (const [, fields] of await h.redis.xrange(key, '-', '+')) {
      const entry: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
      out.push(entry);
    }
  }
  return out;
}

describe('the worker checks what any source hands it (real Redis + Zoho simulator)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('record IDs with a newline, `*`, `:` or 1 MB of text and event IDs `*`, `1:x` are dead-lettered, never stored', async ({ task }) => {
    h = await createHarness({ dataset: { events: 4, registrations: 200, seed: 51 } });
    const [first] = h.sim.listEvents();
    const template = (): SourceRecord => ({ id: '', eventId: first!.id, modifiedAt: Date.UTC(2024, 0, 1), data: { Name: 'x' } });
    const badRecords: SourceRecord[] = [
      { ...template(), id: '123\n456' },
      { ...template(), id: '*' },
      { ...template(), id: '12:34' },
      { ...template(), id: '7'.repeat(1024 * 1024) },
      { ...template(), id: '9000000000000000001', eventId: '*' },
      { ...template(), id: '9000000000000000002', eventId: '1:x' },
      { ...template(), id: '9000000000000000003', modifiedAt: 1.5 },
    ];
    const source = tamperedSource(h.source(), {
      page: (page) => (page.pageNumber === 1 ? { ...page, items: [...page.items, ...badRecords] } : page),
      events: (events) => [...events, { id: '*', data: { ID: '*' } }, { id: '1:x', data: { ID: '1:x' } }],
    });
    const worker = h.worker({ source });
    const log = recordEvents(worker);

    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 200, deadLettered: badRecords.length + 2, removed: 0 });
    expect(log.recordDeadLettered.map((d) => d.reason).sort()).toEqual([
      'invalid-id',
      'invalid-id',
      'invalid-id',
      'invalid-id',
      'invalid-id',
      'invalid-id',
      'invalid-modified-time',
      'missing-event',
      'missing-event',
    ]);
    // No detail quotes a megabyte: values are cut.
    for (const d of log.recordDeadLettered) expect(d.detail.length).toBeLessThan(200);

    // Nothing of the bad items reached a key or the known-events hash.
    expect(await h.sink.state.listEventIds()).not.toContain('*');
    expect(await h.sink.state.listEventIds()).not.toContain('1:x');
    expect(await h.redis.hexists(h.sink.keys.events(), '*')).toBe(0);
    expect((await h.redisIds()).every((id) => /^\d{1,19}$/.test(id))).toBe(true);
    expect(await h.redisIds()).not.toContain('9000000000000000003');
    const entries = await deadLetters(h, [h.sink.keys.deadLetters(first!.id), h.sink.keys.globalDeadLetters()]);
    expect(entries).toHaveLength(badRecords.length + 2);
    for (const entry of entries) expect(entry[DEAD_LETTER_FIELDS.reason]).toMatch(/^(invalid-id|missing-event|invalid-modified-time)$/);

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('a custom source hands IDs with `\\n`, `*`, `:`, 1 MB, event IDs `*`, `1:x` (dead-lettered)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('a Bulk Read listing is screened like a paged one: bad IDs are dead-lettered by the run and counted by the plan', async ({ task }) => {
    h = await createHarness({ dataset: { events: 3, registrations: 300, seed: 55 } });
    const [first] = h.sim.listEvents();
    const at = Date.UTC(2024, 0, 1);
    const bad: SourceRecord[] = [
      { id: '12:34', eventId: first!.id, modifiedAt: at, data: { Name: 'x' } },
      { id: '9000000000000000201', eventId: '*', modifiedAt: at, data: { Name: 'y' } },
    ];
    const inner = h.source({ bulkPollMs: 1 });
    const listings: string[] = [];
    const source: SourceAdapter = {
      ...tamperedSource(inner, {}),
      readRecords: async function* (o?: ListOptions) {
        listings.push(`records:${o?.listing}`);
        for await (const page of inner.readRecords(o)) yield page.pageNumber === 1 ? { ...page, items: [...page.items, ...bad] } : page;
      },
      readStamps: async function* (o?: ListOptions) {
        listings.push(`stamps:${o?.listing}`);
        const stamps = bad.map(({ id, eventId, modifiedAt }) => ({ id, eventId, modifiedAt }));
        for await (const page of inner.readStamps(o)) yield page.pageNumber === 1 ? { ...page, items: [...page.items, ...stamps] } : page;
      },
      estimateCalls: (request) => inner.estimateCalls(request),
    };
    const worker = h.worker({ source, listingStrategy: 'bulk' });
    const log = recordEvents(worker);

    const plan = await worker.plan('full');
    expect(plan.writes).toMatchObject({ upserts: 300, removals: 0, rejected: 2 });
    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 300, deadLettered: 2, removed: 0 });
    expect(listings).toEqual(['stamps:bulk', 'records:bulk']);
    expect(h.sim.countRequests({ kind: 'bulk-download' })).toBe(2); // one job each: the plan's stamps, the run's records
    expect(log.recordDeadLettered.map((d) => d.reason).sort()).toEqual(['invalid-id', 'missing-event']);
    expect(await h.redisIds()).toHaveLength(300);
    expect((await h.redisIds()).every((id) => /^\d{1,19}$/.test(id))).toBe(true);
    expect(await h.sink.state.listEventIds()).not.toContain('*');

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('a custom source hands bad IDs inside a Bulk Read listing (dead-lettered; the plan counts them)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('syncRecord() refuses a record whose ID is not the digits asked for, dead-letters it, stores nothing', async () => {
    h = await createHarness({ dataset: { events: 2, registrations: 20, seed: 52 } });
    const inner = h.source();
    const [reg] = h.sim.listRegistrations();
    const source: SourceAdapter = {
      ...tamperedSource(inner, {}),
      getRecord: async (id, o) => {
        const record = await inner.getRecord(id, o);
        return record && { ...record, id: `${record.id}*` };
      },
    };
    const worker = h.worker({ source });
    const log = recordEvents(worker);
    const failure = await worker.syncRecord(reg!.id).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'ERR_SYNC_ZOHO_MALFORMED_RESPONSE' });
    expect(log.recordDeadLettered).toEqual([expect.objectContaining({ reason: 'invalid-id', eventId: reg!.eventId })]);
    expect(await h.sink.state.countDeadLetters(reg!.eventId)).toBe(1);
    expect(await h.redisIds()).toEqual([]);
  });

  it('a Zoho record nested 5,000 levels deep is dead-lettered as too-deep; the rest of the page is stored', async ({ task }) => {
    h = await createHarness({ dataset: { events: 3, registrations: 150, seed: 53 } });
    const report = h.sim.config.registrationsReport;
    const [reg] = h.sim.listRegistrations();
    const deepId = '9000000000000000777';
    const deepRow = JSON.stringify({ ...h.sim.toApiRecord(reg!), ID: deepId, Notes: '__DEEP__' }).replace('"__DEEP__"', deepJson(5000));
    expect(deepRow.length).toBeGreaterThan(10_000);
    // Zoho serves the deep row inside page 1 (spliced into the response text: no encoder could write it).
    const fetchWithDeepRow = async (input: string | URL, init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      const headers = new Headers(init?.headers);
      if (!String(input).includes(`/report/${report}`) || headers.has('record_cursor') || String(input).includes('field_config=custom')) {
        return response;
      }
      const text = await response.text();
      const spliced = text.replace('"data":[', `"data":[${deepRow},`);
      const out = new Headers(response.headers);
      out.delete('content-length');
      return new Response(spliced, { status: response.status, headers: out });
    };
    const worker = h.worker({}, { fetch: fetchWithDeepRow });
    const log = recordEvents(worker);

    for (const attempt of [1, 2]) {
      const result = await worker.performFullSync();
      expect(result, `sync ${attempt}`).toMatchObject({ deadLettered: 1, removed: 0 });
    }
    expect(log.syncFailed).toHaveLength(0);
    expect(log.recordDeadLettered[0]).toMatchObject({ reason: 'too-deep', eventId: reg!.eventId });
    expect(log.recordDeadLettered[0]!.detail).toContain(deepId);
    expect(await h.redis.exists(h.sink.keys.record(reg!.eventId, deepId))).toBe(0);

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('a record nested 5,000 levels deep (dead-lettered as too-deep)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('a custom source handing records 5,000 levels deep or with a cycle: dead-lettered, the rest stored', async ({ task }) => {
    h = await createHarness({ dataset: { events: 3, registrations: 150, seed: 54 } });
    const [first] = h.sim.listEvents();
    const cyclic: Record<string, unknown> = { Name: 'loop' };
    cyclic.self = cyclic;
    const bad: SourceRecord[] = [
      { id: '9000000000000000101', eventId: first!.id, modifiedAt: Date.UTC(2024, 0, 1), data: JSON.parse(deepJson(5000)) as Record<string, unknown> },
      { id: '9000000000000000102', eventId: first!.id, modifiedAt: Date.UTC(2024, 0, 1), data: cyclic },
    ];
    const source = tamperedSource(h.source(), { page: (page) => ({ ...page, items: [bad[0]!, ...page.items, bad[1]!] }) });
    const worker = h.worker({ source });
    const log = recordEvents(worker);
    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 150, deadLettered: 2 });
    expect(log.recordDeadLettered.map((d) => d.reason)).toEqual(['too-deep', 'unencodable']);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('a custom source hands a record 5,000 levels deep and a cyclic one (dead-lettered)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });
});
