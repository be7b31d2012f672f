/**
 * `npm run bench`: the performance figures of issue 6, each a ratio of two measurements taken in
 * the same run (machines here are shared and noisy; absolute numbers are for orientation only).
 *
 * Needs a Redis at `REDIS_URL` (default redis://127.0.0.1:6379); writes only under its own key
 * prefixes (`zrs-bench-*`) and deletes them afterwards. The simulator runs in child processes.
 * `BENCH_QUICK=1` runs smaller data sets. Prints a table and writes bench/results.json.
 * See BENCHMARKS.md for what each figure means.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { constants, monitorEventLoopDelay, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Redis } from 'ioredis';
import { createSyncWorkerRouter } from '../src/express.js';
import { createKeySchema } from '../src/redis/key-schema.js';
import type { RunResult } from '../src/worker/run.js';
import {
  connectRedis,
  deletePrefix,
  deleteLivePrefixesOnSignal,
  interrupted,
  forkTs,
  makeWorker,
  mib,
  newPrefix,
  QUICK,
  quantile,
  REDIS_URL,
  round,
  type SimHandle,
  type SimInfo,
  startSim,
  stopChild,
} from './common.js';
import { ceilingLoad, chainWalk, type LoadResult, type MinimalLoadResult, minimalLoad, naiveLoad, timePageSteps } from './loaders.js';
import { bulkReadBench } from './bulk-read.js';
import { scaleOutBench } from './scale-out.js';
import type { ChildReport } from './memory-child.js';
import { measurePushes } from './pushes.js';
import { buildChild, runChild } from './child.js';

/** What bench/poller.ts reports. Unit: ms. */
export interface PollerReport {
  readonly latencies: readonly number[];
  readonly errors: number;
  /** The poller's own event-loop delay (it is nearly idle): the machine's scheduling noise. */
  readonly ownLoopMaxMs: number;
  readonly ownLoopP99Ms: number;
}

const SIZES = QUICK
  ? { throughput: 20_000, memory: [10_000, 100_000], latencyPerEvent: 250, incremental: [0, 10, 5_000] }
  : { throughput: 200_000, memory: [100_000, 1_000_000], latencyPerEvent: 2_500, incremental: [0, 10, 5_000] };
const EVENTS = 40;
/** Interleaved rounds of (a) and the library; the best of each is compared (noise only ever slows a run down). */
const ROUNDS = 3;
const LATENCY_MS = 200;
const PAGE = 1000;

/** One line of the printed table. */
interface Row {
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly met: boolean | undefined;
}

const rows: Row[] = [];
const sections: { title: string; from: number }[] = [];
const results: Record<string, unknown> = {};

function section(title: string): void {
  sections.push({ title, from: rows.length });
  log(`\n== ${title}`);
}

function row(r: Row): void {
  rows.push(r);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (ratio: number): string => `${fmt(ratio * 100)} %`;
const times = (ratio: number): string => `${fmt(ratio, 1)}×`;
const sec = (ms: number): string => `${fmt(ms / 1000, 1)} s`;

// ------------------------------------------------------------------------------------ throughput

interface LibraryRun {
  readonly ms: number;
  readonly records: number;
  readonly result: RunResult;
}

async function libraryFullSync(info: SimInfo, redis: Redis, label: string): Promise<LibraryRun> {
  const prefix = newPrefix(label);
  try {
    const { worker } = makeWorker(info, redis, prefix);
    const started = performance.now();
    const result = await worker.performFullSync();
    const ms = performance.now() - started;
    return { ms, records: result.added + result.updated + result.unchanged, result };
  } finally {
    await deletePrefix(redis, prefix);
  }
}

async function baseline<R extends LoadResult>(load: (info: SimInfo, redis: Redis, prefix: string) => Promise<R>, info: SimInfo, redis: Redis, label: string): Promise<R> {
  const prefix = newPrefix(label);
  try {
    return await load(info, redis, prefix);
  } finally {
    await deletePrefix(redis, prefix);
  }
}

const rate = (records: number, ms: number): number => (records / ms) * 1000;

async function throughput(sim: SimHandle, redis: Redis): Promise<void> {
  const n = sim.info.registrations;
  section(`Write throughput: full sync of ${fmt(n)} registrations over ${EVENTS} events, no added latency`);
  // Warm-up (JIT, sockets, script cache) on a few pages, then interleaved rounds; best of each.
  // One prefix per warm-up: deletePrefix() ends a prefix's tracking for the interrupt clean-up.
  const warmCeiling = newPrefix('warm');
  await ceilingLoad(sim.info, redis, warmCeiling, 5);
  await deletePrefix(redis, warmCeiling);
  const warmMinimal = newPrefix('warm');
  await minimalLoad(sim.info, redis, warmMinimal, 5);
  await deletePrefix(redis, warmMinimal);
  const ceilings: LoadResult[] = [];
  const minimal: MinimalLoadResult[] = [];
  const library: LibraryRun[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const c = await baseline(ceilingLoad, sim.info, redis, 'ceiling');
    ceilings.push(c);
    log(`  (a) hand-tuned round ${round}: ${fmt(rate(c.records, c.ms))} rec/s (${sec(c.ms)})`);
    const m = await baseline(minimalLoad, sim.info, redis, 'minimal');
    // Every contender starts from an empty prefix: (c) must count every record added and sweep nothing.
    if (m.added !== n || m.updated + m.unchanged + m.unseen !== 0) {
      throw new Error(`(c) counted added ${m.added}, updated ${m.updated}, unchanged ${m.unchanged}, unseen ${m.unseen} (expected ${n} added, nothing else)`);
    }
    minimal.push(m);
    log(`  (c) minimal round ${round}: ${fmt(rate(m.records, m.ms))} rec/s (${sec(m.ms)})`);
    const l = await libraryFullSync(sim.info, redis, 'lib');
    library.push(l);
    log(`  library round ${round}: ${fmt(rate(l.records, l.ms))} rec/s (${sec(l.ms)})`);
  }
  const naive = await baseline(naiveLoad, sim.info, redis, 'naive');
  log(`  (b) naive: ${fmt(rate(naive.records, naive.ms))} rec/s (${sec(naive.ms)})`);

  const best = <T>(list: readonly T[], score: (t: T) => number): T => list.reduce((a, b) => (score(b) > score(a) ? b : a));
  const lib = best(library, (l) => rate(l.records, l.ms));
  const ceil = best(ceilings, (c) => rate(c.records, c.ms));
  const libRate = rate(lib.records, lib.ms);
  const ceilRate = rate(ceil.records, ceil.ms);
  const naiveRate = rate(naive.records, naive.ms);
  const same = lib.records === n && ceil.records === n && naive.records === n;
  if (!same) throw new Error(`The contenders wrote different record counts: ${lib.records}, ${ceil.records}, ${naive.records} (expected ${n})`);
  row({ figure: 'library full sync', value: `${fmt(libRate)} rec/s`, baseline: '', ratio: sec(lib.ms), target: '', met: undefined });
  row({
    figure: 'vs (a) hand-tuned loader (ceiling)',
    value: `${fmt(libRate)} rec/s`,
    baseline: `${fmt(ceilRate)} rec/s`,
    ratio: pct(libRate / ceilRate),
    target: '≥ 85 %',
    met: libRate / ceilRate >= 0.85,
  });
  const minRun = best(minimal, (m) => rate(m.records, m.ms));
  const minRate = rate(minRun.records, minRun.ms);
  row({
    figure: 'vs (c) minimal loader: the kept work, no guarantees',
    value: `${fmt(libRate)} rec/s`,
    baseline: `${fmt(minRate)} rec/s`,
    ratio: pct(libRate / minRate),
    target: '',
    met: undefined,
  });
  row({
    figure: '(c) minimal loader vs (a)',
    value: `${fmt(minRate)} rec/s`,
    baseline: `${fmt(ceilRate)} rec/s`,
    ratio: pct(minRate / ceilRate),
    target: '',
    met: undefined,
  });
  row({
    figure: 'vs (b) naive loader (1 command per await)',
    value: `${fmt(libRate)} rec/s`,
    baseline: `${fmt(naiveRate)} rec/s`,
    ratio: times(libRate / naiveRate),
    target: '≥ 15×',
    met: libRate / naiveRate >= 15,
  });
  row({
    figure: '(a) vs (b): the most any loader can gain',
    value: `${fmt(ceilRate)} rec/s`,
    baseline: `${fmt(naiveRate)} rec/s`,
    ratio: times(ceilRate / naiveRate),
    target: '',
    met: undefined,
  });
  results.throughput = {
    records: n,
    events: EVENTS,
    library: library.map((l) => ({ ms: round(l.ms), recordsPerSecond: round(rate(l.records, l.ms)), apiCalls: l.result.apiCalls })),
    ceiling: ceilings.map((c) => ({ ms: round(c.ms), recordsPerSecond: round(rate(c.records, c.ms)), pages: c.pages })),
    naive: { ms: round(naive.ms), recordsPerSecond: round(naiveRate), pages: naive.pages },
    minimal: minimal.map((m) => ({ ms: round(m.ms), recordsPerSecond: round(rate(m.records, m.ms)), added: m.added, unseen: m.unseen })),
    libraryVsMinimal: round(libRate / minRate, 3),
    libraryVsCeiling: round(libRate / ceilRate, 3),
    libraryVsNaive: round(libRate / naiveRate, 2),
    ceilingVsNaive: round(ceilRate / naiveRate, 2),
  };
}

// -------------------------------------------------------------------------- event loop + calls

async function eventLoopAndCalls(sim: SimHandle, redis: Redis): Promise<void> {
  const n = sim.info.registrations;
  const prefix = newPrefix('loop');
  const { worker } = makeWorker(sim.info, redis, prefix);
  const app = express();
  app.use('/api/sync-worker', createSyncWorkerRouter(worker, { allowUnauthenticated: true }));
  const server = app.listen(0, '127.0.0.1');
  try {
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const poller = forkTs('poller.ts', [`http://127.0.0.1:${port}/api/sync-worker/status`, '20']);
    const pollerDone = new Promise<PollerReport>((resolve) => {
      poller.on('message', (message) => {
        if (message !== 'ready') resolve(message as PollerReport);
      });
    });
    await once(poller, 'message');
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const gcPauses = { minor: [] as number[], major: [] as number[] };
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcPauses.minor.push(entry.duration);
        else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcPauses.major.push(entry.duration);
      }
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    delay.enable();
    const started = performance.now();
    const full = await worker.performFullSync();
    const ms = performance.now() - started;
    delay.disable();
    gcObserver.disconnect();
    poller.send('stop');
    const polled = await pollerDone;
    await stopChild(poller);

    section(`Event loop: host (Express status endpoint) during a full sync of ${fmt(n)} registrations`);
    const maxDelay = delay.max / 1e6;
    const p99Delay = delay.percentile(99) / 1e6;
    const p99Http = quantile(polled.latencies, 0.99);
    const maxHttp = quantile(polled.latencies, 1);
    row({ figure: 'event-loop delay, max', value: `${fmt(maxDelay, 1)} ms`, baseline: '50 ms', ratio: times(maxDelay / 50), target: '< 50 ms', met: maxDelay < 50 });
    row({
      figure: 'event-loop delay, p99',
      value: `${fmt(p99Delay, 1)} ms`,
      baseline: `${fmt(polled.ownLoopP99Ms, 1)} ms idle`,
      ratio: '',
      target: '',
      met: undefined,
    });
    row({
      figure: 'idle process on this machine, same time (noise floor)',
      value: `${fmt(polled.ownLoopMaxMs, 1)} ms max`,
      baseline: '',
      ratio: '',
      target: '',
      met: undefined,
    });
    const steps = await timePageSteps(sim.info, worker.options.batchSize);
    const maxMinor = quantile(gcPauses.minor, 1);
    const maxMajor = quantile(gcPauses.major, 1);
    row({
      figure: 'longest own step: read a page (decode, parse, normalise)',
      value: `${fmt(steps.readPage, 1)} ms`,
      baseline: `${fmt(steps.sizeBatch, 1)} ms / batch`,
      ratio: '',
      target: '< 50 ms',
      met: steps.readPage < 50,
    });
    row({
      figure: `GC pauses: max scavenge (${gcPauses.minor.length}) / mark-compact (${gcPauses.major.length})`,
      value: `${fmt(maxMinor, 1)} / ${fmt(maxMajor, 1)} ms`,
      baseline: `${fmt(gcPauses.minor.reduce((a, b) => a + b, 0) / Math.max(1, gcPauses.minor.length), 1)} ms mean`,
      ratio: '',
      target: '',
      met: undefined,
    });
    row({
      figure: `GET /status latency p99 / max (${fmt(polled.latencies.length)} polls)`,
      value: `${fmt(p99Http, 1)} / ${fmt(maxHttp, 1)} ms`,
      baseline: `${sec(ms)} sync`,
      ratio: `${polled.errors} errors`,
      target: 'no error, < 100 ms',
      met: polled.errors === 0 && maxHttp < 100,
    });
    results.eventLoop = {
      records: n,
      syncMs: round(ms),
      loopDelayMaxMs: round(maxDelay),
      loopDelayP99Ms: round(p99Delay),
      loopDelayMeanMs: round(delay.mean / 1e6),
      statusPolls: polled.latencies.length,
      statusErrors: polled.errors,
      statusP50Ms: round(quantile(polled.latencies, 0.5)),
      statusP99Ms: round(p99Http),
      statusMaxMs: round(maxHttp),
      readPageStepMs: round(steps.readPage),
      sizeBatchStepMs: round(steps.sizeBatch),
      scavenges: gcPauses.minor.length,
      scavengeMaxMs: round(maxMinor),
      scavengeMeanMs: round(gcPauses.minor.reduce((a, b) => a + b, 0) / Math.max(1, gcPauses.minor.length)),
      markCompacts: gcPauses.major.length,
      markCompactMaxMs: round(maxMajor),
      idleProcessLoopMaxMs: round(polled.ownLoopMaxMs),
      idleProcessLoopP99Ms: round(polled.ownLoopP99Ms),
    };

    section('Zoho calls: made vs the minimum (ceil(records / 1000) + fixed calls)');
    // Fixed calls of a first full sync: token, app settings (date format, zone), events list.
    const fullMin = Math.ceil(n / PAGE) + 3;
    const calls: Record<string, unknown>[] = [];
    const callRow = (label: string, made: number, minimum: number, note: string, target: number): void => {
      row({ figure: label, value: `${made} calls`, baseline: `${minimum} min`, ratio: `${fmt(made / minimum, 2)}×`, target: note, met: made <= target });
    };
    callRow(`full sync, ${fmt(n)} records`, full.apiCalls.total, fullMin, '≤ 1.05× min', Math.floor(1.05 * (fullMin - 3)) + 3);
    calls.push({ run: 'full', changed: n, made: full.apiCalls, minimum: fullMin });
    for (const changed of SIZES.incremental) {
      if (changed > 0) await sim.edit(changed);
      const inc = await worker.performIncrementalSync();
      // Fixed call of an incremental run: the events list (token and settings are cached).
      const pages = Math.max(1, Math.ceil(changed / PAGE));
      const minimum = 1 + pages;
      const reread = inc.unchanged;
      const allowed = changed === 0 ? 2 : 1 + Math.floor(1.05 * pages);
      const note = changed === 0 ? '1–2 calls' : '≤ 1.05× min';
      callRow(`incremental, ${fmt(changed)} changed (+${fmt(reread)} re-read by the overlap)`, inc.apiCalls.total, minimum, note, allowed);
      if (inc.updated !== changed) throw new Error(`The incremental sync updated ${inc.updated} records, expected ${changed}`);
      calls.push({ run: 'incremental', changed, reread, made: inc.apiCalls, minimum, minimumWithReread: 1 + Math.max(1, Math.ceil((changed + reread) / PAGE)) });
    }
    results.calls = calls;
  } finally {
    server.close();
    await worker.stop();
    await deletePrefix(redis, prefix);
  }
}

// ------------------------------------------------------------------------------- latency-bound

async function latencyBound(redis: Redis): Promise<void> {
  const n = EVENTS * SIZES.latencyPerEvent;
  log(`\n(starting a simulator with ${fmt(n)} registrations and ${LATENCY_MS} ms per call)`);
  const sim = await startSim({ events: EVENTS, registrations: n, seed: 3, latencyMs: LATENCY_MS });
  const prefix = newPrefix('latency');
  try {
    const { worker } = makeWorker(sim.info, redis, prefix);
    section(`Latency-bound: ${LATENCY_MS} ms per Zoho call, ${EVENTS} events × ${fmt(SIZES.latencyPerEvent)} registrations`);
    const runs: Record<string, unknown>[] = [];
    // What the chains themselves take on this simulator (latency + its own work per page), walked
    // with bare fetch: the registrations chain, and one call (the events report, a single page).
    const walk = await chainWalk(sim.info, 'registrations');
    const oneCall = await chainWalk(sim.info, 'events');
    const measure = async (label: string, run: () => Promise<RunResult>, bareMs: number): Promise<void> => {
      const started = performance.now();
      const result = await run();
      const ms = performance.now() - started;
      // The record pages form one cursor chain: each needs the previous page's cursor. The other
      // calls (app settings, events list) depend on nothing but the token and could overlap it.
      const chain = result.apiCalls.records;
      const overlappable = result.apiCalls.meta;
      const ideal = LATENCY_MS * Math.max(1, chain);
      row({
        figure: `${label}: ${chain} chained + ${overlappable} independent calls`,
        value: sec(ms),
        baseline: `${sec(ideal)} ideal, ${sec(bareMs)} bare`,
        ratio: `${pct(ideal / ms)}, ${pct(bareMs / ms)}`,
        target: 'near 100 %',
        met: undefined,
      });
      runs.push({
        run: label,
        ms: round(ms),
        idealMs: ideal,
        bareChainMs: round(bareMs),
        chainedCalls: chain,
        independentCalls: overlappable,
        efficiencyVsIdeal: round(ideal / ms, 3),
        efficiencyVsBareChain: round(bareMs / ms, 3),
      });
    };
    await measure('full sync', () => worker.performFullSync(), walk.ms);
    await sim.edit(10);
    await measure('incremental, 10 changed', () => worker.performIncrementalSync(), oneCall.ms);
    const concurrency = worker.options.concurrency;
    row({
      figure: 'chosen concurrency',
      value: `${concurrency} batches/events`,
      baseline: `batch ${worker.options.batchSize}`,
      ratio: '1 page read-ahead',
      target: '',
      met: undefined,
    });
    results.latency = { latencyMs: LATENCY_MS, records: n, bareChain: { pages: walk.pages, ms: round(walk.ms) }, bareOneCallMs: round(oneCall.ms), runs, concurrency, batchSize: worker.options.batchSize, readAheadPages: 1 };
    await worker.stop();
  } finally {
    await deletePrefix(redis, prefix);
    await sim.close();
  }
}

// ------------------------------------------------------------------- memory + reconciliation

interface Drift {
  readonly missing: Set<string>;
  readonly stale: Set<string>;
  readonly extra: Set<string>;
}

/**
 * Drifts Redis away from Zoho on `share` of the records, a third each: records deleted from Redis
 * (missing), index times changed (stale), records Zoho never had (extra).
 */
async function driftRedis(redis: Redis, prefix: string, share: number): Promise<Drift> {
  const keys = createKeySchema(prefix);
  const eventIds = (await redis.hkeys(keys.events())).sort();
  const drift: Drift = { missing: new Set(), stale: new Set(), extra: new Set() };
  const every = Math.round(1 / share);
  let seen = 0;
  let picked = 0;
  for (const eventId of eventIds) {
    const held = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(keys.ids(eventId), cursor, 'COUNT', 5000);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) held.set(flat[i]!, flat[i + 1]!);
    } while (cursor !== '0');
    const pipeline = redis.pipeline();
    for (const id of [...held.keys()].sort()) {
      if (seen++ % every !== 0) continue;
      const kind = picked++ % 3;
      if (kind === 0) {
        pipeline.unlink(keys.record(eventId, id));
        pipeline.hdel(keys.ids(eventId), id);
        drift.missing.add(id);
      } else if (kind === 1) {
        pipeline.hset(keys.ids(eventId), id, String(Number(held.get(id)) - 1000));
        drift.stale.add(id);
      } else {
        const extra = `9${String(picked).padStart(18, '0')}`;
        pipeline.set(keys.record(eventId, extra), JSON.stringify({ ID: extra }));
        pipeline.hset(keys.ids(eventId), extra, held.get(id)!);
        drift.extra.add(extra);
      }
    }
    await pipeline.exec();
  }
  return drift;
}

/** Median `heapUsed` after the full GCs of a child's run (its baseline when no full GC ran). */
function medianLive(report: ChildReport): number {
  const values = report.liveHeapSeries.map(([, bytes]) => bytes);
  return values.length === 0 ? report.baselineHeapUsed : quantile(values, 0.5);
}

function sameSet(named: readonly string[], expected: ReadonlySet<string>): boolean {
  return named.length === expected.size && named.every((id) => expected.has(id));
}

async function memoryAndReconciliation(redis: Redis): Promise<void> {
  const runs: { size: number; sync: ChildReport; check: ChildReport; drift: number; allNamed: boolean; redisUsedMemory: number }[] = [];
  const file = await buildChild();
  for (const size of SIZES.memory) {
    log(`\n(starting a simulator with ${fmt(size)} registrations)`);
    const sim = await startSim({ events: EVENTS, registrations: size, seed: 5, latencyMs: 0 });
    const prefix = newPrefix('mem');
    try {
      const task = { sim: sim.info, redisUrl: REDIS_URL, prefix };
      const sync = await runChild(file, { ...task, mode: 'sync' });
      if (sync.records !== size) throw new Error(`The sync child wrote ${sync.records} records, expected ${size}`);
      log(`  sync ${fmt(size)}: ${sec(sync.ms)}, peak RSS ${mib(sync.peakRss)} MiB, heap ${mib(sync.peakHeapUsed)} MiB, live ${mib(sync.peakLiveHeap)} MiB`);
      const usedMemory = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
      const drift = await driftRedis(redis, prefix, 0.01);
      const check = await runChild(file, { ...task, mode: 'check' });
      const allNamed = sameSet(check.missing, drift.missing) && sameSet(check.stale, drift.stale) && sameSet(check.extra, drift.extra);
      const driftCount = drift.missing.size + drift.stale.size + drift.extra.size;
      log(`  check ${fmt(size)}: ${sec(check.ms)}, peak RSS ${mib(check.peakRss)} MiB, named ${check.missing.length + check.stale.length + check.extra.length}/${driftCount}`);
      if (!allNamed) log('  !! the check did not name exactly the drifted IDs');
      runs.push({ size, sync, check, drift: driftCount, allNamed, redisUsedMemory: usedMemory });
    } finally {
      await deletePrefix(redis, prefix);
      await sim.close();
    }
  }
  const [small, large] = runs as [(typeof runs)[number], (typeof runs)[number]];
  const MB256 = 256 * 1024 * 1024;

  section(`Memory: peak of a full sync, ${fmt(small.size)} vs ${fmt(large.size)} registrations (library in its own process)`);
  row({ figure: `peak RSS, ${fmt(small.size)}`, value: `${mib(small.sync.peakRss)} MiB`, baseline: `${mib(small.sync.baselineRss)} MiB idle`, ratio: sec(small.sync.ms), target: '', met: undefined });
  row({
    figure: `peak RSS, ${fmt(large.size)}`,
    value: `${mib(large.sync.peakRss)} MiB`,
    baseline: `${mib(small.sync.peakRss)} MiB (${fmt(small.size)})`,
    ratio: `${fmt(large.sync.peakRss / small.sync.peakRss, 2)}×`,
    target: '≤ 1.25×, < 256 MiB',
    met: large.sync.peakRss <= 1.25 * small.sync.peakRss && large.sync.peakRss < MB256,
  });
  row({
    figure: `peak RSS within the ${fmt(large.size)} run: 2nd half vs 1st half`,
    value: `${mib(large.sync.peakRssSecondHalf)} MiB`,
    baseline: `${mib(large.sync.peakRssFirstHalf)} MiB`,
    ratio: `${fmt(large.sync.peakRssSecondHalf / large.sync.peakRssFirstHalf, 2)}×`,
    target: '',
    met: undefined,
  });
  const liveLarge = medianLive(large.sync);
  const liveSmall = medianLive(small.sync);
  row({
    figure: `live heap after full GCs, median (max), ${fmt(large.size)}`,
    value: `${mib(liveLarge)} (${mib(large.sync.peakLiveHeap)}) MiB`,
    baseline: `${mib(liveSmall)} (${mib(small.sync.peakLiveHeap)}) MiB`,
    ratio: `${fmt(liveLarge / liveSmall, 2)}×`,
    target: '≤ 1.25×',
    met: liveLarge <= 1.25 * liveSmall,
  });
  row({
    figure: `heap used incl. garbage, ${fmt(large.size)}`,
    value: `${mib(large.sync.peakHeapUsed)} MiB`,
    baseline: `${mib(small.sync.peakHeapUsed)} MiB (${fmt(small.size)})`,
    ratio: `${fmt(large.sync.peakHeapUsed / small.sync.peakHeapUsed, 2)}×`,
    target: '',
    met: undefined,
  });

  section(`Reconciliation: checkDiscrepancies() with 1 % drift (missing / stale / extra, a third each)`);
  for (const r of [small, large]) {
    row({
      figure: `${fmt(r.size)}: time vs its full sync`,
      value: sec(r.check.ms),
      baseline: `${sec(r.sync.ms)} sync`,
      ratio: pct(r.check.ms / r.sync.ms),
      target: '',
      met: undefined,
    });
    row({
      figure: `${fmt(r.size)}: drifted IDs named`,
      value: fmt(r.check.missing.length + r.check.stale.length + r.check.extra.length),
      baseline: `${fmt(r.drift)} drifted`,
      ratio: r.allNamed ? 'exact' : 'DIFFERENT',
      target: 'every ID',
      met: r.allNamed,
    });
  }
  // "Flat like the sync": nothing may accumulate while the check runs (the second half of the 1M
  // check holds no more than the first), and it stays under the sync's absolute limit. The ratio
  // to the 100k check is shown too, but a 3-second run ends before V8 has grown its heap to the
  // size a 15-second run settles at, so it overstates growth (see BENCHMARKS.md).
  row({
    figure: `peak RSS, ${fmt(large.size)} vs ${fmt(small.size)}`,
    value: `${mib(large.check.peakRss)} MiB`,
    baseline: `${mib(small.check.peakRss)} MiB`,
    ratio: `${fmt(large.check.peakRss / small.check.peakRss, 2)}×`,
    target: '< 256 MiB',
    met: large.check.peakRss < MB256,
  });
  row({
    figure: `peak RSS within the ${fmt(large.size)} check: 2nd half vs 1st half`,
    value: `${mib(large.check.peakRssSecondHalf)} MiB`,
    baseline: `${mib(large.check.peakRssFirstHalf)} MiB`,
    ratio: `${fmt(large.check.peakRssSecondHalf / large.check.peakRssFirstHalf, 2)}×`,
    target: '≤ 1.10× (flat)',
    met: large.check.peakRssSecondHalf <= 1.1 * large.check.peakRssFirstHalf,
  });
  row({
    figure: `live heap after full GCs, median (max)`,
    value: `${mib(medianLive(large.check))} (${mib(large.check.peakLiveHeap)}) MiB`,
    baseline: `${mib(medianLive(small.check))} (${mib(small.check.peakLiveHeap)}) MiB`,
    ratio: `${fmt(medianLive(large.check) / medianLive(small.check), 2)}×`,
    target: '',
    met: undefined,
  });
  const summary = (c: ChildReport) => ({
    ms: round(c.ms),
    peakRssMiB: mib(c.peakRss),
    baselineRssMiB: mib(c.baselineRss),
    peakHeapUsedMiB: mib(c.peakHeapUsed),
    peakLiveHeapMiB: mib(c.peakLiveHeap),
    peakRssFirstHalfMiB: mib(c.peakRssFirstHalf),
    peakRssSecondHalfMiB: mib(c.peakRssSecondHalf),
    medianLiveHeapMiB: mib(medianLive(c)),
    majorGcs: c.majorGcs,
    baselineHeapUsedMiB: mib(c.baselineHeapUsed),
    peakExternalMiB: mib(c.peakExternal),
    pages: c.pages,
  });
  results.memory = runs.map((r) => ({ registrations: r.size, sync: summary(r.sync), redisUsedMemoryMiB: mib(r.redisUsedMemory) }));
  results.reconciliation = runs.map((r) => ({
    registrations: r.size,
    drifted: r.drift,
    named: r.check.missing.length + r.check.stale.length + r.check.extra.length,
    exact: r.allNamed,
    check: summary(r.check),
  }));
}

// ----------------------------------------------------------------------------------- the table

function printTable(): string {
  const head: Row = { figure: 'Figure', value: 'Library', baseline: 'Baseline', ratio: 'Ratio', target: 'Target', met: undefined };
  const cells = (r: Row): string[] => [r.figure, r.value, r.baseline, r.ratio, r.target, r === head ? 'Met' : r.met === undefined ? '' : r.met ? 'yes' : 'NO'];
  const widths = cells(head).map((_, i) => Math.max(...[head, ...rows].map((r) => cells(r)[i]!.length)));
  const line = (r: Row): string => `| ${cells(r).map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out: string[] = [];
  sections.forEach((s, index) => {
    const end = sections[index + 1]?.from ?? rows.length;
    out.push('', `**${s.title}**`, '', line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows.slice(s.from, end)) out.push(line(r));
  });
  return out.join('\n');
}

async function main(): Promise<void> {
  deleteLivePrefixesOnSignal();
  const started = performance.now();
  const redis = connectRedis();
  await redis.ping();
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  log(`bench: Redis ${redisVersion} at ${REDIS_URL}, Node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}${QUICK ? ', QUICK' : ''}`);
  // BENCH_ONLY=throughput, pushes, scale-out or bulk-read runs that section alone.
  const only = process.env.BENCH_ONLY;
  const all = only !== 'throughput' && only !== 'pushes' && only !== 'scale-out' && only !== 'bulk-read';
  try {
    if (only === 'throughput') {
      log(`(starting a simulator with ${fmt(SIZES.throughput)} registrations)`);
      const sim = await startSim({ events: EVENTS, registrations: SIZES.throughput, seed: 1, latencyMs: 0 });
      try {
        await throughput(sim, redis);
      } finally {
        await sim.close();
      }
    }
    if (all) {
      log(`(starting a simulator with ${fmt(SIZES.throughput)} registrations)`);
      const sim = await startSim({ events: EVENTS, registrations: SIZES.throughput, seed: 1, latencyMs: 0 });
      try {
        await throughput(sim, redis);
        await eventLoopAndCalls(sim, redis);
      } finally {
        await sim.close();
      }
      await latencyBound(redis);
      await memoryAndReconciliation(redis);
    }
    if (all || only === 'pushes') {
      const pushes = await measurePushes(redis);
      section(pushes.title);
      for (const r of pushes.rows) row(r);
      results.pushes = pushes.raw;
    }
    if (all || only === 'scale-out') await scaleOutBench({ section, row, log, results });
    if (all || only === 'bulk-read') await bulkReadBench({ section, row, log, results }, redis);
  } finally {
    redis.disconnect();
  }
  writeOut(started, redisVersion);
}

function writeOut(started: number, redisVersion: string): void {
  const table = printTable();
  const totalMs = performance.now() - started;
  process.stdout.write(`${table}\n\nTotal bench time: ${sec(totalMs)}\n`);
  const file = fileURLToPath(new URL('results.json', import.meta.url));
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        quick: QUICK,
        node: process.version,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        loadAverageAtEnd: loadavg(),
        redis: { url: REDIS_URL.replace(/\/\/[^@]*@/, '//***@'), version: redisVersion },
        totalMs: round(totalMs),
        rows,
        ...results,
      },
      null,
      2,
    )}\n`,
  );
  log(`wrote ${file}`);
}

main().catch((error: unknown) => {
  // Interrupted: the signal handler deletes the keys and exits.
  if (interrupted()) return;
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
