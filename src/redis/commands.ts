/**
 * The one command path of the Redis sink and state store: pipelines grouped by slot, every reply
 * checked, every failure wrapped as a {@link SinkError} naming what failed. Both `RedisSink` and
 * `RedisStateStore` send all their commands through a {@link RedisCommands}, so deadlines,
 * redirection handling or error mapping are added here once.
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigError, isSyncError, SinkError, type SyncError } from '../errors.js';
import { registerScripts, type ScriptedClient, type ScriptedPipeline } from './scripts.js';
import { errorMessage } from './values.js';

/** One group of pipelined commands that touch a single Redis Cluster slot. */
export interface CommandGroup {
  /** Names the keys/event for error messages. */
  readonly label: string;
  /** Queues the group's commands. */
  readonly add: (pipeline: ScriptedPipeline) => void;
}

/** Default time {@link RedisCommands.ping} waits for `PONG`. Unit: milliseconds. */
export const DEFAULT_PING_TIMEOUT_MS = 3000;

/**
 * Checks that `redis` is an ioredis client the library can use (not closed over a `keyPrefix`).
 * @throws {@link ConfigError} (option `redis`) otherwise.
 */
export function checkRedisClient(redis: unknown): asserts redis is Redis | Cluster {
  const client = redis as { pipeline?: unknown; defineCommand?: unknown } | null | undefined;
  if (client === undefined || client === null || typeof client.pipeline !== 'function' || typeof client.defineCommand !== 'function') {
    throw new ConfigError('redis', 'redis must be an ioredis Redis or Cluster instance');
  }
  const clientOptions = (redis as { options?: { keyPrefix?: unknown; redisOptions?: { keyPrefix?: unknown } } }).options;
  const clientPrefix = clientOptions?.keyPrefix || clientOptions?.redisOptions?.keyPrefix;
  if (typeof clientPrefix === 'string' && clientPrefix.length > 0) {
    throw new ConfigError('redis', 'the ioredis client must not have its own keyPrefix option; pass keyPrefix to the library instead');
  }
}

function isUnknownCommand(error: unknown): boolean {
  return /unknown command/i.test(errorMessage(error));
}

/**
 * Sends commands to one ioredis client (standalone or Cluster; ioredis-mock too) with the library's
 * scripts registered. Standalone: one pipeline per call (one round trip). Cluster: one pipeline per
 * {@link CommandGroup} (a Cluster pipeline must stay on one node), sent concurrently.
 */
export class RedisCommands {
  /** The client with the library's scripts registered. */
  readonly client: ScriptedClient;
  /** Whether the client is an ioredis `Cluster`. */
  readonly isCluster: boolean;
  /** Whether the server knows `SMISMEMBER` (Redis ≥ 6.2); `undefined` until the first call tells. */
  private smismemberSupported: boolean | undefined;

  /**
   * @param redis - the caller's client (never closed here).
   * @param pingTimeoutMs - time {@link RedisCommands.ping} waits. Unit: ms.
   */
  constructor(
    redis: Redis | Cluster,
    private readonly pingTimeoutMs: number = DEFAULT_PING_TIMEOUT_MS,
  ) {
    this.isCluster = (redis as { isCluster?: unknown }).isCluster === true;
    this.client = registerScripts(redis);
    if (typeof (redis as { smismember?: unknown }).smismember !== 'function') this.smismemberSupported = false;
  }

  /**
   * Sends `PING` and waits at most `pingTimeoutMs` for `PONG`.
   * @throws {@link SinkError} when Redis answers with an error, anything but `PONG`, or not in time
   *   (e.g. a client whose offline queue holds the command while it cannot connect).
   */
  async ping(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SinkError(`Redis did not answer PING within ${this.pingTimeoutMs} ms`)), this.pingTimeoutMs);
    });
    try {
      const pinging = this.client.ping();
      pinging.catch(() => undefined); // it may settle after the timeout: never an unhandled rejection
      const reply = await Promise.race([pinging, timeout]);
      if (reply !== 'PONG') throw new SinkError(`Redis answered PING with ${JSON.stringify(reply)}`);
    } catch (error) {
      throw this.wrap('PING', error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends command groups and checks every reply. Standalone: one pipeline for all groups. Cluster:
   * one pipeline per group (each group stays in one slot), sent concurrently.
   *
   * @returns the replies of each group, in order.
   * @throws {@link SinkError} naming the group when any reply is an error or the pipeline fails.
   */
  async execGroups(op: string, groups: readonly CommandGroup[]): Promise<unknown[][]> {
    if (groups.length === 0) return [];
    if (this.isCluster) {
      return Promise.all(groups.map(async (group) => (await this.execPipeline(op, [group]))[0]!));
    }
    return this.execPipeline(op, groups);
  }

  /**
   * Runs one command (or script call) and wraps its failure.
   * @throws {@link SinkError} naming `what`, with the Redis error as `cause` (a `SyncError` passes through).
   */
  async run<T>(what: string, fn: (client: ScriptedClient) => Promise<T>): Promise<T> {
    try {
      return await fn(this.client);
    } catch (error) {
      throw this.wrap(what, error);
    }
  }

  /**
   * `SMISMEMBER key id…`, or pipelined `SISMEMBER` when the server lacks it (detected on the first call).
   * @returns one flag per ID, in order.
   * @throws {@link SinkError} on failure.
   */
  async membership(key: string, ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    if (this.smismemberSupported !== false) {
      try {
        const replies = await this.client.smismember(key, ...ids);
        this.smismemberSupported = true;
        return replies.map((r) => r === 1);
      } catch (error) {
        if (this.smismemberSupported !== undefined || !isUnknownCommand(error)) throw this.wrap(`SMISMEMBER ${key}`, error);
        this.smismemberSupported = false;
      }
    }
    const [replies] = await this.execGroups('membership', [
      {
        label: `SISMEMBER ${key}`,
        add: (p) => {
          for (const id of ids) p.sismember(key, id);
        },
      },
    ]);
    return (replies ?? []).map((r) => r === 1);
  }

  /** A {@link SinkError} for a failed Redis call (a `SyncError` is returned as is). */
  wrap(what: string, error: unknown): SyncError {
    if (isSyncError(error)) return error;
    return new SinkError(`Redis ${what} failed: ${errorMessage(error)}`, { cause: error });
  }

  private async execPipeline(op: string, groups: readonly CommandGroup[]): Promise<unknown[][]> {
    let pipeline: ScriptedPipeline;
    const sizes: number[] = [];
    try {
      pipeline = this.client.pipeline() as ScriptedPipeline;
      for (const group of groups) {
        const before = pipeline.length;
        group.add(pipeline);
        sizes.push(pipeline.length - before);
      }
    } catch (error) {
      throw this.wrap(`${op}: queueing commands`, error);
    }
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await pipeline.exec();
    } catch (error) {
      throw this.wrap(`${op}: ${groups.map((g) => g.label).join('; ')}`, error);
    }
    if (replies === null) throw new SinkError(`${op}: the pipeline was discarded`);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (replies.length !== total) {
      throw new SinkError(`${op}: expected ${total} pipeline replies, got ${replies.length}`);
    }
    const out: unknown[][] = [];
    let offset = 0;
    groups.forEach((group, index) => {
      const size = sizes[index]!;
      const slice = replies.slice(offset, offset + size);
      offset += size;
      for (const [error] of slice) {
        if (error) throw new SinkError(`Redis ${op} failed: ${group.label}: ${error.message}`, { cause: error });
      }
      out.push(slice.map(([, value]) => value));
    });
    return out;
  }
}
