/**
 * Resuming after the stored cursor expired: Zoho documents no lifetime for `record_cursor`, and a
 * run may resume long after the interruption (the next interval, or an hour later after code 4000).
 * The first resumed request is then refused; the worker must list again rather than fail forever.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { CONVERGED, checkIntegrity, eventIds, faultRow, recordEvents } from './helpers.js';

describe('resuming with an expired cursor (real Redis + Zoho simulator)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('an interrupted incremental listing whose cursor expired lists again from the same lower bound', async ({ task }) => {
    h = await createHarness({ dataset: { events: 20, registrations: 1000, seed: 51 } });
    const report = h.sim.config.registrationsReport;
    const worker = h.worker({ maxRetries: 1 });
    const log = recordEvents(worker);
    await worker.performFullSync();

    h.sim.clock.advance(5000);
    const events = h.sim.listEvents();
    const added = Array.from({ length: 2500 }, (_, i) => h.sim.addRegistration(events[i % events.length]!.id).id);
    h.sim.inject({ kind: 'records', report, page: 2, times: 2, respond: { type: 'zoho', status: 500, code: 2930 } });
    await expect(worker.performIncrementalSync()).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_API });
    expect(await h.sink.state.getCheckpoint('incremental')).toMatchObject({ nextPage: 2, since: expect.any(Number) });
    const addedSet = new Set(added);
    const writtenBeforeFailure = (await h.redisIds()).filter((id) => addedSet.has(id)).length;
    expect(writtenBeforeFailure).toBeGreaterThan(900); // page 1 (the listing also repeats a few older records)

    h.sim.clock.advance(11 * 60_000); // longer than the simulator's cursor lifetime (10 minutes)
    h.sim.clearRequests();
    const result = await worker.performIncrementalSync();
    expect(result).toMatchObject({ resumed: false, added: 2500 - writtenBeforeFailure });
    const pages = h.sim.requests.filter((r) => r.kind === 'records' && r.report === report);
    expect(pages.map((r) => `${r.page ?? '?'}:${r.status}`)).toEqual(['2:400', '1:200', '2:200', '3:200']);
    expect(pages[0]?.zohoCode).toBe(2950);
    expect(await h.sink.state.getCheckpoint('incremental')).toBeUndefined();

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('resume after the stored cursor expired', integrity);
    expect(integrity).toEqual(CONVERGED);
    expect(eventIds(log, 'recordsAdded').sort()).toEqual([...h.simIds()].sort());
    expect(eventIds(log, 'recordsAdded').filter((id) => added.includes(id))).toHaveLength(2500);
    expect(worker.getStatus().stats).toMatchObject({ records_added: 3500, failed_syncs: 1, successful_syncs: 2 });
  });
});
