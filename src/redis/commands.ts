/**
 * The one command path of the Redis sink and state store: pipelines grouped by slot, every reply
 * checked, every failure wrapped as a {@link SinkError} naming what failed. Both `RedisSink` and
 * `RedisStateStore` send all their commands through a {@link RedisCommands}, so deadlines,
 * redirection handling or error mapping are added here once.
 *
 * Every call has a deadline (`commandTimeoutMs`, see ./command-deadline.ts) whatever the client's
 * retry settings, and every error names the endpoint and, when the client is not connected, the
 * last connection error (`connect ECONNREFUSED 127.0.0.1:6379`).
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigError, isSyncError, SinkError, type SyncError } from '../errors.js';
import { ConnectionWatch, withDeadline } from './command-deadline.js';
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
/** Default deadline of every Redis call ({@link RedisCommands}). Unit: milliseconds. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/**
 * Where a client connects, for messages: `host:port` (with `/db` when not 0) or the socket path of
 * a standalone client, the first seed nodes of a Cluster. Never a password.
 */
export function describeRedisEndpoint(redis: Redis | Cluster): string {
  const r = redis as { isCluster?: unknown; startupNodes?: unknown; options?: { host?: unknown; port?: unknown; path?: unknown; db?: unknown } };
  if (r.isCluster === true && Array.isArray(r.startupNodes)) {
    const nodes = r.startupNodes.slice(0, 3).map((node: unknown) => {
      if (typeof node === 'object' && node !== null) {
        const { host, port } = node as { host?: unknown; port?: unknown };
        return `${String(host ?? '127.0.0.1')}:${String(port ?? 6379)}`;
      }
      return String(node);
    });
    return `cluster ${nodes.join(',')}${r.startupNodes.length > 3 ? ',…' : ''}`;
  }
  const o = r.options ?? {};
  if (typeof o.path === 'string' && o.path.length > 0) return o.path;
  const db = typeof o.db === 'number' && o.db !== 0 ? `/${o.db}` : '';
  return `${String(o.host ?? '127.0.0.1')}:${String(o.port ?? 6379)}${db}`;
}

/** The ioredis client state and events {@link RedisCommands.ping} waits on (absent on ioredis-mock). */
interface ConnectingClient {
  readonly status?: string;
  connect?(): Promise<void>;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

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
  /** Where the client connects (see {@link describeRedisEndpoint}), named in every error. */
  readonly endpoint: string;
  private readonly watch: ConnectionWatch;
  /** Whether the server knows `SMISMEMBER` (Redis ≥ 6.2); `undefined` until the first call tells. */
  private smismemberSupported: boolean | undefined;

  /**
   * @param redis - the caller's client (never closed here).
   * @param pingTimeoutMs - time {@link RedisCommands.ping} waits. Unit: ms.
   * @param commandTimeoutMs - deadline of every other call. Unit: ms.
   */
  constructor(
    redis: Redis | Cluster,
    private readonly pingTimeoutMs: number = DEFAULT_PING_TIMEOUT_MS,
    private readonly commandTimeoutMs: number = DEFAULT_COMMAND_TIMEOUT_MS,
  ) {
    this.isCluster = (redis as { isCluster?: unknown }).isCluster === true;
    this.endpoint = describeRedisEndpoint(redis);
    this.watch = ConnectionWatch.of(redis);
    this.client = registerScripts(redis);
    if (typeof (redis as { smismember?: unknown }).smismember !== 'function') this.smismemberSupported = false;
  }

  /**
   * Waits until the client is connected — connecting a `lazyConnect` client that has not connected
   * yet, waiting for one that is (re)connecting (with `enableOfflineQueue: false` a command sent
   * before then fails at once with "Stream isn't writeable") — then sends `PING`; all of it within
   * `pingTimeoutMs`. Uses ioredis's `status` and its `ready` / `end` events.
   *
   * @throws {@link SinkError} naming the endpoint when Redis answers with an error or anything but
   *   `PONG`, when the client gave up connecting (`end`) or was closed, or when it is not ready or
   *   does not answer in time (e.g. a client whose offline queue holds the command while it cannot
   *   connect); the message carries the last connection error (e.g. `ECONNREFUSED`).
   */
  async ping(): Promise<void> {
    const client = this.client as unknown as ConnectingClient;
    let timer: NodeJS.Timeout | undefined;
    const because = (): string => {
      const last = this.watch.lastError();
      return last === undefined ? '' : ` (${last})`;
    };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SinkError(`Redis at ${this.endpoint} did not answer PING within ${this.pingTimeoutMs} ms${because()}`)),
        this.pingTimeoutMs,
      );
    });
    try {
      const status = client.status;
      if (status === 'end') {
        throw new SinkError(`The Redis client for ${this.endpoint} is closed (quit() or disconnect() was called, or it stopped reconnecting)`);
      }
      if (status !== undefined && status !== 'ready') {
        const ready = new Promise<void>((resolve, reject) => {
          const settle = (): void => {
            client.off('ready', onReady);
            client.off('end', onEnd);
          };
          const onReady = (): void => {
            settle();
            resolve();
          };
          const onEnd = (): void => {
            settle();
            reject(new SinkError(`Could not connect to Redis at ${this.endpoint}${because()}`));
          };
          client.once('ready', onReady);
          client.once('end', onEnd);
        });
        ready.catch(() => undefined);
        if (status === 'wait' && typeof client.connect === 'function') client.connect().catch(() => undefined); // reported through 'end' or the timeout
        await Promise.race([ready, timeout]);
      }
      const pinging = this.client.ping();
      pinging.catch(() => undefined); // it may settle after the timeout: never an unhandled rejection
      const reply = await Promise.race([pinging, timeout]);
      if (reply !== 'PONG') throw new SinkError(`Redis at ${this.endpoint} answered PING with ${JSON.stringify(reply)}`);
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
      return await this.deadline(what, fn(this.client));
    } catch (error) {
      throw this.wrap(what, error);
    }
  }

  /** `call` within `commandTimeoutMs`, else a {@link SinkError} naming the endpoint and the likely cause. */
  private deadline<T>(what: string, call: Promise<T>): Promise<T> {
    return withDeadline(
      call,
      this.commandTimeoutMs,
      () => `Redis at ${this.endpoint} did not answer ${what} within ${this.commandTimeoutMs} ms${this.watch.causeSuffix()}`,
    );
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
        const replies = await this.deadline(`SMISMEMBER ${key}`, this.client.smismember(key, ...ids));
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
    return new SinkError(`Redis at ${this.endpoint}: ${what} failed: ${errorMessage(error)}${this.watch.causeSuffix()}`, { cause: error });
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
      replies = await this.deadline(op, pipeline.exec());
    } catch (error) {
      throw this.wrap(`${op}: ${groups.map((g) => g.label).join('; ')}`, error);
    }
    if (replies === null) throw new SinkError(`Redis at ${this.endpoint}: ${op}: the pipeline was discarded`);
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
        if (error) throw new SinkError(`Redis at ${this.endpoint}: ${op} failed: ${group.label}: ${error.message}`, { cause: error });
      }
      out.push(slice.map(([, value]) => value));
    });
    return out;
  }
}
