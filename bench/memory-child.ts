/**
 * Runs ONE library operation in its own process, so that its resident memory is its own: a full
 * sync (`sync`) or `checkDiscrepancies()` (`check`) against a simulator running in another process.
 * Samples `process.memoryUsage()` every 10 ms, reads the heap after every full GC, and the kernel's
 * peak RSS at the end. bench/run.ts bundles this file (tsup) and runs it with plain `node`, so the
 * RSS is that of compiled JavaScript, as in production (tsx's loader alone adds about 35 MiB).
 *
 * argv[2]: JSON {@link ChildTask}. Sends one {@link ChildReport} to the parent and exits.
 */
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { SimInfo } from './common.js';
import { makeWorker } from './common.js';
import type { RunResult } from '../src/worker/run.js';

/** What the child is asked to do. */
export interface ChildTask {
  readonly mode: 'sync' | 'check';
  readonly sim: SimInfo;
  readonly redisUrl: string;
  readonly prefix: string;
  /** `sync` only: how the full sync lists (default: the worker's default, paged). */
  readonly listingStrategy?: 'paged' | 'bulk' | undefined;
  /** `sync` only: the worker's `expectedRecordCount` (a fresh prefix holds no counts for the plan). */
  readonly expectedRecordCount?: number | undefined;
}

/** What the child reports. Memory in bytes, time in ms. */
export interface ChildReport {
  readonly ms: number;
  /** Peak resident set size of the whole process (kernel `maxrss`). */
  readonly peakRss: number;
  /** RSS right before the operation started (runtime, tsx and modules loaded, connected). */
  readonly baselineRss: number;
  /** Highest sampled V8 `heapUsed` (live objects plus garbage not yet collected: depends on GC timing). */
  readonly peakHeapUsed: number;
  /** Highest `heapUsed` seen right after a full (mark-compact) GC: the live heap. */
  readonly peakLiveHeap: number;
  /** Full GCs during the operation. */
  readonly majorGcs: number;
  /** Peak RSS of the first and of the second half of the operation (by time): equal when nothing accumulates. */
  readonly peakRssFirstHalf: number;
  readonly peakRssSecondHalf: number;
  /** `heapUsed` after each full GC, with the time since the start (ms), to see whether it trends. */
  readonly liveHeapSeries: readonly (readonly [number, number])[];
  /** `heapUsed` right before the operation (after a forced GC). */
  readonly baselineHeapUsed: number;
  /** Highest sampled `external + arrayBuffers` (Buffers outside the V8 heap). */
  readonly peakExternal: number;
  readonly records: number;
  readonly pages: number;
  /** `check` only: every drifted ID the report names. */
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly stale: readonly string[];
  /** `sync` only: the run's Zoho calls, and `plan('full', { writes: false })` taken just before it. */
  readonly apiCalls?: RunResult['apiCalls'] | undefined;
  readonly planCalls?: number | undefined;
  /** CPU time of this process during the operation (`process.cpuUsage()`, user + system). Unit: ms. */
  readonly cpuMs: number;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
}

async function main(): Promise<void> {
  const task = JSON.parse(process.argv[2] ?? '{}') as ChildTask;
  const redis = new Redis(task.redisUrl, { maxRetriesPerRequest: 3 });
  const options = {
    ...(task.listingStrategy !== undefined ? { listingStrategy: task.listingStrategy } : {}),
    ...(task.expectedRecordCount !== undefined ? { expectedRecordCount: task.expectedRecordCount } : {}),
  };
  const { worker, sink } = makeWorker(task.sim, redis, task.prefix, options);
  await sink.ping();
  const planCalls = task.mode === 'sync' ? (await worker.plan('full', { writes: false })).calls?.total : undefined;
  collectGarbage();
  const base = process.memoryUsage();
  let peakHeapUsed = base.heapUsed;
  let peakExternal = base.external + base.arrayBuffers;
  let peakRss = base.rss;
  let peakLiveHeap = base.heapUsed;
  let majorGcs = 0;
  const liveHeapSeries: [number, number][] = [];
  const rssSeries: [number, number][] = [];
  let started = performance.now();
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majorGcs += 1;
      const live = process.memoryUsage().heapUsed;
      liveHeapSeries.push([Math.round(performance.now() - started), live]);
      if (live > peakLiveHeap) peakLiveHeap = live;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (m.heapUsed > peakHeapUsed) peakHeapUsed = m.heapUsed;
    if (m.external + m.arrayBuffers > peakExternal) peakExternal = m.external + m.arrayBuffers;
    if (m.rss > peakRss) peakRss = m.rss;
    rssSeries.push([performance.now() - started, m.rss]);
  }, 10);

  started = performance.now();
  const cpuBefore = process.cpuUsage();
  let apiCalls: RunResult['apiCalls'] | undefined;
  let records = 0;
  let pages = 0;
  const drift = { missing: [] as string[], extra: [] as string[], stale: [] as string[] };
  if (task.mode === 'sync') {
    const result = await worker.performFullSync();
    records = result.added + result.updated + result.unchanged;
    pages = result.pages;
    apiCalls = result.apiCalls;
  } else {
    // checkDiscrepancies() is this run kind; trigger() also gives the page count.
    const run = await worker.trigger({ kind: 'discrepancy-check' }).result;
    const report = run.discrepancies;
    if (report === undefined) throw new Error('The check produced no report');
    records = report.totals.zohoCount;
    for (const event of report.events) {
      drift.missing.push(...event.missingInRedis);
      drift.extra.push(...event.extraInRedis);
      drift.stale.push(...event.stale);
    }
    pages = run.pages;
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  gcObserver.disconnect();
  const kernelPeak = process.resourceUsage().maxRSS * 1024;
  let peakRssFirstHalf = 0;
  let peakRssSecondHalf = 0;
  for (const [t, rss] of rssSeries) {
    if (t < ms / 2) peakRssFirstHalf = Math.max(peakRssFirstHalf, rss);
    else peakRssSecondHalf = Math.max(peakRssSecondHalf, rss);
  }
  const report: ChildReport = {
    ms,
    peakRss: Math.max(peakRss, kernelPeak),
    baselineRss: base.rss,
    peakHeapUsed,
    peakLiveHeap,
    majorGcs,
    peakRssFirstHalf,
    peakRssSecondHalf,
    liveHeapSeries,
    baselineHeapUsed: base.heapUsed,
    peakExternal,
    records,
    pages,
    ...drift,
    apiCalls,
    planCalls,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  redis.disconnect();
  process.send?.(report, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`memory-child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
