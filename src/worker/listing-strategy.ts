/**
 * Which listing a run uses for a full-record or ID-only listing: page by page, or in bulk (Zoho
 * Bulk Read). `auto` compares the expected record count — the counts Redis holds from the last
 * complete listing, or the `expectedRecordCount` option — with `bulkReadThreshold`.
 */
import type { SinkAdapter } from '../adapters/sink.js';
import type { ResolvedSyncWorkerOptions } from './options.js';

/** A listing strategy as the source takes it. */
export type Listing = 'paged' | 'bulk';

/**
 * Records Redis expects the listing to return: the sum of the events' `sourceCount` (what their
 * last complete listing returned), or their `recordCount` (records held) where no listing completed.
 * One Redis round trip (the sink reads all metadata at once). Unit: records.
 */
export async function expectedRecords(sink: SinkAdapter, eventIds: readonly string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const metas = await sink.getEventMetas(eventIds);
  let total = 0;
  for (const meta of metas) total += meta?.sourceCount ?? meta?.recordCount ?? 0;
  return total;
}

/**
 * The listing for `eventIds` (`undefined` = the whole report: every event Redis knows).
 * @returns `bulk` when forced, or when `auto` and the expected count exceeds the threshold.
 */
export async function chooseListing(
  sink: SinkAdapter,
  options: ResolvedSyncWorkerOptions,
  eventIds: readonly string[] | undefined,
): Promise<Listing> {
  if (options.listingStrategy !== 'auto') return options.listingStrategy;
  const expected = options.expectedRecordCount ?? (await expectedRecords(sink, eventIds ?? (await sink.listEventIds())));
  return expected > options.bulkReadThreshold ? 'bulk' : 'paged';
}
