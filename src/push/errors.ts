/**
 * The typed rejection of a Zoho push. Every rejection carries one of five stable codes (see
 * {@link PUSH_REJECTION_CODES}); a malformed payload is an `InvalidInputError` (400) instead.
 */
import { SyncError, SyncErrorCode } from '../errors.js';

/** The stable codes a {@link PushRejectedError} can carry, with the HTTP status each is answered with. */
export const PUSH_REJECTION_CODES = Object.freeze({
  /** 401: no signature and no shared secret, or a wrong one. */
  [SyncErrorCode.PUSH_SIGNATURE]: 401,
  /** 401: the timestamp is missing, malformed or outside the replay window. */
  [SyncErrorCode.PUSH_EXPIRED]: 401,
  /** 409: the signature was already accepted within the replay window. */
  [SyncErrorCode.PUSH_REPLAYED]: 409,
  /** 415: the `Content-Type` is not JSON, plain text or form-encoded. */
  [SyncErrorCode.PUSH_CONTENT_TYPE]: 415,
  /** 413: the body exceeds `maxBodyBytes`. */
  [SyncErrorCode.PUSH_TOO_LARGE]: 413,
} as const);

/** A code of {@link PUSH_REJECTION_CODES}. */
export type PushRejectionCode = keyof typeof PUSH_REJECTION_CODES;

/**
 * A push was refused before anything was queued: no inbox entry, no Zoho call, no Redis write
 * other than the replay check. The message never contains the secret or the presented signature.
 */
export class PushRejectedError extends SyncError {
  override readonly name = 'PushRejectedError';
  declare readonly code: PushRejectionCode;
  constructor(code: PushRejectionCode, message: string) {
    super(message, code);
  }
}
