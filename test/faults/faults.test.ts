/**
 * Fault-injection suite: one test per fault, against the real Redis and the Zoho simulator. Each
 * test lets the worker recover, then checks Redis against the simulator record for record (JSON),
 * looks for registrations lost or held twice (an ID in two events' indexes is a duplicate), and
 * checks that the stats and events told the truth. Each leaves a row for the fault table
 * (`npm run test:faults`, see fault-table-reporter.ts).
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import type { InjectedResponse } from '../../src/testing.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import type { FetchFunction } from '../../src/zoho/http-client.js';
import { createHarness, type Harness, REDIS_URL } from '../helpers/harness.js';
import {
  CONVERGED,
  type Child,
  checkIntegrity,
  clientId,
  type EventLog,
  eventIds,
  faultRow,
  fixture,
  RedisCutProxy,
  recordEvents,
  sleep,
  spawnChild,
  until,
} from './helpers.js';

const sorted = (ids: Iterable<string>): string[] => [...ids].sort();

/** Expects the worker's stats and the recorded events to agree with each other and with `truth`. */
function expectTruth(
  worker: SyncWorker,
  log: EventLog,
  truth: { added: Iterable<string>; updated?: Iterable<string>; removed?: Iterable<string>; succeeded: number; failed: number },
): void {
  const stats = worker.getStatus().stats;
  const added = eventIds(log, 'recordsAdded');
  const updated = eventIds(log, 'recordsUpdated');
  const removed = eventIds(log, 'recordsRemoved');
  // Each record announced once, and exactly the records that really changed.
  expect(added.length).toBe(new Set(added).size);
  expect(sorted(added)).toEqual(sorted(truth.added));
  expect(sorted(updated)).toEqual(sorted(truth.updated ?? []));
  expect(sorted(removed)).toEqual(sorted(truth.removed ?? []));
  expect(stats.records_added).toBe(added.length);
  expect(stats.records_updated).toBe(updated.length);
  expect(stats.records_removed).toBe(removed.length);
  expect(stats.successful_syncs).toBe(truth.succeeded);
  expect(stats.failed_syncs).toBe(truth.failed);
  expect(stats.total_syncs).toBe(truth.succeeded + truth.failed);
  expect(log.syncCompleted).toHaveLength(truth.succeeded);
  expect(log.syncFailed).toHaveLength(truth.failed);
  expect(log.syncStarted).toHaveLength(truth.succeeded + truth.failed);
}

function registrationPages(h: Harness, page?: number): { page: number | undefined; status: number; zohoCode: number | undefined }[] {
  return h.sim.requests
    // Full-record listings only (an ID-only listing asks for field_config=custom).
    .filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport && r.query.field_config !== 'custom' && (page === undefined || r.page === page))
    .map((r) => ({ page: r.page, status: r.status, zohoCode: r.zohoCode }));
}

/**
 * The shared scenario of a transient Zoho fault on page 2 of the registrations listing:
 * A. once: retried inside the call, the run succeeds, page 2 was asked twice;
 * B. after adds, edits and deletes, more times than `maxRetries`: the run fails at page 2 with
 *    `code`, removes nothing, keeps a checkpoint at page 2;
 * C. the next run resumes from page 2 and, with its ID-only pass, removes the deletions; D. the one
 *    after finds nothing left to do.
 */
async function transientPage2Fault(
  h: Harness,
  respond: InjectedResponse,
  code: string,
  sourceOptions: { timeoutMs?: number; rateLimitPauseMs?: number; fetch?: FetchFunction } = {},
): Promise<{ worker: SyncWorker; log: EventLog }> {
  const report = h.sim.config.registrationsReport;
  const worker = h.worker({ maxRetries: 2 }, sourceOptions);
  const log = recordEvents(worker);
  const initial = h.simIds();

  h.sim.inject({ kind: 'records', report, page: 2, times: 1, respond });
  const first = await worker.performFullSync();
  expect(first).toMatchObject({ added: initial.length, updated: 0, removed: 0, resumed: false, deadLettered: 0 });
  const page2 = registrationPages(h, 2);
  expect(page2).toHaveLength(2);
  expect(page2[1]).toMatchObject({ status: 200, zohoCode: 3000 });

  h.sim.clock.advance(1000);
  const regs = h.sim.listRegistrations();
  const edited = regs.filter((_, i) => i % 170 === 3).map((r) => h.sim.editRegistration(r.id).id);
  const deleted = regs.filter((_, i) => i % 700 === 11).map((r) => r.id);
  for (const id of deleted) h.sim.deleteRegistration(id);
  const events = h.sim.listEvents();
  const addedLater = [0, 1, 2, 3, 4].map((i) => h.sim.addRegistration(events[i * 3]!.id).id);
  const held = await h.redisIds();

  h.sim.inject({ kind: 'records', report, page: 2, times: 3, respond });
  const failure = await worker.performFullSync().catch((e: unknown) => e);
  expect(failure).toMatchObject({ code });
  expect(log.syncFailed.at(-1)).toMatchObject({ failedAtPage: 2, error: { code } });
  expect(worker.getStatus().last_run).toMatchObject({ outcome: 'failed', error_code: code, failed_at_page: 2 });
  expect(await h.redisIds()).toEqual(held); // nothing removed, nothing lost
  expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 2 });

  h.sim.clearRequests();
  const resumed = await worker.performFullSync();
  // The resumed listing reads pages 2–4 only; its ID-only pass then finds the deletions everywhere.
  expect(resumed).toMatchObject({ resumed: true, removed: deleted.length });
  expect(registrationPages(h).map((p) => p.page)).toEqual([2, 3, 4]);
  const converged = await worker.performFullSync();
  expect(converged).toMatchObject({ resumed: false, removed: 0, added: 0, updated: 0 });

  expectTruth(worker, log, {
    added: [...initial, ...addedLater],
    updated: edited.filter((id) => !deleted.includes(id)),
    removed: deleted,
    succeeded: 3,
    failed: 1,
  });
  return { worker, log };
}

describe('fault injection (real Redis + Zoho simulator)', () => {
  let h: Harness | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await h?.close();
    h = undefined;
  });

  it('Zoho HTTP 500 on page 2: retried; beyond the retries the run fails at page 2 and the next run resumes', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 21 } });
    await transientPage2Fault(h, { type: 'zoho', status: 500, code: 2930 }, SyncErrorCode.ZOHO_API);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('Zoho HTTP 500 on page 2', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('a Zoho call that never answers: timed out, retried; beyond the retries ERR_SYNC_ZOHO_TIMEOUT and a resume', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 22 } });
    const started = Date.now();
    await transientPage2Fault(h, { type: 'timeout' }, SyncErrorCode.ZOHO_TIMEOUT, { timeoutMs: 400 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 400); // one timeout in A, three in B
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('Zoho call timeout', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('HTTP 429 / code 2955: waits at least rateLimitPauseMs before retrying; beyond the retries ERR_SYNC_ZOHO_RATE_LIMITED', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 23 } });
    const sends: { at: number; cursor: string | null; url: string }[] = [];
    const fetch: FetchFunction = (input, init) => {
      sends.push({ at: Date.now(), cursor: new Headers(init?.headers).get('record_cursor'), url: String(input) });
      return globalThis.fetch(input, init);
    };
    await transientPage2Fault(h, { type: 'zoho', status: 429, code: 2955 }, SyncErrorCode.ZOHO_RATE_LIMITED, {
      rateLimitPauseMs: 300,
      fetch,
    });
    // In phase A, page 2 (the first request carrying a cursor) was sent twice, ≥ 300 ms apart.
    const firstCursor = sends.find((s) => s.cursor !== null)?.cursor;
    const page2 = sends.filter((s) => s.cursor === firstCursor);
    expect(page2.length).toBeGreaterThanOrEqual(2);
    expect(page2[1]!.at - page2[0]!.at).toBeGreaterThanOrEqual(300);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('Zoho HTTP 429 / code 2955 (per-minute limit)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('a malformed JSON body: retried; beyond the retries ERR_SYNC_ZOHO_MALFORMED_RESPONSE and a resume', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 24 } });
    await transientPage2Fault(h, { type: 'malformed' }, SyncErrorCode.ZOHO_MALFORMED_RESPONSE);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('malformed JSON body', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('the access token expires mid-run: one 401/1030, one new token, the run goes on', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 25 } });
    const worker = h.worker({}, { fetch: expireTokensBeforePage2(h) });
    const log = recordEvents(worker);
    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 3500, pages: 4 });
    expect(result.apiCalls.token).toBe(2);
    expect(h.sim.tokenMints).toBe(2);
    const refused = h.sim.requests.filter((r) => r.status === 401);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ zohoCode: 1030, page: 2 });
    expect(registrationPages(h).map((p) => `${p.page}:${p.status}`)).toEqual(['1:200', '2:401', '2:200', '3:200', '4:200']);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('access token expired mid-run (401/1030)', integrity);
    expect(integrity).toEqual(CONVERGED);
    expectTruth(worker, log, { added: h.simIds(), succeeded: 1, failed: 0 });
  });

  it('code 4000 (daily limit): the run stops at once, status shows the quota, ticks pause, a manual run resumes', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 26 } });
    // Page 3 gets Zoho's daily-limit answer (HTTP 200, code 4000), as the simulator's `dailyLimit` sends it.
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, page: 3, times: 1, respond: { type: 'zoho', status: 200, code: 4000 } });
    const worker = h.worker({ enableAutoSync: true, syncIntervalMs: 1000, quotaPauseMs: 3_600_000 });
    const log = recordEvents(worker);
    const before = Date.now();
    await expect(worker.performFullSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_QUOTA_EXHAUSTED, zohoCode: 4000 });
    expect(registrationPages(h).map((p) => `${p.page}:${p.zohoCode}`)).toEqual(['1:3000', '2:3000', '3:4000']); // never retried
    const quota = worker.getStatus().quota;
    expect(quota.exhausted).toBe(true);
    const hitAt = Date.parse(quota.exhausted_at!);
    expect(hitAt).toBeGreaterThanOrEqual(before);
    expect(quota.paused_until).toBe(new Date(hitAt + 3_600_000).toISOString());
    expect(worker.getStatus().last_run).toMatchObject({ error_code: SyncErrorCode.ZOHO_QUOTA_EXHAUSTED, failed_at_page: 3 });
    expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 3 });
    expect(await h.redisIds()).toHaveLength(2000);

    // Automatic runs pause: the start-up run and the ticks are skipped without a single Zoho call.
    h.sim.clearRequests();
    await worker.start();
    await until(() => worker.getStatus().stats.quota_skipped_runs >= 3, 5000, 'three skipped automatic runs');
    expect(h.sim.requests).toHaveLength(0);
    expect(log.syncStarted).toHaveLength(1);
    expect(log.runSkipped[0]).toMatchObject({ reason: 'quota-exhausted', trigger: 'start', kind: 'full', runId: undefined, pausedUntil: quota.paused_until });
    expect(log.runSkipped.slice(1).every((s) => s.reason === 'quota-exhausted' && s.trigger === 'tick' && s.kind === 'incremental')).toBe(true);

    // Zoho's day turns over; a manual trigger is allowed, resumes at page 3, and clears the quota.
    const manual = await worker.performFullSync();
    expect(manual).toMatchObject({ resumed: true, added: 1500, pages: 2 + 4 }); // pages 3–4, then the ID-only pass over all 4
    expect(worker.getStatus().quota).toMatchObject({ exhausted: false, exhausted_at: null, paused_until: null });
    // Ticks run again.
    const tick = await new Promise<{ kind: string }>((resolve) => worker.once('syncCompleted', resolve));
    expect(tick.kind).toBe('incremental');
    await worker.stop();

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('Zoho code 4000 (daily limit)', integrity);
    expect(integrity).toEqual(CONVERGED);
    const stats = worker.getStatus().stats;
    expect(eventIds(log, 'recordsAdded').sort()).toEqual(h.simIds());
    expect(stats.records_added).toBe(3500);
    expect(stats.failed_syncs).toBe(1);
    expect(stats.successful_syncs).toBe(log.syncCompleted.length);
    expect(stats.quota_skipped_runs).toBe(log.runSkipped.length);
  });

  it('the token endpoint throttled ("Access Denied"): a typed ZohoAuthError, no token stored, the next run resumes', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3500, seed: 27 }, tokenMintLimit: { max: 1, windowMs: 60_000 } });
    const worker = h.worker({ maxRetries: 2 }, { fetch: expireTokensBeforePage2(h) });
    const log = recordEvents(worker);
    const failure = await worker.performFullSync().catch((e: unknown) => e);
    expect(failure).toMatchObject({ name: 'ZohoAuthError', code: SyncErrorCode.ZOHO_AUTH, oauthError: 'Access Denied', httpStatus: 200 });
    const tokenCalls = h.sim.requests.filter((r) => r.kind === 'token');
    expect(tokenCalls).toHaveLength(1 + 4); // the first mint, then the refused refresh and its 3 backed-off retries
    expect(h.sim.tokenMints).toBe(1);
    // After the 401 on page 2 no API call went out (a refused grant never becomes a token).
    expect(registrationPages(h).map((p) => `${p.page}:${p.status}`)).toEqual(['1:200', '2:401']);
    expect(log.syncFailed[0]).toMatchObject({ failedAtPage: 2 });
    expect(await h.sink.state.getCheckpoint('full')).toMatchObject({ nextPage: 2 });

    h.sim.clock.advance(60_001); // the mint window passes
    h.sim.clearRequests();
    const resumed = await worker.performFullSync();
    expect(resumed).toMatchObject({ resumed: true, added: 2500 });
    expect(h.sim.tokenMints).toBe(2);
    expect(registrationPages(h).map((p) => p.page)).toEqual([2, 3, 4]);
    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('token endpoint throttled (Access Denied)', integrity);
    expect(integrity).toEqual(CONVERGED);
    expectTruth(worker, log, { added: h.simIds(), succeeded: 1, failed: 1 });
  });

  it('the Redis connection killed mid-batch (CLIENT KILL): the batch is retried, counts stay truthful', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 2500, seed: 28 } });
    const proxy = new RedisCutProxy();
    const port = await proxy.listen();
    // maxRetriesPerRequest 0: ioredis rejects the commands in flight when the connection drops
    // (with its default it would resend them itself and the worker would never see the fault).
    const redis = new Redis(proxy.clientUrl(port), { maxRetriesPerRequest: 0 }); // REDIS_URL's DB and credentials
    redis.on('error', () => undefined); // ECONNRESET when killed: expected here
    cleanups.push(async () => {
      redis.disconnect();
      await proxy.close();
    });
    const sink = new RedisSink({ redis, keyPrefix: h.prefix });
    const worker = new SyncWorker({ source: h.source(), sink, enableAutoSync: false, logger: silentLogger, batchSize: 100, maxRetries: 3 });
    cleanups.push(() => worker.stop());
    const log = recordEvents(worker);

    // Every batch announced as added must really be in Redis when announced.
    const checks: Promise<number>[] = [];
    worker.on('recordsAdded', (p) => {
      checks.push(h!.redis.hmget(h!.sink.keys.ids(p.eventId), ...p.ids).then((v) => v.filter((x) => x === null).length));
    });
    const upsert = sink.upsertRecords.bind(sink);
    let calls = 0;
    let cut: Promise<void> | undefined;
    let killedId = 0;
    sink.upsertRecords = async (records) => {
      calls += 1;
      if (calls === 12) {
        killedId = await clientId(redis);
        // Redis runs the batch; as soon as its first reply is on the wire, its connection is killed.
        cut = proxy.holdRepliesThen(async () => {
          await h!.redis.client('KILL', 'ID', String(killedId));
        });
      }
      return upsert(records);
    };
    const result = await worker.performFullSync();
    await cut;
    expect(proxy.droppedBytes).toBeGreaterThan(0);
    expect(await clientId(redis)).not.toBe(killedId); // a new connection
    const stats = worker.getStatus().stats;
    expect(stats.sink_retries).toBeGreaterThanOrEqual(1);
    expect(log.syncFailed).toHaveLength(0);
    // Each record counted once; records whose write committed but whose answer was lost are
    // counted as unchanged by the retry (at most the batches in flight: concurrency × batchSize).
    expect(result.added + result.updated + result.unchanged).toBe(2500);
    expect(result.updated).toBe(0);
    expect(result.unchanged).toBeLessThanOrEqual(4 * 100);
    expect(stats.records_added).toBe(result.added);
    const added = eventIds(log, 'recordsAdded');
    expect(added.length).toBe(new Set(added).size);
    expect(added.length).toBe(result.added);
    expect(await Promise.all(checks)).toEqual(checks.map(() => 0)); // nothing announced that was not written

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('Redis connection killed mid-batch (CLIENT KILL)', integrity);
    expect(integrity).toEqual(CONVERGED);
  });

  it('the worker process killed (SIGKILL) mid-sync, started again: resumes from the checkpoint', async ({ task }) => {
    h = await createHarness({ dataset: { events: 40, registrations: 6000, seed: 29 }, latencyMs: 120 });
    const env = childEnv(h, { syncIntervalMs: 1000, leaseTtlMs: 2000, exitOn: ['syncCompleted'], waitForGo: false });
    const first = spawnChild(fixture('worker-child.ts'), env);
    cleanups.push(async () => void first.proc.kill('SIGKILL'));
    first.proc.stdin?.end();
    await first.waitFor((l) => l.type === 'started');
    await until(async () => ((await h!.sink.state.getCheckpoint('full'))?.nextPage ?? 0) >= 3, 20_000, 'checkpoint at page 3');
    first.proc.kill('SIGKILL');
    expect(await first.exited()).toMatchObject({ signal: 'SIGKILL' });
    await sleep(100); // let Redis finish anything the dead process had already sent
    const checkpoint = await h.sink.state.getCheckpoint('full');
    const held = await h.redisIds();
    expect(held.length).toBeGreaterThanOrEqual((checkpoint!.nextPage - 1) * 1000);
    expect(first.lines.some((l) => l.type === 'syncCompleted')).toBe(false);

    h.sim.clearRequests();
    const second = spawnChild(fixture('worker-child.ts'), env);
    cleanups.push(async () => void second.proc.kill('SIGKILL'));
    second.proc.stdin?.end();
    const done = await second.waitFor((l) => l.type === 'syncCompleted', 30_000);
    const exit = await second.exited(10_000);
    expect(exit).toEqual({ code: 0, signal: null, killedByUs: false });
    // The old process's lease blocks the start-up run until it expires; then a run resumes.
    expect(done).toMatchObject({ resumed: true, removed: 0 });
    expect(done.added).toBe(6000 - held.length); // exactly what the killed process had not written
    expect(Number(done.added) + Number(done.unchanged)).toBe(6000 - (checkpoint!.nextPage - 1) * 1000);
    const pages = registrationPages(h).map((p) => p.page);
    expect(pages[0]).toBe(checkpoint!.nextPage); // page 1 was not read again
    expect(pages).toEqual([...new Set(pages)]);
    const skips = second.lines.filter((l) => l.type === 'runSkipped');
    expect(skips.every((s) => s.reason === 'lease-held')).toBe(true);
    const status = second.lines.find((l) => l.type === 'status')?.status as { stats: Record<string, number> };
    expect(status.stats).toMatchObject({ lease_skipped_runs: skips.length, successful_syncs: 1, failed_syncs: 0, records_added: done.added });

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('worker process killed (SIGKILL) mid-sync, restarted', integrity);
    expect(integrity).toEqual(CONVERGED);
  }, 60_000); // two processes, a lease to wait out, and the resumed run's ID-only pass at 120 ms a call

  it('two worker processes started together on one Redis: exactly one syncs, the other skips', async ({ task }) => {
    h = await createHarness({ dataset: { events: 30, registrations: 3000, seed: 30 }, latencyMs: 60 });
    const env = childEnv(h, {
      syncIntervalMs: 3_600_000,
      leaseTtlMs: 5000,
      exitOn: ['syncCompleted', 'syncFailed', 'runSkipped'],
      waitForGo: true,
    });
    const children: Child[] = [spawnChild(fixture('worker-child.ts'), env), spawnChild(fixture('worker-child.ts'), env)];
    for (const c of children) cleanups.push(async () => void c.proc.kill('SIGKILL'));
    await Promise.all(children.map((c) => c.waitFor((l) => l.type === 'ready')));
    h.sim.clearRequests();
    for (const c of children) {
      c.send('go');
      c.proc.stdin?.end();
    }
    const exits = await Promise.all(children.map((c) => c.exited(30_000)));
    expect(exits).toEqual([
      { code: 0, signal: null, killedByUs: false },
      { code: 0, signal: null, killedByUs: false },
    ]);
    const winners = children.filter((c) => c.lines.some((l) => l.type === 'syncCompleted'));
    const losers = children.filter((c) => c.lines.some((l) => l.type === 'runSkipped'));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    const winner = winners[0]!;
    const loser = losers[0]!;
    expect(winner.lines.find((l) => l.type === 'syncCompleted')).toMatchObject({ kind: 'full', added: 3000, resumed: false });
    expect(loser.lines.find((l) => l.type === 'runSkipped')).toMatchObject({ reason: 'lease-held', trigger: 'start', kind: 'full' });
    expect(loser.lines.some((l) => l.type === 'syncStarted' || l.type === 'syncFailed' || l.type === 'error')).toBe(false);
    const status = (c: Child): { stats: Record<string, number>; lease: Record<string, unknown> } =>
      c.lines.find((l) => l.type === 'status')?.status as { stats: Record<string, number>; lease: Record<string, unknown> };
    expect(status(winner).stats).toMatchObject({ total_syncs: 1, successful_syncs: 1, failed_syncs: 0, records_added: 3000, lease_skipped_runs: 0 });
    expect(status(loser).stats).toMatchObject({ total_syncs: 0, failed_syncs: 0, records_added: 0, lease_skipped_runs: 1 });
    // Zoho saw one listing: each registration page exactly once.
    expect(registrationPages(h).map((p) => p.page)).toEqual([1, 2, 3]);
    expect(await h.redis.exists(h.sink.keys.lease())).toBe(0); // released on stop

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('two worker processes started together', integrity);
    expect(integrity).toEqual(CONVERGED);
  });
});

/** A `fetch` that lets every access token expire just before the first request for page 2 (the first carrying a cursor). */
function expireTokensBeforePage2(h: Harness): FetchFunction {
  let expired = false;
  return (input, init) => {
    if (!expired && new Headers(init?.headers).get('record_cursor') !== null) {
      expired = true;
      h.sim.expireTokens();
    }
    return globalThis.fetch(input, init);
  };
}

function childEnv(
  h: Harness,
  options: { syncIntervalMs: number; leaseTtlMs: number; exitOn: string[]; waitForGo: boolean },
): Record<string, string> {
  return {
    ZRS_CHILD: JSON.stringify({
      redisUrl: REDIS_URL,
      prefix: h.prefix,
      source: {
        ...h.sim.config,
        ...h.sim.credentials,
        apiBaseUrl: h.sim.apiBaseUrl,
        accountsBaseUrl: h.sim.accountsBaseUrl,
      },
      ...options,
    }),
  };
}
