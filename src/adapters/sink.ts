/**
 * The sink contract: where records go. {@link RedisSink} implements it on ioredis; anyone can
 * implement it for another store and hand it to `SyncWorker`.
 *
 * The worker relies on these guarantees:
 * - a method resolves only after its writes are committed, and rejects (never resolves partially)
 *   when any of them failed;
 * - writes are idempotent: the same batch written twice leaves the same state and reports the
 *   second write as unchanged;
 * - nothing is buffered across calls.
 */
import type { RecordStamp, RejectedRecord, SourceEvent, SourceRecord } from './source.js';

/** What an upsert did to one event's records. */
export interface EventUpsertResult {
  /** The event ID. */
  readonly eventId: string;
  /** IDs of records that were not held before. */
  readonly added: readonly string[];
  /** IDs of records that were held with different content. */
  readonly updated: readonly string[];
  /** Records that were held with identical content (neither added nor updated). Unit: records. */
  readonly unchanged: number;
}

/** What an upsert did, in total and per event. */
export interface UpsertResult {
  /** Unit: records. */
  readonly added: number;
  /** Unit: records. */
  readonly updated: number;
  /** Unit: records. */
  readonly unchanged: number;
  /** One entry per event that the batch touched. */
  readonly events: readonly EventUpsertResult[];
}

/** Options of {@link SinkAdapter.upsertRecords}. */
export interface UpsertOptions {
  /** Also mark the records as seen in this reconciliation scope (see {@link SinkAdapter.scanUnseen}). */
  readonly seenScope?: string | undefined;
}

/** Result of comparing a page of source stamps with what the sink holds. */
export interface StampComparison {
  /** Stamps of records the sink does not hold. */
  readonly missing: readonly RecordStamp[];
  /** Stamps of records the sink holds with another modification time. */
  readonly stale: readonly RecordStamp[];
}

/** Per-event metadata the sink keeps. Times are epoch milliseconds. */
export interface EventMeta {
  /** Records held (index size). Unit: records. */
  readonly recordCount: number;
  /** Records the source listed at the last complete listing of this event, if any. */
  readonly sourceCount: number | undefined;
  /** When this event was last synced completely or checked (epoch ms), if ever. */
  readonly lastSyncAt: number | undefined;
  /** When this event was last synced completely (full or forced; epoch ms), if ever. */
  readonly lastFullSyncAt: number | undefined;
}

/** Fields of {@link EventMeta} a writer may set. */
export type EventMetaPatch = Partial<Omit<EventMeta, 'recordCount'>>;

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

/** Fields of {@link SyncMeta} a writer may set (the watermark moves only through {@link SinkAdapter.advanceWatermark}). */
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
}

/** A held lease (see {@link SinkAdapter.acquireLease}). */
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
 * A store for records, their per-event index, metadata and checkpoints.
 * Every method rejects with a `SinkError` when the store fails.
 */
export interface SinkAdapter {
  /** A short name for logs, e.g. `redis`. */
  readonly name: string;

  /** Checks that the store answers; rejects with a `SinkError` within a few seconds when it does not. */
  ping(): Promise<void>;

  /**
   * Writes a batch of records (any mix of events), counting added / updated / unchanged truthfully:
   * a record whose content did not change is neither added nor updated.
   */
  upsertRecords(records: readonly SourceRecord[], options?: UpsertOptions): Promise<UpsertResult>;

  /** Removes records of one event; resolves the IDs actually removed. */
  removeRecords(eventId: string, ids: readonly string[]): Promise<string[]>;

  /** Number of records held for an event. Unit: records. */
  countRecords(eventId: string): Promise<number>;

  /** Streams the IDs held for an event in chunks (never the whole set at once). */
  scanRecordIds(eventId: string): AsyncIterable<string[]>;

  /** Finds which of the given events holds the record, or `undefined`. */
  locateRecord(recordId: string, eventIds: readonly string[]): Promise<string | undefined>;

  /**
   * Compares source stamps with the held modification times and marks them seen in `scope`.
   * One round trip per call.
   */
  compareStamps(stamps: readonly RecordStamp[], scope: string): Promise<StampComparison>;

  /** Streams IDs held for an event that were not marked seen in `scope`. */
  scanUnseen(eventId: string, scope: string): AsyncIterable<string[]>;

  /** Number of IDs marked seen in `scope` for an event. Unit: records. */
  countSeen(eventId: string, scope: string): Promise<number>;

  /** Forgets a seen scope. */
  releaseScope(scope: string, eventIds: readonly string[]): Promise<void>;

  /** Stores the events' rows and adds them to the known-events set. */
  saveEvents(events: readonly SourceEvent[]): Promise<void>;

  /** IDs of every event the sink knows (saved or holding records). */
  listEventIds(): Promise<string[]>;

  /** Reads one event's metadata. */
  getEventMeta(eventId: string): Promise<EventMeta>;

  /** Reads several events' metadata in one round trip, in the order given. */
  getEventMetas(eventIds: readonly string[]): Promise<EventMeta[]>;

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

  /** Appends rejected records to their event's dead-letter stream (capped). */
  deadLetter(entries: readonly RejectedRecord[]): Promise<void>;

  /** Takes the sync lease if free; resolves `undefined` when another owner holds it. */
  acquireLease?(owner: string, ttlMs: number): Promise<Lease | undefined>;

  /** Extends a held lease; resolves `false` when the lease is no longer this owner's. */
  renewLease?(owner: string, ttlMs: number): Promise<boolean>;

  /** Releases a held lease (only its owner can). */
  releaseLease?(owner: string): Promise<void>;
}
