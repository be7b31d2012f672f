/**
 * Authentication of the HTTP routes: a bearer token compared in constant time, a user hook, or
 * (explicitly) nothing. Resolved once, when the router is created; a router with no way to
 * authenticate is refused with `ConfigError` (secure by default).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { UnauthorizedError } from './error-map.js';
import type { SyncHttpRequest, SyncRouterOptions } from './options.js';

/**
 * Checks one request. Resolves when the request may go on; rejects with {@link UnauthorizedError}
 * (→ 401) when it may not, or with the hook's own error when an `authorize` hook throws (→ 500).
 */
export type SyncAuthenticator<TRaw = unknown> = (request: SyncHttpRequest<TRaw>) => Promise<void>;

/** The `WWW-Authenticate` challenge sent with a 401 in bearer-token mode (RFC 6750). */
export const BEARER_CHALLENGE = 'Bearer realm="zoho-redis-sync"';

/**
 * Builds the authenticator for a router's options.
 *
 * - `token`: requires `Authorization: Bearer <token>` (scheme case-insensitive). Both sides are
 *   hashed with SHA-256 and compared with `crypto.timingSafeEqual`, so the comparison takes the
 *   same time whatever the content or the length of the presented token.
 * - `authorize`: calls the hook; `true` allows, anything else is 401.
 * - `allowUnauthenticated: true`: allows everything.
 *
 * @throws {@link ConfigError} when none of the three is given, when more than one is given, when
 *   `token` is not a non-empty string, `authorize` is not a function, or `allowUnauthenticated` is
 *   anything but `true`.
 */
export function createAuthenticator<TRaw>(options: SyncRouterOptions<TRaw>): SyncAuthenticator<TRaw> {
  const { token, authorize, allowUnauthenticated } = options as {
    token?: unknown;
    authorize?: unknown;
    allowUnauthenticated?: unknown;
  };
  const modes = [token !== undefined, authorize !== undefined, allowUnauthenticated !== undefined].filter(Boolean).length;
  if (modes === 0) {
    throw new ConfigError(
      'token',
      'The sync-worker routes need authentication: pass `token` (bearer) or `authorize(request)`, ' +
        'or `allowUnauthenticated: true` to expose them without any check',
    );
  }
  if (modes > 1) {
    throw new ConfigError('token', 'Pass only one of `token`, `authorize` and `allowUnauthenticated`');
  }
  if (token !== undefined) {
    if (typeof token !== 'string' || token.length === 0) {
      throw new ConfigError('token', 'Expected `token` to be a non-empty string');
    }
    const expected = digest(token);
    return async (request) => {
      const presented = bearerToken(request.headers.authorization);
      // Always hash and compare, even when the header is missing, so timing does not tell the cases apart.
      const ok = timingSafeEqual(digest(presented ?? ''), expected) && presented !== undefined;
      if (!ok) throw new UnauthorizedError('Missing or invalid bearer token', BEARER_CHALLENGE);
    };
  }
  if (authorize !== undefined) {
    if (typeof authorize !== 'function') throw new ConfigError('authorize', 'Expected `authorize` to be a function');
    const hook = authorize as (request: SyncHttpRequest<TRaw>) => unknown;
    return async (request) => {
      const allowed = await hook(request);
      if (allowed !== true) throw new UnauthorizedError('Not authorised');
    };
  }
  if (allowUnauthenticated !== true) {
    throw new ConfigError('allowUnauthenticated', 'Expected `allowUnauthenticated` to be `true` when given');
  }
  return async () => undefined;
}

/** The token of an `Authorization: Bearer <token>` header, or `undefined`. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
