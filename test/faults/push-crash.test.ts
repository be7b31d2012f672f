/**
 * A process SIGKILLed after answering a push 202 and before applying it: on restart the push is
 * applied exactly once (the inbox entry stayed pending and is claimed with XAUTOCLAIM).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { PUSH_CONSUMER_GROUP } from '../../src/push/inbox.js';
import { signPush } from '../../src/push/signature.js';
import { ZohoPushes } from '../../src/push/zoho-pushes.js';
import { createHarness, type Harness, REDIS_URL, recordCalls } from '../helpers/harness.js';
import { faultRow, fixture, spawnChild } from './helpers.js';

const SECRET = 'crash-test-push-secret-0123';

describe('push inbox across a crash (child process, real Redis, simulator)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ dataset: { events: 4, registrations: 200, seed: 9 } });
  });
  afterEach(async () => {
    await h.close();
  });

  it('SIGKILL after the 202 and before applying: on restart the push is applied exactly once', async ({ task }) => {
    const child = spawnChild(fixture('push-child.ts'), {
      ZRS_PUSH_CHILD: JSON.stringify({
        redisUrl: REDIS_URL,
        prefix: h.prefix,
        secret: SECRET,
        source: { ...h.sim.config, ...h.sim.credentials, apiBaseUrl: h.sim.apiBaseUrl, accountsBaseUrl: h.sim.accountsBaseUrl },
      }),
    });
    let pushes: ZohoPushes | undefined;
    try {
      const ready = await child.waitFor((l) => l.type === 'ready', 30_000);
      const event = h.sim.listEvents()[0]!;
      const reg = h.sim.addRegistration(event.id);
      const body = `{"action":"created","record_id":${reg.id},"event_id":${event.id}}`;
      const response = await fetch(`http://127.0.0.1:${String(ready.port)}/sync/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signPush(SECRET, body) },
        body,
      });
      expect(response.status).toBe(202);
      // Wait until the child has read the entry (it is pending under the child's consumer), then kill it.
      const inboxKey = `${h.prefix}:{push}:inbox`;
      const deadline = Date.now() + 10_000;
      for (;;) {
        const summary = (await h.redis.xpending(inboxKey, PUSH_CONSUMER_GROUP)) as [number, ...unknown[]];
        if (Number(summary[0]) === 1) break;
        if (Date.now() > deadline) throw new Error('the child never read the push');
        await new Promise((r) => setTimeout(r, 20));
      }
      child.proc.kill('SIGKILL');
      const exit = await child.exited(10_000);
      expect(exit.signal).toBe('SIGKILL');
      expect(await h.redis.exists(h.sink.keys.record(event.id, reg.id))).toBe(0);
      h.sim.clearRequests();

      // The restarted process (same Redis, new consumer name) claims the abandoned entry.
      pushes = new ZohoPushes({ redis: h.redis, source: h.source(), sink: h.sink, secret: SECRET, keyPrefix: h.prefix, logger: silentLogger, claimIdleMs: 200 });
      const applied: string[] = [];
      pushes.on('pushApplied', (p) => applied.push(`${p.recordId}:${p.outcome}`));
      await pushes.start();
      const until = Date.now() + 10_000;
      while (applied.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      // Give a second claim a chance to (wrongly) happen before asserting "exactly once".
      await new Promise((r) => setTimeout(r, 600));
      const json = await h.redis.get(h.sink.keys.record(event.id, reg.id));
      task.meta.fault = faultRow('process SIGKILLed after answering a push 202, before applying it', {
        missing: json === null ? [reg.id] : [],
        different: json !== null && json !== JSON.stringify(h.sim.toApiRecord(reg)) ? [reg.id] : [],
        duplicates: applied.slice(1),
        extra: [],
        orphans: [],
      });
      expect(applied).toEqual([`${reg.id}:added`]);
      expect(json).toBe(JSON.stringify(h.sim.toApiRecord(reg)));
      expect(recordCalls(h)).toBe(1);
      expect(await pushes.inbox.counts()).toEqual({ pending: 0, dead: 0 });
    } finally {
      await pushes?.stop();
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    }
  });
});
