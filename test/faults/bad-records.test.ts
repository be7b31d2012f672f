/**
 * Bad records do not sink a page: rows without an ID, with an ID that is not 1–19 digits, with an
 * unparseable modification time, without an event, or larger than `maxRecordBytes` go to the capped
 * dead-letter streams (reason, raw record, time); the rest of the page is stored byte for byte.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_FIELDS } from '../../src/redis/key-schema.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { CONVERGED, checkIntegrity, faultRow, recordEvents } from './helpers.js';

describe('bad records (real Redis + Zoho simulator)', () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it('dead-letters each bad row with its reason, stores the rest of the page, counts them in getStatus()', async ({ task }) => {
    h = await createHarness({ dataset: { events: 5, registrations: 300, seed: 31 } });
    const [first, second] = h.sim.listEvents();
    const nfd = 'Nguye\u0302\u0303n'; // decomposed diacritics: must not be normalised
    const viet = h.sim.addRegistration(first!.id, { Full_Name: 'Nguyễn Thị Ánh Tuyết', Notes: `${nfd} — “Hội nghị Đà Nẵng” 🎉` });
    const huge = h.sim.addRegistration(second!.id, { Notes: 'ư'.repeat(140_000) }); // 280 000 bytes of UTF-8
    const template = h.sim.toApiRecord(h.sim.listRegistrations(first!.id)[0]!);
    const { ID: _id, ...withoutId } = template;
    const broken = [
      withoutId,
      { ...template, ID: '12ab34' },
      { ...template, ID: '12345678901234567890' },
      { ...template, ID: '9000000000000000001', Modified_Time: '31-Feb-2024 25:61:00' },
      { ...template, ID: '9000000000000000002', Event: '' },
    ];
    // Zoho serves the (single) page with the bad rows among the good ones.
    const rows = h.sim.listRegistrations().map((r) => h.sim.toApiRecord(r));
    rows.splice(100, 0, ...broken.slice(0, 3));
    rows.push(...broken.slice(3));
    h.sim.inject({ kind: 'records', report: h.sim.config.registrationsReport, page: 1, respond: { status: 200, body: { code: 3000, data: rows } } });

    const worker = h.worker();
    const log = recordEvents(worker);
    const startedAt = Date.now();
    const result = await worker.performFullSync();
    expect(result).toMatchObject({ added: 301, deadLettered: 6, recordsFetched: 307 });
    expect(worker.getStatus().stats.dead_lettered).toBe(6);
    expect(log.recordDeadLettered.map((d) => d.reason).sort()).toEqual([
      'invalid-id',
      'invalid-id',
      'invalid-modified-time',
      'missing-event',
      'missing-id',
      'too-large',
    ]);

    // The streams: reason, detail, the raw row as JSON, the time.
    const streams = [...h.sim.listEvents().map((e) => h.sink.keys.deadLetters(e.id)), h.sink.keys.globalDeadLetters()];
    const entries: Record<string, string>[] = [];
    for (const key of streams) {
      for (const [, fields] of await h.redis.xrange(key, '-', '+')) {
        const entry: Record<string, string> = {};
        for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
        entries.push(entry);
      }
    }
    expect(entries).toHaveLength(6);
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual(Object.values(DEAD_LETTER_FIELDS).sort());
      expect(Date.parse(entry[DEAD_LETTER_FIELDS.at]!)).toBeGreaterThanOrEqual(startedAt - 1000);
    }
    const raws = entries.filter((e) => e[DEAD_LETTER_FIELDS.rawTruncated] === 'false').map((e) => JSON.parse(e[DEAD_LETTER_FIELDS.raw]!) as unknown);
    for (const row of broken) expect(raws).toContainEqual(row);
    expect(raws).toHaveLength(5);
    // The oversized one keeps its first 256 KiB, its whole size and its hash.
    const hugeJson = JSON.stringify(h.sim.toApiRecord(huge));
    const cut = entries.find((e) => e[DEAD_LETTER_FIELDS.reason] === 'too-large')!;
    expect(cut[DEAD_LETTER_FIELDS.rawTruncated]).toBe('true');
    expect(Number(cut[DEAD_LETTER_FIELDS.rawBytes])).toBe(Buffer.byteLength(hugeJson, 'utf8'));
    expect(cut[DEAD_LETTER_FIELDS.rawSha256]).toBe(createHash('sha256').update(hugeJson).digest('hex'));
    expect(Buffer.byteLength(cut[DEAD_LETTER_FIELDS.raw]!, 'utf8')).toBeLessThanOrEqual(256 * 1024);
    expect(Buffer.byteLength(cut[DEAD_LETTER_FIELDS.raw]!, 'utf8')).toBeGreaterThan(256 * 1024 - 4);
    expect(hugeJson.startsWith(cut[DEAD_LETTER_FIELDS.raw]!)).toBe(true);
    expect(await h.sink.state.countDeadLetters(second!.id)).toBe(1); // the oversized record, in its event's stream
    expect(await h.sink.state.countDeadLetters()).toBe(1); // the row without an event

    // The rest of the page is stored, Vietnamese text byte for byte (no Unicode normalisation).
    const stored = await h.redis.getBuffer(h.sink.keys.record(first!.id, viet.id));
    expect(stored?.equals(Buffer.from(JSON.stringify(h.sim.toApiRecord(viet)), 'utf8'))).toBe(true);
    expect(stored?.includes(Buffer.from(nfd, 'utf8'))).toBe(true);
    expect(stored?.includes(Buffer.from('Nguyễn Thị Ánh Tuyết'.normalize('NFC'), 'utf8'))).toBe(true);

    const integrity = await checkIntegrity(h);
    task.meta.fault = faultRow('bad records (dead-lettered, rest of the page stored)', {
      ...integrity,
      missing: integrity.missing.filter((id) => id !== huge.id),
    });
    expect(integrity).toEqual({ ...CONVERGED, missing: [huge.id] }); // only the oversized one, by design
    expect(log.syncCompleted).toHaveLength(1);
    expect(log.recordsAdded.flatMap((p) => p.ids)).toHaveLength(301);
  });

  it('a 10 MB bad record listed on every sync is stored once, cut to maxRecordBytes (dead letters bounded in bytes)', async ({ task }) => {
    h = await createHarness({ dataset: { events: 3, registrations: 60, seed: 37 } });
    const [first] = h.sim.listEvents();
    const huge = h.sim.addRegistration(first!.id, { Notes: 'x'.repeat(10 * 1024 * 1024) });
    const key = h.sink.keys.deadLetters(first!.id);
    const worker = h.worker({ maxRecordBytes: 64 * 1024 });
    const sizes: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const result = await worker.performFullSync();
      expect(result.deadLettered).toBe(1); // reported on every sync…
      sizes.push(Number(await h.redis.memory('USAGE', key)));
    }
    expect(await h.redis.xlen(key)).toBe(1); // …stored once
    expect(worker.getStatus().stats.dead_lettered).toBe(5);
    // About maxRecordBytes, not 10 MB, and not growing (before: 10, 20, 31, 41, 52 MB).
    expect(Math.max(...sizes)).toBeLessThan(96 * 1024);
    expect(new Set(sizes).size).toBe(1);
    const fields = (await h.redis.xrange(key, '-', '+'))[0]![1];
    const entry: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
    expect(Number(entry[DEAD_LETTER_FIELDS.rawBytes])).toBe(Buffer.byteLength(JSON.stringify(h.sim.toApiRecord(huge))));
    expect(Buffer.byteLength(entry[DEAD_LETTER_FIELDS.raw]!)).toBe(64 * 1024);

    // New bad content is a new entry; so is the same content once its entry has left the stream.
    h.sim.editRegistration(huge.id, { Notes: 'y'.repeat(10 * 1024 * 1024) });
    await worker.performFullSync();
    expect(await h.redis.xlen(key)).toBe(2);
    await h.redis.xtrim(key, 'MAXLEN', 0);
    await worker.performFullSync();
    expect(await h.redis.xlen(key)).toBe(1);
    expect(await h.redis.hlen(`${key}:digests`)).toBeLessThanOrEqual(2);

    const integrity = await checkIntegrity(h);
    const row = { ...integrity, missing: integrity.missing.filter((id) => id !== huge.id) };
    task.meta.fault = faultRow('a 10 MB bad record on every sync (dead letter cut to maxRecordBytes, stored once)', row);
    expect(integrity).toEqual({ ...CONVERGED, missing: [huge.id] });
  });
});
