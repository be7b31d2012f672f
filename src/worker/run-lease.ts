/**
 * The single-process run lease: one run at a time across replicas, through the state store's
 * lease (`acquireLease` / `renewLease` / `releaseLease`, a fenced key in Redis). Taken when a run
 * starts, renewed every third of its time-to-live, released when the run ends (bounded wait: Redis
 * may be down), and declared lost — aborting the run — when Redis answers that it is not ours any
 * more or when no renewal succeeded for a whole time-to-live.
 */
import type { StateStore } from '../adapters/state-store.js';
import { LeaseError, SinkError } from '../errors.js';
import { withTimeout } from '../internal/with-timeout.js';
import type { Logger } from '../logger.js';
import { describeLeaseHolder } from './lease-owner.js';

/** Longest wait for the lease release when a run ends (Redis may be down). Unit: ms. */
const LEASE_RELEASE_TIMEOUT_MS = 2000;

/** Longest wait for the holder of a refused lease (only to word the refusal). Unit: ms. */
const LEASE_INSPECT_TIMEOUT_MS = 1000;

/** A lease held for a run: stop renewing and release it, or declare it lost. */
export interface HeldLease {
  /** The fencing token the lease was issued with (every fenced write of the run carries it). */
  readonly fence: number;
  /** Stops renewing and releases the lease (bounded wait). Never rejects. */
  readonly release: () => Promise<void>;
  /** Marks the lease lost (e.g. a fenced write was refused): calls `onLost`, aborts the run. */
  readonly lose: (cause?: unknown) => void;
}

/** What {@link acquireRunLease} needs. */
export interface RunLeaseInput {
  readonly state: StateStore;
  /** This worker's owner token (see ./lease-owner.ts). */
  readonly owner: string;
  /** Lease time-to-live. Unit: ms. */
  readonly ttlMs: number;
  /** The run's controller: aborted with a {@link LeaseError} or {@link SinkError} when the lease is lost. */
  readonly controller: AbortController;
  readonly logger: Logger;
  /** Called once when the lease is declared lost (before the run is aborted). */
  readonly onLost: () => void;
  /** Called with `false` when the lease is no longer held (lost or released). */
  readonly onReleased: () => void;
}

/**
 * Takes the run lease. A lease held under this worker's own owner token — left by its previous run
 * whose release Redis refused or never answered (e.g. `-READONLY` after a failover) — is taken
 * back under a new fence: anything that run still sends carries the old fence and is refused.
 *
 * The lease is renewed every `ttlMs / 3` (at least every 250 ms) and counted as lost (`onLost`,
 * {@link LeaseError}) only when Redis answers that it is not ours any more. When no renewal
 * succeeded for a whole `ttlMs` — each failed (connection refused, ...) or one has not answered —
 * the store is what broke: the run stops writing and fails with a {@link SinkError} naming the
 * cause (the lease may have expired meanwhile: the fence then refuses any late write of ours).
 *
 * @returns the held lease, or `'held-elsewhere'` when another owner holds it.
 * @throws the state store's error when taking the lease fails (nothing is held then).
 */
export async function acquireRunLease(input: RunLeaseInput): Promise<HeldLease | 'held-elsewhere'> {
  const { state, owner, ttlMs, controller, logger } = input;
  const { acquireLease, renewLease, releaseLease } = leaseMethods(state);
  let lease = await acquireLease(owner, ttlMs);
  if (!lease && (await holdsLeftoverLease(state, owner))) {
    await releaseLease(owner);
    lease = await acquireLease(owner, ttlMs);
  }
  if (!lease) return 'held-elsewhere';
  let held = true;
  let renewedAt = Date.now();
  let renewing = false;
  const lose = (cause?: unknown): void => {
    if (controller.signal.aborted) return;
    held = false;
    input.onLost();
    input.onReleased();
    controller.abort(new LeaseError('This replica lost the sync lease mid-run and stopped writing', { cause }));
  };
  /** The store failed for a whole ttlMs: report it as what it is (not as a lost lease). */
  const unreachable = (cause: unknown): void => {
    if (controller.signal.aborted) return;
    const why = cause === undefined ? 'the state store has not answered a renewal' : describe(cause);
    controller.abort(new SinkError(`Could not renew the sync lease for ${Date.now() - renewedAt} ms (${why}); the run stopped writing`, { cause }));
  };
  const renew = setInterval(
    () => {
      if (renewing) {
        if (Date.now() - renewedAt >= ttlMs) unreachable(undefined);
        return;
      }
      renewing = true;
      renewLease(owner, ttlMs).then(
        (stillOurs) => {
          renewing = false;
          if (stillOurs) renewedAt = Date.now();
          else lose();
        },
        (error: unknown) => {
          renewing = false;
          if (Date.now() - renewedAt >= ttlMs) unreachable(error);
          else logger.warn('Could not renew the sync lease; trying again at the next interval', { error: describe(error) });
        },
      );
    },
    Math.max(250, Math.floor(ttlMs / 3)),
  );
  // A run whose sink hangs must not hold the process open once stop() gave up waiting for it.
  renew.unref();
  const release = async (): Promise<void> => {
    clearInterval(renew);
    if (!held) return;
    held = false;
    input.onReleased();
    await withTimeout(releaseLease(owner), LEASE_RELEASE_TIMEOUT_MS).catch((e: unknown) =>
      logger.warn('Could not release the sync lease; it expires by itself', { error: describe(e), ttlMs }),
    );
  };
  return { fence: lease.fence, release, lose };
}

/** Whether the state store implements the lease (all three methods). */
export function supportsRunLease(state: StateStore): boolean {
  return typeof state.acquireLease === 'function' && typeof state.renewLease === 'function' && typeof state.releaseLease === 'function';
}

/** Whether the lease is held under `owner` (never throws, bounded wait). */
export async function holdsLeftoverLease(state: StateStore, owner: string): Promise<boolean> {
  return (await inspect(state))?.owner === owner;
}

/** Who holds the lease and when it expires, for a refusal message (never throws, bounded wait). */
export async function leaseHolderText(state: StateStore): Promise<string> {
  return describeLeaseHolder(await inspect(state), Date.now());
}

async function inspect(state: StateStore): Promise<{ owner: string; ttlMs: number | undefined } | undefined> {
  const read = state.inspectLease?.bind(state);
  return read ? await withTimeout(read(), LEASE_INSPECT_TIMEOUT_MS).catch(() => undefined) : undefined;
}

function leaseMethods(state: StateStore): Required<Pick<StateStore, 'acquireLease' | 'renewLease' | 'releaseLease'>> {
  if (!supportsRunLease(state)) throw new TypeError('The state store has no lease methods');
  return {
    acquireLease: state.acquireLease!.bind(state),
    renewLease: state.renewLease!.bind(state),
    releaseLease: state.releaseLease!.bind(state),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
