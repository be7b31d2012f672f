import { afterEach, describe, expect, it, vi } from 'vitest';
import { createConsoleLogger, type Logger, parseLogLevel, withMinimumLevel } from '../src/logger.js';

describe('loggers', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('parses the original design level names case-insensitively', () => {
    expect(['INFO', 'WARN', 'warning', 'Debug', 'ERROR', 'silent'].map(parseLogLevel)).toEqual(['info', 'warn', 'warn', 'debug', 'error', 'silent']);
    expect(parseLogLevel('loud')).toBeUndefined();
  });

  it('the console logger drops lines below its level and prints fields as JSON', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => {
      lines.push(line);
    });
    const logger = createConsoleLogger('warn', 'test');
    logger.info('hidden');
    logger.warn('shown', { eventId: '4433256000013547003' });
    expect(lines).toEqual(['[test] WARN shown {"eventId":"4433256000013547003"}']);
  });

  it('withMinimumLevel filters a custom logger (REDIS_LOG_LEVEL)', () => {
    const seen: string[] = [];
    const base: Logger = {
      debug: (m) => seen.push(`debug:${m}`),
      info: (m) => seen.push(`info:${m}`),
      warn: (m) => seen.push(`warn:${m}`),
      error: (m) => seen.push(`error:${m}`),
    };
    const redis = withMinimumLevel(base, 'warn');
    redis.debug('a');
    redis.info('b');
    redis.warn('c');
    redis.error('d');
    expect(seen).toEqual(['warn:c', 'error:d']);
  });
});
