import { afterEach, describe, expect, it } from 'vitest';
import { instantLowerBound, parseCriteria } from '../../src/testing/criteria.js';
import { ModifiedTimeIndex } from '../../src/testing/modified-index.js';
import { ZohoTime } from '../../src/testing/zoho-time.js';
import { createZohoSimulator, SimulatorClock, type ZohoSimulator } from '../../src/testing.js';

const HCM = new ZohoTime('Asia/Ho_Chi_Minh', 'dd-MMM-yyyy');
const START = Date.UTC(2024, 2, 20, 3, 0, 0);
const PATH = '/creator/v2.1/data/zylker/event-registrations/report/All_Registrations';

describe('instantLowerBound', () => {
  const bound = (text: string): number | undefined => instantLowerBound(parseCriteria(text, HCM), 'Modified_Time');
  // 15-Mar-2024 17:03:09 in Ho Chi Minh City (UTC+7).
  const T = Date.UTC(2024, 2, 15, 10, 3, 9);

  it('reads >= and > of a date-time, and the day start of a date-only literal', () => {
    expect(bound("Modified_Time >= '15-Mar-2024 17:03:09'")).toBe(T);
    expect(bound("Modified_Time > '15-Mar-2024 17:03:09'")).toBe(T);
    expect(bound("Modified_Time >= '15-Mar-2024'")).toBe(Date.UTC(2024, 2, 14, 17, 0, 0));
  });

  it('takes the larger bound of an && and the smaller of an || (none when one side has none)', () => {
    expect(bound("(Modified_Time >= '15-Mar-2024 17:03:09') && (Modified_Time >= '15-Mar-2024 17:03:19')")).toBe(T + 10_000);
    expect(bound("(Modified_Time >= '15-Mar-2024 17:03:09') && (Full_Name == \"An\")")).toBe(T);
    expect(bound("(Modified_Time >= '15-Mar-2024 17:03:09') || (Modified_Time >= '15-Mar-2024 17:03:19')")).toBe(T);
    expect(bound("(Modified_Time >= '15-Mar-2024 17:03:09') || (Full_Name == \"An\")")).toBeUndefined();
    expect(bound("Modified_Time <= '15-Mar-2024 17:03:09'")).toBeUndefined();
    expect(bound("Added_Time >= '15-Mar-2024 17:03:09'")).toBeUndefined();
  });
});

describe('ModifiedTimeIndex', () => {
  it('returns the IDs modified since an instant, ID-sorted, plus every ID touched since the last build', () => {
    const rows = new Map<string, { modifiedAt: number }>([
      ['30', { modifiedAt: 300 }],
      ['10', { modifiedAt: 100 }],
      ['20', { modifiedAt: 200 }],
      ['100', { modifiedAt: 250 }],
    ]);
    const index = new ModifiedTimeIndex(() => rows.entries(), () => rows.size);
    expect(index.since(200).values()).toEqual(['20', '30', '100']);
    expect(index.since(301).values()).toEqual([]);
    rows.set('10', { modifiedAt: 400 });
    index.touch('10');
    rows.delete('30');
    index.touch('30');
    // A superset: '30' is gone and stays a candidate until the next rebuild (the criteria drop it).
    expect(index.since(301).values()).toEqual(['10', '30']);
  });
});

describe('the simulator answers a Modified_Time listing exactly as a full scan would', () => {
  let sim: ZohoSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('through edits, deletes, additions, moves and a rebuild of the index', async () => {
    const clock = new SimulatorClock(START);
    const s = await createZohoSimulator({ clock, dataset: { events: 6, registrations: 3_000, seed: 5 } });
    sim = s;
    const form = new URLSearchParams({ grant_type: 'refresh_token', ...{ client_id: s.credentials.clientId, client_secret: s.credentials.clientSecret, refresh_token: s.credentials.refreshToken } });
    const { access_token: token } = (await (await fetch(`${s.accountsBaseUrl}/oauth/v2/token`, { method: 'POST', body: form })).json()) as { access_token: string };

    const listed = async (from: number): Promise<string[]> => {
      const criteria = `Modified_Time >= '${s.formatDateTime(from)}'`;
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const headers: Record<string, string> = { Authorization: `Zoho-oauthtoken ${token}` };
        if (cursor) headers.record_cursor = cursor;
        const res = await fetch(`${s.apiBaseUrl}${PATH}?${new URLSearchParams({ criteria, max_records: '200', fields: 'ID' })}`, { headers });
        if (res.status === 404) break;
        const body = (await res.json()) as { data: { ID: string }[] };
        ids.push(...body.data.map((r) => r.ID));
        cursor = res.headers.get('record_cursor') ?? undefined;
      } while (cursor);
      return ids;
    };
    const scanned = (from: number): string[] =>
      s
        .listRegistrations()
        .filter((r) => r.modifiedAt >= Math.floor(from / 1000) * 1000)
        .map((r) => r.id);
    const check = async (from: number): Promise<number> => {
      const expected = scanned(from);
      expect(await listed(from)).toEqual(expected);
      return expected.length;
    };

    const all = s.listRegistrations();
    const median = [...all.map((r) => r.modifiedAt)].sort((a, b) => a - b)[1_500]!;
    // Before any edit (the first query builds the index), at several bounds.
    expect(await check(median)).toBeGreaterThanOrEqual(1_500);
    expect(await check(START - 86_400_000)).toBeGreaterThan(0);
    expect(await check(START + 1_000)).toBe(0);

    clock.advance(10_000);
    const since = clock.now();
    for (const r of all.slice(0, 60)) s.editRegistration(r.id);
    for (const r of all.slice(100, 120)) s.deleteRegistration(r.id);
    const eventIds = s.listEvents().map((e) => e.id);
    for (let i = 0; i < 30; i++) s.addRegistration(eventIds[i % eventIds.length]!);
    for (const r of all.slice(200, 205)) s.moveRegistration(r.id, eventIds[0]!);
    expect(await check(since)).toBe(60 - 0 + 30 + 5);
    expect(await check(median)).toBeGreaterThan(1_400);

    // Enough edits to rebuild the index (the delta passes 1,024 IDs), then edits after the rebuild.
    clock.advance(10_000);
    const later = clock.now();
    for (const r of all.slice(1_000, 2_200)) s.editRegistration(r.id);
    expect(await check(later)).toBe(1_200);
    clock.advance(10_000);
    const last = clock.now();
    for (const r of all.slice(2_500, 2_510)) s.editRegistration(r.id);
    expect(await check(last)).toBe(10);
    expect(await check(later)).toBe(1_210);
  });
});
