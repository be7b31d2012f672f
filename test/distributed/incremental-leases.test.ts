/**
 * The distributed incremental writes each event only under that event's lease (issue 13, item 2),
 * on the real Redis at 127.0.0.1:6379 with the simulator as Zoho. The race it closes, made
 * deterministic with a gate in the source: a forced sync of event X has listed X (and not yet run
 * its removal pass); record R of X is created in Zoho; an incremental lists R. Without per-event
 * leases the incremental writes R and advances the watermark past it, then the forced sync's
 * removal pass removes R (not in its listing): R stays missing until a later full sync or check.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ListOptions, SourceAdapter, SourcePage, SourceRecord } from '../../src/adapters/source.js';
import { acquireEventLeases, DistributedSync, type DistributedSyncOptions, type JobActivity } from '../../src/bullmq.js';
import { silentLogger } from '../../src/logger.js';
import { createHarness, type Harness, REDIS_URL, deleteQueueKeys } from '../helpers/harness.js';

/** A gate: `wait()` blocks until `open()`. */
function gate(): { wait: () => Promise<void>; open: () => void; reached: Promise<void>; markReached: () => void } {
  let open!: () => void;
  let markReached!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  const reached = new Promise<void>((r) => {
    markReached = r;
  });
  return { wait: () => opened, open, reached, markReached };
}

/**
 * The source, except that a listing restricted to exactly `eventId` (a forced sync) stops after
 * its last page (the listing complete, its removal pass not yet run) until the gate opens.
 */
function holdForcedListing(source: SourceAdapter, eventId: string, g: ReturnType<typeof gate>): SourceAdapter {
  return {
    ...source,
    name: source.name,
    listEvents: (o) => source.listEvents(o),
    readStamps: (o) => source.readStamps(o),
    readChangedSince: (since, o) => source.readChangedSince(since, o),
    getRecord: (id, o) => source.getRecord(id, o),
    getCallCounts: source.getCallCounts ? () => source.getCallCounts!() : undefined,
    readRecords(options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>> {
      const inner = source.readRecords(options);
      const forced = options?.eventIds?.length === 1 && options.eventIds[0] === eventId;
      if (!forced) return inner;
      return {
        async *[Symbol.asyncIterator]() {
          yield* inner;
          g.markReached();
          await g.wait();
        },
      };
    },
  };
}

describe('the distributed incremental under per-event leases (real Redis, simulator)', () => {
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
      eventLeaseTtlMs: 1500,
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

  it('a record created while a forced sync of its event runs is not removed by that sync: the incremental waits for the event lease', async () => {
    const seeder = make();
    await seeder.start();
    await seeder.performFullSync();
    await seeder.stop();
    const event = h.sim.listEvents()[3]!;
    const g = gate();
    const jobs: JobActivity[] = [];
    const a = make({ source: holdForcedListing(h.source(), event.id, g), concurrency: 2, onJob: (j) => jobs.push(j) });
    await a.start();

    const force = a.trigger({ kind: 'force', eventId: event.id });
    await g.reached; // the forced sync listed the event; its removal pass waits
    h.sim.clock.advance(2000);
    const created = h.sim.addRegistration(event.id);
    const watermarkBefore = (await h.sink.state.getSyncMeta()).watermark!;
    const incremental = a.trigger({ kind: 'incremental' });
    // The incremental's first attempt ends: without leases it committed R and moved the watermark;
    // with them it found X's lease held and was delayed, writing nothing of X and moving nothing.
    await waitFor(() => jobs.some((j) => j.name === 'incremental' && j.phase === 'end'));
    const firstAttempt = jobs.find((j) => j.name === 'incremental' && j.phase === 'end')!;
    const heldMeanwhile = await h.redis.hexists(h.sink.keys.ids(event.id), created.id);
    const watermarkMeanwhile = (await h.sink.state.getSyncMeta()).watermark;

    g.open();
    const forced = await force.result;
    const changes = await incremental.result;
    // Retried after the forced sync released the lease: R is in Redis, and everything else agrees
    // (without the leases R is missing here: the forced sync's removal pass removed it).
    expect(await h.redis.hexists(h.sink.keys.ids(event.id), created.id)).toBe(1);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect(forced.removed).toBe(0);
    expect(changes.added).toBeGreaterThanOrEqual(1);
    expect(firstAttempt.ok).toBe(true);
    expect(heldMeanwhile).toBe(0);
    expect(watermarkMeanwhile).toBe(watermarkBefore);
    expect((await h.sink.state.getSyncMeta()).watermark).toBeGreaterThanOrEqual(created.modifiedAt - 1000);
    // The incremental ran more than once (delayed while the lease was held), never failing.
    const ends = jobs.filter((j) => j.name === 'incremental' && j.phase === 'end');
    expect(ends.length).toBeGreaterThanOrEqual(2);
    expect(ends.every((j) => j.ok)).toBe(true);
    // No lease is left behind.
    expect(await h.redis.exists(`${h.sink.keys.eventStem(event.id)}:lease`)).toBe(0);
  }, 40_000);

  it('a scheduled incremental that meets a held event lease is skipped like a tick (lease_skipped_runs), moving no watermark', async () => {
    const event = h.sim.listEvents()[5]!;
    const g = gate();
    const a = make({ source: holdForcedListing(h.source(), event.id, g), concurrency: 2 });
    await a.start();
    const before = (await a.refreshStatus()).stats.lease_skipped_runs;
    const force = a.trigger({ kind: 'force', eventId: event.id });
    await g.reached;
    h.sim.clock.advance(2000);
    const created = h.sim.addRegistration(event.id);
    const watermarkBefore = (await h.sink.state.getSyncMeta()).watermark!;
    // The scheduler (upserted by a replica that takes no jobs) fires incrementals that `a` runs.
    const scheduler = make({ processJobs: false, enableScheduler: true, worker: { syncIntervalMs: 1000 } });
    await scheduler.start();
    const skipped = await waitFor(async () => (await a.refreshStatus()).stats.lease_skipped_runs > before, 5000).then(
      () => true,
      () => false,
    );
    const heldMeanwhile = await h.redis.hexists(h.sink.keys.ids(event.id), created.id);
    const watermarkMeanwhile = (await h.sink.state.getSyncMeta()).watermark;
    g.open();
    const forced = await force.result;
    // A later firing lists R from the unchanged watermark. (Without the leases the forced sync
    // removed R, `removed` 1 below, and only a later firing's overlap window brought it back.)
    await waitFor(async () => (await h.redis.hexists(h.sink.keys.ids(event.id), created.id)) === 1, 5000).catch(() => undefined);
    await scheduler.removeScheduler();
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
    expect(forced.removed).toBe(0);
    expect(skipped).toBe(true);
    expect(heldMeanwhile).toBe(0);
    expect(watermarkMeanwhile).toBe(watermarkBefore);
  }, 40_000);

  it('the stale check and the fallback full listing take their events\' leases before listing: no ID or record listing while another job holds one', async () => {
    const other = h.sim.listEvents()[7]!;
    const regs = h.sim.listRegistrations(other.id);
    const a = make({ worker: { staleAfterMs: 0, staleCheckIntervalMs: 0 } });
    await a.start();
    const registrations = { kind: 'records' as const, report: h.sim.config.registrationsReport };
    for (const fallback of [false, true]) {
      // Another job writes `other` (its lease taken directly, as a partition job takes it).
      const theirs = await acquireEventLeases(h.redis, h.sink.keys, [other.id], 'another-job', 60_000);
      if ('heldBy' in theirs) throw new Error('lease held');
      const lost = regs[fallback ? 1 : 0]!;
      await h.sink.removeRecords(other.id, [lost.id]);
      if (fallback) await h.redis.hdel(h.sink.keys.syncMeta(), 'watermark');
      const jobs: JobActivity[] = [];
      const b = make({ worker: { staleAfterMs: 0, staleCheckIntervalMs: 0 }, onJob: (j) => jobs.push(j) });
      await a.stop();
      await b.start();
      h.sim.clearRequests();
      const run = b.trigger({ kind: 'incremental' });
      await waitFor(() => jobs.some((j) => j.name === 'incremental' && j.phase === 'end'));
      // The stale check (all 40 events stale: one unrestricted ID listing of 3 pages) and the fallback
      // full listing (3 pages) would each need more than the changes listing's one page.
      const listedWhileHeld = h.sim.countRequests(registrations);
      const heldMeanwhile = await h.redis.hexists(h.sink.keys.ids(other.id), lost.id);
      await theirs.release();
      const result = await run.result;
      expect(listedWhileHeld).toBeLessThanOrEqual(1);
      expect(heldMeanwhile).toBe(0);
      expect(result.fellBackToFull).toBe(fallback);
      if (!fallback) expect(result.staleCheck).toBe(true);
      expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
      await b.stop();
    }
  }, 40_000);
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
