/**
 * How a run's `SyncError` travels through BullMQ: a failed job keeps only a string
 * (`failedReason`), so the code goes in front of the message and is read back on any replica.
 */
import { isSyncError, SyncError, SyncErrorCode, type SyncErrorCodeValue } from '../errors.js';

/** A failure as BullMQ keeps it (`failedReason`): `[ERR_CODE] message`. */
export function encodeFailure(error: SyncError): string {
  return `[${error.code}] ${error.message}`;
}

/** The `SyncError` of an encoded failure (`ERR_SYNC_SINK` for a message without a code). */
export function decodeFailure(error: unknown): SyncError {
  if (isSyncError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\[(ERR_[A-Z_]+)\] ([\s\S]*)$/.exec(message);
  if (match) return new SyncError(match[2]!, match[1] as SyncErrorCodeValue);
  return new SyncError(message, SyncErrorCode.SINK);
}
