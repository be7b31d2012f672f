/**
 * A discrepancy check in distributed mode fans out per-partition jobs: on the same damaged Redis
 * (lost, stale and extra records across several events) two in-process `DistributedSync` workers
 * report exactly what one `SyncWorker` reports, heal it to equal the simulator, spread the work
 * over several child jobs, and spend at most 1.1× the single process's Zoho calls. Real Redis at
 * 127.0.0.1:6379 (random sink and queue prefixes), the simulator as Zoho.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DistributedSync, type DistributedSyncOptions, type JobActivity } from '../../src/bullmq.js';
import { SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { DiscrepancyReport } from '../../src/worker/discrepancy.js';
import type { SyncWorkerEvents } from '../../src/worker/events.js';
import { createHarness, type Harness, REDIS_URL, deleteQueueKeys } from '../helpers/harness.js';

/** What a run emitted, in a comparable form (IDs sorted). */
interface Tally {
  discrepancyFound: DiscrepancyReport[];
  eventSynced: number;
  added: string[];
  updated: string[];
  removed: string[];
  massRemovalBlocked: string[];
}

function tally(emitter: { on<K extends keyof SyncWorkerEvents>(event: K, fn: (...args: SyncWorkerEvents[K]) => void): unknown }): Tally {
  const t: Tally = { discrepancyFound: [], eventSynced: 0, added: [], updated: [], removed: [], massRemovalBlocked: [] };
  emitter.on('discrepancyFound', (r) => t.discrepancyFound.push(r));
  emitter.on('eventSynced', () => {
    t.eventSynced += 1;
  });
  emitter.on('recordsAdded', (p) => t.added.push(...p.ids));
  emitter.on('recordsUpdated', (p) => t.updated.push(...p.ids));
  emitter.on('recordsRemoved', (p) => t.removed.push(...p.ids));
  emitter.on('massRemovalBlocked', (p) => t.massRemovalBlocked.push(p.eventId));
  return t;
}

const sorted = (t: Tally) => ({ ...t, added: [...t.added].sort(), updated: [...t.updated].sort(), removed: [...t.removed].sort(), discrepancyFound: t.discrepancyFound.map(untimed) });
const untimed = (r: DiscrepancyReport) => ({ ...r, checkedAt: 'x' });

describe('a distributed discrepancy check fans out per partition (real Redis, simulator)', () => {
  let h: Harness;
  let queuePrefix: string;
  const clients: Redis[] = [];
  const syncs: DistributedSync[] = [];
  const jobs: (JobActivity & { by: string })[] = [];

  const make = (by: string, options: Partial<DistributedSyncOptions> = {}): DistributedSync => {
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
      onJob: (info) => jobs.push({ ...info, by }),
      ...options,
    });
    syncs.push(sync);
    return sync;
  };
  /** Zoho API calls in the simulator's log since the last clear (OAuth token calls excluded: each process caches its own). */
  const zohoCalls = (): number => h.sim.requests.filter((r) => r.kind !== 'token').length;
  const childJobs = (name: string): (JobActivity & { by: string })[] => jobs.filter((j) => j.name === name && j.phase === 'end' && j.ok);

  /**
   * Repeatable damage over several events: 4 records lost from Redis (3 events), 2 edited in Zoho
   * only (stale in Redis, 2 events), 3 records only Redis holds (2 events).
   */
  const damage = async (): Promise<void> => {
    const events = h.sim.listEvents();
    const regsOf = (i: number) => h.sim.listRegistrations().filter((r) => r.eventId === events[i]!.id);
    const lost = [regsOf(1)[0]!, regsOf(5)[0]!, regsOf(9)[0]!, regsOf(9)[1]!];
    for (const r of lost) await h.sink.removeRecords(r.eventId, [r.id]);
    h.sim.clock.advance(2000); // a new modification second: the edits are visible as stale stamps
    h.sim.editRegistration(regsOf(2)[3]!.id);
    h.sim.editRegistration(regsOf(5)[4]!.id);
    const fake = (i: number, n: number) => ({ id: `90000000000000${n}`, eventId: events[i]!.id, modifiedAt: 1_700_000_000_000, data: { ID: `90000000000000${n}` } });
    await h.sink.upsertRecords([fake(3, 1), fake(3, 2), fake(7, 3)]);
  };

  beforeAll(async () => {
    h = await createHarness();
    queuePrefix = `{zrs-q-${randomBytes(4).toString('hex')}}`;
    // Redis holds every event's count (the planner's input), as after any full sync.
    await h.worker().performFullSync();
  });
  afterEach(async () => {
    await Promise.all(syncs.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await deleteQueueKeys(queuePrefix);
    for (const c of clients) c.disconnect();
    await h.close();
  });

  it('reports exactly what one SyncWorker reports, over several child jobs, within 1.1× its Zoho calls; heal makes Redis equal the simulator', async () => {
    await damage();
    // One more kind of extra: a record Zoho deleted that Redis still holds.
    const gone = h.sim.listRegistrations().filter((r) => r.eventId === h.sim.listEvents()[11]!.id)[2]!;
    h.sim.deleteRegistration(gone.id);

    const single = h.worker();
    const singleEvents = tally(single);
    h.sim.clearRequests();
    const expected = await single.checkDiscrepancies();
    const singleCalls = zohoCalls();
    expect(expected.totals).toMatchObject({ missingInRedis: 4, stale: 2, extraInRedis: 4, eventsChecked: 40, eventsWithDiscrepancies: 7 });

    const a = make('a');
    const b = make('b');
    await Promise.all([a.start(), b.start()]);
    const seen = tally(a);
    jobs.length = 0;
    const tallyBefore = (await a.getQuotaUsage())!.used.total;
    h.sim.clearRequests();
    const report = await b.checkDiscrepancies();
    const calls = zohoCalls();
    // Every call of the check's jobs is in Redis's tally of the Zoho day.
    expect((await a.getQuotaUsage())!.used.total - tallyBefore).toBe(h.sim.requests.length);
    expect(untimed(report)).toEqual(untimed(expected));
    expect(report.healed).toBeUndefined();
    const checkJobs = childJobs('check-partition');
    expect(new Set(checkJobs.map((j) => j.jobId)).size).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(1.1 * singleCalls);
    console.info(`check: single ${singleCalls} Zoho calls, distributed ${calls} over ${checkJobs.length} check jobs (by ${[...new Set(checkJobs.map((j) => j.by))].join(', ')})`);
    await waitFor(() => seen.discrepancyFound.length === 1);
    expect(sorted(seen)).toEqual(sorted(singleEvents));

    // Heal the same damage: the same report, then Redis equals the simulator.
    h.sim.clearRequests();
    jobs.length = 0;
    const healed = await a.checkDiscrepancies({ heal: true });
    expect(untimed({ ...healed, healed: undefined })).toEqual(untimed(expected));
    expect(healed.healed).toMatchObject({ added: 4, updated: 2, removed: 4 });
    expect(childJobs('heal-partition').length).toBeGreaterThanOrEqual(1);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    const clean = await a.checkDiscrepancies();
    expect(clean.hasDiscrepancies).toBe(false);
    expect(clean.totals).toMatchObject({ zohoCount: 2418, redisCount: 2418, eventsChecked: 40 });
    const status = await a.refreshStatus();
    expect(status.stats.discrepancy_checks).toBe(3);
    expect(status.last_run).toMatchObject({ kind: 'discrepancy-check', outcome: 'succeeded' });
  });

  it('heal: the same report, events and repairs as one SyncWorker healing the same damage, within 1.1× its Zoho calls', async () => {
    await damage();
    const single = h.worker();
    const singleEvents = tally(single);
    h.sim.clearRequests();
    const expected = await single.checkDiscrepancies({ heal: true });
    const singleCalls = zohoCalls();
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });

    await damage();
    const a = make('a');
    const b = make('b');
    await Promise.all([a.start(), b.start()]);
    const seen = tally(b);
    h.sim.clearRequests();
    const report = await a.checkDiscrepancies({ heal: true });
    const calls = zohoCalls();
    expect(untimed(report)).toEqual(untimed(expected));
    expect(report.healed).toEqual({ added: 4, updated: 2, removed: 3, eventsResynced: 4 });
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect(calls).toBeLessThanOrEqual(1.1 * singleCalls);
    console.info(`heal: single ${singleCalls} Zoho calls, distributed ${calls}`);
    await waitFor(() => seen.eventSynced === 40 && seen.discrepancyFound.length === 1);
    expect(sorted(seen)).toEqual(sorted(singleEvents));
  });

  it('the mass-removal guard refuses the whole heal before any child writes (as in one process); allowMassRemoval heals', async () => {
    const events = h.sim.listEvents();
    const target = events[13]!;
    const held = h.sim.listRegistrations().filter((r) => r.eventId === target.id).length;
    const fakes = Array.from({ length: held + 5 }, (_, i) => ({ id: String(8_100_000_000 + i), eventId: target.id, modifiedAt: 1_700_000_000_000, data: { ID: String(8_100_000_000 + i) } }));
    await h.sink.upsertRecords(fakes);
    const lost = h.sim.listRegistrations().find((r) => r.eventId === events[14]!.id)!;
    await h.sink.removeRecords(lost.eventId, [lost.id]);

    const a = make('a');
    const b = make('b');
    await Promise.all([a.start(), b.start()]);
    const seen = tally(b);
    jobs.length = 0;
    const refused = await a.checkDiscrepancies({ heal: true }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: SyncErrorCode.MASS_REMOVAL });
    await waitFor(() => seen.massRemovalBlocked.length === 1);
    expect(seen.massRemovalBlocked).toEqual([target.id]);
    // Nothing was written: no heal job ran, the lost record is still lost, the extras still held.
    expect(childJobs('heal-partition')).toHaveLength(0);
    expect(await h.redis.hexists(h.sink.keys.ids(lost.eventId), lost.id)).toBe(0);
    expect(await h.sink.countRecords(target.id)).toBe(held + fakes.length);

    const healed = await b.checkDiscrepancies({ heal: true, allowMassRemoval: true });
    expect(healed.healed).toMatchObject({ added: 1, removed: fakes.length });
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
