/**
 * {@link SecretScrubber}: the one place that removes the source's secrets from everything the
 * source says — error messages and their cause chains, log lines and their fields. Zoho echoes
 * input back (`error_description` of the accounts server, `message` of Creator), so a secret can
 * turn up inside any text, not only in the `Zoho-oauthtoken <token>` form.
 *
 * What it knows: the client secret and the refresh token (from the options), and every access
 * token minted or handed to the HTTP client (remembered as soon as it is read from the token
 * response, before anything else looks at that response).
 */
import type { Logger } from '../logger.js';

/** What a removed secret is replaced with. */
export const REDACTED = '[redacted]';

/**
 * How many access tokens are remembered (the oldest is forgotten first). Zoho allows about 10
 * mints per 10 minutes per refresh token ([doc]: https://zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html),
 * i.e. at most ~1440 a day; a healthy source mints one an hour (tokens live 1 h), so 1024 covers
 * more than a month of healthy use and a whole day of the worst case. Unit: tokens.
 */
export const MAX_REMEMBERED_TOKENS = 1024;

/** Secrets shorter than this are not scrubbed (they would blank ordinary words). Unit: characters. */
const MIN_SECRET_LENGTH = 4;
/** Nested causes / fields followed at most. */
const MAX_DEPTH = 8;

/** Secret-shaped text removed even when the secret itself is not known (a token from elsewhere). */
const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/\b(Bearer|Zoho-oauthtoken)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\b(refresh_token|access_token|client_secret)=([^&\s"']+)/gi, `$1=${REDACTED}`],
  [/"(refresh_token|access_token|client_secret)"\s*:\s*"[^"]*"/gi, `"$1":"${REDACTED}"`],
];

/**
 * Removes known secrets (and secret-shaped text) from strings, errors and log fields.
 *
 * Each known secret is removed in its plain, URL-encoded (`encodeURIComponent`) and JSON-escaped
 * forms, wherever it occurs in the text.
 */
export class SecretScrubber {
  readonly #fixed = new Set<string>();
  readonly #tokens = new Set<string>();
  #pattern: RegExp | undefined;

  /** @param secrets - secrets known from the start (client secret, refresh token). */
  constructor(secrets: readonly string[] = []) {
    for (const secret of secrets) this.#add(this.#fixed, secret);
  }

  /** Remembers a long-lived secret (client secret, refresh token); never forgotten. */
  rememberSecret(secret: unknown): void {
    if (typeof secret === 'string' && !this.#fixed.has(secret)) this.#add(this.#fixed, secret);
  }

  /** Remembers an access token (bounded by {@link MAX_REMEMBERED_TOKENS}, oldest forgotten first). */
  rememberToken(token: unknown): void {
    if (typeof token !== 'string' || this.#tokens.has(token)) return;
    if (!this.#add(this.#tokens, token)) return;
    if (this.#tokens.size > MAX_REMEMBERED_TOKENS) {
      const oldest = this.#tokens.values().next().value;
      if (oldest !== undefined) this.#tokens.delete(oldest);
    }
  }

  /** `text` with every known secret and every secret-shaped fragment replaced by `[redacted]`. */
  scrub(text: string): string {
    const pattern = this.#compiled();
    let out = pattern === undefined ? text : text.replace(pattern, REDACTED);
    for (const [shape, replacement] of SECRET_PATTERNS) out = out.replace(shape, replacement);
    return out;
  }

  /**
   * Scrubs an error in place and returns it: `message`, `stack` and every own string property
   * (`zohoMessage`, `oauthError`, ...), then its `cause` chain and `AggregateError.errors`. A string
   * `cause` is replaced by its scrubbed text. Non-errors are returned unchanged (strings scrubbed).
   */
  scrubError<T>(error: T): T {
    return this.#scrubErrorAt(error, 0, new Set()) as T;
  }

  /**
   * A copy of `value` fit for a log line: strings scrubbed, arrays and plain objects copied with
   * their members scrubbed (up to 8 levels), errors scrubbed in place; other values unchanged.
   */
  scrubValue(value: unknown): unknown {
    return this.#scrubValueAt(value, 0);
  }

  /** A logger that scrubs every message and every field before passing them to `inner`. */
  logger(inner: Logger): Logger {
    const wrap =
      (level: keyof Logger) =>
      (message: string, fields?: Record<string, unknown>): void => {
        const safeFields = fields === undefined ? undefined : (this.#scrubValueAt(fields, 0) as Record<string, unknown>);
        inner[level](this.scrub(String(message)), safeFields);
      };
    return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
  }

  #add(into: Set<string>, secret: unknown): boolean {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) return false;
    into.add(secret);
    this.#pattern = undefined;
    return true;
  }

  #compiled(): RegExp | undefined {
    if (this.#pattern !== undefined) return this.#pattern;
    const forms = new Set<string>();
    for (const secret of [...this.#fixed, ...this.#tokens]) {
      forms.add(secret);
      forms.add(encodeURIComponent(secret));
      forms.add(JSON.stringify(secret).slice(1, -1));
    }
    if (forms.size === 0) return undefined;
    // Longest first, so a secret containing another is removed whole.
    const alternatives = [...forms].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.#pattern = new RegExp(alternatives.join('|'), 'g');
    return this.#pattern;
  }

  #scrubErrorAt(error: unknown, depth: number, seen: Set<unknown>): unknown {
    if (typeof error === 'string') return this.scrub(error);
    if (!(error instanceof Error) || seen.has(error) || depth > MAX_DEPTH) return error;
    seen.add(error);
    for (const key of Reflect.ownKeys(error)) {
      if (typeof key !== 'string' || key === 'cause' || key === 'errors') continue;
      const descriptor = Object.getOwnPropertyDescriptor(error, key);
      if (descriptor === undefined || typeof descriptor.value !== 'string') continue;
      setOwn(error, key, this.scrub(descriptor.value), descriptor);
    }
    // `stack` may be an accessor (V8 installs it lazily); read and rewrite it as a value.
    const stack = (error as { stack?: unknown }).stack;
    if (typeof stack === 'string') setOwn(error, 'stack', this.scrub(stack), Object.getOwnPropertyDescriptor(error, 'stack'));
    const cause = (error as { cause?: unknown }).cause;
    if (cause !== undefined) {
      const scrubbed = this.#scrubErrorAt(cause, depth + 1, seen);
      if (scrubbed !== cause) setOwn(error, 'cause', scrubbed, Object.getOwnPropertyDescriptor(error, 'cause'));
    }
    const errors = (error as { errors?: unknown }).errors;
    if (Array.isArray(errors)) for (const inner of errors) this.#scrubErrorAt(inner, depth + 1, seen);
    return error;
  }

  #scrubValueAt(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (value instanceof Error) return this.scrubError(value);
    if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map((v) => this.#scrubValueAt(v, depth + 1));
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = this.#scrubValueAt(v, depth + 1);
    return out;
  }
}

/** Rewrites an own property as a data property (keeps enumerability); frozen objects are left alone. */
function setOwn(target: object, key: string, value: unknown, descriptor: PropertyDescriptor | undefined): void {
  try {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      configurable: true,
      enumerable: descriptor?.enumerable ?? false,
    });
  } catch {
    // non-configurable: nothing we can do without replacing the error
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
