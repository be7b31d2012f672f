/**
 * Zoho quota accounting in the store, per Zoho day: every run adds the calls it made (by kind) to
 * the day's tally, so replicas and restarts share one count, and a run whose plan needs more calls
 * than are left today is refused before its first call.
 *
 * Zoho fact: the daily Developer API limit resets at 00:00 in the super admin's time zone
 * (https://www.zoho.com/creator/help/api/v2.1/api-limits.html; shared notes §7, §9 [doc]); the API
 * does not expose that zone, so it is the `quotaTimeZone` option (default UTC). The tally counts
 * this library's calls only: Deluge tasks and other clients of the same Zoho user spend the same
 * quota unseen.
 */
import { DateTime } from 'luxon';
import type { StateStore } from '../adapters/state-store.js';
import type { ApiCallCounts } from '../adapters/source.js';
import type { Logger } from '../logger.js';

/** One Zoho day's usage, as the store holds it. */
export interface QuotaUsage {
  /** The Zoho day, `yyyy-mm-dd` in `timeZone`. */
  readonly day: string;
  /** The zone the day is counted in. */
  readonly timeZone: string;
  /** Calls recorded today by every replica, by kind. Unit: calls. */
  readonly used: ApiCallCounts;
  /** `dailyCallLimit`, or `undefined` when none is set. Unit: calls. */
  readonly limit: number | undefined;
  /** `limit - used.total` (never below 0), or `undefined` without a limit. Unit: calls. */
  readonly left: number | undefined;
}

/** The day (`yyyy-mm-dd`) of an instant in a zone. */
export function zohoDay(now: number, timeZone: string): string {
  return DateTime.fromMillis(now, { zone: timeZone }).toISODate() ?? new Date(now).toISOString().slice(0, 10);
}

/** The worker's view of the daily tally (needs a state store with `addDailyCalls` / `getDailyCalls`, as `RedisStateStore` has). */
export class DailyQuota {
  private lastRead: QuotaUsage | undefined;

  constructor(
    private readonly sink: StateStore,
    private readonly limit: number | undefined,
    private readonly timeZone: string,
    private readonly logger: Logger,
  ) {}

  /** Whether the sink can keep a tally. */
  get supported(): boolean {
    return typeof this.sink.addDailyCalls === 'function' && typeof this.sink.getDailyCalls === 'function';
  }

  /** Adds calls to today's tally. Never throws: a failure is logged (the run's own outcome stands). */
  async record(counts: ApiCallCounts): Promise<void> {
    if (!this.supported || counts.total <= 0) return;
    const day = zohoDay(Date.now(), this.timeZone);
    try {
      await this.sink.addDailyCalls?.(day, counts);
      await this.read();
    } catch (error) {
      this.logger.warn('Could not record Zoho calls in the daily tally', { day, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /**
   * Reads today's tally from the store (any replica's calls included).
   * @returns `undefined` when the sink keeps no tally.
   * @throws SinkError when the store fails.
   */
  async read(): Promise<QuotaUsage | undefined> {
    if (!this.supported) return undefined;
    const day = zohoDay(Date.now(), this.timeZone);
    const used = (await this.sink.getDailyCalls?.(day)) ?? { token: 0, records: 0, ids: 0, meta: 0, total: 0 };
    const left = this.limit === undefined ? undefined : Math.max(0, this.limit - used.total);
    this.lastRead = { day, timeZone: this.timeZone, used, limit: this.limit, left };
    return this.lastRead;
  }

  /** The last tally read (for the synchronous status), if it is still today's. */
  last(): QuotaUsage | undefined {
    const read = this.lastRead;
    if (read === undefined || read.day !== zohoDay(Date.now(), this.timeZone)) return undefined;
    return read;
  }
}
