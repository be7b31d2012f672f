/**
 * Bulk Read listings end to end: the simulator's Bulk Read API, ZohoCreatorSource's bulk listing
 * and the worker's strategy choice, on the real Redis.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import type { Dataset, SimEvent, SimRegistration } from '../../src/testing.js';
import { createHarness, type Harness, REDIS_URL } from '../helpers/harness.js';

const NOW = Date.UTC(2024, 2, 20, 3, 0, 0);
const open: Harness[] = [];
const extraRedis: Redis[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
  for (const r of extraRedis.splice(0)) r.disconnect();
});

/**
 * Events and registrations with every value kind the CSV must carry back: 19-digit IDs (beyond
 * 2^53), Vietnamese and multi-line text with commas and quotes, JSON numbers (an integer beyond
 * 2^53 too), decimals as strings, booleans, dates, date-times, multi-selects, empty values.
 */
function richDataset(events: number, registrations: number): Dataset {
  const evs: SimEvent[] = [];
  for (let e = 0; e < events; e++) {
    evs.push({
      id: (4_711_230_000_000_100_001n + BigInt(e) * 8n).toString(),
      addedAt: NOW - 40 * 86_400_000,
      modifiedAt: NOW - 30 * 86_400_000 + e * 1000,
      fields: { Event_Name: `Hội thảo ${e + 1}, "Đà Nẵng"`, Start_Date: { date: `2024-04-0${(e % 9) + 1}` }, Venue: `Phòng ${e}` },
    });
  }
  const regs: SimRegistration[] = [];
  for (let i = 0; i < registrations; i++) {
    regs.push({
      id: (9_007_199_254_740_993_001n + BigInt(i) * 4n).toString(),
      eventId: evs[i % events]!.id,
      addedAt: NOW - 20 * 86_400_000 + i * 1000,
      modifiedAt: NOW - 10 * 86_400_000 + i * 1000,
      fields: {
        Full_Name: i % 3 === 0 ? `Nguyễn Văn "An" ${i}` : `Trần Thị Bích ${i}`,
        Notes: i % 5 === 0 ? `dòng một, ${i}\r\ndòng hai "trích"\nba` : '',
        Seats: i % 7,
        Badge_No: i % 11 === 0 ? '90071992547409931' : String(1000 + i),
        Big_Count: i % 2 === 0 ? 12 : 34.5,
        Amount: `${(i % 90) + 10}.50`,
        Checked_In: i % 2 === 0,
        Birthday: { date: `199${i % 10}-0${(i % 9) + 1}-1${i % 10}` },
        Arrived_At: { dateTime: NOW - 86_400_000 + i * 60_000 },
        Sessions: i % 4 === 0 ? [] : ['Sáng', 'Chiều'],
        Referrer: null,
      },
    });
  }
  return { events: evs, registrations: regs };
}

/** Every record key and index of every event, as DUMP bytes (one pipeline per event), keyed without the prefix. */
async function recordDump(h: Harness, sink: RedisSink, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const event of h.sim.listEvents()) {
    const keys = [sink.keys.ids(event.id)];
    for (const id of await h.redis.hkeys(sink.keys.ids(event.id))) keys.push(`${prefix}:{e:${event.id}}:rec:${id}`);
    const pipeline = h.redis.pipeline();
    for (const key of keys) pipeline.dumpBuffer(key);
    const replies = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const dump = replies[i]?.[1];
      if (Buffer.isBuffer(dump)) out[key.slice(prefix.length)] = dump.toString('hex');
    });
  }
  return out;
}

function capture(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { debug() {}, info() {}, warn: (message: string) => void warnings.push(message), error() {}, warnings };
}

/**
 * Empty values the CSV writes alike (an empty cell): text fields that the paged JSON gives as
 * `null`, in the 200-record sample (`Company`) and only beyond it (`Coupon`, `Seats`, `Tags`).
 */
function nullDataset(registrations: number): Dataset {
  const base = richDataset(3, registrations);
  return {
    events: base.events,
    registrations: base.registrations.map((r, i) => ({
      ...r,
      fields: {
        Full_Name: r.fields.Full_Name!,
        Company: i % 3 === 0 ? null : `Công ty ${i}`,
        Coupon: i < 300 ? `SAVE${i}` : null,
        Seats: i < 300 ? i % 7 : null,
        Tags: i < 300 ? ['vip'] : [],
        Checked_In: r.fields.Checked_In!,
      },
    })),
  };
}

describe('Bulk Read listing', () => {
  it('stores JSON nulls as the paged listing does: a null seen only beyond the sample follows the type of field (byte-identical Redis)', async () => {
    const h = await createHarness({ dataset: nullDataset(600), bulkRecordsPerJob: 400 });
    open.push(h);
    await h.worker({ listingStrategy: 'paged' }).performFullSync();
    const redis2 = new Redis(REDIS_URL);
    extraRedis.push(redis2);
    const prefix2 = `${h.prefix}-bulk`;
    const bulkSink = new RedisSink({ redis: redis2, keyPrefix: prefix2 });
    try {
      const { SyncWorker } = await import('../../src/worker/sync-worker.js');
      const bulk = await new SyncWorker({ source: h.source({ bulkPollMs: 5 }), sink: bulkSink, enableAutoSync: false, logLevel: 'silent', listingStrategy: 'bulk' }).performFullSync();
      expect(bulk).toMatchObject({ added: 600, deadLettered: 0 });
      expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(2);
      const late = h.sim.listRegistrations().find((r) => r.fields.Coupon === null)!;
      const stored = JSON.parse((await redis2.get(`${prefix2}:{e:${late.eventId}}:rec:${late.id}`))!) as Record<string, unknown>;
      expect(stored).toMatchObject({ Coupon: null, Seats: null, Tags: [] });
      expect(await recordDump(h, bulkSink, prefix2)).toEqual(await recordDump(h, h.sink, h.prefix));
    } finally {
      let cursor = '0';
      do {
        const [next, keys] = await redis2.scan(cursor, 'MATCH', `${prefix2}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis2.del(...keys);
      } while (cursor !== '0');
    }
  });


  it('a bulk full sync stores byte for byte what a paged full sync stores, and switching counts 0 updated', async () => {
    const h = await createHarness({ dataset: richDataset(4, 1300), bulkRecordsPerJob: 500 });
    open.push(h);
    const paged = await h.worker({ listingStrategy: 'paged' }).performFullSync();
    expect(paged).toMatchObject({ added: 1300, updated: 0 });
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });

    const redis2 = new Redis(REDIS_URL);
    extraRedis.push(redis2);
    const prefix2 = `${h.prefix}-bulk`;
    const bulkSink = new RedisSink({ redis: redis2, keyPrefix: prefix2 });
    try {
      h.sim.clearRequests();
      const { SyncWorker } = await import('../../src/worker/sync-worker.js');
      const bulkWorker = new SyncWorker({
        source: h.source({ bulkPollMs: 5 }),
        sink: bulkSink,
        enableAutoSync: false,
        logLevel: 'silent',
        listingStrategy: 'bulk',
      });
      const bulk = await bulkWorker.performFullSync();
      expect(bulk).toMatchObject({ added: 1300, updated: 0, deadLettered: 0 });
      // 3 jobs of ≤ 500 records: create + status + download each, one 200-record sample, one events page.
      expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(3);
      expect(h.sim.countRequests({ kind: 'bulk-download' })).toBe(3);
      expect(h.sim.countRequests({ kind: 'records' })).toBe(2);
      expect(await recordDump(h, bulkSink, prefix2)).toEqual(await recordDump(h, h.sink, h.prefix));
    } finally {
      let cursor = '0';
      do {
        const [next, keys] = await redis2.scan(cursor, 'MATCH', `${prefix2}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis2.del(...keys);
      } while (cursor !== '0');
    }

    // Same Redis, paged first, then bulk with nothing changed in Zoho: nothing is updated.
    const switched = await h.worker({ listingStrategy: 'bulk' }, { bulkPollMs: 5 }).performFullSync();
    expect(switched).toMatchObject({ added: 0, updated: 0, unchanged: 1300, removed: 0 });
    const back = await h.worker({ listingStrategy: 'paged' }).performFullSync();
    expect(back).toMatchObject({ added: 0, updated: 0, unchanged: 1300 });
  });

  it('auto lists in bulk once Redis counts from the last run exceed bulkReadThreshold', async () => {
    const h = await createHarness({ dataset: { events: 5, registrations: 1200, seed: 4 } });
    open.push(h);
    const worker = h.worker({ bulkReadThreshold: 1000 }, { bulkPollMs: 5 });
    await worker.performFullSync(); // nothing in Redis yet: expected 0 → paged
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(0);
    const second = await worker.performFullSync(); // Redis counts 1,200 > 1,000 → bulk
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(1);
    expect(second).toMatchObject({ added: 0, updated: 0, unchanged: 1200 });
    const report = await worker.checkDiscrepancies(); // the ID-only listing goes bulk too
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(2);
    expect(report.hasDiscrepancies).toBe(false);
    expect(report.totals.zohoCount).toBe(1200);

    const forcedPaged = h.worker({ bulkReadThreshold: 1000, expectedRecordCount: 10 });
    await forcedPaged.performFullSync();
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(2);
  });

  it('finds drift through a bulk ID-only listing', async () => {
    const h = await createHarness({ dataset: { events: 3, registrations: 900, seed: 8 }, bulkRecordsPerJob: 400 });
    open.push(h);
    const worker = h.worker({ listingStrategy: 'bulk' }, { bulkPollMs: 5 });
    await worker.performFullSync();
    const victim = h.sim.listRegistrations()[10]!;
    await h.sink.removeRecords(victim.eventId, [victim.id]);
    h.sim.deleteRegistration(h.sim.listRegistrations()[20]!.id);
    h.sim.clearRequests();
    const report = await worker.checkDiscrepancies({ heal: true });
    expect(report.totals).toMatchObject({ missingInRedis: 1, extraInRedis: 1, stale: 0 });
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(3);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('falls back to paged listings with one warning when the token lacks the bulk scopes', async () => {
    const h = await createHarness({
      dataset: { events: 3, registrations: 700, seed: 2 },
      scopes: ['ZohoCreator.report.READ', 'ZohoCreator.dashboard.READ'],
    });
    open.push(h);
    const logger = capture();
    const worker = h.worker({ listingStrategy: 'bulk' }, { logger });
    const first = await worker.performFullSync();
    expect(first).toMatchObject({ added: 700 });
    const second = await worker.performFullSync();
    expect(second).toMatchObject({ unchanged: 700 });
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(1); // refused once, never asked again
    expect(logger.warnings.filter((w) => w.includes('Bulk Read'))).toHaveLength(1);
    expect(logger.warnings[0]).toContain('ZohoCreator.bulk.CREATE');
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('resumes an interrupted bulk listing from the last completed job, not from the start', async () => {
    const h = await createHarness({ dataset: { events: 4, registrations: 1400, seed: 6 }, bulkRecordsPerJob: 500 });
    open.push(h);
    // The third job's creation fails; jobs 1 and 2 (1,000 records) were committed.
    h.sim.inject({ kind: 'bulk-create', after: 2, respond: { type: 'zoho', status: 400, code: 9999, message: 'injected' } });
    const worker = h.worker({ listingStrategy: 'bulk', maxRetries: 0 }, { bulkPollMs: 5 });
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_API' });
    const checkpoint = await h.sink.state.getCheckpoint('full');
    expect(checkpoint?.cursor).toMatch(/^bulk:3:[A-Za-z0-9]+$/);
    expect(checkpoint?.nextPage).toBe(3);
    expect((await h.redisIds()).length).toBe(1000);

    h.sim.clearRequests();
    const resumed = await worker.performFullSync();
    expect(resumed).toMatchObject({ added: 400, resumed: true });
    // One job for the last 400 records, then the resumed run's ID-only pass over the whole
    // report (what changed in the pages read earlier), in bulk too: ceil(1400 / 500) = 3 jobs.
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(1 + 3);
    expect(h.sim.countRequests({ kind: 'bulk-download' })).toBe(1 + 3);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect(await h.sink.state.getCheckpoint('full')).toBeUndefined();
  });

  it('restarts the listing when the stored bulk cursor expired (15 minutes)', async () => {
    const h = await createHarness({ dataset: { events: 2, registrations: 900, seed: 7 }, bulkRecordsPerJob: 500 });
    open.push(h);
    h.sim.inject({ kind: 'bulk-create', after: 1, respond: { type: 'zoho', status: 400, code: 9999 } });
    const worker = h.worker({ listingStrategy: 'bulk', maxRetries: 0 }, { bulkPollMs: 5 });
    await expect(worker.performFullSync()).rejects.toThrow();
    h.sim.expireBulkCursors();
    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 400, unchanged: 500 });
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('polls a job in progress until it completes, and fails on a FAILED job', async () => {
    const h = await createHarness({ dataset: { events: 2, registrations: 300, seed: 9 }, bulkStatusStyle: 'oas' });
    open.push(h);
    // Two status answers "IN PROGRESS" / "In-progress" (both casings), then the real "Completed".
    for (const status of ['IN PROGRESS', 'In-progress']) {
      h.sim.inject({ kind: 'bulk-status', respond: { status: 200, body: { code: 3000, details: { id: '1', operation: 'read', status } } } });
    }
    let stamps = 0;
    for await (const page of h.source({ bulkPollMs: 1 }).readStamps({ listing: 'bulk' })) stamps += page.items.length;
    expect(stamps).toBe(300);
    expect(h.sim.countRequests({ kind: 'bulk-status' })).toBe(3);
    expect(h.sim.countRequests({ kind: 'bulk-download' })).toBe(1);

    h.sim.inject({
      kind: 'bulk-status',
      respond: { status: 200, body: { code: 3000, details: { id: '1', operation: 'read', status: 'FAILED' } } },
    });
    const failing = h.source({ bulkPollMs: 1 }).readStamps({ listing: 'bulk' })[Symbol.asyncIterator]();
    await expect(failing.next()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_API', message: expect.stringContaining('failed') });
  });

  it('every Bulk Read call (create, status polls, download) counts in apiCalls, the daily tally and against maxCallsPerRun', async () => {
    const h = await createHarness({ dataset: { events: 4, registrations: 1400, seed: 12 }, bulkRecordsPerJob: 500 });
    open.push(h);
    const worker = h.worker({ listingStrategy: 'bulk' }, { bulkPollMs: 1 });
    h.sim.clearRequests();
    const result = await worker.performFullSync();
    expect(result.added).toBe(1400);
    expect(h.sim.countRequests({ kind: 'bulk-create' })).toBe(3);
    expect(h.sim.countRequests({ kind: 'bulk-download' })).toBe(3);
    expect(h.sim.countRequests({ kind: 'bulk-status' })).toBeGreaterThanOrEqual(3);
    expect(result.apiCalls.total).toBe(h.sim.requests.length);
    expect((await worker.getQuotaUsage())?.used.total).toBe(h.sim.requests.length);

    // A ceiling of 6 calls: the 7th request (in the second job) is never sent, the run fails.
    const before = h.sim.requests.length;
    const capped = h.worker({ listingStrategy: 'bulk', maxCallsPerRun: 6, maxRetries: 0 }, { bulkPollMs: 1 });
    await expect(capped.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_CALL_LIMIT' });
    const sent = h.sim.requests.slice(before);
    expect(sent.filter((r) => r.kind !== 'token')).toHaveLength(6);
    expect(sent.filter((r) => r.kind === 'bulk-download')).toHaveLength(1);
    // The failed run's calls are in the tally too.
    expect((await capped.getQuotaUsage())?.used.total).toBe(h.sim.requests.length);
  });

  it('a download answered with JSON is judged like any call: code 4000 is the daily limit, not a corrupt zip', async () => {
    const h = await createHarness({ dataset: { events: 2, registrations: 300, seed: 13 } });
    open.push(h);
    h.sim.inject({ kind: 'bulk-download', respond: { type: 'zoho', status: 200, code: 4000, message: 'limit' } });
    const pages = h.source({ bulkPollMs: 1, retries: 0 }).readStamps({ listing: 'bulk' })[Symbol.asyncIterator]();
    await expect(pages.next()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_QUOTA_EXHAUSTED' });
  });

  it('refuses a result zip larger than bulkMaxZipBytes', async () => {
    const h = await createHarness({ dataset: { events: 2, registrations: 2000, seed: 9 } });
    open.push(h);
    const source = h.source({ bulkPollMs: 1, bulkMaxZipBytes: 2048, retries: 0 });
    const pages = source.readRecords({ listing: 'bulk' })[Symbol.asyncIterator]();
    await expect(pages.next()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE' });
  });
});
