import { afterEach, describe, expect, it } from 'vitest';
import type { RecordStamp, SourcePage, SourceRecord } from '../../src/adapters/source.js';
import { AbortedError, ConfigError, InvalidInputError, SyncErrorCode, ZohoApiError } from '../../src/errors.js';
import { createZohoSimulator } from '../../src/testing.js';
import { ZohoCreatorSource, type ZohoCreatorSourceOptions } from '../../src/zoho/zoho-creator-source.js';
import { thrownMessage } from '../helpers/thrown-message.js';

type Simulator = Awaited<ReturnType<typeof createZohoSimulator>>;

const open: Simulator[] = [];
afterEach(async () => {
  while (open.length > 0) await open.pop()?.close();
});

async function simulator(options: Partial<Parameters<typeof createZohoSimulator>[0]> = {}): Promise<Simulator> {
  const sim = await createZohoSimulator({ dataset: { events: 40, registrations: 2419, seed: 1 }, ...options });
  open.push(sim);
  return sim;
}

function sourceFor(sim: Simulator, extra: Partial<ZohoCreatorSourceOptions> = {}): ZohoCreatorSource {
  return new ZohoCreatorSource({
    ...sim.config,
    ...sim.credentials,
    apiBaseUrl: sim.apiBaseUrl,
    accountsBaseUrl: sim.accountsBaseUrl,
    minRetryDelayMs: 5,
    rateLimitPauseMs: 20,
    ...extra,
  });
}

async function collect<T>(pages: AsyncIterable<SourcePage<T>>): Promise<SourcePage<T>[]> {
  const out: SourcePage<T>[] = [];
  for await (const page of pages) out.push(page);
  return out;
}

const recordRequests = (sim: Simulator) => sim.requests.filter((r) => r.kind === 'records');

describe('ZohoCreatorSource against the simulator: paging', () => {
  it('reads 2,419 records over three pages of 1000/1000/419, sending each cursor back', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const pages = await collect(source.readRecords());
    expect(pages.map((p) => p.items.length)).toEqual([1000, 1000, 419]);
    expect(pages.map((p) => p.pageNumber)).toEqual([1, 2, 3]);
    expect(pages.flatMap((p) => p.rejected)).toEqual([]);
    const ids = new Set(pages.flatMap((p) => p.items.map((r) => r.id)));
    expect(ids.size).toBe(2419);
    for (const id of ids) expect(id).toMatch(/^\d{1,19}$/);
    expect(pages[0]?.nextCursor).toBeTypeOf('string');
    expect(pages[1]?.nextCursor).toBeTypeOf('string');
    expect(pages[2]?.nextCursor).toBeUndefined();

    const requests = recordRequests(sim);
    expect(requests).toHaveLength(3);
    expect(requests[0]?.cursor).toBeUndefined();
    expect(requests[1]?.cursor).toBe(pages[0]?.nextCursor);
    expect(requests[2]?.cursor).toBe(pages[1]?.nextCursor);
    expect(requests[0]?.query).toMatchObject({ max_records: '1000', field_config: 'all' });
    expect(source.getCallCounts()).toEqual({ token: 1, records: 3, ids: 0, meta: 0, total: 4 });
  });

  it('records carry the event ID, an epoch-ms modifiedAt and the row with string IDs', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const [page] = await collect(source.readRecords());
    const record = page!.items[0]!;
    expect(record.eventId).toMatch(/^\d{1,19}$/);
    expect(Number.isInteger(record.modifiedAt)).toBe(true);
    expect(record.data.ID).toBe(record.id);
    expect(record.data[sim.config.eventLookupField]).toMatchObject({ ID: record.eventId });
  });

  it('readStamps asks for ID, Modified_Time and the lookup only, counted as ids', async () => {
    const sim = await simulator();
    const source = sourceFor(sim, { pageSize: 500 });
    const pages = await collect(source.readStamps());
    const stamps: RecordStamp[] = pages.flatMap((p) => [...p.items]);
    expect(stamps).toHaveLength(2419);
    expect(Object.keys(stamps[0]!).sort()).toEqual(['eventId', 'id', 'modifiedAt']);
    const requests = sim.requests.filter((r) => r.kind === 'records');
    expect(requests).toHaveLength(5);
    expect(requests[0]?.query).toMatchObject({
      max_records: '500',
      field_config: 'custom',
      fields: `ID,Modified_Time,${sim.config.eventLookupField}`,
    });
    expect(source.getCallCounts()).toMatchObject({ ids: 5, records: 0 });
  });

  it('filters by event IDs, chunking more than 50 IDs into separate cursor chains', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const all = (await collect(source.readStamps())).flatMap((p) => [...p.items]);
    const events = [...new Set(all.map((s) => s.eventId))];
    const two = events.slice(0, 2);
    const expected = all.filter((s) => two.includes(s.eventId)).length;

    const filtered = (await collect(source.readRecords({ eventIds: two }))).flatMap((p) => [...p.items]);
    expect(filtered).toHaveLength(expected);
    expect(new Set(filtered.map((r) => r.eventId))).toEqual(new Set(two));
    const lookup = sim.config.eventLookupField;
    expect(recordRequests(sim).at(-1)?.query.criteria).toBe(`(${lookup} == ${two[0]} || ${lookup} == ${two[1]})`);

    // 40 real events + 30 IDs that match nothing = 70 IDs → two chunks (50 + 20).
    const many = [...events, ...Array.from({ length: 30 }, (_, i) => String(900_000 + i))];
    const before = recordRequests(sim).length;
    const pages = await collect(source.readRecords({ eventIds: many }));
    expect(pages.flatMap((p) => p.items)).toHaveLength(all.length);
    const chunkCriteria = new Set(recordRequests(sim).slice(before).map((r) => r.query.criteria));
    expect(chunkCriteria.size).toBe(2);
    expect(pages.map((p) => p.pageNumber)).toEqual(pages.map((_, i) => i + 1));

    const calls = source.getCallCounts().total;
    await expect(collect(source.readRecords({ eventIds: many, cursor: 'abc' }))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(collect(source.readRecords({ eventIds: ['12x'] }))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(collect(source.readRecords({ retries: -1 }))).rejects.toBeInstanceOf(InvalidInputError);
    // An empty event list selects nothing: one empty page, no call.
    expect(await collect(source.readStamps({ eventIds: [] }))).toEqual([
      { items: [], rejected: [], pageNumber: 1, nextCursor: undefined },
    ]);
    expect(source.getCallCounts().total).toBe(calls);
  });

  it('resumes from a cursor with the page count continued', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const iterator = source.readRecords()[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as SourcePage<SourceRecord>;
    await iterator.return?.();
    const rest = await collect(source.readRecords({ cursor: first.nextCursor, startPage: 2 }));
    expect(rest.map((p) => [p.pageNumber, p.items.length])).toEqual([
      [2, 1000],
      [3, 419],
    ]);
    const ids = new Set([...first.items, ...rest.flatMap((p) => p.items)].map((r) => r.id));
    expect(ids.size).toBe(2419);
  });

  it('after close(), calls reject with AbortedError', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    await source.listEvents();
    await source.close();
    await expect(source.getRecord('1')).rejects.toBeInstanceOf(AbortedError);
  });

  it('readChangedSince sends an inclusive Modified_Time criterion in the app format', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const all = (await collect(source.readStamps())).flatMap((p) => [...p.items]);
    const times = all.map((s) => s.modifiedAt).sort((a, b) => a - b);
    const since = times[Math.floor(times.length * 0.8)]!;
    const expected = all.filter((s) => s.modifiedAt >= since).length;
    const changed = (await collect(source.readChangedSince(since))).flatMap((p) => [...p.items]);
    expect(changed).toHaveLength(expected);
    expect(changed.every((r) => r.modifiedAt >= since)).toBe(true);
    const criteria = recordRequests(sim).at(-1)?.query.criteria;
    expect(criteria).toMatch(/^\(Modified_Time >= '.+'\)$/);

    const [event] = all;
    const both = (await collect(source.readChangedSince(since, { eventIds: [event!.eventId] }))).flatMap((p) => [...p.items]);
    expect(both).toHaveLength(all.filter((s) => s.modifiedAt >= since && s.eventId === event!.eventId).length);
    expect(recordRequests(sim).at(-1)?.query.criteria).toContain(' && (');
    await expect(collect(source.readChangedSince(Number.NaN))).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('lists events and reads one record by ID (3190 → undefined)', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const events = await source.listEvents();
    expect(events).toHaveLength(40);
    expect(events.every((e) => /^\d{1,19}$/.test(e.id))).toBe(true);

    const [first] = await collect(source.readRecords());
    const wanted = first!.items[5]!;
    const record = await source.getRecord(wanted.id);
    expect(record).toMatchObject({ id: wanted.id, eventId: wanted.eventId, modifiedAt: wanted.modifiedAt });
    expect(await source.getRecord('1234567890123456789')).toBeUndefined();
    await expect(source.getRecord('12a')).rejects.toBeInstanceOf(InvalidInputError);
    expect(source.getCallCounts()).toMatchObject({ meta: 1, records: 3 + 2 });
  });

  it('reads date_format and time_zone with one meta call when they are not configured', async () => {
    const sim = await simulator();
    const source = sourceFor(sim, { dateFormat: undefined, timeZone: undefined });
    const a = await collect(source.readStamps());
    await collect(source.readStamps());
    expect(a.flatMap((p) => p.items)).toHaveLength(2419);
    expect(source.getCallCounts().meta).toBe(1);
    expect(sim.countRequests({ kind: 'meta' })).toBe(1);
  });

  it('rejects bad options with ConfigError naming the option', async () => {
    const sim = await simulator();
    expect(() => sourceFor(sim, { pageSize: 300 as 200 })).toThrow(expect.objectContaining({ option: 'pageSize' }));
    expect(() => sourceFor(sim, { clientSecret: '' })).toThrow(ConfigError);
    expect(() => sourceFor(sim, { dataCentre: 'uk' as 'com' })).toThrow(expect.objectContaining({ option: 'dataCentre' }));
    expect(() => sourceFor(sim, { timeZone: 'Nowhere/Land' })).toThrow(expect.objectContaining({ option: 'timeZone' }));
    expect(() => sourceFor(sim, { apiBaseUrl: 'ftp://x' })).toThrow(expect.objectContaining({ option: 'apiBaseUrl' }));
    expect(() => sourceFor(sim, { eventLookupField: 'Event == 1 ||' })).toThrow(
      expect.objectContaining({ option: 'eventLookupField' }),
    );
  });

  it('never echoes a secret pasted into the wrong option, and refuses credentials in a base URL', async () => {
    const sim = await simulator();
    const secret = '1000.8c1f3e5d7a9b2c4e6f8a0b1c3d5e7f9a.0b2d4f6a8c0e2a4c6e8a0c2e4a6c8e0a';
    const dc = thrownMessage(() => sourceFor(sim, { dataCentre: secret as 'com' }));
    expect(dc).toContain(`got a string of ${secret.length} characters`);
    expect(dc).not.toContain('8c1f3e5d');
    const api = thrownMessage(() => sourceFor(sim, { apiBaseUrl: secret }));
    expect(api).toContain('must be an http(s) URL');
    expect(api).not.toContain('8c1f3e5d');
    expect(thrownMessage(() => sourceFor(sim, { dataCentre: 'uk' as 'com' }))).toContain('got "uk"');
    const creds = thrownMessage(() => sourceFor(sim, { accountsBaseUrl: `https://me:${secret}@accounts.zoho.com` }));
    expect(creds).toContain('must not hold a user name or password');
    expect(creds).toContain('accounts.zoho.com');
    expect(creds).not.toContain('8c1f3e5d');
  });
});

describe('ZohoCreatorSource against the simulator: empty and error answers', () => {
  it.each([200, 404] as const)('code 3100 with HTTP %i reads as an empty listing', async (emptyStatus) => {
    const sim = await simulator({ emptyStatus });
    const source = sourceFor(sim);
    const pages = await collect(source.readRecords({ eventIds: ['999999'] }));
    expect(pages).toEqual([{ items: [], rejected: [], pageNumber: 1, nextCursor: undefined }]);
    const last = recordRequests(sim).at(-1);
    expect(last).toMatchObject({ status: emptyStatus, zohoCode: 3100 });
  });

  it('code 2894 (unknown report) is a ZohoApiError, not an empty page', async () => {
    const sim = await simulator();
    const source = sourceFor(sim, { registrationsReport: 'No_Such_Report' });
    const error = await collect(source.readRecords()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoApiError);
    expect(error).toMatchObject({ httpStatus: 404, zohoCode: 2894, endpoint: 'No_Such_Report', code: SyncErrorCode.ZOHO_API });
  });

  it('an HTTP 200 body with code 4000 is ZOHO_QUOTA_EXHAUSTED, not retried, recorded in getQuotaState', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    sim.inject({ kind: 'records', respond: { type: 'zoho', status: 200, code: 4000, message: 'Developer API limit reached' } });
    const error = await collect(source.readRecords()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoApiError);
    expect(error).toMatchObject({ httpStatus: 200, zohoCode: 4000, code: SyncErrorCode.ZOHO_QUOTA_EXHAUSTED });
    expect(recordRequests(sim)).toHaveLength(1);
    const quota = source.getQuotaState();
    expect(quota.exhausted).toBe(true);
    expect(quota.exhaustedAt).toBeTypeOf('number');
  });
});

describe('ZohoCreatorSource against the simulator: tokens', () => {
  it('an expired token mid-scan is refreshed once and the scan completes', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    let count = 0;
    let mintsAfterPage1 = 0;
    for await (const page of source.readRecords()) {
      count += page.items.length;
      if (page.pageNumber === 1) {
        mintsAfterPage1 = sim.tokenMints;
        sim.expireTokens();
      }
    }
    expect(count).toBe(2419);
    expect(sim.tokenMints).toBe(mintsAfterPage1 + 1);
    expect(source.getCallCounts().token).toBe(2);
  });

  it('ten concurrent calls with an expired token cause exactly one refresh', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    const [page] = await collect(source.readStamps({ eventIds: undefined }));
    const ids = page!.items.slice(0, 10).map((s) => s.id);
    const before = sim.tokenMints;
    sim.expireTokens();
    const records = await Promise.all(ids.map((id) => source.getRecord(id)));
    expect(records.map((r) => r?.id)).toEqual(ids);
    expect(sim.tokenMints).toBe(before + 1);
  });
});

describe('ZohoCreatorSource against the simulator: ID precision', () => {
  it('bare numeric IDs beyond 2^53 arrive as two distinct exact digit strings', async () => {
    const sim = await simulator();
    const lookup = sim.config.eventLookupField;
    const body =
      '{"code":3000,"data":[' +
      `{"ID": 4085713000012345679, "${lookup}": {"ID": 4085713000000000001, "display_value": "E"}, "Modified_Time": "MT"},` +
      `{"ID": 4085713000012345680, "${lookup}": 4085713000000000001, "Modified_Time": "MT"}]}`;
    const source = sourceFor(sim);
    const codec = new (await import('../../src/zoho/date-time.js')).ZohoDateTimeCodec(sim.config.dateFormat, sim.config.timeZone);
    sim.inject({ kind: 'records', times: 1, respond: { status: 200, body: body.replaceAll('MT', codec.format(Date.UTC(2024, 0, 2, 3, 4, 5))) } });
    const pages = await collect(source.readRecords());
    const items: SourceRecord[] = pages.flatMap((p) => [...p.items]);
    expect(items.map((r) => r.id)).toEqual(['4085713000012345679', '4085713000012345680']);
    expect(items.map((r) => r.eventId)).toEqual(['4085713000000000001', '4085713000000000001']);
    expect(items[0]?.data.ID).toBe('4085713000012345679');
    expect(items[0]?.modifiedAt).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
  });

  it('the simulator legacyNumericIds mode yields the same string IDs as the normal mode', async () => {
    const normal = await simulator();
    const legacy = await simulator({ legacyNumericIds: true });
    const ids = async (sim: Simulator) =>
      (await collect(sourceFor(sim).readStamps())).flatMap((p) => p.items.map((s) => `${s.id}/${s.eventId}`));
    const a = await ids(normal);
    const b = await ids(legacy);
    expect(b).toHaveLength(2419);
    expect(b).toEqual(a);
  });
});

describe('ZohoCreatorSource against the simulator: retries and abort', () => {
  it('HTTP 500 on page 2 once is retried and the scan completes', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    sim.inject({ kind: 'records', page: 2, times: 1, respond: { type: 'zoho', status: 500, code: 2930, message: 'Error Occurred' } });
    const pages = await collect(source.readRecords());
    expect(pages.flatMap((p) => p.items)).toHaveLength(2419);
    expect(recordRequests(sim).map((r) => r.status)).toEqual([200, 500, 200, 200]);
    expect(source.getCallCounts().records).toBe(4);
  });

  it('a timeout is retried (timeoutMs 1000)', async () => {
    const sim = await simulator();
    // 1 s, not less: on a loaded machine an honest 1,000-record page can take a few hundred ms, and a
    // second (unplanned) timeout would make the call count 5.
    const source = sourceFor(sim, { timeoutMs: 1000 });
    sim.inject({ kind: 'records', page: 1, times: 1, respond: { type: 'timeout' } });
    const started = Date.now();
    const pages = await collect(source.readRecords());
    expect(pages.flatMap((p) => p.items)).toHaveLength(2419);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(source.getCallCounts().records).toBe(4);
  });

  it('a connection reset is retried', async () => {
    const sim = await simulator();
    const source = sourceFor(sim);
    sim.inject({ kind: 'records', page: 3, times: 1, respond: { type: 'reset' } });
    const pages = await collect(source.readRecords());
    expect(pages.flatMap((p) => p.items)).toHaveLength(2419);
  });

  it('malformed JSON is retried, and a persistent one is a typed error', async () => {
    const sim = await simulator();
    const source = sourceFor(sim, { retries: 2 });
    sim.inject({ kind: 'records', page: 1, times: 1, respond: { type: 'malformed' } });
    expect((await collect(source.readRecords())).flatMap((p) => p.items)).toHaveLength(2419);

    sim.inject({ kind: 'records', times: 10, respond: { type: 'malformed' } });
    const before = recordRequests(sim).length;
    const error = await collect(source.readRecords()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoApiError);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE });
    expect(recordRequests(sim).length - before).toBe(3);
  });

  it('abort during a rate-limit pause rejects promptly with AbortedError', async () => {
    const sim = await simulator();
    const source = sourceFor(sim, { rateLimitPauseMs: 60_000 });
    sim.inject({ kind: 'records', times: 5, respond: { type: 'zoho', status: 429, code: 2955, message: 'limit per minute' } });
    const controller = new AbortController();
    const pending = collect(source.readRecords({ signal: controller.signal }));
    const caught = pending.catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 150));
    const started = Date.now();
    controller.abort();
    const error = await caught;
    expect(error).toBeInstanceOf(AbortedError);
    // Promptly means: long before the 60 s pause would end (a tight stopwatch flakes on a busy machine).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(recordRequests(sim)).toHaveLength(1);
  });

  it('a persistent rate limit ends as ZOHO_RATE_LIMITED', async () => {
    const sim = await simulator();
    const source = sourceFor(sim, { retries: 1, rateLimitPauseMs: 10 });
    sim.inject({ kind: 'records', times: 5, respond: { type: 'zoho', status: 429, code: 2955 } });
    await expect(collect(source.readRecords())).rejects.toMatchObject({
      code: SyncErrorCode.ZOHO_RATE_LIMITED,
      httpStatus: 429,
      zohoCode: 2955,
    });
  });
});
