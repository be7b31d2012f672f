/**
 * Whether a Redis server may evict the library's keys under memory pressure. With a `maxmemory`
 * limit, Redis evicts keys according to `maxmemory-policy`
 * (https://redis.io/docs/latest/develop/reference/eviction/): `allkeys-*` evicts any key (a record
 * key vanishes while its index entry stays), `volatile-*` evicts keys with a TTL (the sync lease,
 * the seen sets of a running listing), `noeviction` refuses writes instead. The policy is read with
 * `CONFIG GET maxmemory-policy`, or from `INFO memory` (`maxmemory_policy:`) where managed services
 * disable `CONFIG`; when both are refused it is unknown.
 */
import type { RedisCommands } from './commands.js';

/** What {@link readEvictionPolicy} found. */
export interface EvictionPolicy {
  /** `maxmemory-policy` (e.g. `noeviction`, `allkeys-lru`), or `undefined` when it cannot be read. */
  readonly policy: string | undefined;
  /** What can go wrong with it, for a warning; `undefined` for `noeviction`. */
  readonly warning: string | undefined;
}

/** The warning for a policy (`undefined`: the policy cannot evict the library's keys). */
export function evictionWarning(endpoint: string, policy: string | undefined): string | undefined {
  if (policy === 'noeviction') return undefined;
  if (policy === undefined) {
    return `Could not read the maxmemory-policy of Redis at ${endpoint} (CONFIG GET and INFO were refused): make sure it is noeviction, or records may be evicted (a discrepancy check finds and heals them)`;
  }
  if (policy.startsWith('allkeys-')) {
    return `Redis at ${endpoint} evicts any key under memory pressure (maxmemory-policy ${policy}): record keys, indexes and the sync's state can vanish; set maxmemory-policy noeviction (a discrepancy check finds and heals vanished records)`;
  }
  return `Redis at ${endpoint} evicts keys with a TTL under memory pressure (maxmemory-policy ${policy}): the sync lease and the seen sets of a running listing can vanish; set maxmemory-policy noeviction`;
}

/**
 * Reads `maxmemory-policy`: `CONFIG GET`, else `INFO memory`. Never throws (a refused or failed
 * read gives `policy: undefined`). On a Cluster the node the client picks answers.
 */
export async function readEvictionPolicy(commands: RedisCommands): Promise<EvictionPolicy> {
  let policy: string | undefined;
  try {
    const reply = (await commands.run('CONFIG GET maxmemory-policy', (r) => r.config('GET', 'maxmemory-policy'))) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === 'string') policy = reply[1];
  } catch {
    // CONFIG disabled (renamed, ACL, managed service): try INFO.
  }
  if (policy === undefined) {
    try {
      const info = await commands.run('INFO memory', (r) => r.info('memory'));
      policy = /^maxmemory_policy:(\S+)/m.exec(String(info))?.[1];
    } catch {
      // INFO refused too: unknown.
    }
  }
  return { policy, warning: evictionWarning(commands.endpoint, policy) };
}
