/**
 * The README's worked key layouts, as written there: a full sync, an edit, a move and a deletion
 * in the simulator, then a backend that reads those keys directly with plain ioredis commands
 * (`GET` / `HGETALL` / `SMEMBERS` / `HKEYS`, as each layout's text says) sees exactly what Zoho holds.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimRegistration } from '../../src/testing.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { deletePrefix, randomPrefix } from './helpers.js';
import { README_LAYOUTS } from './layouts.js';

/** A key from a README template, as the backend would build it. */
function render(template: string, prefix: string, eventId: string, id = ''): string {
  return template.replaceAll('<prefix>', prefix).replaceAll('<eventId>', eventId).replaceAll('<id>', id);
}

/** The hash a backend expects for a record under the `hash` encoding rule. */
function asHash(data: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

describe('README key layouts, read back by a backend', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('documents three worked layouts', () => {
    expect(README_LAYOUTS.map((l) => l.title)).toEqual([
      'Layout 1: the default (JSON strings, a hash index)',
      'Layout 2: one hash per registration, a set per event',
      'Layout 3: JSON under the backend\'s own names',
    ]);
  });

  for (const worked of README_LAYOUTS) {
    it(`${worked.title}: the backend sees what Zoho holds`, async () => {
      h = await createHarness({ dataset: { events: 6, registrations: 240, seed: 21 } });
      const prefix = `${randomPrefix('layout')}-${worked.keyPrefix}`;
      const sink = new RedisSink({ redis: h.redis, keyPrefix: prefix, layout: worked.layout });
      const worker = new SyncWorker({ source: h.source(), sink, logger: silentLogger, enableAutoSync: false });
      try {
        const recordKey = worked.layout?.recordKey ?? '<prefix>:{e:<eventId>}:rec:<id>';
        const indexKey = worked.layout?.indexKey ?? '<prefix>:{e:<eventId>}:ids';
        const readCommand = worked.layout?.encoding === 'hash' ? 'HGETALL' : 'GET';
        const indexCommand = worked.layout?.index === 'set' ? 'SMEMBERS' : 'HKEYS';
        // The README tells the backend which commands read these keys.
        expect(worked.text).toContain(`${readCommand} ${render(recordKey, worked.keyPrefix, '<eventId>', '<id>')}`);
        expect(worked.text).toContain(`${indexCommand} ${render(indexKey, worked.keyPrefix, '<eventId>')}`);

        const backendSees = async (reg: SimRegistration): Promise<unknown> => {
          const key = render(recordKey, prefix, reg.eventId, reg.id);
          if (readCommand === 'GET') {
            const json = await h!.redis.get(key);
            return json === null ? null : JSON.parse(json);
          }
          const hash = await h!.redis.hgetall(key);
          if (worked.layout?.stampField) {
            expect(hash[worked.layout.stampField]).toBe(String(reg.modifiedAt));
            delete hash[worked.layout.stampField];
          }
          return hash;
        };
        const expected = (reg: SimRegistration): unknown => {
          const data = h!.sim.toApiRecord(reg);
          return readCommand === 'GET' ? data : asHash(data);
        };
        const check = async (): Promise<void> => {
          for (const event of h!.sim.listEvents()) {
            const key = render(indexKey, prefix, event.id);
            const ids = indexCommand === 'SMEMBERS' ? await h!.redis.smembers(key) : await h!.redis.hkeys(key);
            const regs = h!.sim.listRegistrations(event.id);
            expect(ids.sort()).toEqual(regs.map((r) => r.id).sort());
            for (const reg of regs) expect(await backendSees(reg)).toEqual(expected(reg));
          }
        };

        const first = await worker.performFullSync();
        expect(first.added).toBe(240);
        await check();

        const [a, b, c] = h.sim.listRegistrations();
        h.sim.editRegistration(a!.id, { Full_Name: 'Lê Thị Hồng Nhung' });
        const moveTo = h.sim.listEvents().find((e) => e.id !== b!.eventId)!.id;
        h.sim.moveRegistration(b!.id, moveTo);
        h.sim.deleteRegistration(c!.id);
        const second = await worker.performFullSync();
        expect(second).toMatchObject({ added: 1, updated: 1, removed: 2 }); // the move: added in its new event, removed from the old
        await check();
        expect(await h.redis.exists(render(recordKey, prefix, c!.eventId, c!.id))).toBe(0);
        expect(await h.redis.exists(render(recordKey, prefix, b!.eventId, b!.id))).toBe(0);

        // A staleness check compares the times the layout keeps (index values or stamp fields): nothing differs.
        const report = await worker.checkDiscrepancies();
        expect(report.totals).toMatchObject({ missingInRedis: 0, extraInRedis: 0, stale: 0 });

        // A record key that vanished (evicted, expired, deleted by hand) while its index entry stayed
        // reads as not held in every layout, so reconciliation finds it.
        const vanished = h.sim.listRegistrations()[5]!;
        const kept = h.sim.listRegistrations(vanished.eventId).find((r) => r.id !== vanished.id)!;
        expect(await h.redis.del(render(recordKey, prefix, vanished.eventId, vanished.id))).toBe(1);
        const stillIndexed =
          indexCommand === 'SMEMBERS'
            ? await h.redis.sismember(render(indexKey, prefix, vanished.eventId), vanished.id)
            : await h.redis.hexists(render(indexKey, prefix, vanished.eventId), vanished.id);
        expect(stillIndexed).toBe(1);
        const stamps = [vanished, kept].map((r) => ({ id: r.id, eventId: r.eventId, modifiedAt: r.modifiedAt }));
        expect(await sink.compareStamps(stamps)).toEqual({ missing: [stamps[0]], stale: [] });
        expect(await sink.readStamps(vanished.eventId, [vanished.id, kept.id])).toEqual([undefined, kept.modifiedAt]);
      } finally {
        await deletePrefix(h.redis as Redis, prefix);
      }
    }, 60_000);
  }

  it('refuses layouts whose keys cannot share a slot, naming the reason', () => {
    const fakeClient = { pipeline() {}, defineCommand() {} } as never; // the layout is checked before any command
    const make = (layout: object) => () => new RedisSink({ redis: fakeClient, layout });
    expect(make({ recordKey: 'registration:<id>' })).toThrow(/no hash tag with <eventId>/);
    expect(make({ recordKey: 'registration:{<eventId>}:<id>', indexKey: 'event:{ev<eventId>}:registrations' })).toThrow(/same hash tag/);
    expect(make({ recordKey: 'r:{<eventId>:<id>}' })).toThrow(/inside the hash tag/);
    expect(make({ recordKey: '<id>:{<eventId>}' })).toThrow(/before the hash tag/);
    expect(make({ recordKey: 'r:{<eventId>}' })).toThrow(/<id> exactly once/);
    expect(make({ index: 'set', encoding: 'json' })).toThrow(/needs layout.encoding 'hash'/);
    expect(make({ index: 'set', encoding: 'hash' })).toThrow(/needs layout.stampField/);
    expect(make({ recordKey: 'r:{<event>}:<id>' })).toThrow(/unknown placeholder <event>/);
    expect(make({ encodings: 'hash' })).toThrow(ConfigError);
  });

  it("refuses layouts whose keys would land on the library's own state keys", () => {
    const fakeClient = { pipeline() {}, defineCommand() {} } as never;
    const make = (layout: object) => () => new RedisSink({ redis: fakeClient, keyPrefix: 'app', layout });
    // Found by a new user: this index counted the event's meta fields as records and later "removed" them.
    expect(make({ indexKey: '<prefix>:{e:<eventId>}:meta' })).toThrow(/"app:\{e:1\}:meta" that the library keeps for its own state/);
    expect(make({ recordKey: '<prefix>:{e:<eventId>}:seen:<id>' })).toThrow(/layout.recordKey .*own state/);
    expect(make({ indexKey: 'app:{e:<eventId>}:dlq' })).toThrow(/own state/);
    expect(make({ indexKey: 'app:{e:<eventId>}:dlq:digests' })).toThrow(/own state/);
    expect(make({ indexKey: 'app:{e:<eventId>}:meta:fence' })).toThrow(/own state/);
    expect(make({ recordKey: '<prefix>:{e:<eventId>}:meta:<id>' })).not.toThrow();
    expect(make({ recordKey: 'registration:{<eventId>}:<id>', indexKey: 'event:{<eventId>}:registrations' })).not.toThrow();
  });
});
