/**
 * A record sink of your own: `NodeRedisSink` stores records on the official `redis` client
 * (node-redis) — JSON strings plus a hash index per event — implementing the seven required methods
 * of `RecordSink`. It passes the library's contract suite (test/examples/custom-sink.test.ts runs
 * `testSinkContract` on it); run directly, it syncs the simulator's 2,419 registrations, with the
 * worker's bookkeeping in a `RedisStateStore` (ioredis) next to it.
 */
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { RecordSink, RecordSinkCapabilities, UpsertResult } from '../src/adapters/sink.js';
import type { SourceRecord } from '../src/adapters/source.js';
import { silentLogger } from '../src/logger.js';
import { RedisStateStore } from '../src/redis/state-store.js';
import { createZohoSimulator } from '../src/testing.js';
import { SyncWorker } from '../src/worker/sync-worker.js';
import { ZohoCreatorSource } from '../src/zoho/zoho-creator-source.js';

/** A node-redis client (its type is inferred from createClient's options). */
export const connectNodeRedis = (url: string) => createClient({ url }).connect();
type NodeRedisClient = Awaited<ReturnType<typeof connectNodeRedis>>;

// KEYS: the event's index, then one key per record. ARGV: triples id, modifiedAt, json.
// Reply per record: 0 unchanged, 1 added, 2 updated (content compared in Redis, atomically).
const UPSERT = `local out = {}
for i = 1, #ARGV, 3 do
  local key = KEYS[1 + (i + 2) / 3]
  local cur = redis.call('GET', key)
  if cur == ARGV[i + 2] then out[#out + 1] = 0
  else
    redis.call('SET', key, ARGV[i + 2])
    if cur then out[#out + 1] = 2 else out[#out + 1] = 1 end
  end
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return out`;
// KEYS: the index, then the record keys. ARGV: the IDs. Reply: the IDs that were held.
const REMOVE = `local out = {}
for i = 1, #ARGV do
  local d = redis.call('DEL', KEYS[1 + i])
  local h = redis.call('HDEL', KEYS[1], ARGV[i])
  if d + h > 0 then out[#out + 1] = ARGV[i] end
end
return out`;

/** Records as `<prefix>:{<eventId>}:r:<id>` (JSON) and `<prefix>:{<eventId>}:ids` (HASH id → modifiedAt). */
export class NodeRedisSink implements RecordSink {
  readonly name = 'node-redis';
  readonly capabilities: RecordSinkCapabilities = { compareStamps: false, locateRecord: false, exactRoundTrip: true };

  constructor(
    private readonly client: NodeRedisClient,
    private readonly prefix: string,
  ) {}

  private index = (eventId: string): string => `${this.prefix}:{${eventId}}:ids`;
  private key = (eventId: string, id: string): string => `${this.prefix}:{${eventId}}:r:${id}`;

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async upsertRecords(records: readonly SourceRecord[]): Promise<UpsertResult> {
    const byEvent = new Map<string, SourceRecord[]>();
    for (const r of records) byEvent.set(r.eventId, [...(byEvent.get(r.eventId) ?? []), r]);
    const events = await Promise.all(
      [...byEvent].map(async ([eventId, list]) => {
        const codes = (await this.client.eval(UPSERT, {
          keys: [this.index(eventId), ...list.map((r) => this.key(eventId, r.id))],
          arguments: list.flatMap((r) => [r.id, String(r.modifiedAt), JSON.stringify(r.data)]),
        })) as number[];
        return {
          eventId,
          added: list.filter((_, i) => codes[i] === 1).map((r) => r.id),
          updated: list.filter((_, i) => codes[i] === 2).map((r) => r.id),
          unchanged: codes.filter((c) => c === 0).length,
        };
      }),
    );
    const sum = (f: (e: (typeof events)[number]) => number): number => events.reduce((n, e) => n + f(e), 0);
    return { added: sum((e) => e.added.length), updated: sum((e) => e.updated.length), unchanged: sum((e) => e.unchanged), events };
  }

  async removeRecords(eventId: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const keys = [this.index(eventId), ...ids.map((id) => this.key(eventId, id))];
    return (await this.client.eval(REMOVE, { keys, arguments: [...ids] })) as string[];
  }

  countRecords(eventId: string): Promise<number> {
    return this.client.hLen(this.index(eventId));
  }

  async *scanRecordIds(eventId: string): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, flat] = (await this.client.sendCommand(['HSCAN', this.index(eventId), cursor, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  async readStamps(eventId: string, ids: readonly string[]): Promise<(number | undefined)[]> {
    if (ids.length === 0) return [];
    const values = await this.client.hmGet(this.index(eventId), [...ids]);
    return values.map((v) => (v === null || v === undefined ? undefined : Number(v)));
  }

  async getRecord(eventId: string, recordId: string): Promise<Record<string, unknown> | undefined> {
    const json = await this.client.get(this.key(eventId, recordId));
    return json === null || json === undefined ? undefined : (JSON.parse(String(json)) as Record<string, unknown>);
  }
}

async function main(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = process.env.SYNC_KEY_PREFIX || 'zrs-example-node-redis';
  const sim = await createZohoSimulator({ dataset: { events: 40, registrations: 2419, seed: 1 } });
  const client = await connectNodeRedis(url);
  const ioredis = new Redis(url);
  try {
    const sink = new NodeRedisSink(client, prefix);
    const state = new RedisStateStore({ redis: ioredis, keyPrefix: prefix });
    const source = new ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl });
    const worker = new SyncWorker({ source, sink, state, logger: silentLogger, enableAutoSync: false });
    const result = await worker.performFullSync();
    let held = 0;
    for (const event of sim.listEvents()) held += await sink.countRecords(event.id);
    console.log(`Full sync through node-redis: +${result.added} added, ${result.updated} updated; Redis holds ${held} of ${sim.listRegistrations().length} registrations`);
  } finally {
    ioredis.disconnect();
    await client.quit();
    await sim.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
