/**
 * Partitions of a fanned-out full sync, planned from the record counts Redis already holds: small
 * events are grouped into one criteria listing (`Event == a || Event == b …`), large ones get a
 * listing of their own, so the fan-out costs about the Zoho calls of one whole-report listing.
 *
 * Cost model (Zoho Get Records v2.1, https://www.zoho.com/creator/help/api/v2.1/get-records.html):
 * a listing of `n` records costs `max(1, ceil(n / pageSize))` calls, `pageSize` at most 1000. One
 * whole-report listing of `N` records costs `ceil(N / pageSize)`. Packing events into partitions of
 * at most `m × pageSize` records (first-fit decreasing, `m` = the pages of the largest event in the
 * partition) keeps the sum of partition costs close to that minimum: each partition wastes less than
 * one page. A criteria listing names at most `maxEventsPerListing` events (the Zoho source accepts a
 * cursor only with ≤ 50 event IDs per criteria).
 */

/** One event as the planner sees it. */
export interface PlannedEvent {
  /** The event ID (1–19 digits). */
  readonly id: string;
  /**
   * Records expected (Redis's last `sourceCount`, else its index size), or `undefined` when Redis
   * knows nothing of the event yet. Unit: records.
   */
  readonly expectedRecords: number | undefined;
}

/** One partition: the events one job lists with one criteria listing. */
export interface Partition {
  /** 0-based index in the plan. */
  readonly index: number;
  /** The events listed together. */
  readonly eventIds: readonly string[];
  /** Records expected in total (unknown counts counted as 0). Unit: records. */
  readonly expectedRecords: number;
  /** Zoho calls the planner expects this listing to cost. Unit: calls. */
  readonly expectedCalls: number;
}

/** Options of {@link planPartitions}. */
export interface PartitionPlanOptions {
  /** Records per Zoho page. Default 1000 (Zoho's maximum). Unit: records. */
  readonly pageSize?: number | undefined;
  /** Most events named in one criteria listing. Default 50. Unit: events. */
  readonly maxEventsPerListing?: number | undefined;
  /**
   * Partitions to spread events with unknown counts over (a first full sync: Redis holds no
   * counts yet). Each costs at least one call, so this bounds the extra calls. Default 8.
   */
  readonly unknownPartitions?: number | undefined;
}

/** A plan and its expected cost. */
export interface PartitionPlan {
  readonly partitions: readonly Partition[];
  /** Sum of the partitions' expected calls. Unit: calls. */
  readonly expectedCalls: number;
  /** Expected calls of one whole-report listing of the same records. Unit: calls. */
  readonly singleListingCalls: number;
}

/**
 * Plans the partitions of a full sync.
 *
 * @param events - every event Zoho lists, with what Redis knows of its size.
 * @returns the partitions (every event in exactly one), largest first, and their expected cost.
 * @throws RangeError for a non-positive `pageSize`, `maxEventsPerListing` or `unknownPartitions`.
 */
export function planPartitions(events: readonly PlannedEvent[], options: PartitionPlanOptions = {}): PartitionPlan {
  const pageSize = options.pageSize ?? 1000;
  const maxEvents = options.maxEventsPerListing ?? 50;
  const unknownParts = options.unknownPartitions ?? 8;
  for (const [name, v] of [
    ['pageSize', pageSize],
    ['maxEventsPerListing', maxEvents],
    ['unknownPartitions', unknownParts],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  }
  const pages = (n: number): number => Math.max(1, Math.ceil(n / pageSize));
  const known = events.filter((e) => e.expectedRecords !== undefined && e.expectedRecords > 0);
  const unknown = events.filter((e) => e.expectedRecords === undefined || e.expectedRecords <= 0);

  interface Bin {
    ids: string[];
    records: number;
    capacity: number;
  }
  const bins: Bin[] = [];
  // First-fit decreasing: the largest event opens a bin sized to its pages; smaller ones fill the rest.
  for (const e of [...known].sort((a, b) => b.expectedRecords! - a.expectedRecords! || a.id.localeCompare(b.id))) {
    const n = e.expectedRecords!;
    const bin = bins.find((b) => b.ids.length < maxEvents && b.records + n <= b.capacity);
    if (bin) {
      bin.ids.push(e.id);
      bin.records += n;
    } else {
      bins.push({ ids: [e.id], records: n, capacity: pages(n) * pageSize });
    }
  }
  // Unknown sizes: round-robin over a bounded number of listings (each costs ≥ 1 call).
  if (unknown.length > 0) {
    const groups: string[][] = [];
    const needed = Math.max(Math.min(unknownParts, unknown.length), Math.ceil(unknown.length / maxEvents));
    for (let i = 0; i < needed; i += 1) groups.push([]);
    for (const [i, e] of unknown.entries()) groups[i % needed]!.push(e.id);
    for (const ids of groups) if (ids.length > 0) bins.push({ ids, records: 0, capacity: pageSize });
  }
  const partitions: Partition[] = bins.map((b, index) => ({
    index,
    eventIds: b.ids,
    expectedRecords: b.records,
    expectedCalls: pages(b.records),
  }));
  const total = known.reduce((n, e) => n + e.expectedRecords!, 0);
  return {
    partitions,
    expectedCalls: partitions.reduce((n, p) => n + p.expectedCalls, 0),
    singleListingCalls: pages(total),
  };
}

/**
 * Plans partitions from the counts Redis holds: each event's `sourceCount` of its last complete
 * listing (`undefined` for an event never listed in full: spread over `unknownPartitions`).
 * One state-store read. Used by the fanned-out full sync and discrepancy check alike.
 *
 * @throws the state store's error; RangeError for invalid options (see {@link planPartitions}).
 */
export async function planFromRedisCounts(
  state: { getEventStates(eventIds: readonly string[]): Promise<readonly ({ readonly sourceCount?: number | undefined } | undefined)[]> },
  eventIds: readonly string[],
  options: PartitionPlanOptions = {},
): Promise<PartitionPlan> {
  const states = await state.getEventStates(eventIds);
  return planPartitions(
    eventIds.map((id, i) => ({ id, expectedRecords: states[i]?.sourceCount })),
    options,
  );
}
