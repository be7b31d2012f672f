/**
 * Per-event leases for distributed mode: a job that writes an event (a partition of a full sync, a
 * forced sync, its removal pass included) first takes the lease of each of its events, so two jobs
 * never write the same event at once while jobs of different events run in parallel.
 *
 * Key: `<p>:{e:<eventId>}:lease` (STRING, owner token with a PX time-to-live), next to the event's
 * fence `<p>:{e:<eventId>}:fence` (INCR on each acquisition): both in the event's own Redis Cluster
 * slot (the `{e:<eventId>}` hash tag), so one script takes both atomically.
 *
 * Guarantees relied on: `SET key value NX PX ms` sets only when absent and expires after `ms`
 * (https://redis.io/docs/latest/commands/set/); a Lua script runs atomically and, on a cluster, may
 * touch only keys of one slot declared in KEYS (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/).
 */
import type { Cluster, Redis } from 'ioredis';
import { LeaseError, type SyncError } from '../errors.js';
import type { KeySchema } from '../redis/key-schema.js';
import type { EventGuard } from '../worker/run-context.js';

const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** Another job holds the lease of one of a job's events: try again later (no attempt spent). */
export class EventLeaseBusyError extends LeaseError {
  /** The event whose lease is held. */
  readonly eventId: string;
  constructor(eventId: string) {
    super(`Event ${eventId} is being written by another job; this job waits for its lease`);
    this.eventId = eventId;
  }
}

interface LeaseCommands {
  zrsEventLeaseAcquire(lease: string, fence: string, owner: string, ttlMs: number): Promise<number>;
  zrsEventLeaseRenew(lease: string, owner: string, ttlMs: number): Promise<number>;
  zrsEventLeaseRelease(lease: string, owner: string): Promise<number>;
}

/** The lease key of an event: `<p>:{e:<eventId>}:lease`. */
export function eventLeaseKey(keys: KeySchema, eventId: string): string {
  return `${keys.eventStem(eventId)}:lease`;
}

/** The fence counter of an event: `<p>:{e:<eventId>}:fence`. */
export function eventFenceKey(keys: KeySchema, eventId: string): string {
  return `${keys.eventStem(eventId)}:fence`;
}

/** Leases held on a set of events. */
export interface HeldEventLeases {
  /** Fencing token per event (strictly increasing per event across acquisitions). */
  readonly fences: ReadonlyMap<string, number>;
  /** Extends every lease; resolves the events whose lease is no longer ours. */
  renew(): Promise<string[]>;
  /** Releases every lease still ours. Never rejects. */
  release(): Promise<void>;
}

/**
 * Takes the leases of several events (each in its own slot: one script call per event, in sorted
 * event order so two jobs with overlapping events cannot deadlock each other — the loser releases
 * what it took at once).
 *
 * @param ttlMs - lease time-to-live; renew at least every `ttlMs / 3`. Unit: ms.
 * @returns the held leases, or the first event whose lease another owner holds.
 * @throws the ioredis error when Redis fails (the leases taken so far are released first).
 */
export async function acquireEventLeases(
  redis: Redis | Cluster,
  keys: KeySchema,
  eventIds: readonly string[],
  owner: string,
  ttlMs: number,
): Promise<HeldEventLeases | { readonly heldBy: 'another-owner'; readonly eventId: string }> {
  const client = define(redis);
  const sorted = [...new Set(eventIds)].sort();
  const fences = new Map<string, number>();
  const release = async (): Promise<void> => {
    await Promise.all(
      [...fences.keys()].map((id) => client.zrsEventLeaseRelease(eventLeaseKey(keys, id), owner).catch(() => 0)),
    );
  };
  try {
    for (const id of sorted) {
      const fence = await client.zrsEventLeaseAcquire(eventLeaseKey(keys, id), eventFenceKey(keys, id), owner, ttlMs);
      if (fence === 0) {
        await release();
        return { heldBy: 'another-owner', eventId: id };
      }
      fences.set(id, fence);
    }
  } catch (error) {
    await release();
    throw error;
  }
  return {
    fences,
    async renew() {
      const lost: string[] = [];
      await Promise.all(
        sorted.map(async (id) => {
          if ((await client.zrsEventLeaseRenew(eventLeaseKey(keys, id), owner, ttlMs)) !== 1) lost.push(id);
        }),
      );
      return lost;
    },
    release,
  };
}

/** What {@link createEventGuard} needs. */
export interface EventGuardOptions {
  readonly redis: Redis | Cluster;
  readonly keys: KeySchema;
  /** Owner token of the leases (unique per run). */
  readonly owner: string;
  /** Lease time-to-live; renewed every third of it. Unit: ms. */
  readonly ttlMs: number;
  /** Stops the run (called once, with a {@link LeaseError}, when a held lease is found lost). */
  readonly abort: (reason: SyncError) => void;
}

/**
 * An {@link EventGuard} on the per-event leases, for a run that learns its events as it goes (the
 * distributed incremental: a page's events, a heal's, a removal's). Each `hold` takes the leases
 * not held yet (one script call per event) and keeps every lease renewed until `release`; a lease
 * another job holds refuses the whole `hold` with {@link EventLeaseBusyError} (the run stops, and
 * is skipped or retried later, as a partition job is). No waiting while holding: two runs that each
 * hold an event the other wants both fail fast, never deadlock.
 */
export function createEventGuard(options: EventGuardOptions): EventGuard {
  const { redis, keys, owner, ttlMs, abort } = options;
  const held: HeldEventLeases[] = [];
  const heldIds = new Set<string>();
  let chain: Promise<unknown> = Promise.resolve();
  let renewing = false;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const renewAll = (): void => {
    if (renewing || released) return;
    renewing = true;
    Promise.all(held.map((h) => h.renew())).then(
      (lost) => {
        renewing = false;
        const first = lost.flat()[0];
        if (first !== undefined && !released) abort(new LeaseError(`Lost the lease of event ${first} mid-run; stopped writing`));
      },
      () => {
        // Redis did not answer: try again at the next interval (the lease lives ttlMs).
        renewing = false;
      },
    );
  };
  const take = async (eventIds: Iterable<string>): Promise<void> => {
    if (released) throw new LeaseError('The run ended; its event leases were released');
    const wanted = [...new Set(eventIds)].filter((id) => !heldIds.has(id));
    if (wanted.length === 0) return;
    const got = await acquireEventLeases(redis, keys, wanted, owner, ttlMs);
    if ('heldBy' in got) throw new EventLeaseBusyError(got.eventId);
    held.push(got);
    for (const id of wanted) heldIds.add(id);
    timer ??= setInterval(renewAll, Math.max(250, Math.floor(ttlMs / 3)));
  };
  return {
    hold(eventIds) {
      // One acquisition at a time, so a lease is never taken twice under one owner.
      const next = chain.then(() => take(eventIds));
      chain = next.catch(() => undefined);
      return next;
    },
    refused: (error) => error instanceof EventLeaseBusyError,
    async release() {
      released = true;
      if (timer) clearInterval(timer);
      await chain;
      await Promise.all(held.splice(0).map((h) => h.release()));
      heldIds.clear();
    },
  };
}

function define(redis: Redis | Cluster): LeaseCommands {
  const r = redis as unknown as Partial<LeaseCommands> & Pick<Redis, 'defineCommand'>;
  if (typeof r.zrsEventLeaseAcquire !== 'function') {
    r.defineCommand('zrsEventLeaseAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    r.defineCommand('zrsEventLeaseRenew', { numberOfKeys: 1, lua: RENEW });
    r.defineCommand('zrsEventLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
  }
  return r as unknown as LeaseCommands;
}
