/**
 * The sync lease and fenced writes on Redis: `SET NX PX` + an `INCR` fencing counter taken in one
 * script, owner-checked renewal and release, and writes refused when their fence is older than the
 * counter (scripts in ./scripts.ts).
 */
import type { Lease } from '../adapters/state-store.js';
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
   * Writes hash fields, fenced when `fence` is given: atomically when `atomic` (the hash shares a
   * slot with the counter, or Redis is standalone), else the counter is read first, then the hash written.
   * @throws {@link LeaseError} when the fence is stale. @throws {@link SinkError} on failure.
   */
  async hset(key: string, pairs: string[], fence: number | undefined, atomic: boolean): Promise<void> {
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
    const current = parseNumber(await this.commands.run(`GET ${fenceKey}`, (r) => r.get(fenceKey))) ?? 0;
    if (fence < current) refuse(key, fence, current);
    if (pairs.length > 0) await this.commands.run(`HSET ${key}`, (r) => r.hset(key, ...pairs));
  }

  /**
   * Checks a fenced script's reply (`{1, …}` written, `{0, currentFence}` refused).
   * @throws {@link LeaseError} when refused. @throws {@link SinkError} for any other reply.
   */
  check(reply: unknown, key: string, fence: number | undefined): void {
    if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) {
      throw new SinkError(`Unexpected reply of a fenced write to ${key}: ${safeJson(reply)}`);
    }
    if (reply[0] === 0) refuse(key, fence, Number(reply[1]));
  }
}

function refuse(key: string, fence: number | undefined, current: number): never {
  throw new LeaseError(
    `Refused to write ${key}: fence ${String(fence)} is older than the current fence ${current} (another owner took the lease)`,
  );
}

function checkLeaseArgs(owner: string, ttlMs: number): void {
  if (typeof owner !== 'string' || owner.length === 0) throw new InvalidInputError('lease owner must be a non-empty string');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new InvalidInputError(`lease ttlMs must be a positive integer, got ${String(ttlMs)}`);
}
