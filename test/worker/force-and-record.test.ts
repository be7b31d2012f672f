import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidInputError, SyncErrorCode, UnknownEventError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { createHarness, type Harness } from '../helpers/harness.js';

describe('forceSyncEvent and syncRecord (simulator + real Redis)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('re-reads one event, removes what left it, and leaves every other event byte-identical', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    const [target, other] = h.sim.listEvents();
    const targetRegs = h.sim.listRegistrations(target!.id);
    h.sim.clock.advance(1000);
    h.sim.editRegistration(targetRegs[0]!.id);
    h.sim.deleteRegistration(targetRegs[1]!.id);
    const added = h.sim.addRegistration(target!.id);
    // A change in another event must NOT be picked up by the forced sync of `target`.
    h.sim.editRegistration(h.sim.listRegistrations(other!.id)[0]!.id);

    const others = h.sim.listEvents().filter((e) => e.id !== target!.id);
    const before = await Promise.all(others.map((e) => h.dumpEvent(e.id)));
    h.sim.clearRequests();
    const result = await worker.forceSyncEvent(target!.id);
    const after = await Promise.all(others.map((e) => h.dumpEvent(e.id)));

    expect(after).toEqual(before);
    expect([result.added, result.updated, result.removed]).toEqual([1, 1, 1]);
    expect(result.eventsSynced).toBe(1);
    const ids = (await h.redis.hkeys(h.sink.keys.ids(target!.id))).sort();
    expect(ids).toEqual(h.sim.listRegistrations(target!.id).map((r) => r.id).sort());
    expect(ids).toContain(added.id);
    // One events-list call and one criteria query for the event.
    const registrationCalls = h.sim.requests.filter((r) => r.kind === 'records' && r.report === h.sim.config.registrationsReport);
    expect(registrationCalls.map((r) => r.query.criteria)).toEqual([`(Event == ${target!.id})`]);
  });

  it('rejects an unknown event with UnknownEventError and a malformed ID with InvalidInputError, touching nothing', async () => {
    const worker = h.worker();
    worker.on('error', () => undefined);
    await expect(worker.forceSyncEvent('4433256000099999999')).rejects.toBeInstanceOf(UnknownEventError);
    await expect(worker.forceSyncEvent('4433256000099999999')).rejects.toMatchObject({ code: SyncErrorCode.UNKNOWN_EVENT });
    h.sim.clearRequests();
    await expect(worker.forceSyncEvent('abc')).rejects.toBeInstanceOf(InvalidInputError);
    expect(h.sim.requests).toHaveLength(0);
    expect(await h.redisIds()).toEqual([]);
  });

  it('a force sync of an unknown event is a refused request: no failed sync counted, last_run untouched, no run events, no ERROR log', async () => {
    const lines: { level: string; message: string }[] = [];
    const at = (level: string) => (message: string) => lines.push({ level, message });
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const worker = h.worker({ logger });
    const events: string[] = [];
    for (const name of ['syncStarted', 'syncFailed', 'syncCompleted', 'error'] as const) worker.on(name, () => events.push(name));
    await worker.performFullSync();
    const before = worker.getStatus();
    events.length = 0;
    const handle = worker.trigger({ kind: 'force', eventId: '4433256000099999999' });
    await expect(handle.accepted).rejects.toBeInstanceOf(UnknownEventError);
    await expect(handle.result).rejects.toMatchObject({ code: SyncErrorCode.UNKNOWN_EVENT });
    const after = worker.getStatus();
    expect(after.stats).toEqual(before.stats);
    expect(after.stats.failed_syncs).toBe(0);
    expect(after.last_run).toEqual(before.last_run);
    expect(after.last_run?.outcome).toBe('succeeded');
    expect(after.current_run).toBeNull();
    expect(events).toEqual([]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.find((l) => l.message.includes('refused'))).toMatchObject({ level: 'warn', message: expect.stringContaining('4433256000099999999') });
    // The next forced sync of a real event runs normally and is announced.
    await worker.forceSyncEvent(h.sim.listEvents()[0]!.id);
    expect(events).toEqual(['syncStarted', 'syncCompleted']);
    expect(worker.getStatus().stats.successful_syncs).toBe(2);
  });

  it('stop() during a run ("the worker was stopped") is logged as an interruption at WARN, not at ERROR, and emits no error event', async () => {
    const lines: { level: string; message: string }[] = [];
    const at = (level: string) => (message: string) => lines.push({ level, message });
    const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const worker = h.worker({ logger, batchSize: 50 });
    const errors: unknown[] = [];
    const failed: string[] = [];
    worker.on('error', (e) => errors.push(e));
    worker.on('syncFailed', (p) => failed.push(p.error.code));
    let pages = 0;
    worker.on('recordsAdded', () => {
      pages += 1;
    });
    const run = worker.performFullSync();
    run.catch(() => undefined);
    while (pages === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await worker.stop();
    await expect(run).rejects.toMatchObject({ code: SyncErrorCode.ABORTED, message: 'The worker was stopped' });
    expect(failed).toEqual([SyncErrorCode.ABORTED]);
    expect(errors).toEqual([]);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(lines.find((l) => l.message.includes('The worker was stopped'))).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/^Sync run \S+ \(full\) interrupted: The worker was stopped$/),
    });
  });

  it('syncRecord upserts a new registration, removes one Zoho answers 3190 for, and logs the real IDs', async () => {
    const lines: string[] = [];
    const logger: Logger = { debug: () => {}, info: (m) => lines.push(m), warn: () => {}, error: () => {} };
    const worker = h.worker({ logger });
    await worker.performFullSync();
    const event = h.sim.listEvents()[3]!;
    const reg = h.sim.addRegistration(event.id);
    h.sim.clearRequests();
    expect(await worker.syncRecord(reg.id)).toEqual({ recordId: reg.id, eventId: event.id, outcome: 'added' });
    expect(h.sim.requests.map((r) => r.kind)).toEqual(['record']);
    expect(JSON.parse((await h.redis.get(`${h.prefix}:{e:${event.id}}:rec:${reg.id}`))!)).toEqual(h.sim.toApiRecord(reg));
    expect(await worker.syncRecord(reg.id)).toMatchObject({ outcome: 'unchanged' });
    expect(lines.some((l) => l.includes(`Synced record ${reg.id} of event ${event.id}`))).toBe(true);
    expect(lines.some((l) => l.includes('${'))).toBe(false);

    h.sim.deleteRegistration(reg.id);
    expect(await worker.syncRecord(reg.id)).toEqual({ recordId: reg.id, eventId: event.id, outcome: 'removed' });
    expect(await h.redis.hexists(h.sink.keys.ids(event.id), reg.id)).toBe(0);
    expect(worker.getStatus().stats).toMatchObject({ records_added: 2419 + 1, records_removed: 1 });
  });

  it('syncRecord moves a registration whose event changed', async () => {
    const worker = h.worker();
    await worker.performFullSync();
    const [from, to] = h.sim.listEvents();
    const reg = h.sim.listRegistrations(from!.id)[0]!;
    h.sim.moveRegistration(reg.id, to!.id);
    expect(await worker.syncRecord(reg.id)).toMatchObject({ eventId: to!.id, outcome: 'added' });
    expect(await h.redis.hexists(h.sink.keys.ids(from!.id), reg.id)).toBe(0);
    expect(await h.redis.hexists(h.sink.keys.ids(to!.id), reg.id)).toBe(1);
  });
});
