import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, InvalidInputError, LeaseError, SinkError, SyncErrorCode } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { isTransientSinkError, RetryingSink } from '../../src/worker/sink-retry.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness, type Harness, REDIS_URL } from '../helpers/harness.js';

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function named(message: string, name: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('isTransientSinkError', () => {
  it.each([
    ['a reset socket', withCode('read ECONNRESET', 'ECONNRESET')],
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED')],
    ['ioredis giving up on reconnecting for the command', named('Reached the max retries per request limit (which is 0).', 'MaxRetriesPerRequestError')],
    ['a pipeline cut by the connection close', named('Command aborted due to connection close', 'AbortError')],
    ['a closed client', new Error('Connection is closed.')],
    ['commandTimeout', new Error('Command timed out')],
    ['LOADING after a restart', new Error('LOADING Redis is loading the dataset in memory')],
    ['BUSY script', new Error('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.')],
    ['TRYAGAIN', new Error('TRYAGAIN Multiple keys request during rehashing of slot')],
    ['the cause of a SinkError', new SinkError('Redis upsertRecords failed: x', { cause: withCode('write EPIPE', 'EPIPE') })],
  ])('retries %s', (_, error) => {
    expect(isTransientSinkError(error)).toBe(true);
  });

  it.each([
    ['WRONGTYPE', new SinkError('Redis upsertRecords failed: WRONGTYPE', { cause: new Error('WRONGTYPE Operation against a key holding the wrong kind of value') })],
    ['a script error', new Error('ERR user_script:12: Script attempted to access nonexistent global variable')],
    ['NOSCRIPT', new Error('NOSCRIPT No matching script. Please use EVAL.')],
    ['OOM', new Error("OOM command not allowed when used memory > 'maxmemory'.")],
    ['READONLY', new Error("READONLY You can't write against a read only replica.")],
    ['BUSYGROUP', new Error('BUSYGROUP Consumer Group name already exists')],
    ['a refused fence', new LeaseError('Refused to write', { cause: new Error('Connection is closed.') })],
    ['a bad argument', new InvalidInputError('record ID must be a non-empty string')],
    ['an abort', new AbortedError('The worker was stopped')],
    ['a DOM AbortError', named('This operation was aborted', 'AbortError')],
    ['a non-error', 'ECONNRESET'],
  ])('does not retry %s', (_, error) => {
    expect(isTransientSinkError(error)).toBe(false);
  });
});

describe('RetryingSink and the worker on real Redis', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('retries a transient failure up to `retries` times, counting each retry', async () => {
    const redis = new Redis(REDIS_URL);
    class Flaky extends RedisSink {
      failures = 0;
      calls = 0;
      override async countRecords(eventId: string): Promise<number> {
        this.calls += 1;
        if (this.failures > 0) {
          this.failures -= 1;
          throw new SinkError('Redis HLEN failed: Connection is closed.', { cause: new Error('Connection is closed.') });
        }
        return super.countRecords(eventId);
      }
    }
    try {
      const inner = new Flaky({ redis, keyPrefix: 'zrs-test-retry' });
      const retried: string[] = [];
      const sink = new RetryingSink(inner, { retries: 2, minDelayMs: 1, onRetry: (op) => retried.push(op) });
      inner.failures = 2;
      expect(await sink.countRecords('1')).toBe(0);
      expect(inner.calls).toBe(3);
      expect(retried).toEqual(['countRecords', 'countRecords']);
      inner.failures = 3;
      inner.calls = 0;
      await expect(sink.countRecords('1')).rejects.toMatchObject({ code: SyncErrorCode.SINK });
      expect(inner.calls).toBe(3); // 1 + 2 retries
    } finally {
      redis.disconnect();
    }
  });

  it('a WRONGTYPE reply fails the run at once: no retry', async () => {
    h = await createHarness({ dataset: { events: 3, registrations: 50, seed: 61 } });
    const event = h.sim.listEvents()[0]!;
    await h.redis.set(h.sink.keys.ids(event.id), 'not a hash');
    const worker = new SyncWorker({ source: h.source(), sink: h.sink, logger: silentLogger, enableAutoSync: false, maxRetries: 3 });
    worker.on('error', () => undefined);
    const error = await worker.performFullSync().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SinkError', code: SyncErrorCode.SINK });
    expect((error as Error).message).toContain('WRONGTYPE');
    expect(worker.getStatus().stats).toMatchObject({ sink_retries: 0, failed_syncs: 1 });
    await worker.stop();
  });
});
