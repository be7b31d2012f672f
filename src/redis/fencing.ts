/**
 * The sync lease and fenced writes on Redis: `SET NX PX` + an `INCR` fencing counter taken in one
 * script, owner-checked renewal and release, and writes refused unless their fence is the counter's
 * current value (scripts in ./scripts.ts).
 */
import type { Lease, LeaseHolder } from '../adapters/state-store.js';
import { InvalidInputError, LeaseError, SinkError } from '../errors.js';
import type { RedisCommands } from './commands.js';
import type { KeySchema } from './key-schema.js';
import { parseNumber, safeJson } from './values.js';

/** Lease and fenced-write operations of one key schema over one command path. */
export class RedisFencing {
  constructor(
    private readonly commands: RedisCommands,
    private readonly keys: KeySchema,
  ) {}

  /**
   * Takes the sync lease if nobody holds it: one atomic script runs `SET lease owner NX PX ttlMs`
   * and, on success, `INCR fence`.
   * @returns the lease, or `undefined` when it is held (by anyone, the same owner included).
   * @throws {@link InvalidInputError} for an empty owner or a non-positive `ttlMs`.
   * @throws {@link SinkError} on failure.
   */
  async acquire(owner: string, ttlMs: number): Promise<Lease | undefined> {
    checkLeaseArgs(owner, ttlMs);
    const key = this.keys.lease();
    const reply = await this.commands.run(`acquire lease ${key}`, (r) => r.zrsAcquireLease(key, this.keys.fence(), owner, ttlMs));
    if (!Array.isArray(reply)) throw new SinkError(`Unexpected reply acquiring the lease ${key}: ${safeJson(reply)}`);
    if (reply[0] !== 1) return undefined;
    const fence = Number(reply[1]);
    if (!Number.isSafeInteger(fence)) throw new SinkError(`Unexpected fence acquiring the lease ${key}: ${safeJson(reply)}`);
    return { owner, fence };
  }

  /**
   * Extends the lease to `ttlMs` from now if `owner` holds it (atomic compare, then `PEXPIRE`).
   * @returns `true` when renewed, `false` when the lease is not (or no longer) this owner's.
   * @throws {@link SinkError} on failure.
   */
  async renew(owner: string, ttlMs: number): Promise<boolean> {
    checkLeaseArgs(owner, ttlMs);
    const key = this.keys.lease();
    const reply = await this.commands.run(`renew lease ${key}`, (r) => r.zrsRenewLease(key, owner, ttlMs));
    return reply === 1;
  }

  /**
   * Who holds the lease and for how long: `GET` and `PTTL` of the lease key, pipelined.
   * @returns the owner token and its remaining time-to-live (ms; `undefined` when the key has no
   *   expiry), or `undefined` when nobody holds it.
   * @throws {@link SinkError} on failure (e.g. `WRONGTYPE` when the key is not a string).
   */
  async inspect(): Promise<LeaseHolder | undefined> {
    const key = this.keys.lease();
    const [replies] = await this.commands.execGroups('inspectLease', [
      {
        label: `GET, PTTL ${key}`,
        add: (p) => {
          p.get(key);
          p.pttl(key);
        },
      },
    ]);
    const [owner, ttl] = replies ?? [];
    if (typeof owner !== 'string') return undefined;
    return { owner, ttlMs: typeof ttl === 'number' && ttl >= 0 ? ttl : undefined };
  }

  /**
   * Releases the lease if `owner` holds it (atomic compare, then `DEL`); does nothing otherwise.
   * @throws {@link SinkError} on failure.
   */
  async release(owner: string): Promise<void> {
    checkLeaseArgs(owner, 1);
    const key = this.keys.lease();
    await this.commands.run(`release lease ${key}`, (r) => r.zrsReleaseLease(key, owner));
  }

  /**
   * `SET key value`, refused when `fence` is stale (atomic script); plain `SET` without a fence.
   * @throws {@link LeaseError} when the fence is stale. @throws {@link SinkError} on failure.
   */
  async set(key: string, value: string, fence: number | undefined): Promise<void> {
    if (fence === undefined) {
      await this.commands.run(`SET ${key}`, (r) => r.set(key, value));
      return;
    }
    const reply = await this.commands.run(`fenced SET ${key}`, (r) => r.zrsFencedSet(this.keys.fence(), key, fence, value));
    this.check(reply, key, fence);
  }

  /**
   * `DEL key`, refused when `fence` is stale (atomic script); plain `DEL` without a fence.
   * @throws {@link LeaseError} when the fence is stale. @throws {@link SinkError} on failure.
   */
  async del(key: string, fence: number | undefined): Promise<void> {
    if (fence === undefined) {
      await this.commands.run(`DEL ${key}`, (r) => r.del(key));
      return;
    }
    const reply = await this.commands.run(`fenced DEL ${key}`, (r) => r.zrsFencedDel(this.keys.fence(), key, fence));
    this.check(reply, key, fence);
  }

  /**
   * Writes hash fields, fenced when `fence` is given: atomically against the counter when `atomic`
   * (the hash shares a slot with the counter, or Redis is standalone). Otherwise (a Cluster, the
   * hash in another slot) the counter is read first, and then one atomic script in the hash's slot
   * checks and raises `markKey`, the highest fence that wrote the hash: a writer whose fence is
   * older than one that already wrote is refused even if it passed the first read.
   * @throws {@link LeaseError} when the fence is stale. @throws {@link SinkError} on failure.
   */
  async hset(key: string, pairs: string[], fence: number | undefined, atomic: boolean, markKey?: string): Promise<void> {
    if (fence === undefined) {
      if (pairs.length === 0) return;
      await this.commands.run(`HSET ${key}`, (r) => r.hset(key, ...pairs));
      return;
    }
    if (atomic) {
      const reply = await this.commands.run(`fenced HSET ${key}`, (r) => r.zrsFencedHset(this.keys.fence(), key, fence, ...pairs));
      this.check(reply, key, fence);
      return;
    }
    const fenceKey = this.keys.fence();
    const current = parseNumber(await this.commands.run(`GET ${fenceKey}`, (r) => r.get(fenceKey))) ?? -1;
    if (fence !== current) refuse(key, fence, current, fenceKey);
    if (markKey === undefined) {
      if (pairs.length > 0) await this.commands.run(`HSET ${key}`, (r) => r.hset(key, ...pairs));
      return;
    }
    const reply = await this.commands.run(`fence-marked HSET ${key}`, (r) => r.zrsFenceMarkedHset(markKey, key, fence, ...pairs));
    if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) {
      throw new SinkError(`Unexpected reply of a fenced write to ${key}: ${safeJson(reply)}`);
    }
    if (reply[0] === 0) refuse(key, fence, Number(reply[1]), markKey);
  }

  /**
   * Checks a fenced script's reply (`{1, …}` written, `{0, currentFence}` refused).
   * @throws {@link LeaseError} when refused. @throws {@link SinkError} for any other reply.
   */
  check(reply: unknown, key: string, fence: number | undefined): void {
    if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) {
      throw new SinkError(`Unexpected reply of a fenced write to ${key}: ${safeJson(reply)}`);
    }
    if (reply[0] === 0) refuse(key, fence, Number(reply[1]), this.keys.fence());
  }
}

/**
 * A fenced write refused: the writer's fence is not the counter's value (`-1`: no counter). Only
 * the fence equal to the counter is the current holder's; an older one is a stale owner's, a newer
 * one or none means the counter went back or vanished (Redis lost its data or restarted).
 */
function refuse(key: string, fence: number | undefined, current: number, fenceKey: string): never {
  let why: string;
  if (current < 0) why = `the fencing counter ${fenceKey} is missing (Redis lost its data or restarted since the lease was taken)`;
  else if (fence !== undefined && fence > current) why = `it is newer than the fencing counter ${fenceKey} (${current}): the counter went back, Redis lost its data or restarted`;
  else why = `it is older than the current fence ${current} (another owner took the lease)`;
  throw new LeaseError(`Refused to write ${key}: fence ${String(fence)} is not this replica's any more: ${why}`);
}

function checkLeaseArgs(owner: string, ttlMs: number): void {
  if (typeof owner !== 'string' || owner.length === 0) throw new InvalidInputError('lease owner must be a non-empty string');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidInputError(`lease ttlMs must be a positive integer, got ${String(ttlMs)}`);
}
