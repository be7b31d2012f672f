/**
 * Scheduled incrementals in distributed mode skip the work another run already does, without
 * logging a failure (new-user findings): a replica holds the global lease, or Redis has no
 * watermark yet while the full sync that sets it is under way (the incremental's fallback would
 * list the whole report a second time). Real Redis at 127.0.0.1:6379, the simulator as Zoho.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListOptions, SourceAdapter, SourcePage, SourceRecord } from '../../src/adapters/source.js';
import { DistributedSync, type DistributedSyncOptions } from '../../src/bullmq.js';
import type { Logger } from '../../src/logger.js';
import { silentLogger } from '../../src/logger.js';
import { createHarness, type Harness, REDIS_URL, deleteQueueKeys } from '../helpers/harness.js';

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('Timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return { ...silentLogger, error: (message: string) => void errors.push(message), errors };
}

describe('scheduled incrementals in distributed mode', () => {
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
      eventLeaseTtlMs: 3000,
      statusRefreshMs: 200,
      callsPerWindow: 1000,
      logger: silentLogger,
      ...options,
    });
    syncs.push(sync);
    return sync;
  };

  beforeEach(async () => {
    h = await createHarness({ dataset: { events: 6, registrations: 1200, seed: 51 } });
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

  it('a firing that finds the global lease held is skipped (lease_skipped_runs) and logs no failed run', async () => {
    const logger = recordingLogger();
    const a = make({ logger });
    await a.start();
    await a.performFullSync();
    expect(await h.sink.state.acquireLease!('another-replica', 20_000)).toBeDefined();
    const before = (await a.refreshStatus()).stats.lease_skipped_runs;
    const scheduler = make({ processJobs: false, enableScheduler: true, worker: { syncIntervalMs: 1000 } });
    await scheduler.start();
    await waitFor(async () => (await a.refreshStatus()).stats.lease_skipped_runs >= before + 2, 15_000);
    await scheduler.removeScheduler();
    await h.sink.state.releaseLease!('another-replica');
    expect(logger.errors).toEqual([]);
  }, 40_000);

  it('with no watermark, a firing during the fanned-out full sync is skipped instead of listing the whole report again', async () => {
    // Every partition listing waits at its end until the test lets it go.
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let listed = 0;
    const inner = h.source();
    const held: SourceAdapter = {
      ...inner,
      name: inner.name,
      listEvents: (o) => inner.listEvents(o),
      readStamps: (o) => inner.readStamps(o),
      readChangedSince: (since, o) => inner.readChangedSince(since, o),
      getRecord: (id, o) => inner.getRecord(id, o),
      getCallCounts: inner.getCallCounts ? () => inner.getCallCounts!() : undefined,
      readRecords(options?: ListOptions): AsyncIterable<SourcePage<SourceRecord>> {
        return {
          async *[Symbol.asyncIterator]() {
            listed += 1;
            yield* inner.readRecords(options);
            await released;
          },
        };
      },
    };
    const a = make({ source: held, concurrency: 4, unknownPartitions: 2 });
    syncs.unshift({ stop: async () => release() } as unknown as DistributedSync);
    await a.start();
    const full = a.trigger({ kind: 'full' });
    await waitFor(() => listed >= 2, 10_000);
    const before = (await a.refreshStatus()).stats.lease_skipped_runs;
    const scheduler = make({ processJobs: false, enableScheduler: true, worker: { syncIntervalMs: 1000 } });
    await scheduler.start();
    await waitFor(async () => (await a.refreshStatus()).stats.lease_skipped_runs > before, 15_000);
    // The two partitions' listings only: no fallback listing of the whole report by the incremental
    // (skipped because the full sync is queued, and its events' leases would refuse it as well).
    expect(listed).toBe(2);
    await scheduler.removeScheduler();
    release();
    const result = await full.result;
    expect(result.added).toBe(1200);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  }, 40_000);
});
