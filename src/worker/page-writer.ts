/**
 * Commits one page of records to the sink: size check, dead letters, bounded concurrent batches of
 * `batchSize`, truthful counts and per-event events. A page is committed only when every batch is;
 * nothing is left in flight when this rejects.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RejectedRecord, SourcePage, SourceRecord } from '../adapters/source.js';
import type { UpsertResult } from '../adapters/sink.js';
import { offerRecordJson } from '../record-json.js';
import { upsertInOrder } from './record-ops.js';
import { isAbortReason, type RunContext } from './run-context.js';

/**
 * Writes a page; marks its records seen in `seenScope` when given.
 * @throws the first `SinkError` of any batch, after all batches settled.
 */
export async function commitPage(
  ctx: RunContext,
  page: SourcePage<SourceRecord>,
  seenScope?: string,
): Promise<void> {
  ctx.throwIfAborted();
  ctx.currentPage = page.pageNumber;
  // Distributed mode: this page's events are written only under their leases (held to the run's end).
  if (ctx.eventGuard !== undefined && page.items.length > 0) await ctx.eventGuard.hold(new Set(page.items.map((r) => r.eventId)));
  // Reading a page (decode, parse, normalise) and writing it are each several milliseconds of
  // synchronous work: give the host's event loop a turn in between (and before each batch below).
  await nextTurn();
  const batches = batchByEvent(page.items, ctx.options.batchSize);
  const oversized: TooLarge[] = [];
  let accepted = 0;
  const settled = await Promise.allSettled(
    batches.map((batch) =>
      ctx.limit(async () => {
        await nextTurn();
        if (ctx.writeFailure !== undefined) throw ctx.writeFailure;
        ctx.throwIfAborted();
        // Sized (stringified) batch by batch: at most `concurrency` batches of JSON text are alive at once.
        const fit = dropOversized(batch, ctx.options.maxRecordBytes, oversized);
        accepted += fit.length;
        if (fit.length === 0) return NOTHING_WRITTEN;
        try {
          return await writeBatch(ctx, fit, seenScope);
        } catch (error) {
          ctx.writeFailure ??= error;
          throw error;
        }
      }),
    ),
  );
  const rejected = [...inListingOrder(page.items, oversized), ...page.rejected];
  // Count what did commit before surfacing a failure, so stats never under- or over-report.
  let failure: unknown;
  for (const outcome of settled) {
    if (outcome.status === 'fulfilled') recordUpsert(ctx, outcome.value);
    else failure ??= outcome.reason;
  }
  if (failure !== undefined) {
    // A run being stopped fails its queued batches with the stop's reason: reported by the run, not
    // a Redis failure.
    if (!isAbortReason(ctx.signal, failure)) ctx.redisLogger.error('Redis batch failed', { runId: ctx.runId, page: page.pageNumber, error: failure });
    throw failure;
  }
  ctx.redisLogger.debug('Redis batches committed', { runId: ctx.runId, page: page.pageNumber, batches: batches.length, records: accepted });

  if (rejected.length > 0) await deadLetter(ctx, rejected);
  ctx.progress.pages += 1;
  ctx.progress.recordsFetched += page.items.length + page.rejected.length;
  // From here on, a failure belongs to the page being fetched next.
  if (page.nextCursor !== undefined) ctx.currentPage = page.pageNumber + 1;
}

/** Writes one batch with its bookkeeping (event registration, seen IDs). */
async function writeBatch(ctx: RunContext, fit: readonly SourceRecord[], seenScope: string | undefined): Promise<UpsertResult> {
  // An event is known (listed, later swept) no later than it holds records, and a record is
  // seen in the scope before a complete listing may sweep unseen ones: in the same atomic
  // write when the sink notes writes in its own state store, else just before it.
  if (seenScope !== undefined && notesWrites(ctx)) {
    const result = await ctx.sink.upsertRecords(fit, { noteWrites: { seenScope } });
    const newlySeen = new Map(result.events.map((e) => [e.eventId, e.newlySeen]));
    if (fit.every((r) => newlySeen.get(r.eventId) !== undefined)) {
      ctx.countSeen(seenScope, newlySeen as Map<string, number>);
      return result;
    }
    // A sink (or a wrapper of one) that declares notesWrites but did not report every event of the
    // batch as noted: note them now, still before any sweep, so no record written here can be swept
    // as unseen.
    const late = await ctx.state.noteWrites(fit, seenScope);
    if (late) ctx.countSeen(seenScope, late.newlySeen);
    return result;
  }
  const noted = await ctx.state.noteWrites(fit, seenScope);
  if (noted && seenScope !== undefined) ctx.countSeen(seenScope, noted.newlySeen);
  return upsertInOrder(ctx.sink, fit);
}

/**
 * Whether the sink records the run's bookkeeping of a write (event registration, seen IDs) in the
 * write itself: it declares `notesWrites` (and `ordering`, so nothing is dropped before the write)
 * and the run's state store is the sink's own. Used only with a seen scope, where the result shows
 * whether it was done (`newlySeen`); writes without a scope (incremental pages) register their
 * events with `state.noteWrites` first.
 */
function notesWrites(ctx: RunContext): boolean {
  const { capabilities } = ctx.sink;
  return capabilities.notesWrites === true && capabilities.ordering === true && ctx.sink.state === ctx.state;
}

/** Adds an upsert's counts to the run and emits `recordsAdded` / `recordsUpdated` / `staleWritesRefused` per event. */
export function recordUpsert(ctx: RunContext, result: UpsertResult): void {
  ctx.progress.added += result.added;
  ctx.progress.updated += result.updated;
  ctx.progress.unchanged += result.unchanged;
  ctx.progress.staleWritesRefused += result.refused ?? 0;
  for (const event of result.events) {
    if (event.refused !== undefined && event.refused.length > 0) {
      ctx.refusedByEvent.set(event.eventId, (ctx.refusedByEvent.get(event.eventId) ?? 0) + event.refused.length);
      ctx.logger.info('Older versions refused: Redis holds newer ones (or a delete)', { runId: ctx.runId, eventId: event.eventId, ids: event.refused });
      ctx.emit('staleWritesRefused', { runId: ctx.runId, eventId: event.eventId, ids: event.refused });
    }
    if (event.added.length > 0) ctx.emit('recordsAdded', { runId: ctx.runId, eventId: event.eventId, ids: event.added });
    if (event.updated.length > 0) {
      ctx.emit('recordsUpdated', { runId: ctx.runId, eventId: event.eventId, ids: event.updated });
    }
  }
}

/**
 * Sends rejected records to the dead-letter streams (each entry keeps at most `maxRecordBytes` of
 * the record) and reports each, also one the store did not append again because it still holds it.
 */
export async function deadLetter(ctx: RunContext, rejected: readonly RejectedRecord[]): Promise<void> {
  await ctx.state.deadLetter(rejected, { maxRawBytes: ctx.options.maxRecordBytes });
  ctx.progress.deadLettered += rejected.length;
  for (const r of rejected) {
    ctx.logger.warn('Record sent to the dead-letter stream', { runId: ctx.runId, eventId: r.eventId, reason: r.reason, detail: r.detail });
    ctx.emit('recordDeadLettered', { runId: ctx.runId, eventId: r.eventId, reason: r.reason, detail: r.detail });
  }
}

const NOTHING_WRITTEN: UpsertResult = Object.freeze({ added: 0, updated: 0, unchanged: 0, events: [] });

/** A record over `maxRecordBytes` and its rejection. */
interface TooLarge {
  readonly record: SourceRecord;
  readonly rejection: RejectedRecord;
}

/**
 * Cuts a page into batches of at most `size` records, grouped by event (events in order of first
 * appearance, records in listing order within each event): where the sink needs one call per event
 * (`RedisSink` on a Cluster), a batch of grouped records needs a few calls instead of one per event
 * of the page; a standalone `RedisSink` takes each batch in one call either way.
 */
function batchByEvent(records: readonly SourceRecord[], size: number): SourceRecord[][] {
  const byEvent = new Map<string, SourceRecord[]>();
  for (const record of records) {
    const group = byEvent.get(record.eventId);
    if (group === undefined) byEvent.set(record.eventId, [record]);
    else group.push(record);
  }
  const grouped = byEvent.size === 1 ? [...byEvent.values()][0]! : [...byEvent.values()].flat();
  const batches: SourceRecord[][] = [];
  for (let i = 0; i < grouped.length; i += size) batches.push(grouped.slice(i, i + size));
  return batches;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The records of a batch whose JSON fits in `maxBytes`; the others (and those JSON cannot encode)
 * are added to `oversized`. The
 * JSON computed for the check is handed to the sink (`offerRecordJson`), which stores that text.
 */
function dropOversized(batch: readonly SourceRecord[], maxBytes: number, oversized: TooLarge[]): SourceRecord[] {
  const fit: SourceRecord[] = [];
  for (const record of batch) {
    // JSON length in UTF-16 units is a lower bound of its UTF-8 size and at most a third of it,
    // so the exact byte count is only computed near the limit.
    let json: string;
    try {
      json = JSON.stringify(record.data);
    } catch (error) {
      // A cycle or a bigint (TypeError), or nesting too deep for the encoder (RangeError: the call
      // stack). Either way the record cannot be stored; the rest of the batch can.
      const tooDeep = error instanceof RangeError;
      oversized.push({
        record,
        rejection: {
          reason: tooDeep ? 'too-deep' : 'unencodable',
          detail: `record ${record.id}: ${tooDeep ? 'nested too deep to encode as JSON' : `cannot be encoded as JSON (${describe(error)})`}`,
          eventId: record.eventId,
          raw: record.data,
        },
      });
      continue;
    }
    const bytes = json.length * 3 <= maxBytes ? json.length : Buffer.byteLength(json, 'utf8');
    if (bytes > maxBytes) {
      oversized.push({
        record,
        rejection: { reason: 'too-large', detail: `${bytes} bytes > ${maxBytes}`, eventId: record.eventId, raw: record.data },
      });
    } else {
      offerRecordJson(record, json);
      fit.push(record);
    }
  }
  return fit;
}

/** The rejections of oversized records, in the order the listing returned the records. */
function inListingOrder(items: readonly SourceRecord[], oversized: readonly TooLarge[]): RejectedRecord[] {
  if (oversized.length <= 1) return oversized.map((o) => o.rejection);
  const position = new Map(items.map((record, index) => [record, index]));
  return [...oversized].sort((a, b) => position.get(a.record)! - position.get(b.record)!).map((o) => o.rejection);
}
