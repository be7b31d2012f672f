/**
 * `@org/zoho-redis-sync/bullmq`: distributed mode on BullMQ (an optional peer dependency, `bullmq@^6`).
 * Several processes share the work of one sync: a Job Scheduler fires the incremental once per
 * interval cluster-wide, full syncs and discrepancy checks fan out per-partition jobs planned from Redis's counts, forced
 * syncs are jobs deduplicated by event ID, every job takes the per-event leases of the events it
 * writes, and one Zoho call budget is shared by every process. See the README's "Scaling out".
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisSink, ZohoCreatorSource } from '@org/zoho-redis-sync';
 * import { DistributedSync } from '@org/zoho-redis-sync/bullmq';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
 * const sync = new DistributedSync({ connection, redis, sink: new RedisSink({ redis }), source: new ZohoCreatorSource({ ... }) });
 * await sync.start(); // in every process
 * ```
 */
export { type DistributedSyncOptions, DistributedSync, type JobActivity } from './distributed/distributed-sync.js';
export { type Partition, type PartitionPlan, type PartitionPlanOptions, type PlannedEvent, planFromRedisCounts, planPartitions } from './distributed/partition-plan.js';
export { type CallWaits, SharedCallLimiter, type SharedCallLimiterOptions } from './distributed/call-limiter.js';
export { acquireEventLeases, eventFenceKey, eventLeaseKey, type HeldEventLeases } from './distributed/event-leases.js';
export type { PartitionResult } from './distributed/partition-run.js';
