/**
 * Redis CPU per record of four ways to write the same first sync (`npm run bench:write-paths`),
 * on a redis-server of its own (so `INFO cpu` counts only these writes): 100,000 records of ≈ 450
 * bytes over 40 events, batches of 1,000, three alternating rounds.
 *
 * - `ceiling`: the hand-tuned loader's writes (`MSET` + one multi-field `HSET` per event), no reads;
 * - `lua`: the library's upsert script (`UPSERT_BATCH_LUA`) with its bookkeeping (seen sets, events hash);
 * - `watch-records`: optimistic concurrency on the record keys — `WATCH` of every record and
 *   tombstone key, `MGET` + `EXISTS` + `TYPE` checks, then `MULTI` / `MSET` / `HSET` / `SADD` /
 *   `EXPIRE` / `HSETNX` / `EXEC`;
 * - `watch-version`: the same with `WATCH` of one version key per event instead (a design where every
 *   other writer bumps that key; not built).
 *
 * A measurement for BENCHMARKS.md ("Write throughput ≥ 85 %"), not a target.
 */
import type { ChainableCommander, Redis as RedisClient } from 'ioredis';
import { Redis } from 'ioredis';
import { queueScript, registerScripts, type ScriptArg } from '../src/redis/scripts.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { indexFields, queueCeilingWrites, type Row } from './loaders.js';

const RECORDS = 100_000;
const BATCH = 1000;
const EVENTS = 40;
const ROUNDS = 3;

const records: Row[][] = [];
for (let s = 0; s < RECORDS; s += BATCH) {
  records.push(
    Array.from({ length: Math.min(BATCH, RECORDS - s) }, (_, j) => {
      const i = s + j;
      const e = `ev${i % EVENTS}`;
      const id = String(4_000_000_000_000_000_000n + BigInt(i));
      const json = JSON.stringify({
        ID: id,
        Name: { first_name: 'Nguyễn', last_name: `Văn ${i}` },
        Email: `u${i}@example.com`,
        Phone: `+84 90 123 ${i}`,
        Event: { ID: e, display_value: `Event ${e}` },
        Status: 'Confirmed',
        Notes: 'Lorem ipsum dolor sit amet '.repeat(4),
        Added_Time: '01-Dec-2026 10:00:00',
        Modified_Time: '01-Dec-2026 10:00:00',
      });
      // Keys as RedisSink's default layout names them (prefix `wp`; Redis is flushed between paths).
      return { key: `wp:{e:${e}}:rec:${id}`, idsKey: `wp:{e:${e}}:ids`, id, at: String(1_764_583_200_000 + i), json };
    }),
  );
}
/** The state store's events hash (`<p>:{g}:events`, see src/redis/key-schema.ts). */
const EVENTS_KEY = 'wp:{g}:events';
const eventOf = (idsKey: string): string => idsKey.slice('wp:{e:'.length, idsKey.indexOf('}'));
const seenKey = (idsKey: string): string => `wp:{e:${eventOf(idsKey)}}:seen:run`;
const tombKey = (row: Row): string => `wp:{e:${eventOf(row.idsKey)}}:tomb:${row.id}`;

async function redisCpuMicros(redis: RedisClient): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return (user + sys) * 1e6;
}

/**
 * Runs a pipeline or transaction; throws its first error reply (ioredis reports them per command,
 * not by rejecting) and an aborted `EXEC` (`null`: a watched key changed).
 */
async function exec(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (replies === null) throw new Error('write-paths: EXEC aborted');
  for (const [error] of replies) if (error) throw error;
  return replies.map(([, value]) => value);
}

async function ceiling(redis: RedisClient): Promise<void> {
  for (const batch of records) {
    const pipeline = redis.pipeline();
    queueCeilingWrites(pipeline, batch);
    await exec(pipeline);
  }
}

/** KEYS and ARGV as `RedisSink.upsertRecords` sends them with `noteWrites: { seenScope }` (compact form). */
async function lua(redis: RedisClient): Promise<void> {
  for (const batch of records) {
    const indexes = [...new Set(batch.map((row) => row.idsKey))];
    const position = new Map(indexes.map((idsKey, i) => [idsKey, String(i + 1)]));
    const keys = [...indexes, ...indexes.map(seenKey), EVENTS_KEY];
    const args: ScriptArg[] = ['json', 'hash', '', indexes.length, 1, 1, 3600, 'c', 1];
    for (const idsKey of indexes) args.push(eventOf(idsKey), '{}');
    for (const row of batch) {
      keys.push(row.key, tombKey(row));
      args.push(position.get(row.idsKey)!, row.id, row.at, row.json);
    }
    const pipeline = redis.pipeline();
    queueScript(pipeline, 'zrsUpsertBatch', keys, args);
    await exec(pipeline);
  }
}

async function optimistic(redis: RedisClient, watch: 'records' | 'version'): Promise<void> {
  for (const batch of records) {
    const recordKeys = batch.map((row) => row.key);
    const tombKeys = batch.map(tombKey);
    const byIndex = indexFields(batch);
    const reads = redis.pipeline();
    if (watch === 'records') reads.watch(...recordKeys, ...tombKeys);
    else reads.watch(...[...byIndex.keys()].map((idsKey) => `wp:{e:${eventOf(idsKey)}}:ver`));
    reads.mget(...recordKeys, ...tombKeys);
    reads.exists(...recordKeys);
    for (const idsKey of byIndex.keys()) reads.type(idsKey).type(seenKey(idsKey));
    reads.type(EVENTS_KEY);
    const held = (await exec(reads))[1] as (string | null)[];
    if (held.some((v) => v !== null)) throw new Error('write-paths: expected an empty Redis');
    const tx = redis.multi();
    queueCeilingWrites(tx, batch);
    for (const [idsKey, fields] of byIndex) {
      tx.sadd(seenKey(idsKey), ...fields.filter((_, j) => j % 2 === 0));
      tx.expire(seenKey(idsKey), 3600);
      tx.hsetnx(EVENTS_KEY, eventOf(idsKey), '{}');
    }
    await exec(tx);
  }
}

const server = await startRedisServer();
const redis = new Redis(server.url);
registerScripts(redis);
const paths: Record<string, (r: RedisClient) => Promise<void>> = {
  ceiling,
  lua,
  'watch-records': (r) => optimistic(r, 'records'),
  'watch-version': (r) => optimistic(r, 'version'),
};
try {
  console.log(`${RECORDS} records, batches of ${BATCH}, ${EVENTS} events; Redis and Node CPU per record (µs), wall (ms)`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, write] of Object.entries(paths)) {
      await redis.flushall();
      const redisBefore = await redisCpuMicros(redis);
      const nodeBefore = process.cpuUsage();
      const started = performance.now();
      await write(redis);
      const wall = performance.now() - started;
      const node = process.cpuUsage(nodeBefore);
      const redisMicros = (await redisCpuMicros(redis)) - redisBefore;
      const perRecord = (n: number): string => (n / RECORDS).toFixed(2);
      console.log(`round ${round} ${name.padEnd(14)} redis ${perRecord(redisMicros)}  node ${perRecord(node.user + node.system)}  wall ${wall.toFixed(0)}`);
    }
  }
} finally {
  redis.disconnect();
  await server.stop();
}
