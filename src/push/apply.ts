/**
 * Applying a coalesced batch of pushes to the sink.
 *
 * Default (verified) mode: the pushed body is a hint only. Every record ID of the batch is read
 * from the source in one by-ID listing (`SourceAdapter.getRecordsById`, Zoho: criteria
 * `(ID == a || ID == b …)`, ≤ 200 IDs), then each found record is upserted (and removed from
 * another event that held it, as `syncRecord` does) and each ID the source no longer has is
 * removed. So a `deleted` push removes the record, and a forged `deleted` push for a record Zoho
 * still has changes nothing.
 *
 * Trusted mode: `created`/`edited` pushes that carry a `record` are normalised by the source
 * (`normaliseRecord`) and stored without a read; `deleted` pushes are removed without a read.
 * Pushes without a record still take the verified path.
 *
 * Order: upserts go through `upsertInOrder`, so a version older than the one Redis holds (or than
 * a delete's tombstone) is refused (`refused`), and removals pass `deletedAt` (when the delete was
 * known: the by-ID read that found the record gone, or the push's acceptance in trusted mode), so
 * the tombstone also refuses a version a sync listed before the delete.
 */
import type { RecordSink } from '../adapters/sink.js';
import type { ApiCallCounts, CallBudget, RejectedRecord, SourceAdapter, SourceRecord } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import { locateRecord, upsertInOrder } from '../worker/record-ops.js';
import { parseZohoJson } from '../zoho/json.js';
import type { PushEntry } from './inbox.js';

/**
 * What applying did to one record. `refused`: not written, Redis held a newer version or a delete's
 * tombstone (counted as `stale_writes_refused`).
 */
export type PushOutcome = 'added' | 'updated' | 'unchanged' | 'removed' | 'absent' | 'rejected' | 'refused';

/** Outcome per record ID, and the number of source calls spent (unit: calls). */
export interface BatchResult {
  readonly outcomes: ReadonlyMap<string, PushOutcome>;
  /** The event of each record after applying (or the one it was removed from). */
  readonly eventIds: ReadonlyMap<string, string | undefined>;
  /** Records refused as older than what Redis held (see {@link PushOutcome}). Unit: records. */
  readonly staleWritesRefused: number;
}

/** Options of {@link applyPushBatch}. */
export interface ApplyOptions {
  readonly trusted: boolean;
  readonly signal?: AbortSignal | undefined;
  readonly retries?: number | undefined;
  /** Counts the Zoho requests the batch sends (for the daily tally), failed ones too. */
  readonly calls?: PushCalls | undefined;
}

/**
 * The Zoho requests of push batches, counted as the source spends them (each request sent, retries
 * included, calls `spend()` of the call's budget): by-ID reads as `records`, the settings call a
 * trusted push's normalisation may need as `meta`. Token grants are not counted (the token
 * manager sends them outside any call's budget). Units: calls.
 */
export class PushCalls {
  #records = 0;
  #meta = 0;
  /** Spent by the by-ID reads. */
  readonly records: CallBudget = {
    spend: () => {
      this.#records += 1;
    },
  };
  /** Spent by `normaliseRecord` (trusted pushes). */
  readonly meta: CallBudget = {
    spend: () => {
      this.#meta += 1;
    },
  };

  /** The counts so far. Never throws. */
  counts(): ApiCallCounts {
    return { token: 0, records: this.#records, ids: 0, meta: this.#meta, total: this.#records + this.#meta };
  }
}

/**
 * Applies `entries` (≤ 200 distinct record IDs). Resolves only after every write is committed;
 * rejects (a `SyncError` from the source or the sink) otherwise, leaving the batch to be retried
 * whole (every step is idempotent).
 */
export async function applyPushBatch(
  source: SourceAdapter,
  sink: RecordSink,
  state: StateStore,
  entries: readonly PushEntry[],
  options: ApplyOptions,
): Promise<BatchResult> {
  const outcomes = new Map<string, PushOutcome>();
  const eventIds = new Map<string, string | undefined>();
  const trustedRecords: SourceRecord[] = [];
  const trustedRemovals: PushEntry[] = [];
  const rejected: RejectedRecord[] = [];
  const toRead = new Set<string>();
  // The last push of a record decides what trusted mode does with it.
  const last = new Map<string, PushEntry>();
  for (const entry of entries) last.set(entry.recordId, entry);
  for (const entry of last.values()) {
    if (options.trusted && entry.action === 'deleted') {
      trustedRemovals.push(entry);
    } else if (options.trusted && entry.recordJson !== undefined && source.normaliseRecord) {
      const normalised = await source.normaliseRecord(parseZohoJson(entry.recordJson), {
        signal: options.signal,
        retries: options.retries,
        callBudget: options.calls?.meta,
      });
      if ('reason' in normalised) {
        rejected.push(normalised);
        outcomes.set(entry.recordId, 'rejected');
      } else if (normalised.id !== entry.recordId) {
        // The push names one record and carries another: storing it would overwrite a record the push never named.
        rejected.push({
          reason: 'invalid-id',
          detail: `the pushed record's ID ${normalised.id} is not the pushed record_id ${entry.recordId}`,
          eventId: normalised.eventId,
          raw: normalised.data,
        });
        outcomes.set(entry.recordId, 'rejected');
      } else trustedRecords.push(normalised);
    } else {
      toRead.add(entry.recordId);
    }
  }

  // Known events are needed only after the read: ask Redis while Zoho answers (one round trip saved).
  const knownEvents = state.listEventIds();
  knownEvents.catch(() => undefined);
  const found: SourceRecord[] = [...trustedRecords];
  const absent: string[] = trustedRemovals.map((e) => e.recordId);
  // When each absent record was known to be deleted (epoch ms), for its tombstone.
  const deletedAt = new Map<string, number>(trustedRemovals.map((e) => [e.recordId, e.receivedAt]));
  if (toRead.size > 0) {
    const ids = [...toRead];
    // Zoho answers after this instant: a record it no longer has was deleted before the answer.
    const readAt = Date.now();
    let items: readonly SourceRecord[];
    if (source.getRecordsById) {
      const page = await source.getRecordsById(ids, { signal: options.signal, retries: options.retries, callBudget: options.calls?.records });
      items = page.items;
      for (const r of page.rejected) {
        rejected.push(r);
        const id = idOf(r.raw);
        if (id !== undefined) {
          outcomes.set(id, 'rejected');
          toRead.delete(id);
        }
      }
    } else {
      const read = await Promise.all(
        ids.map((id) => source.getRecord(id, { signal: options.signal, retries: options.retries, callBudget: options.calls?.records })),
      );
      items = read.filter((r): r is SourceRecord => r !== undefined);
    }
    const seen = new Set<string>();
    for (const record of items) {
      if (!toRead.has(record.id)) continue;
      seen.add(record.id);
      found.push(record);
    }
    for (const id of toRead) {
      if (seen.has(id)) continue;
      absent.push(id);
      deletedAt.set(id, Math.max(readAt, last.get(id)?.receivedAt ?? 0));
    }
  }

  if (rejected.length > 0) await state.deadLetter(rejected);
  const known = await knownEvents;
  // A record that moved to another event leaves the one that held it (as syncRecord does); its
  // events are registered as known at the same time (both before the upsert).
  await Promise.all([
    found.length > 0 ? state.noteWrites(found) : undefined,
    ...found.map(async (record) => {
      const previous = await locateRecord(
        sink,
        record.id,
        known.filter((id) => id !== record.eventId),
      );
      // The moved version guards the old event: nothing listed there before the move can come back.
      if (previous !== undefined) await sink.removeRecords(previous, [record.id], { deletedAt: record.modifiedAt });
    }),
  ]);
  let staleWritesRefused = 0;
  if (found.length > 0) {
    const result = await upsertInOrder(sink, found);
    staleWritesRefused = result.refused ?? 0;
    const added = new Set(result.events.flatMap((e) => e.added));
    const updated = new Set(result.events.flatMap((e) => e.updated));
    const refused = new Set(result.events.flatMap((e) => e.refused ?? []));
    for (const record of found) {
      outcomes.set(record.id, added.has(record.id) ? 'added' : updated.has(record.id) ? 'updated' : refused.has(record.id) ? 'refused' : 'unchanged');
      eventIds.set(record.id, record.eventId);
    }
  }
  await Promise.all(
    absent.map(async (id) => {
      const hint = last.get(id)?.eventId;
      // The pushed event ID is a hint worth checking even when the event is not (yet) known.
      const candidates = hint !== undefined ? [hint, ...known.filter((e) => e !== hint)] : known;
      const holder = await locateRecord(sink, id, candidates);
      const at = deletedAt.get(id);
      if (holder === undefined) {
        // Not held, but a sync may have listed it before the delete: leave a tombstone where the
        // push said it was, so that listing cannot add it.
        if (hint !== undefined && at !== undefined) await sink.removeRecords(hint, [id], { deletedAt: at });
        outcomes.set(id, 'absent');
        eventIds.set(id, hint);
        return;
      }
      await sink.removeRecords(holder, [id], at === undefined ? undefined : { deletedAt: at });
      outcomes.set(id, 'removed');
      eventIds.set(id, holder);
    }),
  );
  return { outcomes, eventIds, staleWritesRefused };
}

function idOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as Record<string, unknown>).ID;
  return typeof id === 'string' ? id : typeof id === 'number' ? String(id) : undefined;
}
