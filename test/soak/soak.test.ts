/**
 * Soak: many incremental cycles against the simulator with random adds, edits (some twice in the
 * same second), moves between events, deletes, and injected faults (Zoho 500/429/timeouts/malformed
 * bodies/resets, token expiry, failures beyond the retries, Redis connections killed), with a
 * record-for-record check of Redis against the simulator after every successful cycle. Ends at zero
 * drift, with the heap (after GC) not growing between cycle 20 and the last.
 *
 * `SOAK_CYCLES` sets the number of cycles: 30 by default (in `npm test`), 200 on demand
 * (`npm run test:soak`). `SOAK_SEED` changes the random sequence.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { InjectedResponse } from '../../src/testing.js';
import { CONVERGED, checkIntegrity, clientId } from '../faults/helpers.js';
import { createHarness, type Harness, REDIS_URL } from '../helpers/harness.js';

const CYCLES = Number(process.env.SOAK_CYCLES ?? 30);
const SEED = Number(process.env.SOAK_SEED ?? 7);
/** The cycle whose heap is the baseline (20, or earlier for short runs). */
const BASELINE_CYCLE = CYCLES >= 25 ? 20 : Math.max(1, Math.floor(CYCLES / 2));

/** A small seeded PRNG (mulberry32), so that a failing sequence can be replayed with SOAK_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Forces a full GC and reads the heap. `--expose-gc` is switched on at run time (V8 flag + a fresh context). */
function heapAfterGc(): number {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

type Fault =
  | { readonly kind: 'inject'; readonly name: string; readonly respond: InjectedResponse; readonly times: number; readonly hard: boolean }
  | { readonly kind: 'expire-tokens' }
  | { readonly kind: 'kill-redis' };

const FAULTS: readonly Fault[] = [
  { kind: 'inject', name: 'zoho 500', respond: { type: 'zoho', status: 500, code: 2930 }, times: 1, hard: false },
  { kind: 'inject', name: 'zoho 429', respond: { type: 'zoho', status: 429, code: 2955 }, times: 1, hard: false },
  { kind: 'inject', name: 'timeout', respond: { type: 'timeout' }, times: 1, hard: false },
  { kind: 'inject', name: 'malformed', respond: { type: 'malformed' }, times: 1, hard: false },
  { kind: 'inject', name: 'reset', respond: { type: 'reset' }, times: 1, hard: false },
  { kind: 'inject', name: '500 beyond retries', respond: { type: 'zoho', status: 500, code: 2930 }, times: 4, hard: true },
  { kind: 'expire-tokens' },
  { kind: 'kill-redis' },
];

describe(`soak: ${CYCLES} incremental cycles with random changes and faults`, () => {
  let h: Harness | undefined;
  let killer: Redis | undefined;
  afterAll(async () => {
    killer?.disconnect();
    await h?.close();
  });

  it('ends at zero drift, checks after every cycle, and the heap does not grow', { timeout: 60_000 + CYCLES * 2_000 }, async () => {
    h = await createHarness({ dataset: { events: 12, registrations: 1500, seed: SEED } });
    const harness = h;
    const { sim } = harness;
    killer = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    harness.redis.on('error', () => undefined); // ECONNRESET when its connection is killed: expected here
    const random = prng(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const worker = harness.worker(
      { maxRetries: 3, staleAfterMs: 0, staleCheckIntervalMs: 0, incrementalOverlapMs: 60_000 },
      { timeoutMs: 300, rateLimitPauseMs: 20, retries: 3 },
    );
    const counted = { added: 0, updated: 0, removed: 0 };
    worker.on('recordsAdded', (p) => {
      counted.added += p.ids.length;
    });
    worker.on('recordsUpdated', (p) => {
      counted.updated += p.ids.length;
    });
    worker.on('recordsRemoved', (p) => {
      counted.removed += p.ids.length;
    });
    worker.on('error', () => undefined);
    await worker.performFullSync();

    let expectedFailures = 0;
    let failures = 0;
    let driftChecks = 0;
    let baselineHeap = 0;
    const faultsUsed = new Map<string, number>();
    const report = sim.config.registrationsReport;

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      // Changes in Zoho: the clock moves 0–2 s, so some edits share a second with the last sync or each other.
      sim.clock.advance(Math.floor(random() * 3) * 1000);
      const events = sim.listEvents();
      for (let i = Math.floor(random() * 5); i > 0; i--) sim.addRegistration(pick(events).id);
      const regs = sim.listRegistrations();
      for (let i = Math.floor(random() * 8); i > 0; i--) {
        const id = pick(regs).id;
        if (!sim.getRegistration(id)) continue;
        sim.editRegistration(id);
        if (random() < 0.3) sim.editRegistration(id, { Ticket_Type: `VIP ${cycle}` }); // twice in the same second
      }
      if (random() < 0.3) {
        const reg = pick(regs);
        if (sim.getRegistration(reg.id)) sim.moveRegistration(reg.id, pick(events).id);
      }
      // As many deletes as adds on average, so that the data set (and the heap) keeps its size.
      for (let i = Math.floor(random() * 5); i > 0; i--) {
        const reg = pick(sim.listRegistrations());
        if (sim.registrationCount(reg.eventId) > 20) sim.deleteRegistration(reg.id);
      }

      // A fault, one cycle in three.
      let hard = false;
      if (random() < 0.35) {
        const fault = pick(FAULTS);
        const name = fault.kind === 'inject' ? fault.name : fault.kind;
        faultsUsed.set(name, (faultsUsed.get(name) ?? 0) + 1);
        if (fault.kind === 'inject') {
          sim.inject({ kind: 'records', report, after: Math.floor(random() * 3), times: fault.times, respond: fault.respond });
          hard = fault.hard;
        } else if (fault.kind === 'expire-tokens') {
          sim.expireTokens();
        } else {
          // Kill the sink's connection while the run is writing (ioredis reconnects and resends).
          const id = await clientId(harness.redis as Redis); // the standalone client of createHarness()
          worker.once('recordsAdded', () => void killer?.client('KILL', 'ID', String(id)).catch(() => undefined));
          worker.once('eventSynced', () => void killer?.client('KILL', 'ID', String(id)).catch(() => undefined));
        }
      }

      const outcome = await worker.performIncrementalSync().then(
        () => 'ok' as const,
        (error: unknown) => error,
      );
      worker.removeAllListeners('eventSynced');
      sim.clearInjections();
      sim.clearRequests();
      if (hard) expectedFailures += 1;
      if (outcome !== 'ok') {
        failures += 1;
        // Only a fault beyond the retries may fail a cycle; the worker must recover in the next one.
        expect(hard, `cycle ${cycle} failed without a hard fault: ${String(outcome)}`).toBe(true);
      } else {
        const integrity = await checkIntegrity(harness);
        driftChecks += 1;
        expect(integrity, `drift after cycle ${cycle}`).toEqual(CONVERGED);
      }
      if (cycle === BASELINE_CYCLE) baselineHeap = heapAfterGc();
    }

    // Recover from a last failed cycle, if any, then the final checks.
    if ((await worker.performIncrementalSync().then(() => true, () => false)) === false) await worker.performIncrementalSync();
    expect(await checkIntegrity(harness)).toEqual(CONVERGED);
    const report2 = await worker.checkDiscrepancies();
    expect(report2.hasDiscrepancies).toBe(false);
    expect(report2.totals.zohoCount).toBe(sim.registrationCount());

    const stats = worker.getStatus().stats;
    expect(failures).toBeLessThanOrEqual(expectedFailures);
    expect(stats.failed_syncs).toBe(failures);
    expect(stats.records_added).toBe(counted.added);
    expect(stats.records_updated).toBe(counted.updated);
    expect(stats.records_removed).toBe(counted.removed);
    expect(driftChecks).toBeGreaterThanOrEqual(CYCLES - expectedFailures);

    const finalHeap = heapAfterGc();
    const growthMb = (finalHeap - baselineHeap) / 1024 / 1024;
    process.stdout.write(
      `soak: ${CYCLES} cycles, ${driftChecks} drift checks, ${failures} failed cycles (all after faults beyond the retries), ` +
        `faults ${JSON.stringify(Object.fromEntries(faultsUsed))}, ${sim.registrationCount()} registrations, ` +
        `heap after GC at cycle ${BASELINE_CYCLE} ${(baselineHeap / 1024 / 1024).toFixed(1)} MB, at the end ${(finalHeap / 1024 / 1024).toFixed(1)} MB ` +
        `(${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(2)} MB)\n`,
    );
    expect(growthMb).toBeLessThan(8);
  });
});
