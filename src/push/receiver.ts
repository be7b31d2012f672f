/**
 * The framework-neutral push handler: checks a request and appends it to the inbox.
 *
 * Order of checks (each failure answers at once; none queues anything or calls Zoho):
 * 1. `Content-Type` is JSON, plain text or form-encoded → else 415 `ERR_SYNC_PUSH_CONTENT_TYPE`;
 * 2. the body is at most `maxBodyBytes` → else 413 `ERR_SYNC_PUSH_TOO_LARGE`;
 * 3. the signature (or the shared secret) → else 401 `ERR_SYNC_PUSH_SIGNATURE`;
 * 4. the timestamp within ±`toleranceMs` → else 401 `ERR_SYNC_PUSH_EXPIRED`;
 * 5. the payload → else 400 `ERR_SYNC_INVALID_INPUT`;
 * 6. replay check and append, atomically → a signature seen in the window: 409 `ERR_SYNC_PUSH_REPLAYED`;
 *    Redis failing: 503 `ERR_SYNC_SINK` (not accepted: the sender may retry).
 * Then 202 `{ accepted: true, push_id, action, record_id }`.
 */
import { SyncErrorCode } from '../errors.js';
import type { SyncHttpResponse } from '../http/options.js';
import { toErrorResponse } from '../http/error-map.js';
import { PushRejectedError } from './errors.js';
import type { RecordPushedPayload } from './events.js';
import type { PushInbox } from './inbox.js';
import { parsePushPayload, pushMediaType } from './payload.js';
import type { PushHeaders, VerifiedPush } from './signature.js';

/** A push request as any framework can hand it over. */
export interface PushRequest {
  /** Request headers, lower-case names (Node's `IncomingHttpHeaders` fits). */
  readonly headers: PushHeaders;
  /**
   * The RAW body, byte for byte as received (the signature is computed over it). A string is taken
   * as UTF-8. Pass `undefined` for a request without a body.
   */
  readonly body: Buffer | Uint8Array | string | undefined;
  /** Set by a binding that stopped keeping an oversized body: the bytes it saw (answered 413). */
  readonly truncatedBytes?: number | undefined;
}

/** What the handler needs. */
export interface PushReceiverDeps {
  readonly inbox: PushInbox;
  readonly verify: (headers: PushHeaders, body: Buffer) => VerifiedPush;
  readonly maxBodyBytes: number;
  readonly replayTtlMs: number;
  readonly now: () => number;
  readonly accepted: (payload: RecordPushedPayload) => void;
  readonly rejected: (response: SyncHttpResponse, code: string, message: string) => void;
}

const NO_STORE = { 'cache-control': 'no-store' } as const;

/**
 * Builds the handler. It never rejects: every failure becomes an error answer in the library's
 * shape (`{ error: { code, message } }`).
 */
export function createPushHandler(deps: PushReceiverDeps): (request: PushRequest) => Promise<SyncHttpResponse> {
  return async (request) => {
    try {
      const mediaType = pushMediaType(request.headers['content-type']);
      const body = toBuffer(request.body);
      const size = Math.max(body.length, request.truncatedBytes ?? 0);
      if (size > deps.maxBodyBytes) {
        throw new PushRejectedError(SyncErrorCode.PUSH_TOO_LARGE, `Push body of ${size} bytes exceeds the limit of ${deps.maxBodyBytes} bytes`);
      }
      const verified = deps.verify(request.headers, body);
      const push = parsePushPayload(body, mediaType);
      const receivedAt = deps.now();
      const id = await deps.inbox.append(push, receivedAt, verified.signature, deps.replayTtlMs);
      if (id === undefined) throw new PushRejectedError(SyncErrorCode.PUSH_REPLAYED, 'This push signature was already accepted within the replay window');
      deps.accepted({ pushId: id, action: push.action, recordId: push.recordId, eventId: push.eventId, auth: verified.mode, receivedAt });
      return { status: 202, body: { accepted: true, push_id: id, action: push.action, record_id: push.recordId }, headers: NO_STORE };
    } catch (error) {
      const response = toErrorResponse(error);
      const body = response.body as { error?: { code?: string; message?: string } };
      deps.rejected(response, body.error?.code ?? 'ERR_SYNC_INTERNAL', body.error?.message ?? '');
      return { ...response, headers: { ...response.headers, ...NO_STORE } };
    }
  };
}

/**
 * Throws {@link PushRejectedError} `ERR_SYNC_PUSH_TOO_LARGE` when a declared `Content-Length`
 * already exceeds the limit, so a binding can refuse before reading the body.
 */
export function checkDeclaredLength(headers: PushHeaders, maxBodyBytes: number): void {
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    throw new PushRejectedError(SyncErrorCode.PUSH_TOO_LARGE, `Push body of ${declared} bytes exceeds the limit of ${maxBodyBytes} bytes`);
  }
}

function toBuffer(body: PushRequest['body']): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
