/**
 * The Bulk Read and quota sections of `npm run bench` (issue 11), against the simulator with
 * 200 ms per Zoho call (every API call: Get Records, bulk create, status, download):
 *
 * - a full sync of `BENCH_BULK_RECORDS` registrations (default 1,000,000; 100,000 with
 *   `BENCH_QUICK=1`) listed page by page and then with Bulk Read, each into a fresh key prefix:
 *   each in a fresh library child (bench/memory-child.ts, plain node; the simulator runs in its own
 *   process): Zoho calls, wall time, the child's CPU and RSS (the peak of the run's second half
 *   against its first), then the same jobs walked with bare `fetch` (the simulator's share);
 * - `worker.plan('full')` before each of those runs (with `expectedRecordCount`, since a fresh
 *   prefix holds no counts) against the calls the run then made;
 * - incremental syncs on 40 × 2,500 registrations: nothing changed, and 10 changed, best of 3 each,
 *   as a share of the ideal of one round trip (the events list and the changes listing overlap),
 *   and of the same two calls made overlapped by a bare source (what the simulator itself takes).
 */
import type { Redis } from 'ioredis';
import type { RunResult } from '../src/worker/run.js';
import type { RunPlanWithQuota } from '../src/worker/sync-worker.js';
import { loadavg } from 'node:os';
import { buildChild, runChild } from './child.js';
import { deletePrefix, makeSource, makeWorker, mib, newPrefix, QUICK, REDIS_URL, round, type SimHandle, sleep, startSim } from './common.js';
import type { ChildReport } from './memory-child.js';
import type { BenchHooks } from './scale-out.js';

const LATENCY_MS = 200;
const EVENTS = 40;
const FULL_RECORDS = Number(process.env.BENCH_BULK_RECORDS ?? (QUICK ? 100_000 : 1_000_000));
const INCREMENTAL_PER_EVENT = QUICK ? 250 : 2_500;
const ROUNDS = 3;

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (ratio: number): string => `${fmt(ratio * 100)} %`;
const sec = (ms: number): string => `${fmt(ms / 1000, 1)} s`;

interface FullRun {
  readonly strategy: 'paged' | 'bulk';
  readonly report: ChildReport;
}

/** One full sync in a fresh child of its own (bench/memory-child.ts, plain node): time, calls, plan, memory, CPU. */
async function fullRun(file: string, sim: SimHandle, redis: Redis, strategy: 'paged' | 'bulk', log: BenchHooks['log']): Promise<FullRun> {
  const prefix = newPrefix(`bulk-${strategy}`);
  try {
    const report = await runChild(file, { mode: 'sync', sim: sim.info, redisUrl: REDIS_URL, prefix, listingStrategy: strategy, expectedRecordCount: FULL_RECORDS });
    log(
      `  ${strategy}: ${sec(report.ms)}, ${report.apiCalls?.total} Zoho calls (plan: ${report.planCalls}), peak RSS ${mib(report.peakRss)} MiB (1st half ${mib(report.peakRssFirstHalf)}, 2nd ${mib(report.peakRssSecondHalf)}), library CPU ${sec(report.cpuMs)}`,
    );
    return { strategy, report };
  } finally {
    await deletePrefix(redis, prefix);
  }
}

/**
 * The Bulk Read jobs of the whole report walked with bare `fetch` and no processing: create, one
 * status poll after `pollMs` (the library's default, 1 s), download read to the end, next job with
 * the cursor. What the simulator itself takes (latency, waits, building each zip): the floor under
 * the library's bulk run, and the simulator's share of it.
 */
async function bareBulkWalk(sim: SimHandle, pollMs: number): Promise<{ jobs: number; ms: number; bytes: number }> {
  const { clientId, clientSecret, refreshToken } = sim.info.credentials;
  const query = new URLSearchParams({ grant_type: 'refresh_token', client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken });
  const minted = (await (await fetch(`${sim.info.accountsBaseUrl}/oauth/v2/token?${query.toString()}`, { method: 'POST' })).json()) as { access_token?: string };
  const headers = { Authorization: `Zoho-oauthtoken ${String(minted.access_token)}`, 'content-type': 'application/json' };
  const { accountOwner, appLinkName, registrationsReport } = sim.info.config;
  const base = `${sim.info.apiBaseUrl}/creator/v2.1/bulk/${accountOwner}/${appLinkName}/report/${registrationsReport}/read`;
  const started = performance.now();
  let cursor: string | undefined;
  let jobs = 0;
  let bytes = 0;
  do {
    const body = { query: { max_records: 200_000, ...(cursor !== undefined ? { record_cursor: cursor } : {}) } };
    const created = (await (await fetch(base, { method: 'POST', headers, body: JSON.stringify(body) })).json()) as { details?: { id?: string } };
    const id = String(created.details?.id);
    await sleep(pollMs);
    await (await fetch(`${base}/${id}`, { headers })).arrayBuffer();
    const download = await fetch(`${base}/${id}/result`, { headers });
    bytes += (await download.arrayBuffer()).byteLength;
    cursor = download.headers.get('recordCursor') ?? undefined;
    jobs += 1;
  } while (cursor !== undefined);
  return { jobs, ms: performance.now() - started, bytes };
}

/** The full-sync comparison: paged vs Bulk Read, and the plans' estimates. */
async function fullSyncs(hooks: BenchHooks, redis: Redis): Promise<void> {
  const { section, row, log, results } = hooks;
  const file = await buildChild();
  log(`\n(starting a simulator with ${fmt(FULL_RECORDS)} registrations and ${LATENCY_MS} ms per call)`);
  const sim = await startSim({ events: EVENTS, registrations: FULL_RECORDS, seed: 21, latencyMs: LATENCY_MS });
  try {
    section(`Bulk Read: full sync of ${fmt(FULL_RECORDS)} registrations, ${LATENCY_MS} ms per Zoho call, paged vs Bulk Read`);
    const paged = await fullRun(file, sim, redis, 'paged', log);
    const bulk = await fullRun(file, sim, redis, 'bulk', log);
    const bare = await bareBulkWalk(sim, 1000);
    log(`  bare bulk walk: ${bare.jobs} jobs, ${sec(bare.ms)}, ${mib(bare.bytes)} MiB of zip`);
    for (const r of [paged, bulk]) {
      if (r.report.records !== FULL_RECORDS) throw new Error(`The ${r.strategy} full sync stored ${r.report.records} records, expected ${FULL_RECORDS}`);
    }
    const c = (r: FullRun): number => r.report.apiCalls?.total ?? Number.NaN;
    row({
      figure: 'Zoho calls: Bulk Read vs paged',
      value: `${fmt(c(bulk))} calls`,
      baseline: `${fmt(c(paged))} calls`,
      ratio: `${fmt(c(bulk) / c(paged), 3)}×`,
      target: '≤ 40 vs ~1,003',
      met: FULL_RECORDS === 1_000_000 ? c(bulk) <= 40 : undefined,
    });
    row({
      figure: 'wall time: Bulk Read vs paged',
      value: sec(bulk.report.ms),
      baseline: sec(paged.report.ms),
      ratio: `${fmt(bulk.report.ms / paged.report.ms, 2)}×`,
      target: '≤ 0.25×',
      met: bulk.report.ms / paged.report.ms <= 0.25,
    });
    row({
      figure: 'Bulk Read: simulator alone (bare jobs, no processing) vs the run',
      value: sec(bare.ms),
      baseline: `${sec(bulk.report.ms)} run`,
      ratio: pct(bare.ms / bulk.report.ms),
      target: '',
      met: undefined,
    });
    for (const r of [paged, bulk]) {
      row({
        figure: `${r.strategy}: library CPU (its own process) per 1,000 records`,
        value: `${fmt(r.report.cpuMs / (FULL_RECORDS / 1000), 1)} ms`,
        baseline: `${sec(r.report.cpuMs)} CPU`,
        ratio: pct(r.report.cpuMs / r.report.ms),
        target: '',
        met: undefined,
      });
    }
    for (const r of [paged, bulk]) {
      // The library alone in a child of its own (plain node, like the memory section).
      row({
        figure: `peak RSS, ${r.strategy} (library process; 2nd-half peak vs 1st)`,
        value: `${mib(r.report.peakRss)} MiB`,
        baseline: `${mib(r.report.baselineRss)} MiB before`,
        ratio: `${fmt(r.report.peakRssSecondHalf / Math.max(1, r.report.peakRssFirstHalf), 2)}×`,
        target: '< 256 MiB, ≤ 1.1×',
        met: r.report.peakRss < 256 * 1024 * 1024 && r.report.peakRssSecondHalf <= 1.1 * r.report.peakRssFirstHalf,
      });
    }
    for (const r of [paged, bulk]) {
      const estimate = r.report.planCalls ?? Number.NaN;
      const off = estimate - c(r);
      row({
        figure: `plan('full') estimate vs calls made, ${r.strategy}`,
        value: `${fmt(estimate)} estimated`,
        baseline: `${fmt(c(r))} made`,
        ratio: `${off >= 0 ? '+' : ''}${fmt(off)} calls`,
        target: r.strategy === 'paged' ? 'exact' : '± 2',
        met: r.strategy === 'paged' ? off === 0 : Math.abs(off) <= 2,
      });
    }
    const summary = (r: FullRun): Record<string, unknown> => ({
      ms: round(r.report.ms),
      apiCalls: r.report.apiCalls,
      planCalls: r.report.planCalls,
      cpuMs: round(r.report.cpuMs),
      rssBeforeMiB: mib(r.report.baselineRss),
      peakRssMiB: mib(r.report.peakRss),
      firstHalfPeakRssMiB: mib(r.report.peakRssFirstHalf),
      secondHalfPeakRssMiB: mib(r.report.peakRssSecondHalf),
      peakLiveHeapMiB: mib(r.report.peakLiveHeap),
      peakHeapUsedMiB: mib(r.report.peakHeapUsed),
    });
    results.bulkRead = {
      records: FULL_RECORDS,
      events: EVENTS,
      latencyMs: LATENCY_MS,
      paged: summary(paged),
      bulk: summary(bulk),
      bareBulk: { jobs: bare.jobs, ms: round(bare.ms), zipMiB: mib(bare.bytes) },
      loadAverage: loadavg(),
    };
  } finally {
    await sim.close();
  }
}

/** Incremental syncs with nothing / 10 changed against the ideal of one round trip. */
async function incrementals(hooks: BenchHooks, redis: Redis): Promise<void> {
  const { section, row, log, results } = hooks;
  const n = EVENTS * INCREMENTAL_PER_EVENT;
  log(`\n(starting a simulator with ${fmt(n)} registrations and ${LATENCY_MS} ms per call)`);
  const sim = await startSim({ events: EVENTS, registrations: n, seed: 22, latencyMs: LATENCY_MS });
  const prefix = newPrefix('bulk-incr');
  try {
    const { worker } = makeWorker(sim.info, redis, prefix);
    await worker.performFullSync();
    section(`Incremental sync, ${LATENCY_MS} ms per Zoho call, ${fmt(n)} registrations: share of the ideal (one round trip)`);
    const raw: Record<string, unknown>[] = [];
    // What the run's two calls take on this simulator without the worker: the events list and the
    // changes listing, overlapped, through a bare ZohoCreatorSource (token and date format cached).
    // The simulator scans every registration for the criteria, so at 100,000 records one changes
    // call takes longer than the added latency alone.
    const bare = makeSource(sim.info);
    const bareRoundTrip = async (): Promise<number> => {
      await bare.listEvents();
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < ROUNDS; i++) {
        const started = performance.now();
        await Promise.all([
          bare.listEvents(),
          (async () => {
            for await (const _page of bare.readChangedSince(Date.now() - 60_000)) {
              // drained
            }
          })(),
        ]);
        best = Math.min(best, performance.now() - started);
      }
      return best;
    };
    const measure = async (label: string, changed: number): Promise<void> => {
      const runs: { ms: number; result: RunResult; plan: RunPlanWithQuota }[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        if (changed > 0) await sim.edit(changed);
        const plan = await worker.plan('incremental');
        const started = performance.now();
        const result = await worker.performIncrementalSync();
        runs.push({ ms: performance.now() - started, result, plan });
      }
      const bareMs = await bareRoundTrip();
      const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
      const changedSeen = best.result.added + best.result.updated;
      log(`  ${label}: ${runs.map((r) => sec(r.ms)).join(', ')}; ${best.result.apiCalls.total} calls, ${changedSeen} written`);
      row({
        figure: `${label} (best of ${ROUNDS}; ${best.result.apiCalls.total} calls, ${changedSeen} written)`,
        value: `${fmt(best.ms)} ms`,
        baseline: `${LATENCY_MS} ms ideal, ${fmt(bareMs)} ms bare`,
        ratio: `${pct(LATENCY_MS / best.ms)}, ${pct(bareMs / best.ms)}`,
        target: '≥ 85 %',
        met: LATENCY_MS / best.ms >= 0.85,
      });
      raw.push({
        run: label,
        ms: runs.map((r) => round(r.ms)),
        idealMs: LATENCY_MS,
        bareRoundTripMs: round(bareMs),
        bestEfficiency: round(LATENCY_MS / best.ms, 3),
        bestVsBare: round(bareMs / best.ms, 3),
        apiCalls: best.result.apiCalls,
        planCalls: best.plan.calls,
        written: changedSeen,
      });
      const planned = best.plan.calls?.total;
      row({
        figure: `plan('incremental') estimate vs calls made, ${label}`,
        value: `${fmt(planned ?? Number.NaN)} estimated`,
        baseline: `${fmt(best.result.apiCalls.total)} made`,
        ratio: `${(planned ?? 0) - best.result.apiCalls.total >= 0 ? '+' : ''}${fmt((planned ?? 0) - best.result.apiCalls.total)} calls`,
        target: 'exact',
        met: planned === best.result.apiCalls.total,
      });
    };
    await measure('incremental, nothing changed', 0);
    await measure('incremental, 10 changed', 10);
    results.incrementalOverlap = { latencyMs: LATENCY_MS, records: n, runs: raw };
    await worker.stop();
  } finally {
    await deletePrefix(redis, prefix);
    await sim.close();
  }
}

/** Both sections (`BENCH_ONLY=bulk-read` runs them alone). */
export async function bulkReadBench(hooks: BenchHooks, redis: Redis): Promise<void> {
  await fullSyncs(hooks, redis);
  await incrementals(hooks, redis);
}
