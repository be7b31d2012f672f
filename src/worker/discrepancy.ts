/** The shape of a discrepancy report: what Redis lacks, what Zoho no longer has, what is stale. */

/** Differences for one event. ID lists are complete (every drifted ID is named). */
export interface EventDiscrepancy {
  /** The event ID. */
  readonly eventId: string;
  /** Records Zoho listed for the event. Unit: records. */
  readonly zohoCount: number;
  /** Records Redis held for the event when the check ran. Unit: records. */
  readonly redisCount: number;
  /** IDs Zoho has and Redis lacks. */
  readonly missingInRedis: readonly string[];
  /** IDs Redis holds and Zoho no longer has. */
  readonly extraInRedis: readonly string[];
  /** IDs both hold with different modification times. */
  readonly stale: readonly string[];
}

/** Totals over all checked events. Unit: records (events for `eventsChecked` / `eventsWithDiscrepancies`). */
export interface DiscrepancyTotals {
  readonly zohoCount: number;
  readonly redisCount: number;
  readonly missingInRedis: number;
  readonly extraInRedis: number;
  readonly stale: number;
  readonly eventsChecked: number;
  readonly eventsWithDiscrepancies: number;
}

/** What healing did. Unit: records. */
export interface HealSummary {
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  /** Events re-read to heal missing and stale records. */
  readonly eventsResynced: number;
}

/** The result of a discrepancy check. */
export interface DiscrepancyReport {
  /** ISO 8601 time the check finished. */
  readonly checkedAt: string;
  /** Whether anything differs. */
  readonly hasDiscrepancies: boolean;
  /** One entry per checked event, including events without differences. */
  readonly events: readonly EventDiscrepancy[];
  readonly totals: DiscrepancyTotals;
  /** Present when the check healed what it found. */
  readonly healed: HealSummary | undefined;
}
