/**
 * Where Redis is, read from the environment: one server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES=host:port,host:port,…`). `createRedisClient` (in `./connection.js`) builds
 * the ioredis client.
 */
import { ConfigError } from '../errors.js';
import { checkRedisUrl } from './redis-url.js';
import { shownValue } from '../internal/shown-value.js';

/** Default of `REDIS_URL`. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** One startup node of a Redis Cluster. */
export interface ClusterNode {
  readonly host: string;
  /** TCP port, 1–65535. */
  readonly port: number;
}

/** Redis as the environment describes it. */
export type RedisConnectionConfig =
  | {
      /** One server (or a proxy that looks like one). */
      readonly kind: 'standalone';
      /** `redis://[user:password@]host:port[/db]` (password included: never log it, see {@link RedisConnectionConfig.label}). */
      readonly url: string;
      /** The URL with any password blanked, for logs and status. */
      readonly label: string;
    }
  | {
      /** A Redis Cluster: ioredis discovers the other nodes and follows MOVED/ASK redirections. */
      readonly kind: 'cluster';
      /** Startup nodes (any subset of the cluster's nodes; one reachable node is enough). */
      readonly nodes: readonly ClusterNode[];
      /** `REDIS_USERNAME`, if set (ACL user of every node). */
      readonly username: string | undefined;
      /** `REDIS_PASSWORD`, if set (password of every node; never logged). */
      readonly password: string | undefined;
      /** `cluster host:port,…` for logs and status (no password). */
      readonly label: string;
    };

/**
 * Parses `REDIS_CLUSTER_NODES`: comma-separated `host:port` (IPv6 as `[addr]:port`), spaces allowed
 * around commas.
 *
 * @throws {@link ConfigError} (option `REDIS_CLUSTER_NODES`) for an empty list or an entry without a valid port.
 */
export function parseClusterNodes(value: string): ClusterNode[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES', 'REDIS_CLUSTER_NODES lists no node (expected host:port,host:port,…)');
  return entries.map((entry) => {
    const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = match ? Number(match[2]) : Number.NaN;
    if (!match || port < 1 || port > 65535) {
      throw new ConfigError('REDIS_CLUSTER_NODES', `REDIS_CLUSTER_NODES entry ${shownValue(entry)} is not host:port`);
    }
    return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/**
 * Reads where Redis is: `REDIS_CLUSTER_NODES` (a cluster; with optional `REDIS_USERNAME` /
 * `REDIS_PASSWORD`) wins over `REDIS_URL` (one server; default {@link DEFAULT_REDIS_URL}).
 *
 * @param env - defaults to `process.env`.
 * @throws {@link ConfigError} naming the variable when `REDIS_CLUSTER_NODES` or `REDIS_URL` is
 *   malformed (see `checkRedisUrl`).
 */
export function redisConnectionFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): RedisConnectionConfig {
  const clusterNodes = env.REDIS_CLUSTER_NODES?.trim();
  if (clusterNodes) {
    const nodes = parseClusterNodes(clusterNodes);
    return {
      kind: 'cluster',
      nodes,
      username: env.REDIS_USERNAME || undefined,
      password: env.REDIS_PASSWORD || undefined,
      label: `cluster ${nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',')}`,
    };
  }
  const url = checkRedisUrl(env.REDIS_URL?.trim() || DEFAULT_REDIS_URL);
  return { kind: 'standalone', url, label: url.replace(/\/\/([^/@]*)@/, '//[redacted]@') };
}
