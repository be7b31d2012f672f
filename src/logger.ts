/**
 * The logger contract: any object with `debug/info/warn/error` (pino, winston and console fit).
 * Each method receives a message and, optionally, an object of structured fields.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Log levels in increasing severity; `silent` logs nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Parses a level name case-insensitively (`INFO`, `warn`, `WARNING`); `undefined` when unknown. */
export function parseLogLevel(value: string): LogLevel | undefined {
  const lower = value.trim().toLowerCase();
  if (lower === 'warning') return 'warn';
  return lower in SEVERITY ? (lower as LogLevel) : undefined;
}

/**
 * A logger that writes one line per message to stderr (`console.error`), dropping messages below
 * `level`. Structured fields are appended as JSON.
 *
 * @param level - the lowest level written; default `info`.
 * @param name - a prefix naming the component, default `zoho-redis-sync`.
 */
export function createConsoleLogger(level: LogLevel = 'info', name = 'zoho-redis-sync'): Logger {
  const threshold = SEVERITY[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>): void => {
    if (SEVERITY[lvl] < threshold) return;
    const suffix = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
    console.error(`[${name}] ${lvl.toUpperCase()} ${message}${suffix}`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/**
 * Wraps a logger so that messages below `level` are dropped (used for Redis-side log lines, which
 * `REDIS_LOG_LEVEL` / `redisLogLevel` tune separately from `LOG_LEVEL`).
 */
export function withMinimumLevel(logger: Logger, level: LogLevel): Logger {
  const threshold = SEVERITY[level];
  const pass = (lvl: Exclude<LogLevel, 'silent'>): boolean => SEVERITY[lvl] >= threshold;
  return {
    debug: (m, f) => (pass('debug') ? logger.debug(m, f) : undefined),
    info: (m, f) => (pass('info') ? logger.info(m, f) : undefined),
    warn: (m, f) => (pass('warn') ? logger.warn(m, f) : undefined),
    error: (m, f) => (pass('error') ? logger.error(m, f) : undefined),
  };
}

/** A logger that discards everything. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof Error) return { name: v.name, message: v.message, code: (v as { code?: unknown }).code };
      return typeof v === 'bigint' ? v.toString() : v;
    });
  } catch {
    return '[unserialisable fields]';
  }
}
