/**
 * Applying removals safely. Zoho Creator has no deleted-records API, so a removal is always the
 * conclusion of a complete ID listing; the guard below refuses to act on a listing that suddenly
 * lacks a large share of an event (the false-deletion trap of partial fetches).
 */
import { MassRemovalError } from '../errors.js';
import { scanUnseen } from './record-ops.js';
import type { RunContext } from './run-context.js';

/** A planned removal for one event. Units: records. */
export interface RemovalPlan {
  readonly eventId: string;
  /** Records the event holds now. */
  readonly held: number;
  /** Records the run would remove. */
  readonly count: number;
}

/**
 * Refuses plans that remove more than `maxRemovalShare` of an event's records, unless forced.
 * Emits `massRemovalBlocked` for every refused event before throwing.
 * @throws {@link MassRemovalError} for the first refused event.
 */
export function enforceRemovalGuard(ctx: Pick<RunContext, 'runId' | 'options' | 'emit'>, plans: readonly RemovalPlan[], allowMassRemoval: boolean): void {
  if (allowMassRemoval) return;
  const maxShare = ctx.options.maxRemovalShare;
  const blocked = plans.filter((p) => p.count > 0 && p.count / Math.max(p.held, 1) > maxShare);
  for (const p of blocked) {
    ctx.emit('massRemovalBlocked', { runId: ctx.runId, eventId: p.eventId, wouldRemove: p.count, held: p.held, maxShare });
  }
  const first = blocked[0];
  if (first) throw new MassRemovalError(first.eventId, first.count, first.held, maxShare);
}

/** Removes IDs of one event in chunks of `batchSize`, emitting `recordsRemoved`. Resolves the count removed. */
export async function removeRecords(ctx: RunContext, eventId: string, ids: readonly string[]): Promise<number> {
  let removed = 0;
  if (ctx.eventGuard !== undefined && ids.length > 0) await ctx.eventGuard.hold([eventId]);
  for (let i = 0; i < ids.length; i += ctx.options.batchSize) {
    ctx.throwIfAborted();
    const done = await ctx.sink.removeRecords(eventId, ids.slice(i, i + ctx.options.batchSize));
    removed += done.length;
    ctx.progress.removed += done.length;
    if (done.length > 0) ctx.emit('recordsRemoved', { runId: ctx.runId, eventId, ids: done });
  }
  return removed;
}

/** Counts an event's IDs not seen in `scope` without holding them all (chunked scan). */
export async function countUnseen(ctx: RunContext, eventId: string, scope: string): Promise<number> {
  let count = 0;
  for await (const chunk of scanUnseen(ctx.sink, ctx.state, eventId, scope)) count += chunk.length;
  return count;
}

/** Removes an event's IDs not seen in `scope`, chunk by chunk. Resolves the count removed. */
export async function removeUnseen(ctx: RunContext, eventId: string, scope: string): Promise<number> {
  // Collect first, then remove: deleting while HSCAN iterates is allowed but may revisit chunks.
  const ids: string[] = [];
  for await (const chunk of scanUnseen(ctx.sink, ctx.state, eventId, scope)) ids.push(...chunk);
  return removeRecords(ctx, eventId, ids);
}
