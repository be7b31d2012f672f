/**
 * The worker's typed events (eventemitter3). Each key documents when it fires; each payload is a
 * plain, JSON-serialisable object except `error`, which carries the `SyncError`.
 */
import type { ApiCallCounts } from '../adapters/source.js';
import type { SyncError } from '../errors.js';
import type { DiscrepancyReport } from './discrepancy.js';
import type { RunKind, RunResult } from './run.js';

/** `syncStarted` payload. */
export interface SyncStartedPayload {
  readonly runId: string;
  readonly kind: RunKind;
  readonly eventId: string | undefined;
  /** ISO 8601. */
  readonly startedAt: string;
}

/** `syncFailed` payload. */
export interface SyncFailedPayload {
  readonly runId: string;
  readonly kind: RunKind;
  readonly eventId: string | undefined;
  readonly error: SyncError;
  /** Wall time until the failure. Unit: ms. */
  readonly durationMs: number;
  /** The page the run stopped at, when it failed during a listing. */
  readonly failedAtPage: number | undefined;
  /** Zoho calls the run made before failing. */
  readonly apiCalls: ApiCallCounts;
}

/** `eventSynced` payload: one event was synced or checked in full. Units: records. */
export interface EventSyncedPayload {
  readonly runId: string;
  readonly eventId: string;
  /** Records Zoho listed for the event. */
  readonly sourceCount: number;
  /** Records Redis holds for the event after the run. */
  readonly redisCount: number;
  readonly removed: number;
}

/** `recordsAdded` / `recordsUpdated` / `recordsRemoved` payload: one batch of one event. */
export interface RecordsChangedPayload {
  readonly runId: string;
  readonly eventId: string;
  /** The record IDs. */
  readonly ids: readonly string[];
}

/** `recordDeadLettered` payload. */
export interface RecordDeadLetteredPayload {
  readonly runId: string;
  readonly eventId: string | undefined;
  readonly reason: string;
  readonly detail: string;
}

/** `massRemovalBlocked` payload: the guard refused a removal (the run then fails with `MassRemovalError`). */
export interface MassRemovalBlockedPayload {
  readonly runId: string;
  readonly eventId: string;
  /** Unit: records. */
  readonly wouldRemove: number;
  /** Unit: records. */
  readonly held: number;
  /** 0–1. */
  readonly maxShare: number;
}

/** `tickSkipped` payload: a timer tick found a run in flight and did nothing. */
export interface TickSkippedPayload {
  readonly runningRunId: string;
  /** ISO 8601. */
  readonly at: string;
}

/** Why an automatic run was skipped. */
export type RunSkipReason = 'lease-held' | 'quota-exhausted' | 'quota-budget' | 'recently-synced';

/**
 * `runSkipped` payload: an automatic run (the start-up run or a timer tick) did not run.
 * - `recently-synced`: a timer tick found that another replica wrote the shared `lastSyncAt` less
 *   than half a `syncIntervalMs` ago; no run was started. Counted in `stats.recent_sync_skipped_runs`.
 * - `lease-held`: another replica holds the sync lease (it is syncing); the run was started in this
 *   process, found the lease taken and ended without a Zoho call. Counted in `stats.lease_skipped_runs`.
 * - `quota-exhausted`: Zoho answered code 4000 (daily limit) less than `quotaPauseMs` ago; no run
 *   was started. Counted in `stats.quota_skipped_runs`.
 */
export interface RunSkippedPayload {
  /** The run that was started and skipped (`lease-held`); `undefined` when none was started (`quota-exhausted`). */
  readonly runId: string | undefined;
  /** The kind the automatic run would have been. */
  readonly kind: RunKind;
  /** What started it: `start` (the start-up run) or `tick` (the timer). */
  readonly trigger: 'start' | 'tick';
  readonly reason: RunSkipReason;
  /** ISO 8601. */
  readonly at: string;
  /** For `quota-exhausted`: until when automatic runs are paused (ISO 8601); otherwise `undefined`. */
  readonly pausedUntil: string | undefined;
}

/** `leaseLost` payload. */
export interface LeaseLostPayload {
  readonly runId: string;
  /** ISO 8601. */
  readonly at: string;
}

/** `recordSynced` payload, from `syncRecord()`. */
export interface RecordSyncedPayload {
  readonly recordId: string;
  readonly eventId: string | undefined;
  /** `refused`: Redis held a newer version (or a delete's tombstone), so nothing was written. */
  readonly outcome: 'added' | 'updated' | 'unchanged' | 'removed' | 'absent' | 'refused';
}

/**
 * Event map of {@link SyncWorker}. Listen with `worker.on('syncCompleted', (result) => ...)`.
 * A listener that throws never breaks a run: its error is re-emitted as `error` (and logged if
 * nothing listens to `error`).
 */
export interface SyncWorkerEvents {
  /** A run began. */
  syncStarted: [payload: SyncStartedPayload];
  /** A run succeeded; the payload is its result, including Zoho calls by kind. */
  syncCompleted: [result: RunResult];
  /** A run failed (including when aborted by `stop()`). */
  syncFailed: [payload: SyncFailedPayload];
  /** One event was synced or checked in full. */
  eventSynced: [payload: EventSyncedPayload];
  /** Records were added to Redis (one batch of one event). */
  recordsAdded: [payload: RecordsChangedPayload];
  /** Records changed in Redis (one batch of one event). */
  recordsUpdated: [payload: RecordsChangedPayload];
  /** Records were removed from Redis (one event). */
  recordsRemoved: [payload: RecordsChangedPayload];
  /**
   * Records were not written because Redis held a newer version or a delete's tombstone (one batch
   * of one event): an older version, listed before a push or a delete was applied, was refused.
   */
  staleWritesRefused: [payload: RecordsChangedPayload];
  /** A check found differences between Zoho and Redis. */
  discrepancyFound: [report: DiscrepancyReport];
  /** A malformed record went to the dead-letter stream. */
  recordDeadLettered: [payload: RecordDeadLetteredPayload];
  /** The mass-removal guard refused to remove records. */
  massRemovalBlocked: [payload: MassRemovalBlockedPayload];
  /** A timer tick was skipped because a run was in flight. */
  tickSkipped: [payload: TickSkippedPayload];
  /** An automatic run was skipped: another replica holds the lease, or the Zoho daily quota is exhausted. */
  runSkipped: [payload: RunSkippedPayload];
  /** This replica lost its lease mid-run and stopped writing. */
  leaseLost: [payload: LeaseLostPayload];
  /** `syncRecord()` handled one record. */
  recordSynced: [payload: RecordSyncedPayload];
  /** Any failure (runs, listeners, background work). Never thrown at the emitter. */
  error: [error: SyncError];
}
