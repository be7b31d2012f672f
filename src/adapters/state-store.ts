/**
 * The state-store contract: the worker's own bookkeeping, kept apart from the records so that any
 * {@link RecordSink} can be used with it. The library provides it on Redis (`RedisStateStore`).
 *
 * The same guarantees as the record sink apply: a method resolves only after its writes are
 * committed; writes are idempotent; every method rejects with a `SinkError` when the store fails;
 * fenced writes reject with a `LeaseError` when their fence is older than the newest issued one.
 */
import type { ApiCallCounts, RejectedRecord, SourceEvent } from './source.js';

/** Options of {@link StateStore.deadLetter}. */
export interface DeadLetterOptions {
  /**
   * Most of a record's JSON an entry keeps (the rest is cut; the entry still holds the whole
   * size and a SHA-256). The worker passes its `maxRecordBytes`. Unit: bytes (UTF-8).
   * Default: 262,144 (256 KiB).
   */
  readonly maxRawBytes?: number | undefined;
}

/** A record named by its event and ID. */
export interface RecordRef {
  /** The record ID. */
  readonly id: string;
  /** The event the record belongs to. */
  readonly eventId: string;
}

/**
 * What {@link StateStore.noteWrites} may report: per event, how many of the IDs were not in the
 * seen set yet (Redis `SADD`'s reply). The worker adds these up over a listing and, at its end,
 * compares them with the seen sets' sizes: a set smaller than what was added to it means Redis lost
 * data (restarted, failed over, evicted) during the run, so the run cannot report success.
 */
export interface NotedWrites {
  /** Event ID → IDs newly marked seen. Unit: records. */
  readonly newlySeen: ReadonlyMap<string, number>;
}

/** Per-event metadata the state store keeps. Times are epoch milliseconds. */
export interface EventState {
  /** Records the source listed at the last complete listing of this event, if any. */
  readonly sourceCount: number | undefined;
  /** When this event was last synced completely or checked (epoch ms), if ever. */
  readonly lastSyncAt: number | undefined;
  /** When this event was last synced completely (full or forced; epoch ms), if ever. */
  readonly lastFullSyncAt: number | undefined;
}

/** Per-event metadata with the number of records the sink holds (see `readEventMetas`). */
export interface EventMeta extends EventState {
  /** Records held (the record sink's count). Unit: records. */
  readonly recordCount: number;
}

/** Fields of {@link EventState} a writer may set. */
export type EventMetaPatch = Partial<EventState>;

/** Global sync metadata. Times are epoch milliseconds. */
export interface SyncMeta {
  /** Highest source modification instant committed by a complete incremental or full listing (epoch ms). */
  readonly watermark: number | undefined;
  /** When any run last succeeded (epoch ms). */
  readonly lastSyncAt: number | undefined;
  /** When a full sync last succeeded (epoch ms). */
  readonly lastFullSyncAt: number | undefined;
  /** When the last staleness (ID-only) check ran (epoch ms). */
  readonly lastStaleCheckAt: number | undefined;
}

/** Fields of {@link SyncMeta} a writer may set (the watermark moves only through {@link StateStore.advanceWatermark}). */
export type SyncMetaPatch = Partial<Omit<SyncMeta, 'watermark'>>;

/** A resumable position in a run, saved after each committed page. */
export interface Checkpoint {
  /** The run that wrote it. */
  readonly runId: string;
  /** The kind of run, e.g. `full` or `incremental`. */
  readonly kind: string;
  /** Cursor of the next page to fetch. */
  readonly cursor: string;
  /** Page number the cursor fetches (1-based). */
  readonly nextPage: number;
  /** Highest modification instant seen so far in this run (epoch ms), if any. */
  readonly maxModifiedAt: number | undefined;
  /** The lower bound of an incremental listing (epoch ms), if any. */
  readonly since: number | undefined;
  /** When the run started (epoch ms). */
  readonly startedAt: number;
  /**
   * The fencing token of the lease the writing run held, if any. A checkpoint whose fence is newer
   * than the reader's lease was written before the fencing counter went back (Redis lost data or
   * restarted since): what it claims was committed may be gone, so it is not resumed.
   */
  readonly fence?: number | undefined;
}

/** A held lease (see {@link StateStore.acquireLease}). */
export interface Lease {
  /** The owner token the lease was taken with. */
  readonly owner: string;
  /** Fencing token: strictly increasing across acquisitions. */
  readonly fence: number;
}

/** Options for fenced writes: a write carrying a fence older than the newest issued one is refused. */
export interface FenceOptions {
  /** The fencing token of the lease the writer holds. */
  readonly fence?: number | undefined;
}

/**
 * The worker's bookkeeping: known events, seen scopes (which IDs a listing returned, so that a
 * complete listing can sweep the others), event and sync metadata, the watermark, checkpoints,
 * dead letters and the cross-replica lease.
 */
export interface StateStore {
  /** Checks that the store answers; rejects with a `SinkError` within a few seconds when it does not. */
  ping(): Promise<void>;

  /**
   * Called before records are written: registers their events as known (a row `{ ID }` unless one
   * is saved) and, with `seenScope`, marks the IDs seen in that scope. One round trip.
   */
  noteWrites(records: readonly RecordRef[], seenScope?: string): Promise<NotedWrites | undefined>;

  /** Marks IDs seen in `scope` (without registering their events). */
  markSeen(records: readonly RecordRef[], scope: string): Promise<void>;

  /** The given IDs of an event that were not marked seen in `scope`, in order. */
  filterUnseen(eventId: string, scope: string, ids: readonly string[]): Promise<string[]>;

  /** Number of IDs marked seen in `scope` for an event. Unit: records. */
  countSeen(eventId: string, scope: string): Promise<number>;

  /** Forgets a seen scope. */
  releaseScope(scope: string, eventIds: readonly string[]): Promise<void>;

  /** Stores the events' rows and adds them to the known events. */
  saveEvents(events: readonly SourceEvent[]): Promise<void>;

  /** IDs of every known event (saved, or registered by {@link StateStore.noteWrites}). */
  listEventIds(): Promise<string[]>;

  /** Reads several events' metadata in one round trip, in the order given. */
  getEventStates(eventIds: readonly string[]): Promise<EventState[]>;

  /** Updates one event's metadata. */
  setEventMeta(eventId: string, patch: EventMetaPatch, options?: FenceOptions): Promise<void>;

  /** Reads the global metadata. */
  getSyncMeta(): Promise<SyncMeta>;

  /** Updates the global metadata. */
  setSyncMeta(patch: SyncMetaPatch, options?: FenceOptions): Promise<void>;

  /** Moves the watermark to `max(stored, instant)`; resolves the stored value. Never moves it backwards. */
  advanceWatermark(instant: number, options?: FenceOptions): Promise<number>;

  /** Reads a named checkpoint, if any. */
  getCheckpoint(name: string): Promise<Checkpoint | undefined>;

  /** Saves a named checkpoint (fenced). */
  setCheckpoint(name: string, checkpoint: Checkpoint, options?: FenceOptions): Promise<void>;

  /** Deletes a named checkpoint (fenced). */
  clearCheckpoint(name: string, options?: FenceOptions): Promise<void>;

  /**
   * Appends rejected records to their event's dead-letter stream (capped), keeping at most
   * `options.maxRawBytes` of each record's JSON; a store should not append again a record whose
   * reason and content equal an entry it still holds (a bad record is listed on every sync).
   */
  deadLetter(entries: readonly RejectedRecord[], options?: DeadLetterOptions): Promise<void>;

  /**
   * Optional: adds calls to one Zoho day's tally (shared by every replica on the same store).
   * @param day - `yyyy-mm-dd` in the quota time zone.
   * @param counts - calls by kind (units: calls).
   */
  addDailyCalls?(day: string, counts: ApiCallCounts): Promise<void>;

  /** Optional: one Zoho day's tally by kind (units: calls); zeros when none was recorded. */
  getDailyCalls?(day: string): Promise<ApiCallCounts>;

  /** Takes the sync lease if free; resolves `undefined` when another owner holds it. */
  acquireLease?(owner: string, ttlMs: number): Promise<Lease | undefined>;

  /** Extends a held lease; resolves `false` when the lease is no longer this owner's. */
  renewLease?(owner: string, ttlMs: number): Promise<boolean>;

  /** Releases a held lease (only its owner can). */
  releaseLease?(owner: string): Promise<void>;

  /**
   * Who holds the lease and for how long, or `undefined` when nobody does. Optional: used only to
   * word a refusal (who holds it, when it expires); it never changes the lease.
   */
  inspectLease?(): Promise<LeaseHolder | undefined>;

  /**
   * Optional: finds state that would poison every later run — a watermark that is not an epoch-ms
   * instant (`9e15`, `-1e15`, `1e400`, `0x10`, far in the future), a lease key of the wrong type
   * (it would read as held forever), an unreadable checkpoint among `checkpoints` — removes it (the
   * next run re-creates it: a full listing instead of an incremental one, a listing from page 1) and
   * reports each repair. The worker calls it at the start of every run and logs each repair once.
   */
  repairState?(checkpoints: readonly string[]): Promise<StateRepair[]>;

  /**
   * Optional: whether the store may evict the library's keys under memory pressure (Redis:
   * `maxmemory-policy`). `policy` is `undefined` when it cannot be read; `warning` says what can go
   * wrong, `undefined` when nothing can. Never rejects.
   */
  evictionPolicy?(): Promise<{ readonly policy: string | undefined; readonly warning: string | undefined }>;
}

/** One repair of {@link StateStore.repairState}. */
export interface StateRepair {
  /** The key that held the corrupt value. */
  readonly key: string;
  /** The hash field, when the value was one. */
  readonly field?: string | undefined;
  /** The value found, cut to 80 characters (or its Redis type). */
  readonly value: string;
  /** What was wrong with it. */
  readonly problem: string;
  /** What was done, and what follows. */
  readonly action: string;
}

/** See {@link StateStore.inspectLease}. */
export interface LeaseHolder {
  /** The owner token the lease was taken with. */
  readonly owner: string;
  /** Remaining time-to-live. Unit: ms; `undefined` when the lease has no expiry. */
  readonly ttlMs: number | undefined;
}
