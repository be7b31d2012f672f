/** The status shape of the original design (`GET /api/sync-worker/status`), plus run, quota and call details. */
import type { ApiCallCounts } from '../adapters/source.js';
import type { RunKind } from './run.js';

/** Cumulative statistics, named as in the original design. Units: runs, records, ms. */
export interface SyncStats {
  total_syncs: number;
  successful_syncs: number;
  failed_syncs: number;
  records_added: number;
  records_updated: number;
  records_removed: number;
  /** Wall time of the last finished run. Unit: ms. */
  last_sync_duration: number;
  /** Records sent to the dead-letter streams. */
  dead_lettered: number;
  /**
   * Writes refused because Redis held a newer version of the record, or a delete's tombstone (runs
   * and `syncRecord()`; pushes count theirs in the push status). Unit: records.
   */
  stale_writes_refused: number;
  /** Timer ticks skipped because a run was in flight in this process. */
  skipped_ticks: number;
  /**
   * Automatic runs (start-up or tick) skipped because another replica held the sync lease. A manual
   * trigger that finds the lease held fails with `LeaseError` instead (counted in `failed_syncs`).
   */
  lease_skipped_runs: number;
  /** Automatic runs (start-up or tick) skipped because Zoho's daily limit was hit less than `quotaPauseMs` ago. */
  quota_skipped_runs: number;
  /** Timer ticks skipped because another replica synced less than half a `syncIntervalMs` ago. */
  recent_sync_skipped_runs: number;
  /**
   * Redis calls of runs retried after a transient connection failure (connection lost or reset,
   * ioredis giving up on a reconnect, `LOADING`/`BUSY`/`TRYAGAIN`). Unit: retries.
   */
  sink_retries: number;
  /** Discrepancy checks run. */
  discrepancy_checks: number;
}

/** Every counter of {@link SyncStats} at zero (a new worker's, or a distributed run's before Redis holds any). */
export function emptyStats(): SyncStats {
  return {
    total_syncs: 0,
    successful_syncs: 0,
    failed_syncs: 0,
    records_added: 0,
    records_updated: 0,
    records_removed: 0,
    last_sync_duration: 0,
    dead_lettered: 0,
    stale_writes_refused: 0,
    skipped_ticks: 0,
    lease_skipped_runs: 0,
    quota_skipped_runs: 0,
    recent_sync_skipped_runs: 0,
    sink_retries: 0,
    discrepancy_checks: 0,
  };
}

/** The public configuration echoed by the status (never credentials). */
export interface StatusConfig {
  syncIntervalMs: number;
  batchSize: number;
  maxRetries: number;
  enableAutoSync: boolean;
  enableDiscrepancyDetection: boolean;
  staleAfterMs: number;
  staleCheckIntervalMs: number;
  incrementalOverlapMs: number;
  maxRemovalShare: number;
  quotaPauseMs: number;
}

/** A run in flight, snake_case like the rest of the status. */
export interface StatusRun {
  id: string;
  kind: RunKind;
  event_id: string | null;
  started_at: string;
  pages: number;
  records_fetched: number;
  added: number;
  updated: number;
  removed: number;
}

/** The last finished run. */
export interface StatusLastRun {
  id: string;
  kind: RunKind;
  event_id: string | null;
  outcome: 'succeeded' | 'failed';
  finished_at: string;
  duration_ms: number;
  /** Stable error code when the run failed. */
  error_code: string | null;
  error_message: string | null;
  /** The page the run stopped at, when it failed mid-listing. */
  failed_at_page: number | null;
}

/** `SyncWorker.getStatus()`: the original design's four keys, then details. */
export interface SyncWorkerStatus {
  /** Whether the worker is started (automatic syncing on). */
  is_running: boolean;
  config: StatusConfig;
  stats: SyncStats;
  /** End of the last successful run, ISO 8601, or null. */
  last_sync_time: string | null;
  current_run: StatusRun | null;
  last_run: StatusLastRun | null;
  /** Zoho calls by kind: for the last finished run and since the worker was created. Unit: calls. */
  api_calls: { last_run: ApiCallCounts; total: ApiCallCounts };
  /**
   * Zoho daily quota state (code 4000): `exhausted` from the last code 4000 until a run or
   * `syncRecord()` succeeds; `exhausted_at` when it was hit (ISO 8601); `paused_until` until when
   * automatic runs are skipped (ISO 8601; `null` when not paused).
   */
  quota: {
    exhausted: boolean;
    exhausted_at: string | null;
    paused_until: string | null;
    /**
     * Zoho calls recorded today in the store by every replica (as last read by this worker), the
     * `dailyCallLimit` and the calls left; `null` before the first read or with a sink that keeps no tally.
     */
    calls_today: { day: string; time_zone: string; used: number; limit: number | null; left: number | null } | null;
  };
  /** The cross-replica lease. */
  lease: { enabled: boolean; held: boolean; lost_count: number };
  /** Current watermark (ISO 8601) as last read or written by this worker, or null. */
  watermark: string | null;
  /**
   * The state store's eviction policy as read at `start()` (Redis `maxmemory-policy`; `null` when
   * not read or unreadable) and the warning when it can evict the library's keys (else `null`).
   */
  eviction: { policy: string | null; warning: string | null };
}
