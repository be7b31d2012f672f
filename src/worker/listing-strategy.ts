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
  return (await expectedRecordCounts(state, sink, eventIds)).records;
}

/** Records a listing is expected to return, and how many of its events Redis holds no count of. */
export interface ExpectedRecordCounts {
  /** As {@link expectedRecords}. Unit: records. */
  readonly records: number;
  /**
   * Events without a `sourceCount` (never listed completely, e.g. new, or only written by pushes
   * and `syncRecord()`): their index size, counted instead, is only a floor. Unit: events.
   */
  readonly unknownEvents: number;
}

/**
 * {@link expectedRecords}, with the number of events whose count is unknown. Same Redis reads.
 * @throws the state store's or sink's error.
 */
export async function expectedRecordCounts(state: StateStore, sink: RecordSink, eventIds: readonly string[]): Promise<ExpectedRecordCounts> {
  if (eventIds.length === 0) return { records: 0, unknownEvents: 0 };
  const states = await state.getEventStates(eventIds);
  let unknownEvents = 0;
  const counts = await Promise.all(
    eventIds.map((id, i) => {
      const known = states[i]?.sourceCount;
      if (known !== undefined) return known;
      unknownEvents += 1;
      return sink.countRecords(id);
    }),
  );
  return { records: counts.reduce((a, b) => a + b, 0), unknownEvents };
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
