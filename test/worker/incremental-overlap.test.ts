/**
 * One round trip for an incremental run: the events list and the changes listing are in flight
 * together, and the watermark still only moves after both succeeded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FetchFunction } from '../../src/zoho/http-client.js';
import { createHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
afterEach(async () => {
  await h.close();
});

/**
 * A fetch that holds the events-report request until a registrations request has been sent (or
 * 5 s passed), and says which of the two released it.
 */
function gatedFetch(eventsReport: string, registrationsReport: string): { fetch: FetchFunction; releasedBy: () => string | undefined; arm(): void } {
  let armed = false;
  let releasedBy: string | undefined;
  let release: (() => void) | undefined;
  const gate = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        releasedBy ??= 'timeout';
        resolve();
      }, 5000);
      release = () => {
        clearTimeout(timer);
        releasedBy ??= 'changes-listing';
        resolve();
      };
    });
  const fetch: FetchFunction = async (input, init) => {
    const url = String(input);
    if (armed && url.includes(`/report/${eventsReport}`)) {
      armed = false;
      await gate();
    } else if (url.includes(`/report/${registrationsReport}?`) && release) release();
    return globalThis.fetch(input, init);
  };
  return {
    fetch,
    releasedBy: () => releasedBy,
    arm: () => {
      armed = true;
    },
  };
}

describe('incremental sync overlaps the events list with the changes listing', () => {
  it('sends the changes listing while the events list is still in flight', async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 3 } });
    const gated = gatedFetch(h.sim.config.eventsReport, h.sim.config.registrationsReport);
    const worker = h.worker({}, { fetch: gated.fetch });
    await worker.performFullSync();
    h.sim.clock.advance(5000);
    const edited = h.sim.editRegistration(h.sim.listRegistrations()[7]!.id);
    gated.arm();
    const result = await worker.performIncrementalSync();
    expect(gated.releasedBy()).toBe('changes-listing');
    expect(result).toMatchObject({ updated: 1, added: 0, removed: 0 });
    expect(result.watermark).toBe(new Date(edited.modifiedAt).toISOString());
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });

  it('fails the run and keeps the watermark when the events list fails', async () => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 3 } });
    const worker = h.worker({ maxRetries: 0 });
    await worker.performFullSync();
    const before = (await h.sink.state.getSyncMeta()).watermark;
    h.sim.clock.advance(5000);
    h.sim.editRegistration(h.sim.listRegistrations()[3]!.id);
    h.sim.inject({ kind: 'records', report: h.sim.config.eventsReport, respond: { type: 'zoho', status: 403, code: 2933 } });
    await expect(worker.performIncrementalSync()).rejects.toMatchObject({ code: 'ERR_SYNC_ZOHO_API' });
    expect((await h.sink.state.getSyncMeta()).watermark).toBe(before);
    // The next run lists the same changes again and commits them.
    const next = await worker.performIncrementalSync();
    expect(next.updated + next.unchanged).toBeGreaterThanOrEqual(1);
    expect((await h.sink.state.getSyncMeta()).watermark).toBeGreaterThan(before!);
    expect(await h.diff()).toEqual({ missing: [], different: [], extra: [] });
  });
});
