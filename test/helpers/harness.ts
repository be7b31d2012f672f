/**
 * A real-Redis + simulator harness for worker tests: a random key prefix per harness, the
 * simulator on a free port, factories for the source, sink and worker, and helpers that read
 * Redis directly to compare it with the simulator record for record.
 */
import { randomBytes } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { createZohoSimulator, type ZohoSimulator, type ZohoSimulatorOptions } from '../../src/testing.js';
import { silentLogger } from '../../src/logger.js';
import type { SyncWorkerOptions } from '../../src/worker/options.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { ZohoCreatorSource, type ZohoCreatorSourceOptions } from '../../src/zoho/zoho-creator-source.js';
import { deletePrefix } from '../redis/helpers.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Harness {
  readonly sim: ZohoSimulator;
  readonly redis: Redis | Cluster;
  readonly prefix: string;
  readonly sink: RedisSink;
  source(options?: Partial<ZohoCreatorSourceOptions>): ZohoCreatorSource;
  worker(options?: Partial<SyncWorkerOptions>, sourceOptions?: Partial<ZohoCreatorSourceOptions>): SyncWorker;
  /** Every record ID Redis holds, across all events the simulator knows (sorted). */
  redisIds(): Promise<string[]>;
  /** Every registration ID the simulator holds (sorted). */
  simIds(): string[];
  /** Records that differ between Redis and the simulator (JSON compared), plus extras in Redis. */
  diff(): Promise<{ missing: string[]; different: string[]; extra: string[] }>;
  /** Raw dump of every key of one event (for byte-identical comparisons). */
  dumpEvent(eventId: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  /** A client to use instead of a new one on {@link REDIS_URL} (e.g. a Redis Cluster's); the caller closes it and its keys. */
  readonly redis?: Redis | Cluster | undefined;
}

export async function createHarness(simOptions: ZohoSimulatorOptions = {}, harnessOptions: HarnessOptions = {}): Promise<Harness> {
  const sim = await createZohoSimulator({ dataset: { events: 40, registrations: 2419, seed: 1 }, ...simOptions });
  const ownRedis = harnessOptions.redis === undefined;
  const redis = harnessOptions.redis ?? new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  const prefix = `zrs-test-${randomBytes(4).toString('hex')}`;
  const sink = new RedisSink({ redis, keyPrefix: prefix });
  const workers: SyncWorker[] = [];

  const source = (options: Partial<ZohoCreatorSourceOptions> = {}): ZohoCreatorSource =>
    new ZohoCreatorSource({
      ...sim.config,
      ...sim.credentials,
      apiBaseUrl: sim.apiBaseUrl,
      accountsBaseUrl: sim.accountsBaseUrl,
      minRetryDelayMs: 5,
      rateLimitPauseMs: 20,
      timeoutMs: 5000,
      ...options,
    });

  const harness: Harness = {
    sim,
    redis,
    prefix,
    sink,
    source,
    worker(options = {}, sourceOptions = {}) {
      const w = new SyncWorker({
        source: source(sourceOptions),
        sink,
        enableAutoSync: false,
        logger: silentLogger,
        ...options,
      });
      workers.push(w);
      return w;
    },
    async redisIds() {
      const ids: string[] = [];
      const events = new Set([...sim.listEvents().map((e) => e.id), ...(await sink.state.listEventIds())]);
      for (const eventId of events) ids.push(...(await redis.hkeys(sink.keys.ids(eventId))));
      return ids.sort();
    },
    simIds() {
      return sim
        .listRegistrations()
        .map((r) => r.id)
        .sort();
    },
    async diff() {
      const missing: string[] = [];
      const different: string[] = [];
      const expected = new Set<string>();
      for (const reg of sim.listRegistrations()) {
        expected.add(reg.id);
        const json = await redis.get(`${prefix}:{e:${reg.eventId}}:rec:${reg.id}`);
        if (json === null) missing.push(reg.id);
        else if (json !== JSON.stringify(sim.toApiRecord(reg))) different.push(reg.id);
      }
      const extra = (await harness.redisIds()).filter((id) => !expected.has(id));
      return { missing, different, extra };
    },
    async dumpEvent(eventId) {
      // Known key names (no SCAN over a shared keyspace): the index, metadata, dead letters and every record key.
      const keys = [sink.keys.ids(eventId), sink.keys.eventMeta(eventId), `${prefix}:{e:${eventId}}:dlq`];
      for (const id of await redis.hkeys(sink.keys.ids(eventId))) keys.push(`${prefix}:{e:${eventId}}:rec:${id}`);
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.dumpBuffer(key);
      const replies = (await pipeline.exec()) ?? [];
      const out: Record<string, string> = {};
      keys.forEach((key, i) => {
        const value = replies[i]?.[1];
        if (Buffer.isBuffer(value)) out[key] = value.toString('hex');
      });
      return out;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      if (ownRedis && redis instanceof Redis) {
        // `${prefix}*`, not `${prefix}:*`: tests also derive prefixes from it (e.g. `${prefix}-state`).
        await deletePrefix(redis, prefix);
        redis.disconnect();
      }
      await sim.close();
    },
  };
  return harness;
}

/** Removes `count` registrations from Redis (not from Zoho), spread over events; resolves their IDs. */
export async function loseRecords(h: Harness, count: number): Promise<string[]> {
  const all = h.sim.listRegistrations();
  const lost: string[] = [];
  for (let i = 0; lost.length < count; i += 37) {
    const reg = all[i % all.length]!;
    if (lost.includes(reg.id)) continue;
    lost.push(reg.id);
    await h.sink.removeRecords(reg.eventId, [reg.id]);
  }
  return lost.sort();
}

/** Zoho record-API calls (Get Records / Get Record by ID) in the simulator's request log. */
export function recordCalls(h: Harness): number {
  return h.sim.countRequests({ kind: 'records' }) + h.sim.countRequests({ kind: 'record' });
}

/** Deletes every key under a BullMQ queue prefix (SCAN + DEL), as the distributed tests' teardown does. */
export async function deleteQueueKeys(queuePrefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    await deletePrefix(r, queuePrefix);
  } finally {
    r.disconnect();
  }
}
