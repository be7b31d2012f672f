/**
 * Validation of a Redis connection URL (`REDIS_URL`), before ioredis sees it: ioredis reads
 * `127.0.0.1:6379` or `http://host` without complaint and then connects somewhere else than meant
 * (the default host, or a port parsed from the wrong part). Accepted forms, as ioredis parses them
 * (https://github.com/redis/ioredis#connect-to-redis) and as the Redis URI scheme defines them
 * (https://www.iana.org/assignments/uri-schemes/prov/redis):
 *
 * - `redis://[[username]:password@]host[:port][/db]` (plain TCP), `rediss://…` (TLS);
 * - an absolute Unix socket path, e.g. `/run/redis/redis.sock`.
 */
import { ConfigError } from '../errors.js';
import { shownValue } from '../internal/shown-value.js';

/** The expected form, quoted in every refusal. */
export const REDIS_URL_FORM = 'redis://[[username]:password@]host[:port][/db] (rediss:// for TLS), or an absolute Unix socket path';

/** `url` with any `user:password@` part blanked (for messages). */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//[redacted]@');
}

/**
 * Checks a Redis URL.
 *
 * @param url - the URL text.
 * @param name - what to name in the error (an environment variable or option), default `REDIS_URL`.
 * @returns `url`, unchanged.
 * @throws {@link ConfigError} (option `name`) when `url` has no scheme, another scheme than
 *   `redis:` / `rediss:`, no host, a port out of range or a path other than a database number;
 *   the message quotes the URL with its password blanked and states the expected form.
 */
export function checkRedisUrl(url: string, name = 'REDIS_URL'): string {
  const refuse = (why: string): never => {
    throw new ConfigError(name, `${name}=${shownValue(redactRedisUrl(url))} is not a Redis URL: ${why}; expected ${REDIS_URL_FORM}`);
  };
  if (typeof url !== 'string' || url.trim() === '') return refuse('it is empty');
  if (url.startsWith('/')) return url;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return refuse('it has no scheme');
  if (scheme !== 'redis' && scheme !== 'rediss') return refuse(`the scheme is ${scheme}://`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse('it does not parse as a URL');
  }
  if (parsed.hostname === '') return refuse('it names no host');
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) {
    return refuse(`the path ${JSON.stringify(parsed.pathname)} is not a database number`);
  }
  return url;
}
