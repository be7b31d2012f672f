/**
 * Which listing a run uses for a full-record or ID-only listing: page by page, or in bulk (Zoho
 * Bulk Read). `auto` compares the expected record count — the counts Redis holds from the last
 * complete listing, or the `expectedRecordCount` option — with `bulkReadThreshold`.
 */
import type { RecordSink } from '../adapters/sink.js';
import type { StateStore } from '../adapters/state-store.js';
import type { ResolvedSyncWorkerOptions } from './options.js';

/** A listing strategy as the source takes it. */
export type Listing = 'paged' | 'bulk';

/**
 * Records Redis expects the listing to return: the sum of the events' `sourceCount` (what their
 * last complete listing returned), or the sink's record count where no listing completed. One
 * state-store read, plus one count per event without a `sourceCount`. Unit: records.
 */
export async function expectedRecords(state: StateStore, sink: RecordSink, eventIds: readonly string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const states = await state.getEventStates(eventIds);
  const counts = await Promise.all(
    eventIds.map((id, i) => {
      const known = states[i]?.sourceCount;
      return known !== undefined ? known : sink.countRecords(id);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * The listing for `eventIds` (`undefined` = the whole report: every event the state store knows).
 * @returns `bulk` when forced, or when `auto` and the expected count exceeds the threshold.
 */
export async function chooseListing(
  state: StateStore,
  sink: RecordSink,
  options: ResolvedSyncWorkerOptions,
  eventIds: readonly string[] | undefined,
): Promise<Listing> {
  if (options.listingStrategy !== 'auto') return options.listingStrategy;
  const expected = options.expectedRecordCount ?? (await expectedRecords(state, sink, eventIds ?? (await state.listEventIds())));
  return expected > options.bulkReadThreshold ? 'bulk' : 'paged';
}
