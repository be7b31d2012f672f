/**
 * Everything one run needs, passed to the strategy functions (full, incremental, reconcile):
 * the adapters, the resolved options, the run's abort signal, live progress and a safe emitter.
 */
import type pLimit from 'p-limit';
import type { RecordSink } from '../adapters/sink.js';
import type { CallBudget, ListOptions, SourceAdapter, SourceCallOptions } from '../adapters/source.js';
import type { Checkpoint, FenceOptions, StateStore } from '../adapters/state-store.js';
import { AbortedError, CallLimitError, isSyncError, QuotaBudgetError, type SyncError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SyncWorkerEvents } from './events.js';
import type { ResolvedSyncWorkerOptions } from './options.js';
import type { RunKind, RunProgress } from './run.js';

/** Emits a typed worker event without letting a listener's exception escape. */
export type SafeEmit = <K extends keyof SyncWorkerEvents>(event: K, ...args: SyncWorkerEvents[K]) => void;

/**
 * Write permission per event for a run that shares its events with other writers (distributed
 * mode: the per-event leases). The strategies call {@link EventGuard.hold} before they write an
 * event (records, removals, metadata), and before a listing whose result decides removals, so the
 * event's other writers run wholly before or after that write. Absent in a single `SyncWorker`,
 * whose global lease already covers every event.
 */
export interface EventGuard {
  /**
   * Resolves once this run holds every event in `eventIds`; what it holds stays held (renewed)
   * until {@link EventGuard.release}.
   * @throws a `SyncError` for which {@link EventGuard.refused} is true when another writer holds
   *   one of them (nothing more is taken; the run should stop before moving global state); the
   *   store's error when it fails.
   */
  hold(eventIds: Iterable<string>): Promise<void>;
  /** Whether `error` is this guard's refusal (another writer holds an event): the run yields, it did not fail. */
  refused(error: unknown): boolean;
  /** Releases everything held. Never rejects. */
  release(): Promise<void>;
}

/** State and services of one run. Created by `SyncWorker`, consumed by the strategies. */
export class RunContext {
  readonly progress: RunProgress = {
    pages: 0,
    recordsFetched: 0,
    added: 0,
    updated: 0,
    unchanged: 0,
    removed: 0,
    deadLettered: 0,
    staleWritesRefused: 0,
  };
  /** The page being committed when the run failed, if it failed during a listing. */
  currentPage: number | undefined;
  /**
   * The first failed record batch of the run: batches still queued (of this page or of the next,
   * overlapped one) then fail with it instead of writing, so the failure surfaces without waiting
   * for writes that would be thrown away.
   */
  writeFailure: unknown;
  /** Set when the run continued from a checkpoint. */
  resumed = false;
  /** Set when an incremental run had no watermark and ran a full sync. */
  fellBackToFull = false;
  /** Set when an incremental run ran its staleness check. */
  staleCheck = false;
  /** Events synced or checked in full. */
  eventsSynced = 0;
  /** Fencing token of the lease this run holds, if any. */
  fence: number | undefined;
  /**
   * Per seen scope and event, the IDs this run newly marked seen (the state store's `noteWrites`
   * replies, when it gives them): what the listing returned, as Redis acknowledged it.
   */
  readonly seenWritten = new Map<string, Map<string, number>>();
  /**
   * Per event, the records this run listed but Redis refused as older than what it held (a newer
   * version, or a delete's tombstone): listed, yet possibly not held.
   */
  readonly refusedByEvent = new Map<string, number>();
  /** Per-event write permission (distributed mode); `undefined`: none needed. */
  eventGuard: EventGuard | undefined = undefined;
  /** Called by a strategy once its admission checks passed (see `RunHandle.accepted`). */
  accept: () => void = () => undefined;
  /** Zoho requests this run may still send (`maxCallsPerRun`), shared by all its source calls. */
  readonly callBudget: RunCallBudget;

  constructor(
    readonly runId: string,
    readonly kind: RunKind,
    readonly eventId: string | undefined,
    readonly startedAt: number,
    readonly signal: AbortSignal,
    readonly source: SourceAdapter,
    /** The record sink (transient failures retried). */
    readonly sink: RecordSink,
    /** The state store (transient failures retried). */
    readonly state: StateStore,
    readonly options: ResolvedSyncWorkerOptions,
    readonly logger: Logger,
    /** Logger for Redis-side lines (batches, pipelines), filtered by `redisLogLevel`. */
    readonly redisLogger: Logger,
    readonly emit: SafeEmit,
    readonly limit: ReturnType<typeof pLimit>,
  ) {
    this.callBudget = new RunCallBudget(options.maxCallsPerRun);
  }

  /** Options for a source call: this run's signal, retry budget and call ceiling. */
  callOptions(): SourceCallOptions {
    return { signal: this.signal, retries: this.options.maxRetries, callBudget: this.callBudget };
  }

  /** Options for a paged listing. */
  listOptions(extra: Omit<ListOptions, 'signal' | 'retries' | 'callBudget'> = {}): ListOptions {
    return { ...extra, signal: this.signal, retries: this.options.maxRetries, callBudget: this.callBudget };
  }

  /**
   * The named checkpoint, unless it cannot be trusted: one written under a fence newer than this
   * run's lease was written before the fencing counter went back (Redis lost data or restarted), so
   * the pages it claims may be gone; it is deleted (logged once) and the listing starts over.
   */
  async trustedCheckpoint(name: string): Promise<Checkpoint | undefined> {
    const checkpoint = await this.state.getCheckpoint(name);
    if (checkpoint?.fence === undefined || this.fence === undefined || checkpoint.fence <= this.fence) return checkpoint;
    this.logger.warn(
      `Checkpoint ${name} was written under fence ${checkpoint.fence}, newer than this run's ${this.fence}: Redis lost data or restarted since; listing from the first page`,
      { runId: this.runId, interruptedRun: checkpoint.runId },
    );
    await this.state.clearCheckpoint(name, this.fenced());
    return undefined;
  }

  /** Adds `noteWrites` replies to {@link RunContext.seenWritten}. */
  countSeen(scope: string, newlySeen: ReadonlyMap<string, number>): void {
    let perEvent = this.seenWritten.get(scope);
    if (perEvent === undefined) {
      perEvent = new Map();
      this.seenWritten.set(scope, perEvent);
    }
    for (const [eventId, n] of newlySeen) perEvent.set(eventId, (perEvent.get(eventId) ?? 0) + n);
  }

  /** Options for fenced sink writes. */
  fenced(): FenceOptions {
    return { fence: this.fence };
  }

  /** Throws the abort reason (a `SyncError`) when the run was aborted or lost its lease. */
  throwIfAborted(): void {
    if (!this.signal.aborted) return;
    throw abortReason(this.signal);
  }
}

/** The `SyncError` an aborted signal stands for. */
export function abortReason(signal: AbortSignal): SyncError {
  const reason: unknown = signal.reason;
  if (isSyncError(reason)) return reason;
  return new AbortedError('The run was aborted', { cause: reason });
}

/** Whether `error` is what {@link abortReason} gives for `signal` (so a step failed only because the run was stopped). */
export function isAbortReason(signal: AbortSignal, error: unknown): boolean {
  if (!signal.aborted) return false;
  const reason: unknown = signal.reason;
  return error === reason || (error instanceof AbortedError && error.cause === reason);
}

/**
 * The call ceiling of one run: `spend()` counts a request, and refuses the one past `limit`
 * (`maxCallsPerRun`) or past the calls left today (`dailyCallLimit`, see {@link capToday}).
 */
export class RunCallBudget implements CallBudget {
  #spent = 0;
  #today: { readonly left: number; readonly day: string } | undefined;

  /** @param limit - calls allowed. Unit: calls. */
  constructor(readonly limit: number) {}

  /** Requests counted so far. Unit: calls. */
  get spent(): number {
    return this.#spent;
  }

  /**
   * Also refuses requests past `left` (counted from now): what the daily tally had left when the run
   * was admitted, so a run whose estimate was low (record counts Redis did not hold yet, a heal's
   * re-read, many changes) stops there instead of overrunning the day's limit.
   *
   * @param left - requests allowed from now. Unit: calls.
   * @param day - the Zoho day (`yyyy-mm-dd`), for the error.
   */
  capToday(left: number, day: string): void {
    this.#today = { left: this.#spent + Math.max(0, left), day };
  }

  /**
   * @throws CallLimitError (with `calls` = `limit`) when `limit` requests were counted already;
   *   QuotaBudgetError (`stoppedMidRun`) when the calls left today are used up.
   */
  spend(): void {
    if (this.#spent >= this.limit) throw new CallLimitError(this.#spent, this.limit);
    const today = this.#today;
    if (today !== undefined && this.#spent >= today.left) throw QuotaBudgetError.exhausted(this.#spent, today.day);
    this.#spent++;
  }
}
