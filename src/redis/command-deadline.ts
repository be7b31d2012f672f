/**
 * Deadlines for Redis calls, and the cause to name when Redis does not answer.
 *
 * ioredis never gives up on a command by itself when configured as BullMQ users configure it
 * (`maxRetriesPerRequest: null`: a command waits in the offline queue until the connection is
 * back, forever), and its `commandTimeout` option is off by default. So every call the sink makes
 * is raced against its own deadline ({@link withDeadline}); the command may still run later, which
 * is safe because every sink write is idempotent or fenced.
 *
 * A command that fails because the connection is down fails with a message that does not say why
 * ("Reached the max retries per request limit", "Connection is closed."): the why (`connect
 * ECONNREFUSED 127.0.0.1:6379`) is only in the client's `error` events. {@link ConnectionWatch}
 * remembers the last one, so that the sink's errors name it.
 */
import type { Cluster, Redis } from 'ioredis';
import { SinkError } from '../errors.js';

/** How long a connection error counts as the likely cause of a failure. Unit: ms. */
const CAUSE_FRESH_MS = 60_000;

/**
 * Remembers the last `error` event of an ioredis client (connection refused, reset, DNS failure,
 * TLS...). Listening changes one thing on the client: ioredis prints `[ioredis] Unhandled error
 * event` only while no listener is attached, so the watch prints that same line itself when it is
 * the only listener, leaving the client's behaviour as it was.
 */
export class ConnectionWatch {
  private static readonly watches = new WeakMap<object, ConnectionWatch>();
  private last: { readonly message: string; readonly at: number } | undefined;

  /** The one watch of a client (a sink and its state store share it: one listener per client). */
  static of(client: Redis | Cluster): ConnectionWatch {
    let watch = ConnectionWatch.watches.get(client);
    if (watch === undefined) {
      watch = new ConnectionWatch(client);
      ConnectionWatch.watches.set(client, watch);
    }
    return watch;
  }

  private constructor(private readonly client: Redis | Cluster) {
    const emitter = client as unknown as { on?: (event: string, fn: (error: unknown) => void) => unknown; listenerCount?: (event: string) => number };
    if (typeof emitter.on !== 'function') return; // ioredis-mock has no connection to watch
    emitter.on('error', (error: unknown) => {
      this.last = { message: error instanceof Error ? error.message : String(error), at: Date.now() };
      if (emitter.listenerCount?.('error') === 1) console.error('[ioredis] Unhandled error event:', error instanceof Error ? error.stack : error);
    });
  }

  /** The last connection error seen within a minute, as text (`connect ECONNREFUSED …`), or `undefined`. */
  lastError(): string | undefined {
    const last = this.last;
    return last !== undefined && Date.now() - last.at <= CAUSE_FRESH_MS ? last.message : undefined;
  }

  /** Whether the client is connected and ready (always `true` for clients without a `status`). */
  isReady(): boolean {
    const status = (this.client as { status?: unknown }).status;
    return status === undefined || status === 'ready';
  }

  /** ` (last connection error: …)` when the client is not ready and one is known, else `''`. */
  causeSuffix(): string {
    const last = this.isReady() ? undefined : this.lastError();
    return last === undefined ? '' : ` (last connection error: ${last})`;
  }
}

/**
 * `call`, or a {@link SinkError} when it has not settled after `ms`. The timer is unref'd (it never
 * holds the process open) and cleared when the call settles; a call that settles after its
 * deadline is ignored (its rejection too).
 *
 * @param ms - the deadline. Unit: ms.
 * @param describe - the message of the deadline error (called only when the deadline passes).
 */
export function withDeadline<T>(call: Promise<T>, ms: number, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SinkError(describe())), ms);
    timer.unref();
  });
  call.catch(() => undefined); // it may settle after the deadline: never an unhandled rejection
  return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
}
