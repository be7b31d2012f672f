/**
 * Real-time sync of one record (the original backend's "sync the moment it is created" path):
 * Get Record by ID, then upsert it, or remove it when Zoho no longer has it (code 3190).
 */
import type { RecordSink } from '../adapters/sink.js';
import type { SourceAdapter } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import type { Logger } from '../logger.js';
import type { RecordSyncedPayload } from './events.js';
import { locateRecord, upsertInOrder } from './record-ops.js';

/** What `syncRecord()` did. */
export type RecordSyncResult = RecordSyncedPayload;

/**
 * Fetches one record and makes Redis agree with it. A record that moved to another event is
 * removed from the event that held it.
 */
export async function syncOneRecord(
  source: SourceAdapter,
  sink: RecordSink,
  state: StateStore,
  logger: Logger,
  recordId: string,
  options: { signal?: AbortSignal | undefined; retries: number },
): Promise<RecordSyncResult> {
  const record = await source.getRecord(recordId, options);
  const known = await state.listEventIds();
  if (!record) {
    // Zoho answered "no such record" just now: whatever it held was modified before this instant.
    const deletedAt = Date.now();
    const holder = await locateRecord(sink, recordId, known);
    if (holder === undefined) {
      logger.info(`Record ${recordId} is in neither Zoho nor Redis`, { recordId });
      return { recordId, eventId: undefined, outcome: 'absent' };
    }
    await sink.removeRecords(holder, [recordId], { deletedAt });
    logger.info(`Removed record ${recordId} of event ${holder}: Zoho no longer has it`, { recordId, eventId: holder });
    return { recordId, eventId: holder, outcome: 'removed' };
  }
  const previous = await locateRecord(
    sink,
    recordId,
    known.filter((id) => id !== record.eventId),
  );
  // The moved version guards the old event: nothing listed there before the move can come back.
  if (previous !== undefined) await sink.removeRecords(previous, [recordId], { deletedAt: record.modifiedAt });
  await state.noteWrites([record]);
  const result = await upsertInOrder(sink, [record]);
  const outcome = result.added > 0 ? 'added' : result.updated > 0 ? 'updated' : (result.refused ?? 0) > 0 ? 'refused' : 'unchanged';
  logger.info(`Synced record ${recordId} of event ${record.eventId} (${outcome})`, { recordId, eventId: record.eventId, outcome });
  return { recordId, eventId: record.eventId, outcome };
}
