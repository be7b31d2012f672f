/**
 * `stop()` aborts the run in flight promptly and leaves no timer or socket open: a child process
 * that starts a worker, stops it mid-run and closes its Redis client, source and simulator must
 * exit by itself (no kill), with code 0, within a few seconds.
 */
import { describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import { fixture, spawnChild } from './helpers.js';

describe('stop() and process exit', () => {
  it('a process that stopped its worker mid-run and closed its clients exits by itself', async () => {
    const child = spawnChild(fixture('stop-child.ts'), {});
    child.proc.stdin?.end();
    const stopped = await child.waitFor((l) => l.type === 'stopped', 30_000);
    const closedAt = Date.now();
    await child.waitFor((l) => l.type === 'closed', 10_000);
    const exit = await child.exited(5000);
    expect(exit, child.stderr()).toEqual({ code: 0, signal: null, killedByUs: false });
    expect(Date.now() - closedAt).toBeLessThan(3000);
    expect(stopped).toMatchObject({
      isRunning: false,
      leaseHeld: false, // released on stop, not left to expire
      lastRun: { kind: 'full', outcome: 'failed', error_code: SyncErrorCode.ABORTED },
      checkpoint: { nextPage: expect.any(Number) }, // kept for the next start to resume
    });
    expect(stopped.stopMs).toBeLessThan(1000);
  });
});
