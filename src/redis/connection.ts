/**
 * An ioredis client for a {@link RedisConnectionConfig}: `Redis` for one server, `Cluster` for a cluster.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisConnectionConfig } from './connection-config.js';

/** Options of {@link createRedisClient}. */
export interface CreateRedisClientOptions {
  /** Connect on the first command (or `connect()`) instead of at once. @defaultValue false */
  readonly lazyConnect?: boolean | undefined;
  /** ioredis `maxRetriesPerRequest` of each node connection. @defaultValue 2 */
  readonly maxRetriesPerRequest?: number | null | undefined;
  /** ioredis `connectTimeout`. @defaultValue 5000. Unit: ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** Reconnection attempts before giving up (`null` from the retry strategy); `undefined` = retry forever. */
  readonly maxReconnectAttempts?: number | undefined;
}

/**
 * Creates an ioredis client for a connection config: `new Redis(url)` or `new Cluster(nodes)`.
 * The Cluster client follows `MOVED`/`ASK` redirections and retries `TRYAGAIN`/`CLUSTERDOWN` by
 * itself (ioredis `maxRedirections`, `retryDelayOnTryAgain`, `retryDelayOnClusterDown`); reads go to
 * masters (`scaleReads: 'master'`), because replicas lag and the sink compares what it reads with what it writes.
 *
 * @returns the client; the caller owns it (`quit()` it when done).
 */
export function createRedisClient(config: RedisConnectionConfig, options: CreateRedisClientOptions = {}): Redis | Cluster {
  const attempts = options.maxReconnectAttempts;
  const retryStrategy = (attempt: number): number | null =>
    attempts !== undefined && attempt > attempts ? null : Math.min(attempt * 200, 1000);
  const nodeOptions = {
    lazyConnect: options.lazyConnect ?? false,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 2 : options.maxRetriesPerRequest,
    connectTimeout: options.connectTimeoutMs ?? 5000,
  };
  if (config.kind === 'standalone') return new Redis(config.url, { ...nodeOptions, retryStrategy });
  return new Cluster(
    config.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      lazyConnect: nodeOptions.lazyConnect,
      scaleReads: 'master',
      clusterRetryStrategy: retryStrategy,
      redisOptions: {
        username: config.username,
        password: config.password,
        maxRetriesPerRequest: nodeOptions.maxRetriesPerRequest,
        connectTimeout: nodeOptions.connectTimeout,
      },
    },
  );
}
