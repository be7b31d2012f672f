/**
 * Typed events of {@link ZohoPushes} (eventemitter3). Payloads are plain JSON-serialisable objects
 * except `error`, which carries the `SyncError`.
 */
import type { SyncError } from '../errors.js';
import type { PushOutcome } from './apply.js';
import type { PushAction } from './payload.js';

/** `recordPushed`: a push was accepted and is in the inbox (it was answered 202). */
export interface RecordPushedPayload {
  /** The inbox entry ID. */
  readonly pushId: string;
  readonly action: PushAction;
  readonly recordId: string;
  readonly eventId: string | undefined;
  /** `hmac` or `shared-secret`. */
  readonly auth: 'hmac' | 'shared-secret';
  /** Epoch ms. */
  readonly receivedAt: number;
}

/** `pushApplied`: one inbox entry was applied to Redis and acknowledged. */
export interface PushAppliedPayload {
  readonly pushId: string;
  readonly action: PushAction;
  readonly recordId: string;
  /** The event the record is in (or was removed from), when known. */
  readonly eventId: string | undefined;
  readonly outcome: PushOutcome;
  /** From acceptance to the committed Redis write. Unit: ms. */
  readonly lagMs: number;
  /** Failed attempts before this one. */
  readonly retries: number;
}

/** `pushRejected`: a push was refused (nothing queued, no Zoho call). */
export interface PushRejectedPayload {
  /** The stable error code, e.g. `ERR_SYNC_PUSH_SIGNATURE`. */
  readonly code: string;
  /** The HTTP status answered. */
  readonly status: number;
  readonly message: string;
  /** Epoch ms. */
  readonly at: number;
}

/** `pushDeadLettered`: entries failed every attempt and moved to the dead-letter stream. */
export interface PushDeadLetteredPayload {
  readonly pushIds: readonly string[];
  readonly recordIds: readonly string[];
  readonly reason: string;
  /** Unit: attempts. */
  readonly attempts: number;
}

/** Event map of {@link ZohoPushes}. */
export interface ZohoPushEvents {
  recordPushed: [payload: RecordPushedPayload];
  pushApplied: [payload: PushAppliedPayload];
  pushRejected: [payload: PushRejectedPayload];
  pushDeadLettered: [payload: PushDeadLetteredPayload];
  /** A batch failed (it will be retried or dead-lettered), or the inbox loop hit a Redis failure. */
  error: [error: SyncError];
}
