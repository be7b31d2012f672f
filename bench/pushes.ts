/**
 * The push figures of `npm run bench` (issue 14): push-to-Redis lag against the simulator's own
 * read latency, and Zoho calls per 1,000 pushes. The simulator runs in a child with a fixed added
 * latency; pushes go through `handleZohoPush` (signed, as the Deluge snippet signs them).
 */
import type { Redis } from 'ioredis';
import { silentLogger } from '../src/logger.js';
import { signPush } from '../src/push/signature.js';
import { ZohoPushes } from '../src/push/zoho-pushes.js';
import { RedisSink } from '../src/redis/redis-sink.js';
import { deletePrefix, makeSource, newPrefix, QUICK, quantile, round, sleep, startSim } from './common.js';

/** One row of the bench table (same shape as bench/run.ts's). */
export interface PushBenchRow {
  readonly figure: string;
  readonly value: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly met: boolean | undefined;
}

const SECRET = 'bench-push-secret-0123456789';
const LATENCY_MS = 20;
const WINDOW_MS = 50;

/** Runs the push measurements; resolves the table rows and the raw numbers. */
export async function measurePushes(redis: Redis): Promise<{ title: string; rows: PushBenchRow[]; raw: Record<string, unknown> }> {
  const sim = await startSim({ events: 20, registrations: 5_000, seed: 5, latencyMs: LATENCY_MS });
  const prefix = newPrefix('pushes');
  const source = makeSource(sim.info);
  const sink = new RedisSink({ redis, keyPrefix: prefix });
  const pushes = new ZohoPushes({ redis, source, sink, secret: SECRET, keyPrefix: prefix, logger: silentLogger, coalesceWindowMs: WINDOW_MS });
  try {
    const ids: string[] = [];
    for await (const page of source.readStamps()) ids.push(...page.items.map((s) => s.id));
    // The simulator's own read latency: one by-ID listing of one record, bare round trip through the source.
    const reads: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      await source.getRecordsById([ids[i * 7]!]);
      reads.push(performance.now() - t);
    }
    const readP50 = quantile(reads, 0.5);
    // The machine's noise floor for the same run: Redis round trips (PING) on the shared client.
    const pings: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t = performance.now();
      await redis.ping();
      pings.push(performance.now() - t);
    }
    const push = (id: string): Promise<unknown> => {
      const body = `{"action":"edited","record_id":${id}}`;
      return pushes.handleZohoPush({ headers: { 'content-type': 'application/json', ...signPush(SECRET, body) }, body });
    };
    const lags: number[] = [];
    pushes.on('pushApplied', (p) => lags.push(p.lagMs));
    await pushes.start();

    // (1) A trickle: one push every 150 ms (each finds the applier idle): the lag of a single change.
    const trickle = QUICK ? 40 : 120;
    for (let i = 0; i < trickle; i++) {
      await push(ids[(i * 31) % ids.length]!);
      await sleep(150);
    }
    await waitUntil(() => lags.length >= trickle);
    const trickleLags = lags.splice(0);

    // (2) A burst: 1,000 pushes as fast as they can be accepted (an import): Zoho calls per 1,000 pushes.
    await sim.clearRequests();
    const burst = 1_000;
    const before = pushes.getStatus().batches;
    const t = performance.now();
    await Promise.all(ids.slice(0, burst).map((id) => push(id)));
    await waitUntil(() => lags.length >= burst);
    const burstMs = performance.now() - t;
    const burstLags = lags.splice(0);
    const calls = await sim.requests();
    const batches = pushes.getStatus().batches - before;

    const p50 = quantile(trickleLags, 0.5);
    const p99 = quantile(trickleLags, 0.99);
    const bound = WINDOW_MS + readP50 + 20;
    const ms = (v: number): string => `${v.toFixed(1)} ms`;
    const rows: PushBenchRow[] = [
      { figure: 'simulator read latency (1 by-ID listing), p50', value: ms(readP50), baseline: `${LATENCY_MS} ms added`, ratio: '', target: '', met: undefined },
      {
        figure: `push-to-Redis lag, trickle of ${trickle} (p50 / p99)`,
        value: `${ms(p50)} / ${ms(p99)}`,
        baseline: `${ms(bound)} = window ${WINDOW_MS} + read + 20`,
        ratio: `${((p99 / bound) * 100).toFixed(0)} %`,
        target: 'p99 ≤ window + 1 RT + 20 ms',
        met: p99 <= bound,
      },
      {
        figure: 'Redis round trip (PING) p50 / p99, same run',
        value: `${ms(quantile(pings, 0.5))} / ${ms(quantile(pings, 0.99))}`,
        baseline: 'noise floor',
        ratio: '',
        target: '',
        met: undefined,
      },
      {
        figure: `burst of ${burst}: lag p50 / p99, wall time`,
        value: `${ms(quantile(burstLags, 0.5))} / ${ms(quantile(burstLags, 0.99))}`,
        baseline: `${(burstMs / 1000).toFixed(2)} s for all`,
        ratio: '',
        target: '',
        met: undefined,
      },
      {
        figure: 'Zoho calls per 1,000 pushes (burst)',
        value: `${calls.records} record calls`,
        baseline: `${batches} batches`,
        ratio: `${calls.records + calls.meta + calls.token} incl. token/meta`,
        target: '≤ 6',
        met: calls.records + calls.meta + calls.token <= 6,
      },
    ];
    return {
      title: `Real-time pushes: ${LATENCY_MS} ms per Zoho call, coalescing window ${WINDOW_MS} ms`,
      rows,
      raw: {
        latencyMs: LATENCY_MS,
        windowMs: WINDOW_MS,
        readMs: reads.map((r) => round(r)),
        redisPingMs: { p50: round(quantile(pings, 0.5)), p99: round(quantile(pings, 0.99)) },
        trickleLagMs: trickleLags.map((l) => round(l)),
        burst: { pushes: burst, ms: round(burstMs), lagP50: round(quantile(burstLags, 0.5)), lagP99: round(quantile(burstLags, 0.99)), calls, batches },
      },
    };
  } finally {
    await pushes.stop();
    await deletePrefix(redis, prefix);
    await source.close();
    await sim.close();
  }
}

async function waitUntil(check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('push bench: timed out waiting for pushes to apply');
    await sleep(10);
  }
}
