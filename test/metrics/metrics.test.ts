/**
 * `@org/zoho-redis-sync/metrics`: real figures after real runs against the simulator and the real
 * Redis, read back through prom-client's registry exactly as a Prometheus scrape would.
 */
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { type MetricsWorker, registerSyncMetrics } from '../../src/metrics.js';
import { createHarness, type Harness, loseRecords } from '../helpers/harness.js';

/** Every sample of the registry, as `name{label="v",...}` → value (labels sorted). */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const name = (v as { metricName?: string }).metricName ?? metric.name;
      const labels = Object.entries(v.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, val]) => `${k}="${String(val)}"`)
        .join(',');
      out.set(labels ? `${name}{${labels}}` : name, v.value);
    }
  }
  return out;
}

function get(samples: Map<string, number>, key: string): number {
  const value = samples.get(key);
  if (value === undefined) throw new Error(`no sample ${key}; have:\n${[...samples.keys()].join('\n')}`);
  return value;
}

describe('registerSyncMetrics', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await h?.close();
    h = undefined;
  });

  it("takes dailyCallLimit from the worker's options when the metrics are given none", async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 300, seed: 2 } });
    const limited = registerSyncMetrics(h.worker({ dailyCallLimit: 400 }), new Registry());
    expect(limited.names).toContain('zoho_redis_sync_zoho_quota_remaining');
    const registry = new Registry();
    registerSyncMetrics(h.worker({ dailyCallLimit: 400 }), registry);
    expect(get(await scrape(registry), 'zoho_redis_sync_zoho_quota_remaining')).toBe(400);
    expect(registerSyncMetrics(h.worker(), new Registry()).names).not.toContain('zoho_redis_sync_zoho_quota_remaining');
  });

  it('after a full sync: runs, records, duration, Zoho calls equal to the simulator log, staleness per event', async () => {
    h = await createHarness({ dataset: { events: 8, registrations: 2419, seed: 1 } });
    const worker = h.worker();
    const registry = new Registry();
    const metrics = registerSyncMetrics(worker, registry, { dailyCallLimit: 250 });
    expect(metrics.names).toContain('zoho_redis_sync_runs_total');

    const before = await scrape(registry);
    expect(get(before, 'zoho_redis_sync_runs_total{kind="full",outcome="succeeded"}')).toBe(0);
    expect(get(before, 'zoho_redis_sync_zoho_quota_remaining')).toBe(250);

    const result = await worker.performFullSync();
    const s = await scrape(registry);
    expect(get(s, 'zoho_redis_sync_runs_total{kind="full",outcome="succeeded"}')).toBe(1);
    expect(get(s, 'zoho_redis_sync_runs_total{kind="full",outcome="failed"}')).toBe(0);
    expect(get(s, 'zoho_redis_sync_records_total{change="added"}')).toBe(2419);
    expect(get(s, 'zoho_redis_sync_records_total{change="updated"}')).toBe(0);
    expect(get(s, 'zoho_redis_sync_run_duration_seconds_count{kind="full",outcome="succeeded"}')).toBe(1);
    expect(get(s, 'zoho_redis_sync_run_duration_seconds_sum{kind="full",outcome="succeeded"}')).toBeCloseTo(result.durationMs / 1000, 3);

    // Zoho calls: exactly what the simulator received, by kind.
    const log = h.sim.requests;
    expect(get(s, 'zoho_redis_sync_zoho_calls_total{kind="token"}')).toBe(log.filter((r) => r.kind === 'token').length);
    expect(get(s, 'zoho_redis_sync_zoho_calls_total{kind="records"}')).toBe(
      log.filter((r) => r.kind === 'records' && r.report === h!.sim.config.registrationsReport).length,
    );
    expect(get(s, 'zoho_redis_sync_zoho_calls_total{kind="records"}')).toBe(3); // ceil(2419 / 1000)
    const totalCalls = ['token', 'records', 'ids', 'meta'].reduce((n, k) => n + get(s, `zoho_redis_sync_zoho_calls_total{kind="${k}"}`), 0);
    expect(totalCalls).toBe(log.length);
    expect(totalCalls).toBe(result.apiCalls.total);
    expect(get(s, 'zoho_redis_sync_zoho_quota_remaining')).toBe(250 - totalCalls);
    expect(get(s, 'zoho_redis_sync_zoho_calls_today')).toBe(totalCalls);
    expect(get(s, 'zoho_redis_sync_zoho_quota_exhausted')).toBe(0);
    // Another replica on the same Redis, which made no call itself, reads the same daily tally.
    const replica = h.worker();
    const replicaRegistry = new Registry();
    registerSyncMetrics(replica, replicaRegistry, { dailyCallLimit: 250 });
    const r = await scrape(replicaRegistry);
    expect(replica.getStatus().api_calls.total.total).toBe(0);
    expect(get(r, 'zoho_redis_sync_zoho_calls_today')).toBe(totalCalls);
    expect(get(r, 'zoho_redis_sync_zoho_quota_remaining')).toBe(250 - totalCalls);

    // Staleness: one series per event, a few seconds at most now, a minute later a minute more.
    const staleness = [...s].filter(([k]) => k.startsWith('zoho_redis_sync_event_staleness_seconds{'));
    expect(staleness.map(([k]) => k.match(/event_id="(\d+)"/)![1]).sort()).toEqual(h.sim.listEvents().map((e) => e.id).sort());
    for (const [, v] of staleness) expect(v).toBeGreaterThanOrEqual(0);
    for (const [, v] of staleness) expect(v).toBeLessThan(10);
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 60_000);
    const later = await scrape(registry);
    vi.restoreAllMocks();
    for (const [k, v] of staleness) expect(get(later, k)).toBeGreaterThanOrEqual(v + 59.9);

    expect(get(s, 'zoho_redis_sync_last_success_timestamp_seconds')).toBeCloseTo(Date.parse(result.finishedAt) / 1000, 0);
    expect(get(s, 'zoho_redis_sync_worker_running')).toBe(0);
    expect(get(s, 'zoho_redis_sync_run_in_progress{kind="full"}')).toBe(0);

    // The text exposition a scrape returns carries the same figures.
    const text = await registry.metrics();
    expect(text).toContain('zoho_redis_sync_records_total{change="added"} 2419');
    expect(text).toContain('# TYPE zoho_redis_sync_run_duration_seconds histogram');
  });

  it('discrepancies: the gauges show the last check, the counter sums them, healing is counted as records', async () => {
    h = await createHarness({ dataset: { events: 8, registrations: 1200, seed: 2 } });
    const worker = h.worker();
    const registry = new Registry();
    registerSyncMetrics(worker, registry);
    await worker.performFullSync();
    const lost = await loseRecords(h, 5);
    const gone = h.sim.listRegistrations().find((r) => !lost.includes(r.id))!;
    h.sim.deleteRegistration(gone.id);

    const report = await worker.checkDiscrepancies();
    expect(report.totals).toMatchObject({ missingInRedis: 5, extraInRedis: 1 });
    let s = await scrape(registry);
    expect(get(s, 'zoho_redis_sync_discrepancy_records{type="missing_in_redis"}')).toBe(5);
    expect(get(s, 'zoho_redis_sync_discrepancy_records{type="extra_in_redis"}')).toBe(1);
    expect(get(s, 'zoho_redis_sync_discrepancy_records{type="stale"}')).toBe(0);
    expect(get(s, 'zoho_redis_sync_discrepancy_events')).toBe(report.totals.eventsWithDiscrepancies);
    expect(get(s, 'zoho_redis_sync_discrepancy_records_found_total{type="missing_in_redis"}')).toBe(5);
    expect(get(s, 'zoho_redis_sync_runs_total{kind="discrepancy-check",outcome="succeeded"}')).toBe(1);

    await worker.checkDiscrepancies({ heal: true });
    s = await scrape(registry);
    expect(get(s, 'zoho_redis_sync_discrepancy_records_found_total{type="missing_in_redis"}')).toBe(10);
    expect(get(s, 'zoho_redis_sync_records_total{change="added"}')).toBe(1200 + 5);
    expect(get(s, 'zoho_redis_sync_records_total{change="removed"}')).toBe(1);

    await worker.checkDiscrepancies();
    s = await scrape(registry);
    expect(get(s, 'zoho_redis_sync_discrepancy_records{type="missing_in_redis"}')).toBe(0);
    expect(get(s, 'zoho_redis_sync_discrepancy_records{type="extra_in_redis"}')).toBe(0);
    expect(get(s, 'zoho_redis_sync_discrepancy_events')).toBe(0);
    expect(get(s, 'zoho_redis_sync_discrepancy_records_found_total{type="missing_in_redis"}')).toBe(10);
  });

  it('failures and quota: failed runs by kind, quota exhausted after Zoho code 4000, syncRecord counted', async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 300, seed: 5 } });
    const worker = h.worker({ maxRetries: 0 });
    worker.on('error', () => undefined);
    const registry = new Registry();
    registerSyncMetrics(worker, registry, { dailyCallLimit: 1000, quotaTimeZone: 'Asia/Ho_Chi_Minh' });
    await worker.performFullSync();

    const added = h.sim.addRegistration(h.sim.listEvents()[0]!.id);
    await worker.syncRecord(added.id);
    let s = await scrape(registry);
    expect(get(s, 'zoho_redis_sync_records_total{change="added"}')).toBe(301);
    expect(get(s, 'zoho_redis_sync_zoho_calls_total{kind="records"}')).toBe(2); // the listing page + Get Record by ID

    h.sim.inject({ kind: 'records', respond: { type: 'zoho', status: 200, code: 4000 }, times: 5 });
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_QUOTA_EXHAUSTED' });
    s = await scrape(registry);
    expect(get(s, 'zoho_redis_sync_runs_total{kind="full",outcome="failed"}')).toBe(1);
    expect(get(s, 'zoho_redis_sync_run_duration_seconds_count{kind="full",outcome="failed"}')).toBe(1);
    expect(get(s, 'zoho_redis_sync_zoho_quota_exhausted')).toBe(1);
    expect(get(s, 'zoho_redis_sync_zoho_quota_remaining')).toBe(0);
    const log = h.sim.requests.length;
    const total = ['token', 'records', 'ids', 'meta'].reduce((n, k) => n + get(s, `zoho_redis_sync_zoho_calls_total{kind="${k}"}`), 0);
    expect(total).toBe(log);
  });

  it('unregister() removes the metrics and the listeners; options are validated; a second registration on one registry fails loudly', async () => {
    h = await createHarness({ dataset: { events: 2, registrations: 50, seed: 6 } });
    const worker = h.worker();
    const registry = new Registry();
    const metrics = registerSyncMetrics(worker, registry);
    expect(() => registerSyncMetrics(worker, registry)).toThrow(/is already registered on this registry/);
    const listeners = worker.listenerCount('syncCompleted');
    metrics.unregister();
    metrics.unregister();
    expect(worker.listenerCount('syncCompleted')).toBe(listeners - 1);
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    const again = registerSyncMetrics(worker, registry, { prefix: 'zrs_' });
    await worker.performFullSync();
    expect(get(await scrape(registry), 'zrs_records_total{change="added"}')).toBe(50);
    again.unregister();

    expect(() => registerSyncMetrics(worker, new Registry(), { prefix: 'bad-prefix' })).toThrow(ConfigError);
    expect(() => registerSyncMetrics(worker, new Registry(), { dailyCallLimit: 0 })).toThrow(/dailyCallLimit/);
    expect(() => registerSyncMetrics(worker, new Registry(), { quotaTimeZone: 'Mars/Olympus' })).toThrow(/quotaTimeZone/);
    expect(() => registerSyncMetrics(worker, new Registry(), { durationBuckets: [5, 1] })).toThrow(/durationBuckets/);
  });
});

describe('registerSyncMetrics is all or nothing', () => {
  function countingWorker(): { worker: MetricsWorker; attached: () => number } {
    let attached = 0;
    const worker: MetricsWorker = {
      on: ((() => {
        attached += 1;
        return worker;
      }) as unknown) as MetricsWorker['on'],
      off: ((() => {
        attached -= 1;
        return worker;
      }) as unknown) as MetricsWorker['off'],
      getStatus: (() => {
        throw new Error('not scraped');
      }) as MetricsWorker['getStatus'],
    };
    return { worker, attached: () => attached };
  }

  it('a name already taken (late in the list) leaves nothing registered, attaches no listener, and names the clash', async () => {
    const registry = new Registry();
    const existing = new Gauge({ name: 'zoho_redis_sync_worker_running', help: 'someone else', registers: [registry] });
    existing.set(7);
    const { worker, attached } = countingWorker();
    let error: unknown;
    try {
      registerSyncMetrics(worker, registry, { dailyCallLimit: 100 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option: 'prefix' });
    expect((error as Error).message).toBe(
      'A metric named `zoho_redis_sync_worker_running` is already registered on this registry: call unregister() of the earlier registerSyncMetrics() first, or pass another `prefix`. Nothing was registered.',
    );
    expect((await registry.getMetricsAsJSON()).map((m) => m.name)).toEqual(['zoho_redis_sync_worker_running']);
    expect(registry.getSingleMetric('zoho_redis_sync_worker_running')).toBe(existing);
    expect(attached()).toBe(0);

    // Once the clash is gone, the same call succeeds: nothing half-registered is in the way.
    registry.removeSingleMetric('zoho_redis_sync_worker_running');
    const metrics = registerSyncMetrics(worker, registry, { dailyCallLimit: 100 });
    expect(metrics.names).toContain('zoho_redis_sync_worker_running');
    expect(attached()).toBeGreaterThan(0);
    metrics.unregister();
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    expect(attached()).toBe(0);
  });

  it('registering twice on one registry names every clash; another prefix coexists', () => {
    const registry = new Registry();
    const { worker } = countingWorker();
    const first = registerSyncMetrics(worker, registry);
    expect(() => registerSyncMetrics(worker, registry)).toThrow(/^A metric named `zoho_redis_sync_runs_total`, `zoho_redis_sync_run_duration_seconds`, .*`zoho_redis_sync_last_success_timestamp_seconds` is already registered/);
    expect(registry.getMetricsAsArray()).toHaveLength(first.names.length);
    const second = registerSyncMetrics(worker, registry, { prefix: 'other_' });
    expect(registry.getMetricsAsArray()).toHaveLength(first.names.length + second.names.length);
  });
});
