/**
 * How a rejected option or environment value appears in an error message. A value that looks like
 * what such options hold (short, plain characters, no long token-like run) is shown quoted, so a typo
 * is easy to see; anything else is shown only by its type and length, so a secret pasted into the
 * wrong option (a refresh token, a client secret) never reaches an error, a log line or a status.
 */

/** A run of 16 or more letters and digits: how tokens, secrets and client IDs look. */
const TOKEN_LIKE = /[A-Za-z0-9]{16,}/;
const PLAIN = /^[\p{L}\p{N} _.:/+@<>{}()*,#=-]{0,60}$/u;

/** The value as an error message may show it (see the module comment). */
export function shownValue(value: unknown): string {
  if (typeof value === 'string') return PLAIN.test(value) && !TOKEN_LIKE.test(value) ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}
