/** Types that describe one run of the worker: what was asked, how it is going, how it ended. */
import type { ApiCallCounts } from '../adapters/source.js';
import type { DiscrepancyReport } from './discrepancy.js';

/** The kinds of run. `force` re-syncs one event; `discrepancy-check` compares (and optionally heals). */
export type RunKind = 'full' | 'incremental' | 'force' | 'discrepancy-check';

/** What to run, as passed to `SyncWorker.trigger()`. */
export type RunRequest = (
  | { readonly kind: 'full'; readonly allowMassRemoval?: boolean | undefined }
  | { readonly kind: 'incremental'; readonly allowMassRemoval?: boolean | undefined }
  | { readonly kind: 'force'; readonly eventId: string; readonly allowMassRemoval?: boolean | undefined }
  | { readonly kind: 'discrepancy-check'; readonly heal?: boolean | undefined; readonly allowMassRemoval?: boolean | undefined }
) & {
  /** Run even when its plan needs more Zoho calls than `dailyCallLimit` leaves today. @defaultValue false */
  readonly ignoreQuotaBudget?: boolean | undefined;
};

/** Live counters of a run in flight. Units: pages and records. */
export interface RunProgress {
  /** Pages committed so far (all listings of the run). */
  pages: number;
  /** Records received from the source so far. */
  recordsFetched: number;
  /** Records added so far. */
  added: number;
  /** Records updated so far. */
  updated: number;
  /** Records unchanged so far (fetched, identical to what Redis held). */
  unchanged: number;
  /** Records removed so far. */
  removed: number;
  /** Records sent to the dead-letter stream so far. */
  deadLettered: number;
  /**
   * Records not written because Redis held a newer version or a delete's tombstone (an older
   * version listed before a push or a delete was applied). Reported as `stale_writes_refused`.
   */
  staleWritesRefused: number;
}

/** A run in flight, as shown by `getStatus().current_run` and returned by `trigger()`. */
export interface RunInfo {
  /** Unique run ID (UUID). */
  readonly id: string;
  readonly kind: RunKind;
  /** For a `force` run, the event. */
  readonly eventId: string | undefined;
  /** Start time, ISO 8601. */
  readonly startedAt: string;
  /** Live counters. */
  readonly progress: Readonly<RunProgress>;
}

/** A started run: its info and a promise of its result (which rejects with a `SyncError`). */
export interface RunHandle extends RunInfo {
  /**
   * Settles once the run passed its admission checks: lease taken, events listed, the forced
   * event known. Rejects with the run's error when it failed before that (so an HTTP layer can
   * answer 404/502/409 instead of 202). Observed internally: ignoring it is safe.
   */
  readonly accepted: Promise<void>;
  /** Settles when the run ends. Rejects with the run's `SyncError`. */
  readonly result: Promise<RunResult>;
}

/** How a run ended successfully. Units: records, pages, ms, calls. */
export interface RunResult extends RunProgress {
  readonly runId: string;
  readonly kind: RunKind;
  readonly eventId: string | undefined;
  /** ISO 8601. */
  readonly startedAt: string;
  /** ISO 8601. */
  readonly finishedAt: string;
  /** Wall time. Unit: ms. */
  readonly durationMs: number;
  /** Events whose records were written or checked in full. */
  readonly eventsSynced: number;
  /**
   * The run continued from a checkpoint left by an interrupted run. Its listing then ends with an
   * ID-only pass over the whole listing, which removes what Zoho no longer holds (see full-sync.ts).
   */
  readonly resumed: boolean;
  /** An incremental run found no watermark and ran a full sync instead. */
  readonly fellBackToFull: boolean;
  /** Whether a staleness check ran (incremental runs only). */
  readonly staleCheck: boolean;
  /** Zoho calls this run made, by kind. */
  readonly apiCalls: ApiCallCounts;
  /** The watermark after the run (ISO 8601), if any. */
  readonly watermark: string | undefined;
  /** The discrepancy report, for `discrepancy-check` runs and incremental runs whose staleness check compared IDs. */
  readonly discrepancies: DiscrepancyReport | undefined;
}
