/**
 * A distributed-mode worker process for the scale-out bench (forked by bench/scale-out.ts).
 * argv[2]: JSON {@link DistributedBenchChild}. Sends `{ type: 'ready' }` over IPC once it takes
 * jobs and `{ type: 'calls', calls }` (its Zoho calls) when asked with `{ type: 'report' }`.
 */
import { Redis } from 'ioredis';
import { DistributedSync } from '../src/bullmq.js';
import { silentLogger } from '../src/logger.js';
import { RedisSink } from '../src/redis/redis-sink.js';
import { ZohoCreatorSource } from '../src/zoho/zoho-creator-source.js';
import type { SimInfo } from './common.js';

/** The child's configuration. */
export interface DistributedBenchChild {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly queuePrefix: string;
  readonly sim: SimInfo;
  readonly callsPerWindow: number;
  readonly rateWindowMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as DistributedBenchChild;
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
const source = new ZohoCreatorSource({
  ...config.sim.credentials,
  ...config.sim.config,
  apiBaseUrl: config.sim.apiBaseUrl,
  accountsBaseUrl: config.sim.accountsBaseUrl,
});
const sync = new DistributedSync({
  connection,
  redis,
  source,
  sink: new RedisSink({ redis, keyPrefix: config.prefix }),
  queuePrefix: config.queuePrefix,
  enableScheduler: false,
  callsPerWindow: config.callsPerWindow,
  rateWindowMs: config.rateWindowMs,
  logger: silentLogger,
});
await sync.start();
process.send?.({ type: 'ready' });
process.on('message', (raw) => {
  const m = raw as { type: string };
  if (m.type === 'report') process.send?.({ type: 'calls', calls: source.getCallCounts() });
});
process.once('SIGTERM', () => {
  void (async () => {
    await sync.stop();
    await source.close();
    redis.disconnect();
    connection.disconnect();
    process.exit(0);
  })();
});
