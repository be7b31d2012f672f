/**
 * Distributed mode's plans and daily budget (issue 11 review): `DistributedSync.plan()` gives the
 * `SyncWorker` plan shape with the fan-out's Zoho calls, the HTTP routers' `?dry_run=true` answers
 * it, and `dailyCallLimit` refuses full, forced and incremental runs up front (nothing queued, no
 * Zoho call) unless `ignoreQuotaBudget`, with every call in the same Redis daily tally.
 * Real Redis, the simulator as Zoho.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DistributedSync, type DistributedSyncOptions } from '../../src/bullmq.js';
import { createSyncRoutes } from '../../src/http/routes.js';
import { silentLogger } from '../../src/logger.js';
import { createHarness, type Harness, REDIS_URL, deleteQueueKeys } from '../helpers/harness.js';

const TOKEN = 'secret-token-0123456789';

describe('DistributedSync.plan() and dailyCallLimit', () => {
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
      unknownPartitions: 3,
      logger: silentLogger,
      ...options,
    });
    syncs.push(sync);
    return sync;
  };

  beforeEach(async () => {
    h = await createHarness({ dataset: { events: 6, registrations: 2600, seed: 41 } });
    queuePrefix = `{zrs-q-${randomBytes(4).toString('hex')}}`;
  });
  afterEach(async () => {
    await Promise.all(syncs.splice(0).map((s) => s.stop()));
    await deleteQueueKeys(queuePrefix);
    await h.close();
  });
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });

  const call = async (sync: DistributedSync, name: string, path: string, query: Record<string, string>, params: Record<string, string> = {}) => {
    const route = createSyncRoutes(sync, { token: TOKEN }).find((r) => r.name === name)!;
    return route.handler({
      method: route.method,
      path,
      headers: { authorization: `Bearer ${TOKEN}` },
      query,
      params,
      raw: undefined,
    } as unknown as Parameters<typeof route.handler>[0]);
  };

  it('plans a fanned-out full sync (same shape as SyncWorker.plan), exactly once Redis holds counts; ?dry_run=true answers it', async () => {
    const sync = make({ worker: { listingStrategy: 'paged' } });
    await sync.start();
    // Empty Redis: a floor, and it says so; the writes are every record.
    const first = await call(sync, 'full-sync', '/full-sync', { dry_run: 'true' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ kind: 'full', listing: 'paged', countsKnown: false, calls: { exact: false }, writes: { upserts: 2600, removals: 0 } });
    expect(await h.sink.state.getSyncMeta()).toEqual({});
    expect(await h.redisIds()).toEqual([]);

    await sync.performFullSync();
    h.sim.deleteRegistration(h.sim.listRegistrations()[3]!.id);
    const plan = await sync.plan('full');
    expect(plan).toMatchObject({ kind: 'full', countsKnown: true, inexact: [], writes: { upserts: 0, removals: 1 } });
    expect(plan.calls?.exact).toBe(true);
    expect(plan.planCalls.ids).toBeGreaterThan(0);
    const tally = (await sync.getQuotaUsage())!.used.total;
    h.sim.clearRequests();
    const run = await sync.performFullSync();
    expect(run.removed).toBe(1);
    // One events list, then one listing per partition: exactly what the plan said, and what the tally gained.
    expect(plan.calls!.total).toBe(h.sim.requests.length);
    expect(plan.calls!.total).toBe(run.apiCalls.total);
    expect((await sync.getQuotaUsage())!.used.total).toBe(tally + h.sim.requests.length);

    const check = await call(sync, 'discrepancy-check', '/discrepancy-check', { dry_run: 'true' });
    expect(check.status).toBe(200);
    expect(check.body).toMatchObject({ kind: 'discrepancy-check', countsKnown: true, calls: { exact: true } });
    const force = await call(sync, 'force-sync', '/force-sync/123', { dry_run: 'true' }, { eventId: '123' });
    expect(force.status).toBe(404);
    expect(force.body).toMatchObject({ error: { code: 'ERR_SYNC_UNKNOWN_EVENT' } });
  });

  it('refuses full, forced and incremental runs over the budget before queueing anything, unless forced', async () => {
    const limited = make({ worker: { listingStrategy: 'paged', dailyCallLimit: 7 } });
    await limited.start();
    h.sim.clearRequests();
    // No counts in Redis: the estimate is a floor (events list + 3 guessed partitions of one page = 4
    // calls, plus the token); a floor over the calls left is refused before queueing, no Zoho call.
    const tight = make({ worker: { listingStrategy: 'paged', dailyCallLimit: 3 } });
    await tight.start();
    await expect(tight.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', countsKnown: false });
    const refused = await call(tight, 'full-sync', '/full-sync', {});
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'ERR_SYNC_QUOTA_BUDGET' } });
    expect(h.sim.requests).toHaveLength(0);
    expect(await tight.refreshStatus()).toMatchObject({ stats: { total_syncs: 0 }, last_run: null });
    await tight.stop();

    const forced = await limited.performFullSync({ ignoreQuotaBudget: true });
    expect(forced.added).toBe(2600);
    const usage = (await limited.getQuotaUsage())!;
    expect(usage.used.total).toBe(h.sim.requests.length);
    expect(usage.left).toBe(Math.max(0, 7 - h.sim.requests.length));

    // Counts known now: the next full sync needs more than the calls left.
    const plan = await limited.plan('full', { writes: false });
    expect(plan.fitsQuota).toBe(false);
    h.sim.clearRequests();
    const jobs = (await h.redis.keys(`${queuePrefix}:*`)).length;
    await expect(limited.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET', countsKnown: true, callsLeft: usage.left });
    const event = h.sim.listEvents()[0]!;
    await expect(limited.forceSyncEvent(event.id)).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET' });
    expect(h.sim.requests).toHaveLength(0);
    expect((await h.redis.keys(`${queuePrefix}:*`)).length).toBe(jobs);
    // The incremental is checked as well, and its local worker honours the caller's ignoreQuotaBudget.
    const spent = make({ worker: { listingStrategy: 'paged', dailyCallLimit: usage.used.total } });
    await spent.start();
    await expect(spent.performIncrementalSync()).rejects.toMatchObject({ code: 'ERR_SYNC_QUOTA_BUDGET' });
    const inc = await spent.performIncrementalSync({ ignoreQuotaBudget: true });
    expect(inc.kind).toBe('incremental');
    expect((await spent.getQuotaUsage())!.used.total).toBe(usage.used.total + inc.apiCalls.total);
  });

  it('skips a scheduled incremental over the budget (runSkipped quota-budget, counted), instead of retrying it', async () => {
    const seed = make({ worker: { listingStrategy: 'paged' } });
    await seed.start();
    await seed.performFullSync();
    const used = (await seed.getQuotaUsage())!.used.total;
    await seed.stop();
    const errors: string[] = [];
    const scheduled = make({
      enableScheduler: true,
      logger: { ...silentLogger, error: (message: string) => void errors.push(message) },
      worker: { listingStrategy: 'paged', dailyCallLimit: used, syncIntervalMs: 1000 },
    });
    const started: string[] = [];
    scheduled.on('syncStarted', (e) => void started.push(e.kind));
    const skipped = new Promise<{ reason: string }>((resolve) => scheduled.once('runSkipped', (e) => resolve(e)));
    h.sim.clearRequests();
    await scheduled.start();
    expect(await skipped).toMatchObject({ reason: 'quota-budget', kind: 'incremental' });
    const status = await scheduled.refreshStatus();
    expect(status.stats).toMatchObject({ quota_skipped_runs: 1, failed_syncs: 0 });
    // A skip, not a run: no syncStarted without its end, no failed run in the log.
    expect(started).toEqual([]);
    expect(errors).toEqual([]);
    await scheduled.removeScheduler();
    expect(h.sim.requests).toHaveLength(0);
  });
});
