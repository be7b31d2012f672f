/**
 * Write confirmation with `WAIT numreplicas timeout` (https://redis.io/docs/latest/commands/wait/):
 * after a batch's script calls, the same pipeline (so the same node and connection on a Cluster)
 * asks the master to wait until `replicas` replicas acknowledged every write sent before, for at
 * most `timeoutMs`. `WAIT` replies the number of replicas that acknowledged; fewer than asked means
 * the batch may be lost if this master fails now, so the batch is not counted as committed.
 *
 * `WAIT` does not make Redis strongly consistent (a replica that acknowledged can still lose the
 * write in rare failure sequences), but it closes the common window: a master that stalls or dies
 * right after acknowledging writes its replica never received.
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigError, SinkError } from '../errors.js';
import { withDeadline } from './command-deadline.js';
import { shownValue } from '../internal/shown-value.js';

/** Longest wait for a server's `INFO replication` when `'auto'` is resolved. Unit: ms. */
const DETECT_TIMEOUT_MS = 5000;

/** How long a resolved `'auto'` holds before `INFO replication` is asked again. Unit: ms. */
export const AUTO_REFRESH_MS = 60_000;

/** Default of `waitTimeoutMs`. Unit: ms. */
export const DEFAULT_WAIT_TIMEOUT_MS = 1000;

/** How many replicas must confirm each batch: a number, or `'auto'` (1 when the server has replicas, 0 otherwise). */
export type WaitForReplicas = number | 'auto';

/** The `WAIT` policy of one sink. */
export class ReplicaWait {
  #resolved: Promise<number> | undefined;
  #resolvedAt = 0;

  /**
   * @throws {@link ConfigError} (options `waitForReplicas`, `waitTimeoutMs`) for an invalid value.
   */
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly isCluster: boolean,
    readonly replicas: WaitForReplicas = 'auto',
    readonly timeoutMs: number = DEFAULT_WAIT_TIMEOUT_MS,
  ) {
    if (replicas !== 'auto' && (!Number.isSafeInteger(replicas) || replicas < 0 || replicas > 100)) {
      throw new ConfigError('waitForReplicas', `waitForReplicas must be 'auto' or an integer from 0 to 100, got ${shownValue(replicas)}`);
    }
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
      throw new ConfigError('waitTimeoutMs', `waitTimeoutMs must be an integer from 1 to 60000, got ${shownValue(timeoutMs)}`);
    }
  }

  /**
   * The replicas each batch waits for. `'auto'` is resolved from `INFO replication`
   * (`connected_slaves > 0` — on a Cluster, any master's — means 1, else 0) and read again after
   * {@link AUTO_REFRESH_MS}. A server that cannot answer `INFO` (ACL `-info`, ioredis-mock) counts
   * as having none: set `waitForReplicas` to a number there. A Cluster whose masters do not answer
   * within 5 s is asked again at the next batch.
   */
  required(): Promise<number> {
    if (this.replicas !== 'auto') return Promise.resolve(this.replicas);
    // Re-read after a while: replicas come and go (a failover, a replica added or removed).
    if (this.#resolved !== undefined && Date.now() - this.#resolvedAt > AUTO_REFRESH_MS) this.#resolved = undefined;
    if (this.#resolved === undefined) {
      this.#resolvedAt = Date.now();
      this.#resolved = this.#detect().then(({ replicas, final }) => {
        if (!final) this.#resolved = undefined; // the cluster's view was not complete yet: ask again next batch
        return replicas;
      });
    }
    return this.#resolved;
  }

  async #detect(): Promise<{ replicas: number; final: boolean }> {
    // Each master is asked for its own view (INFO replication, connected_slaves), not gossip's,
    // within a deadline: a stalled master must not hang the first batch.
    const ask = (node: Redis): Promise<string | undefined> =>
      withDeadline(node.info('replication'), DETECT_TIMEOUT_MS, () => 'INFO replication').catch(() => undefined);
    if (this.isCluster) {
      const cluster = this.redis as Cluster;
      if (cluster.status !== 'ready') await waitReady(cluster, DETECT_TIMEOUT_MS);
      const masters = cluster.nodes('master');
      if (masters.length === 0) return { replicas: 0, final: false };
      const infos = await Promise.all(masters.map(ask));
      if (infos.some((i) => hasReplicas(i))) return { replicas: 1, final: true };
      // No master answered: ask again at the next batch rather than settle on "no replicas".
      return { replicas: 0, final: infos.some((i) => i !== undefined) };
    }
    // A server that cannot answer INFO (ioredis-mock) counts as having none.
    return { replicas: hasReplicas(await ask(this.redis as Redis)) ? 1 : 0, final: true };
  }

  /**
   * Checks a `WAIT` reply.
   * @throws {@link SinkError} when fewer than `required` replicas confirmed (the batch is not committed).
   */
  check(reply: unknown, required: number, label: string): void {
    const confirmed = Number(reply);
    if (!Number.isFinite(confirmed) || confirmed < required) {
      throw new SinkError(
        `${label}: written, but confirmed by ${Number.isFinite(confirmed) ? confirmed : 0} of ${required} replicas within ${this.timeoutMs} ms (WAIT); not counted as committed`,
      );
    }
  }
}

function hasReplicas(info: unknown): boolean {
  const match = /connected_slaves:(\d+)/.exec(typeof info === 'string' ? info : '');
  return match !== null && Number(match[1]) > 0;
}

function waitReady(cluster: Cluster, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done(): void {
      clearTimeout(timer);
      cluster.off('ready', done);
      resolve();
    }
    cluster.once('ready', done);
  });
}
