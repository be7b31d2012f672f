/**
 * Redis CPU per record of three ways to write the same first sync (`npm run bench:write-paths`),
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
import type { Redis as RedisClient } from 'ioredis';
import { Redis } from 'ioredis';
import { UPSERT_BATCH_LUA } from '../src/redis/scripts.js';
import { startRedisServer } from '../test/helpers/redis-server.js';

const RECORDS = 100_000;
const BATCH = 1000;
const EVENTS = 40;
const ROUNDS = 3;

interface Rec {
  readonly e: string;
  readonly id: string;
  readonly at: string;
  readonly json: string;
}

const records: Rec[] = Array.from({ length: RECORDS }, (_, i) => {
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
  return { e, id, at: String(1_764_583_200_000 + i), json };
});

type Upsert = (numKeys: number, ...args: string[]) => Promise<unknown>;

async function redisCpuMicros(redis: RedisClient): Promise<number> {
  const info = await redis.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return (user + sys) * 1e6;
}

function batches(): Rec[][] {
  const out: Rec[][] = [];
  for (let s = 0; s < RECORDS; s += BATCH) out.push(records.slice(s, s + BATCH));
  return out;
}

async function ceiling(redis: RedisClient, p: string): Promise<void> {
  for (const chunk of batches()) {
    const pipeline = redis.pipeline();
    const pairs: string[] = [];
    const byEvent = new Map<string, string[]>();
    for (const r of chunk) {
      pairs.push(`${p}:{e:${r.e}}:rec:${r.id}`, r.json);
      const fields = byEvent.get(r.e);
      if (fields === undefined) byEvent.set(r.e, [r.id, r.at]);
      else fields.push(r.id, r.at);
    }
    pipeline.mset(...pairs);
    for (const [e, fields] of byEvent) pipeline.hset(`${p}:{e:${e}}:ids`, ...fields);
    await pipeline.exec();
  }
}

async function lua(redis: RedisClient, p: string): Promise<void> {
  const upsert = (redis as unknown as { zrsBenchUpsert: Upsert }).zrsBenchUpsert;
  for (const chunk of batches()) {
    const events = [...new Set(chunk.map((r) => r.e))];
    const keys = events.map((e) => `${p}:{e:${e}}:ids`);
    for (const e of events) keys.push(`${p}:{e:${e}}:seen:run`);
    keys.push(`${p}:events`);
    const args = ['json', 'hash', '', String(events.length), '1', '1', '3600', 'c', '1'];
    for (const e of events) args.push(e, '{}');
    for (const r of chunk) {
      keys.push(`${p}:{e:${r.e}}:rec:${r.id}`, `${p}:{e:${r.e}}:tomb:${r.id}`);
      args.push(String(events.indexOf(r.e) + 1), r.id, r.at, r.json);
    }
    await upsert.call(redis, keys.length, ...keys, ...args);
  }
}

async function optimistic(redis: RedisClient, p: string, watch: 'records' | 'version'): Promise<void> {
  for (const chunk of batches()) {
    const events = [...new Set(chunk.map((r) => r.e))];
    const recordKeys = chunk.map((r) => `${p}:{e:${r.e}}:rec:${r.id}`);
    const tombKeys = chunk.map((r) => `${p}:{e:${r.e}}:tomb:${r.id}`);
    const reads = redis.pipeline();
    if (watch === 'records') reads.watch(...recordKeys, ...tombKeys);
    else reads.watch(...events.map((e) => `${p}:{e:${e}}:ver`));
    reads.mget(...recordKeys, ...tombKeys);
    reads.exists(...recordKeys);
    for (const e of events) reads.type(`${p}:{e:${e}}:ids`).type(`${p}:{e:${e}}:seen:run`);
    reads.type(`${p}:events`);
    const held = (await reads.exec())?.[1]?.[1] as (string | null)[];
    if (held.some((v) => v !== null)) throw new Error('write-paths: expected an empty Redis');
    const tx = redis.multi();
    const pairs: string[] = [];
    const byEvent = new Map<string, string[]>();
    chunk.forEach((r, i) => {
      pairs.push(recordKeys[i]!, r.json);
      const fields = byEvent.get(r.e);
      if (fields === undefined) byEvent.set(r.e, [r.id, r.at]);
      else fields.push(r.id, r.at);
    });
    tx.mset(...pairs);
    for (const [e, fields] of byEvent) {
      tx.hset(`${p}:{e:${e}}:ids`, ...fields);
      tx.sadd(`${p}:{e:${e}}:seen:run`, ...fields.filter((_, j) => j % 2 === 0));
      tx.expire(`${p}:{e:${e}}:seen:run`, 3600);
      tx.hsetnx(`${p}:events`, e, '{}');
    }
    if ((await tx.exec()) === null) throw new Error('write-paths: EXEC aborted');
  }
}

const server = await startRedisServer();
const redis = new Redis(server.url);
redis.defineCommand('zrsBenchUpsert', { lua: UPSERT_BATCH_LUA });
const paths: Record<string, (r: RedisClient, p: string) => Promise<void>> = {
  ceiling,
  lua,
  'watch-records': (r, p) => optimistic(r, p, 'records'),
  'watch-version': (r, p) => optimistic(r, p, 'version'),
};
try {
  console.log(`${RECORDS} records, batches of ${BATCH}, ${EVENTS} events; Redis and Node CPU per record (µs), wall (ms)`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, write] of Object.entries(paths)) {
      await redis.flushall();
      const redisBefore = await redisCpuMicros(redis);
      const nodeBefore = process.cpuUsage();
      const started = performance.now();
      await write(redis, `wp${round}`);
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
