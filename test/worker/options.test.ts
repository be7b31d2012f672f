import { describe, expect, it } from 'vitest';
import { ConfigError, SyncErrorCode } from '../../src/errors.js';
import { configFromEnv, DEFAULT_SYNC_WORKER_OPTIONS, resolveOptions, type SyncWorkerOptions } from '../../src/worker/options.js';
import type { RecordSink } from '../../src/adapters/sink.js';
import type { StateStore } from '../../src/adapters/state-store.js';
import { REQUIRED_STATE_METHODS } from '../../src/worker/record-ops.js';
import type { SourceAdapter } from '../../src/adapters/source.js';
import { silentLogger } from '../../src/logger.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { thrownMessage } from '../helpers/thrown-message.js';

const fn = (): never => {
  throw new Error('not called in these tests');
};
const source = { name: 's', listEvents: fn, readRecords: fn, readStamps: fn, readChangedSince: fn, getRecord: fn } as unknown as SourceAdapter;
const state = Object.fromEntries(REQUIRED_STATE_METHODS.map((m) => [m, fn])) as unknown as StateStore;
const sink = {
  name: 'k',
  capabilities: { compareStamps: false, locateRecord: false, exactRoundTrip: true },
  ping: fn,
  upsertRecords: fn,
  removeRecords: fn,
  countRecords: fn,
  scanRecordIds: fn,
  readStamps: fn,
  getRecord: fn,
  state,
} as unknown as RecordSink;

describe('resolveOptions', () => {
  it('applies the original design defaults', () => {
    const o = resolveOptions({ source, sink });
    expect(o).toMatchObject({ syncIntervalMs: 300_000, batchSize: 100, maxRetries: 3, enableAutoSync: true, enableDiscrepancyDetection: true, staleAfterMs: 600_000 });
    expect(o).toEqual(DEFAULT_SYNC_WORKER_OPTIONS);
  });

  it.each<[Partial<SyncWorkerOptions>, string]>([
    [{ batchSize: 0 }, 'batchSize'],
    [{ batchSize: 1.5 }, 'batchSize'],
    [{ syncIntervalMs: 10 }, 'syncIntervalMs'],
    [{ maxRetries: -1 }, 'maxRetries'],
    [{ enableAutoSync: 'yes' as unknown as boolean }, 'enableAutoSync'],
    [{ maxRemovalShare: 2 }, 'maxRemovalShare'],
    [{ logLevel: 'loud' as unknown as 'info' }, 'logLevel'],
    [{ lease: { ttlMs: 5 } }, 'lease.ttlMs'],
  ])('rejects %o naming %s', (bad, option) => {
    let error: unknown;
    try {
      resolveOptions({ source, sink, ...bad });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option, code: SyncErrorCode.INVALID_OPTION });
    expect((error as Error).message).toContain(`\`${option}\``);
  });

  it('rejects unknown lease keys and quotes string values in messages', () => {
    expect(() => resolveOptions({ source, sink, lease: { ttl: 5000 } as unknown as { ttlMs: number } })).toThrow(/Unknown option `lease.ttl`/);
    expect(() => resolveOptions({ source, sink, batchSize: '100' as unknown as number })).toThrow(/got "100"/);
  });

  it('never echoes a token-like value pasted into an option or a variable (its length only)', () => {
    const secret = '1000.8c1f3e5d7a9b2c4e6f8a0b1c3d5e7f9a.0b2d4f6a8c0e2a4c6e8a0c2e4a6c8e0a';
    for (const message of [
      thrownMessage(() => resolveOptions({ source, sink, quotaTimeZone: secret })),
      thrownMessage(() => resolveOptions({ source, sink, listingStrategy: secret as 'auto' })),
      thrownMessage(() => resolveOptions({ source, sink, dailyCallLimit: secret as unknown as number })),
      thrownMessage(() => configFromEnv({ SYNC_DAILY_CALL_LIMIT: secret })),
      thrownMessage(() => configFromEnv({ SYNC_QUOTA_TIME_ZONE: secret })),
    ]) {
      expect(message).toContain(`a string of ${secret.length} characters`);
      expect(message).not.toContain('8c1f3e5d');
    }
    // Plain values are still shown, so a typo is easy to see.
    expect(thrownMessage(() => resolveOptions({ source, sink, quotaTimeZone: 'Europe/Berlinn' }))).toContain('"Europe/Berlinn"');
  });

  it('rejects unknown options, a missing source and a sink that is not a RecordSink', () => {
    expect(() => resolveOptions({ source, sink, batchsize: 5 } as unknown as SyncWorkerOptions)).toThrow(/Unknown option `batchsize`/);
    expect(() => resolveOptions({ sink } as unknown as SyncWorkerOptions)).toThrow(/`source`/);
    expect(() => resolveOptions({ source, sink: {} } as unknown as SyncWorkerOptions)).toThrow(/`sink`/);
  });
});

describe('configFromEnv', () => {
  it('reads the original design variables', () => {
    expect(
      configFromEnv({
        SYNC_INTERVAL_MS: '300000',
        SYNC_BATCH_SIZE: '250',
        SYNC_MAX_RETRIES: '5',
        ENABLE_AUTO_SYNC: 'false',
        ENABLE_DISCREPANCY_DETECTION: 'TRUE',
        LOG_LEVEL: 'INFO',
        REDIS_LOG_LEVEL: 'WARN',
        UNRELATED: 'x',
      }),
    ).toEqual({
      syncIntervalMs: 300_000,
      batchSize: 250,
      maxRetries: 5,
      enableAutoSync: false,
      enableDiscrepancyDetection: true,
      logLevel: 'info',
      redisLogLevel: 'warn',
    });
    expect(configFromEnv({})).toEqual({});
    expect(configFromEnv({ SYNC_BATCH_SIZE: '' })).toEqual({});
  });

  it('reads the quota and listing variables (SYNC_DAILY_CALL_LIMIT, SYNC_LISTING_STRATEGY, …)', () => {
    expect(
      configFromEnv({
        SYNC_DAILY_CALL_LIMIT: '1000',
        SYNC_QUOTA_TIME_ZONE: 'Asia/Ho_Chi_Minh',
        SYNC_LISTING_STRATEGY: 'Bulk',
        SYNC_BULK_READ_THRESHOLD: '50000',
        SYNC_EXPECTED_RECORD_COUNT: '0',
      }),
    ).toEqual({ dailyCallLimit: 1000, quotaTimeZone: 'Asia/Ho_Chi_Minh', listingStrategy: 'bulk', bulkReadThreshold: 50_000, expectedRecordCount: 0 });
    const worker = resolveOptions({ source, sink, ...configFromEnv({ SYNC_DAILY_CALL_LIMIT: '250', SYNC_LISTING_STRATEGY: 'paged' }) });
    expect(worker).toMatchObject({ dailyCallLimit: 250, listingStrategy: 'paged' });
  });

  it.each([
    ['SYNC_DAILY_CALL_LIMIT', '0'],
    ['SYNC_DAILY_CALL_LIMIT', '1k'],
    ['SYNC_LISTING_STRATEGY', 'fast'],
    ['SYNC_BULK_READ_THRESHOLD', '-5'],
    ['SYNC_EXPECTED_RECORD_COUNT', 'many'],
    ['SYNC_QUOTA_TIME_ZONE', 'Mars/Olympus'],
    ['SYNC_BATCH_SIZE', 'ten'],
    ['SYNC_BATCH_SIZE', '0'],
    ['SYNC_INTERVAL_MS', '5m'],
    ['SYNC_MAX_RETRIES', '-1'],
    ['SYNC_MAX_RETRIES', '1000'],
    ['SYNC_BATCH_SIZE', '20000'],
    ['ENABLE_AUTO_SYNC', 'maybe'],
    ['LOG_LEVEL', 'chatty'],
  ])('rejects %s=%s naming the variable and the value', (name, value) => {
    let error: unknown;
    try {
      configFromEnv({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(name);
    expect((error as Error).message).toContain(`${name}="${value}"`);
  });
});

describe('adapter option typos', () => {
  it('RedisSink and ZohoCreatorSource reject unknown keys, naming them', async () => {
    const { default: RedisMock } = await import('ioredis-mock');
    const { RedisSink } = await import('../../src/redis/redis-sink.js');
    const { ZohoCreatorSource } = await import('../../src/zoho/zoho-creator-source.js');
    const redis = new RedisMock();
    expect(() => new RedisSink({ redis, keyprefix: 'x' } as never)).toThrow(/Unknown RedisSink option `keyprefix`/);
    const base = {
      accountOwner: 'o',
      appLinkName: 'a',
      eventsReport: 'E',
      registrationsReport: 'R',
      eventLookupField: 'Event',
      clientId: 'c',
      clientSecret: 's',
      refreshToken: 'r',
    };
    expect(() => new ZohoCreatorSource({ ...base, dataCenter: 'eu' } as never)).toThrow(/`dataCenter` \(did you mean `dataCentre`\?\)/);
    redis.disconnect();
  });
});

describe('run options are validated like constructor options', () => {
  const worker = (): SyncWorker => new SyncWorker({ source, sink, enableAutoSync: false, logger: silentLogger });

  it.each<[string, (w: SyncWorker) => Promise<unknown>, string, string]>([
    ['performFullSync({ allowMassRemovals: true })', (w) => w.performFullSync({ allowMassRemovals: true } as never), 'allowMassRemovals', 'Unknown option `allowMassRemovals` of performFullSync() (expected `allowMassRemoval`, `ignoreQuotaBudget`)'],
    ['performIncrementalSync({ allowMassRemoval: 1 })', (w) => w.performIncrementalSync({ allowMassRemoval: 1 } as never), 'allowMassRemoval', 'Expected `allowMassRemoval` of performIncrementalSync() to be true or false, got 1'],
    ['forceSyncEvent(id, { force: true })', (w) => w.forceSyncEvent('4433256000000100003', { force: true } as never), 'force', 'Unknown option `force` of forceSyncEvent() (expected `allowMassRemoval`, `ignoreQuotaBudget`)'],
    ["checkDiscrepancies({ heal: 'yes' })", (w) => w.checkDiscrepancies({ heal: 'yes' } as never), 'heal', 'Expected `heal` of checkDiscrepancies() to be true or false, got "yes"'],
    ['checkDiscrepancies({ heals: true })', (w) => w.checkDiscrepancies({ heals: true } as never), 'heals', 'Unknown option `heals` of checkDiscrepancies() (expected `allowMassRemoval`, `heal`, `ignoreQuotaBudget`)'],
    ["checkDiscrepancies('heal')", (w) => w.checkDiscrepancies('heal' as never), 'options', 'Expected the options of checkDiscrepancies() to be an object such as { allowMassRemoval: true }, got "heal"'],
  ])('%s is rejected with ConfigError naming the option, before any Zoho or Redis call', async (_label, call, option, message) => {
    const w = worker();
    const error = await call(w).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ option, code: SyncErrorCode.INVALID_OPTION, message });
    expect(w.getStatus().stats.total_syncs).toBe(0);
    expect(w.getStatus().current_run).toBeNull();
  });
});
