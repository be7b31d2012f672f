/**
 * Distributed mode (`@org/zoho-redis-sync/bullmq`) in-process: several `DistributedSync` instances
 * on the real Redis at 127.0.0.1:6379 (random sink prefix and queue prefix per file), the simulator
 * as Zoho. Full syncs fan out and end equal to the simulator; forced syncs are deduplicated; the
 * scheduler fires the incremental; status and events are the same on a replica that runs nothing.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DistributedSync, type DistributedSyncOptions, planPartitions } from '../../src/bullmq.js';
import { silentLogger } from '../../src/logger.js';
import { createHarness, type Harness, REDIS_URL, deleteQueueKeys } from '../helpers/harness.js';

describe('planPartitions', () => {
  it('groups small events into one listing and gives large ones their own, within 1.1× the calls of one listing', () => {
    const small = Array.from({ length: 40 }, (_, i) => ({ id: String(1000 + i), expectedRecords: 60 }));
    const plan = planPartitions(small);
    expect(plan.singleListingCalls).toBe(3);
    expect(plan.expectedCalls).toBe(3); // per-event listings would cost 40
    expect(plan.partitions.flatMap((p) => p.eventIds).sort()).toEqual(small.map((e) => e.id).sort());

    const mixed = [
      { id: '1', expectedRecords: 5000 },
      { id: '2', expectedRecords: 2500 },
      ...Array.from({ length: 30 }, (_, i) => ({ id: String(100 + i), expectedRecords: 40 })),
    ];
    const p2 = planPartitions(mixed);
    expect(p2.partitions[0]!.eventIds).toEqual(['1']);
    expect(p2.expectedCalls).toBeLessThanOrEqual(Math.ceil(1.1 * p2.singleListingCalls));

    const bench = Array.from({ length: 100 }, (_, i) => ({ id: String(i + 1), expectedRecords: 900 + ((i * 37) % 200) }));
    const p3 = planPartitions(bench);
    expect(p3.expectedCalls).toBeLessThanOrEqual(Math.ceil(1.1 * p3.singleListingCalls));
    expect(p3.partitions.length).toBeGreaterThanOrEqual(50);
  });

  it('spreads events with unknown counts over a bounded number of listings, at most 50 events each', () => {
    const unknown = Array.from({ length: 120 }, (_, i) => ({ id: String(i + 1), expectedRecords: undefined }));
    const plan = planPartitions(unknown, { unknownPartitions: 2 });
    expect(plan.partitions).toHaveLength(3);
    expect(Math.max(...plan.partitions.map((p) => p.eventIds.length))).toBeLessThanOrEqual(50);
    expect(new Set(plan.partitions.flatMap((p) => p.eventIds)).size).toBe(120);
  });
});

describe('DistributedSync on BullMQ (real Redis, simulator)', () => {
  let h: Harness;
  let queuePrefix: string;
  const clients: Redis[] = [];
  const syncs: DistributedSync[] = [];

  const make = (options: Partial<DistributedSyncOptions> = {}): DistributedSync => {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    clients.push(connection);
    const sync = new DistributedSync({
      connection,
      redis: h.redis,
      source: h.source(),
      sink: h.sink,
      queuePrefix,
      enableScheduler: false,
      backoffMs: 50,
      eventLeaseTtlMs: 5000,
      statusRefreshMs: 200,
      callsPerWindow: 1000,
      logger: silentLogger,
      ...options,
    });
    syncs.push(sync);
    return sync;
  };

  beforeAll(async () => {
    h = await createHarness();
    queuePrefix = `{zrs-q-${randomBytes(4).toString('hex')}}`;
  });
  afterEach(async () => {
    await Promise.all(syncs.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await deleteQueueKeys(queuePrefix);
    for (const c of clients) c.disconnect();
    await h.close();
  });

  it('a full sync fans out over two processing replicas and ends equal to the simulator; a third replica sees the status and events', async () => {
    const a = make();
    const b = make();
    const observer = make({ processJobs: false, worker: { dailyCallLimit: 5000, expectedRecordCount: 2419 } });
    await Promise.all([a.start(), b.start(), observer.start()]);
    const tallyBefore = (await observer.getQuotaUsage())!.used.total;
    const seen = { eventSynced: 0, completed: 0 };
    observer.on('eventSynced', () => {
      seen.eventSynced += 1;
    });
    observer.on('syncCompleted', () => {
      seen.completed += 1;
    });
    h.sim.clearRequests();
    const result = await observer.performFullSync();
    expect(result.kind).toBe('full');
    expect(result.added).toBe(2419);
    expect(result.eventsSynced).toBe(40);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect((await h.sink.state.getSyncMeta()).watermark).toBeDefined();
    // First full sync: Redis knew no counts, 8 listings over unknown sizes (≤ 3 + 8 record calls).
    const recordCalls = h.sim.countRequests({ kind: 'records' });
    expect(recordCalls).toBeLessThanOrEqual(1 + 3 + 8);
    const status = await observer.refreshStatus();
    expect(status.stats).toMatchObject({ total_syncs: 1, successful_syncs: 1, records_added: 2419 });
    // Every call the two processing replicas made is in Redis's tally of the Zoho day, which the
    // observer (no jobs of its own) reports: exactly the requests the simulator received.
    const used = tallyBefore + h.sim.requests.length;
    expect(status.quota.calls_today).toMatchObject({ time_zone: 'UTC', used, limit: 5000, left: 5000 - used });
    expect(status.quota.calls_today?.day).toBe(new Date().toISOString().slice(0, 10));
    expect(status.last_run).toMatchObject({ id: result.runId, kind: 'full', outcome: 'succeeded' });
    expect(status.watermark).not.toBeNull();
    await waitFor(() => seen.completed === 1);
    expect(seen.eventSynced).toBe(40);

    // Second full sync: partitions planned from Redis's counts — about the calls of one listing.
    h.sim.clearRequests();
    const again = await a.performFullSync();
    expect(again.unchanged).toBe(2419);
    const registrationCalls = h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport).length;
    expect(registrationCalls).toBeLessThanOrEqual(Math.ceil(1.1 * 3));
  });

  it('a force sync is one job per event: two triggers join the same run', async () => {
    const a = make();
    await a.start();
    const event = h.sim.listEvents()[4]!;
    const reg = h.sim.listRegistrations().find((r) => r.eventId === event.id)!;
    h.sim.deleteRegistration(reg.id);
    const first = a.trigger({ kind: 'force', eventId: event.id });
    const second = a.trigger({ kind: 'force', eventId: event.id });
    await Promise.all([first.accepted, second.accepted]);
    expect(second.id).toBe(first.id);
    const [r1, r2] = await Promise.all([first.result, second.result]);
    expect(r1.runId).toBe(r2.runId);
    expect(r1.removed).toBe(1);
    expect(await h.redis.hexists(h.sink.keys.ids(event.id), reg.id)).toBe(0);
  });

  it('the Job Scheduler fires the incremental; a discrepancy check heals', async () => {
    const a = make({ enableScheduler: true, worker: { syncIntervalMs: 1000 } });
    const b = make({ enableScheduler: true, worker: { syncIntervalMs: 1000 } });
    const incrementals: string[] = [];
    a.on('syncCompleted', (r) => {
      if (r.kind === 'incremental') incrementals.push(r.runId);
    });
    h.sim.clock.advance(5000);
    const edited = h.sim.editRegistration(h.sim.listRegistrations()[10]!.id);
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => incrementals.length >= 2, 15_000);
    expect(JSON.parse((await h.redis.get(h.sink.keys.record(edited.eventId, edited.id)))!)).toEqual(h.sim.toApiRecord(edited));
    await a.removeScheduler();

    const lost = h.sim.listRegistrations()[20]!;
    await h.sink.removeRecords(lost.eventId, [lost.id]);
    const report = await b.checkDiscrepancies({ heal: true });
    expect(report.totals.missingInRedis).toBe(1);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('Timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
