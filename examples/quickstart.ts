/**
 * `npm run demo`: the incident this library was born from, replayed end to end.
 *
 * Zoho Creator (a local simulator speaking the real v2.1 wire format) holds 40 events and 2,419
 * registrations; Redis holds only 2,355 of them. A discrepancy check names the 64 missing IDs,
 * a full sync writes them, and the check after it is clean. Redis is the one at REDIS_URL, checked
 * as the CLI checks it (a malformed URL exits 2; one that does not answer exits 1, naming the host).
 * Without REDIS_URL it is redis://127.0.0.1:6379, and when none answers there an in-memory
 * ioredis-mock stands in. Keys go under `zrs-demo` (`DEMO_KEY_PREFIX` overrides), which the demo
 * empties first.
 */
import type { Redis } from 'ioredis';
import { EXIT } from '../src/cli/run.js';
import { failureReason } from '../src/cli/output.js';
import { isSyncError, SyncErrorCode } from '../src/errors.js';
import { RedisSink } from '../src/redis/redis-sink.js';
import { createZohoSimulator } from '../src/testing.js';
import { silentLogger } from '../src/logger.js';
import { SyncWorker } from '../src/worker/sync-worker.js';
import { ZohoCreatorSource } from '../src/zoho/zoho-creator-source.js';
import { connectDemoRedis } from './shared/demo-redis.js';

// Its own variable, not SYNC_KEY_PREFIX: the demo deletes every key under its prefix before it starts.
const KEY_PREFIX = process.env.DEMO_KEY_PREFIX || 'zrs-demo';

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

const fmt = (n: number): string => n.toLocaleString('en-US');

async function main(): Promise<void> {
  // Redis first: a wrong REDIS_URL fails before anything else starts.
  const { redis, label } = await connectDemoRedis(process.env);
  const sim = await createZohoSimulator({ dataset: { events: 40, registrations: 2419, seed: 1 } }).catch((error: unknown) => {
    redis.disconnect();
    throw error;
  });
  try {
    await deleteKeys(redis, KEY_PREFIX);
    const sink = new RedisSink({ redis, keyPrefix: KEY_PREFIX });
    const makeSource = (): ZohoCreatorSource =>
      new ZohoCreatorSource({
        ...sim.config,
        ...sim.credentials,
        apiBaseUrl: sim.apiBaseUrl,
        accountsBaseUrl: sim.accountsBaseUrl,
      });

    console.log(`Zoho Creator simulator at ${sim.apiBaseUrl}; Redis: ${label}, key prefix "${KEY_PREFIX}"`);

    // 1. The incident: Redis already holds 2,355 of the 2,419 registrations.
    const seeding = new SyncWorker({ source: makeSource(), sink, enableAutoSync: false, logger: silentLogger });
    await seeding.performFullSync();
    const lost: { eventId: string; id: string }[] = [];
    const all = sim.listRegistrations();
    for (let i = 0; lost.length < 64; i += 37) {
      const reg = all[i % all.length]!;
      if (!lost.some((l) => l.id === reg.id)) lost.push({ eventId: reg.eventId, id: reg.id });
    }
    for (const l of lost) await sink.removeRecords(l.eventId, [l.id]);

    const zohoCount = sim.registrationCount();
    const redisCount = async (): Promise<number> => {
      let n = 0;
      for (const e of sim.listEvents()) n += await sink.countRecords(e.id);
      return n;
    };
    console.log(`\nBefore: Zoho ${fmt(zohoCount)} registrations, Redis ${fmt(await redisCount())}`);

    // 2. A fresh worker, as a backend would create it, with its events wired to the console.
    const worker = new SyncWorker({ source: makeSource(), sink, enableAutoSync: false, logger: silentLogger });
    const emitted = new Map<string, number>();
    const count = (name: string, by = 1): void => {
      emitted.set(name, (emitted.get(name) ?? 0) + by);
    };
    worker.on('syncStarted', (p) => {
      count('syncStarted');
      console.log(`  syncStarted   ${p.kind} run ${p.runId}`);
    });
    worker.on('syncCompleted', (r) => {
      count('syncCompleted');
      console.log(`  syncCompleted ${r.kind}: +${r.added} added, ${r.updated} updated, ${r.removed} removed, ${r.apiCalls.total} Zoho calls, ${r.durationMs} ms`);
    });
    worker.on('syncFailed', (p) => {
      count('syncFailed');
      console.log(`  syncFailed    ${p.error.code}: ${p.error.message}`);
    });
    worker.on('eventSynced', () => count('eventSynced'));
    worker.on('recordsAdded', (p) => count('recordsAdded (records)', p.ids.length));
    worker.on('recordsUpdated', (p) => count('recordsUpdated (records)', p.ids.length));
    worker.on('recordsRemoved', (p) => count('recordsRemoved (records)', p.ids.length));
    worker.on('discrepancyFound', (r) => {
      count('discrepancyFound');
      console.log(`  discrepancyFound: ${r.totals.missingInRedis} missing in Redis, ${r.totals.extraInRedis} extra, ${r.totals.stale} stale`);
    });

    console.log('\nDiscrepancy check before the sync:');
    const before = await worker.checkDiscrepancies();
    const missing = before.events.flatMap((e) => e.missingInRedis);
    console.log(`  ${fmt(before.totals.zohoCount)} in Zoho, ${fmt(before.totals.redisCount)} in Redis, ${missing.length} missing: ${missing.slice(0, 3).join(', ')}, ...`);

    console.log('\nFull sync:');
    await worker.performFullSync();

    console.log('\nDiscrepancy check after the sync:');
    const after = await worker.checkDiscrepancies();
    console.log(`  ${after.hasDiscrepancies ? 'DIFFERENCES REMAIN' : 'clean'}: ${fmt(after.totals.zohoCount)} in Zoho, ${fmt(after.totals.redisCount)} in Redis`);

    console.log('\nStatus (getStatus().stats):');
    console.log(JSON.stringify(worker.getStatus().stats, null, 2));
    console.log('\nEvents emitted:');
    for (const [name, n] of emitted) console.log(`  ${name.padEnd(28)} ${fmt(n)}`);

    // 3. Record for record: every registration in the simulator is in Redis with the same JSON.
    let equal = 0;
    for (const reg of all) {
      const stored = await sink.getRecord(reg.eventId, reg.id);
      if (stored && JSON.stringify(stored) === JSON.stringify(sim.toApiRecord(reg))) equal += 1;
    }
    const finalCount = await redisCount();
    console.log(`\nAfter: Zoho ${fmt(zohoCount)} = Redis ${fmt(finalCount)}; ${fmt(equal)} of ${fmt(all.length)} records equal record for record`);
    if (finalCount !== zohoCount || equal !== all.length || after.hasDiscrepancies) {
      console.error('Redis does not equal Zoho.');
      process.exitCode = 1;
    }
  } finally {
    // The synced keys stay in Redis for you to look at: redis-cli --scan --pattern 'zrs-demo:*'
    redis.disconnect();
    await sim.close();
  }
}

main().catch((error: unknown) => {
  if (isSyncError(error)) {
    // One line, as the CLI prints it, and the CLI's exit code: 2 for a configuration error, 1 otherwise.
    console.error(`demo failed: ${failureReason(error)}`);
    process.exitCode = error.code === SyncErrorCode.INVALID_OPTION ? EXIT.USAGE : EXIT.FAILED;
    return;
  }
  console.error(error);
  process.exitCode = EXIT.FAILED;
});
