/**
 * Authentication of Zoho pushes: an HMAC-SHA256 signature over the timestamp and the raw body,
 * or (where a script cannot sign) a shared secret in a header. Both comparisons run in constant time.
 *
 * Signed string: `<timestamp>.<raw body bytes>`; the signature header holds the HMAC-SHA256 of it
 * under the shared key, as 64 hex digits or 44 base64 characters, optionally prefixed `sha256=`.
 * Deluge computes exactly this with `zoho.encryption.hmacsha256(key, timestamp + "." + body, "hex")`
 * (https://www.zoho.com/deluge/help/encryption/hmac-sha256.html: output `base64` by default,
 * `hex` on request). That Deluge hashes the UTF-8 bytes of its TEXT arguments is [inferred] (the
 * docs do not name the encoding); ASCII-only bodies (`\uXXXX` escapes) are unaffected either way.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SyncErrorCode } from '../errors.js';
import { PushRejectedError } from './errors.js';

/** Header carrying the signature. */
export const SIGNATURE_HEADER = 'x-zrs-signature';
/** Header carrying the signing time: Unix epoch milliseconds (13 digits) or seconds (10 digits). */
export const TIMESTAMP_HEADER = 'x-zrs-timestamp';
/** Header carrying the shared secret in the fallback mode (HTTPS only: the secret travels in clear inside TLS). */
export const SHARED_SECRET_HEADER = 'x-zrs-push-secret';

/** What a successful verification tells the caller. */
export interface VerifiedPush {
  /** `hmac` (signed) or `shared-secret` (fallback). */
  readonly mode: 'hmac' | 'shared-secret';
  /** For `hmac`: the signature as lower-case hex, the replay-cache key. `undefined` for `shared-secret`. */
  readonly signature: string | undefined;
  /** For `hmac`: the signing time (epoch ms). */
  readonly signedAt: number | undefined;
}

/** Options of {@link createPushVerifier}. */
export interface PushVerifierOptions {
  /** The HMAC key (the `secret` option). */
  readonly secret?: string | undefined;
  /** The fallback shared secret; when set, a request with {@link SHARED_SECRET_HEADER} and no signature is checked against it. */
  readonly sharedSecret?: string | undefined;
  /** Accepted clock difference either way. Unit: ms. */
  readonly toleranceMs: number;
  /** Current time (epoch ms). */
  readonly now: () => number;
}

/** Headers as Node gives them (lower-case names). */
export type PushHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Builds the verifier.
 *
 * @returns a function that resolves the {@link VerifiedPush} or throws {@link PushRejectedError}:
 *   `ERR_SYNC_PUSH_SIGNATURE` (no credentials, wrong signature, wrong shared secret, or a shared
 *   secret sent where only signatures are configured), `ERR_SYNC_PUSH_EXPIRED` (timestamp missing,
 *   not digits, or more than `toleranceMs` away from `now()`).
 */
export function createPushVerifier(options: PushVerifierOptions): (headers: PushHeaders, body: Buffer) => VerifiedPush {
  const key = options.secret;
  const sharedDigest = options.sharedSecret === undefined ? undefined : sha256(Buffer.from(options.sharedSecret, 'utf8'));
  return (headers, body) => {
    const signatureHeader = single(headers[SIGNATURE_HEADER]);
    if (signatureHeader === undefined || key === undefined) {
      const presented = single(headers[SHARED_SECRET_HEADER]);
      if (presented !== undefined && sharedDigest !== undefined) {
        // Hash both sides so that neither content nor length leaks through timing.
        if (timingSafeEqual(sha256(Buffer.from(presented, 'utf8')), sharedDigest)) {
          return { mode: 'shared-secret', signature: undefined, signedAt: undefined };
        }
        throw new PushRejectedError(SyncErrorCode.PUSH_SIGNATURE, 'Wrong push secret');
      }
      throw new PushRejectedError(SyncErrorCode.PUSH_SIGNATURE, `Missing push signature (${SIGNATURE_HEADER} and ${TIMESTAMP_HEADER} headers)`);
    }
    const timestampText = single(headers[TIMESTAMP_HEADER]);
    const signedAt = parseTimestamp(timestampText);
    if (signedAt === undefined) {
      throw new PushRejectedError(SyncErrorCode.PUSH_EXPIRED, `Missing or malformed ${TIMESTAMP_HEADER} (Unix time in ms or s)`);
    }
    const presented = decodeSignature(signatureHeader);
    const expected = computeHmac(key, timestampText as string, body);
    // Compare a fixed-length digest even when the presented value is malformed (constant time).
    const ok = timingSafeEqual(sha256(presented ?? Buffer.alloc(0)), sha256(expected)) && presented !== undefined;
    if (!ok) throw new PushRejectedError(SyncErrorCode.PUSH_SIGNATURE, 'Push signature does not match');
    const skew = Math.abs(options.now() - signedAt);
    if (skew > options.toleranceMs) {
      throw new PushRejectedError(
        SyncErrorCode.PUSH_EXPIRED,
        `Push timestamp is ${Math.round(skew / 1000)} s away from the server clock (allowed: ${Math.round(options.toleranceMs / 1000)} s)`,
      );
    }
    return { mode: 'hmac', signature: expected.toString('hex'), signedAt };
  };
}

/**
 * HMAC-SHA256 of `<timestamp>.<body>` under `key`: what the sender signs.
 *
 * @param key - the shared key (UTF-8).
 * @param timestamp - the {@link TIMESTAMP_HEADER} value, exactly as sent.
 * @param body - the raw body bytes (a string is taken as UTF-8).
 * @returns the 32-byte digest.
 */
export function computeHmac(key: string, timestamp: string, body: Buffer | string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8'))
    .update(`${timestamp}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
}

/**
 * Signs a push the way the README's Deluge snippet does: returns the headers to send.
 *
 * @param key - the shared key.
 * @param body - the exact body that will be sent.
 * @param now - signing time (epoch ms); default `Date.now()`.
 */
export function signPush(key: string, body: Buffer | string, now: number = Date.now()): Record<string, string> {
  const timestamp = String(Math.trunc(now));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: computeHmac(key, timestamp, body).toString('hex') };
}

/** Epoch ms from 13 digits (ms) or 10 digits (s); `undefined` otherwise. */
function parseTimestamp(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d{13}$/.test(trimmed)) return Number(trimmed);
  if (/^\d{10}$/.test(trimmed)) return Number(trimmed) * 1000;
  return undefined;
}

/** 32 bytes from hex (64 digits) or base64 (44 characters), optionally prefixed `sha256=`; `undefined` otherwise. */
function decodeSignature(header: string): Buffer | undefined {
  const value = header.trim().replace(/^sha256=/i, '');
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(value)) return Buffer.from(value, 'base64');
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value === undefined || value === '' ? undefined : value;
}

function sha256(value: Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}
