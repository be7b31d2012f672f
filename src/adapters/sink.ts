/**
 * The record-sink contract: where records go. {@link RecordSink} holds records and nothing else;
 * the worker's own bookkeeping (watermark, checkpoints, seen scopes, metadata, lease, dead letters)
 * lives in a `StateStore` (see `./state-store.ts`). `RedisSink` implements it on ioredis; anyone
 * can implement it for another store and hand it to `SyncWorker` with a state store.
 *
 * Required: `name`, `capabilities` and seven methods (`ping`, `upsertRecords`, `removeRecords`,
 * `countRecords`, `scanRecordIds`, `readStamps`, `getRecord`). Optional extras (`compareStamps`,
 * `locateRecord`) are used only when `capabilities` declares them; otherwise the worker falls back
 * to the required methods (src/worker/record-ops.ts), so every guarantee holds for any sink.
 *
 * The worker relies on these guarantees:
 * - a method resolves only after its writes are committed, and rejects (never resolves partially)
 *   when any of them failed;
 * - writes are idempotent: the same batch written twice leaves the same state and reports the
 *   second write as unchanged;
 * - nothing is buffered across calls.
 */
import type { RecordStamp, SourceRecord } from './source.js';
import type { StateStore } from './state-store.js';

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
  /**
   * IDs of records not written because the sink holds a newer version, or a tombstone of a delete
   * that is not older (see {@link RecordSinkCapabilities.ordering}). Omitted when none was refused.
   */
  readonly refused?: readonly string[] | undefined;
  /**
   * IDs newly added to the seen scope (those not marked seen in it before), when the upsert was asked
   * to note its writes ({@link UpsertOptions.noteWrites} with a `seenScope`). Unit: records.
   */
  readonly newlySeen?: number | undefined;
}

/** What an upsert did, in total and per event. */
export interface UpsertResult {
  /** Unit: records. */
  readonly added: number;
  /** Unit: records. */
  readonly updated: number;
  /** Unit: records. */
  readonly unchanged: number;
  /**
   * Stale writes refused: records not written because a newer version (or a delete's tombstone) was
   * held. Counted as `stale_writes_refused` in status and metrics. Omitted when 0 (always, by sinks
   * without {@link RecordSinkCapabilities.ordering}). Unit: records.
   */
  readonly refused?: number | undefined;
  /** One entry per event that the batch touched. */
  readonly events: readonly EventUpsertResult[];
}

/** Result of comparing a page of source stamps with what the sink holds. */
export interface StampComparison {
  /** Stamps of records the sink does not hold. */
  readonly missing: readonly RecordStamp[];
  /** Stamps of records the sink holds with another modification time. */
  readonly stale: readonly RecordStamp[];
}

/**
 * What a record sink declares it can do beyond the required methods. The worker reads these flags
 * (it never probes for a method): a flag set to `true` promises the method exists, and `SyncWorker`
 * rejects a sink whose flags and methods disagree.
 */
export interface RecordSinkCapabilities {
  /** `compareStamps` compares stamps of many events in one round trip. Fallback: `readStamps` per event. */
  readonly compareStamps: boolean;
  /** `locateRecord` finds a record's event in one round trip. Fallback: `readStamps` per event. */
  readonly locateRecord: boolean;
  /**
   * `getRecord` returns the data exactly as written (deep-equal, value types kept). `false` for
   * encodings that keep only text (e.g. a HASH of fields). The contract suite checks round trips
   * only when `true`.
   */
  readonly exactRoundTrip: boolean;
  /**
   * Writes are ordered by modification time, atomically in the store: `upsertRecords` refuses a
   * record whose latest possible modification instant (`modifiedAtLatest ?? modifiedAt`) is older
   * than the held `modifiedAt` (equal → the later write wins), reporting it in `refused`; and
   * `removeRecords` leaves a tombstone (for a while) that refuses any version not newer than the
   * deleted one or than {@link RemoveOptions.deletedAt}. Absent or `false`: the worker falls back
   * to reading the held stamps before each upsert and dropping older versions (check then write:
   * not atomic, so a write racing in between can still be overtaken) and deletes leave no tombstone.
   */
  readonly ordering?: boolean | undefined;
  /**
   * `upsertRecords(records, { noteWrites })` also does what the sink's own state store
   * ({@link RecordSink.state}) does in `noteWrites(records, noteWrites.seenScope)`, in the same
   * atomic write: one round trip per batch instead of two. The worker uses it when its state store
   * is `sink.state` and the sink has `ordering`; otherwise it calls `state.noteWrites` before each
   * upsert. `RedisSink`: true on a standalone server, false on a Cluster (one call cannot span the
   * events' slots) and with its `singleSlotScripts` option.
   */
  readonly notesWrites?: boolean | undefined;
}

/** Options of {@link RecordSink.upsertRecords}. */
export interface UpsertOptions {
  /**
   * Only for a sink with {@link RecordSinkCapabilities.notesWrites}: register the records' events and
   * (with `seenScope`) mark their IDs seen in that scope, as `sink.state.noteWrites` would, in the same
   * atomic write. The result then carries `newlySeen` per event.
   */
  readonly noteWrites?: { readonly seenScope?: string | undefined } | undefined;
}

/** Options of {@link RecordSink.removeRecords}. */
export interface RemoveOptions {
  /**
   * When the records were known to be gone from this event in the source (epoch ms): the read that
   * found a record deleted, a delete push's acceptance, or the `modifiedAt` of the version that
   * moved a record to another event. A sink with `ordering` then keeps a tombstone stamped
   * `max(held modifiedAt, deletedAt)`, so a version listed before the delete (modified no later than
   * this) cannot come back, even for a record it did not hold. Omitted: no tombstone — the removal
   * has another reason (the sweep after a complete listing, a reconciliation), nothing to guard.
   */
  readonly deletedAt?: number | undefined;
}

/**
 * A store for records and their per-event index. Every method rejects with a `SinkError` when the
 * store fails and with an `InvalidInputError` (before any write) for an argument it cannot store.
 */
export interface RecordSink {
  /** A short name for logs, e.g. `redis`. */
  readonly name: string;
  /** What the sink can do beyond the required methods (see {@link RecordSinkCapabilities}). */
  readonly capabilities: RecordSinkCapabilities;

  /** Checks that the store answers; rejects with a `SinkError` within a few seconds when it does not. */
  ping(): Promise<void>;

  /**
   * Writes a batch of records (any mix of events), counting added / updated / unchanged truthfully:
   * a record whose content did not change is neither added nor updated. Each record's
   * `modifiedAt` (epoch ms) is kept with it (see {@link RecordSink.readStamps}).
   */
  upsertRecords(records: readonly SourceRecord[], options?: UpsertOptions): Promise<UpsertResult>;

  /**
   * Removes records of one event; resolves the IDs actually removed (held before the call). A sink
   * with `ordering` leaves a tombstone per ID (see {@link RemoveOptions}).
   */
  removeRecords(eventId: string, ids: readonly string[], options?: RemoveOptions): Promise<string[]>;

  /** Number of records held for an event. Unit: records. */
  countRecords(eventId: string): Promise<number>;

  /**
   * Streams the IDs held for an event in chunks (never the whole set at once). Every ID held for the
   * whole scan must be yielded at least once; an ID may be yielded twice.
   */
  scanRecordIds(eventId: string): AsyncIterable<string[]>;

  /** The held modification instants (epoch ms) of the given records of one event, in order; `undefined` when not held. */
  readStamps(eventId: string, ids: readonly string[]): Promise<(number | undefined)[]>;

  /** Reads one record's data, or `undefined` when not held. */
  getRecord(eventId: string, recordId: string): Promise<Record<string, unknown> | undefined>;

  /** Optional (capability `compareStamps`): compares stamps of any mix of events in one round trip. */
  compareStamps?(stamps: readonly RecordStamp[]): Promise<StampComparison>;

  /** Optional (capability `locateRecord`): the first of `eventIds` (in order) holding the record, or `undefined`. */
  locateRecord?(recordId: string, eventIds: readonly string[]): Promise<string | undefined>;

  /**
   * Optional: the state store `SyncWorker` uses when given none (`RedisSink` offers a
   * `RedisStateStore` on its own client and prefix).
   */
  readonly state?: StateStore | undefined;
}

/**
 * @deprecated Use {@link RecordSink}. The former 24-method `SinkAdapter` was split into
 * {@link RecordSink} (records) and `StateStore` (the worker's bookkeeping).
 */
export type SinkAdapter = RecordSink;
