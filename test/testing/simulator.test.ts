import { afterEach, describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/testing/dataset.js';
import {
  createZohoSimulator,
  type SimRegistration,
  SimulatorClock,
  type ZohoSimulator,
  type ZohoSimulatorOptions,
} from '../../src/testing.js';

const START = Date.UTC(2024, 2, 20, 3, 0, 0); // 20-Mar-2024 10:00:00 in Asia/Ho_Chi_Minh
const PATH = '/creator/v2.1/data/zylker/event-registrations/report';

const open: ZohoSimulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((sim) => sim.close()));
});

async function start(options: ZohoSimulatorOptions = {}): Promise<ZohoSimulator> {
  const sim = await createZohoSimulator({ clock: new SimulatorClock(START), ...options });
  open.push(sim);
  return sim;
}

function tokenForm(sim: ZohoSimulator, overrides: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: sim.credentials.clientId,
    client_secret: sim.credentials.clientSecret,
    refresh_token: sim.credentials.refreshToken,
    ...overrides,
  });
}

async function mint(sim: ZohoSimulator, overrides: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.accountsBaseUrl}/oauth/v2/token`, { method: 'POST', body: tokenForm(sim, overrides) });
}

async function token(sim: ZohoSimulator): Promise<string> {
  const body = (await (await mint(sim)).json()) as { access_token: string };
  return body.access_token;
}

interface GetOptions {
  token: string;
  cursor?: string;
  accept?: string;
  signal?: AbortSignal;
}

function get(sim: ZohoSimulator, path: string, options: GetOptions): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Zoho-oauthtoken ${options.token}` };
  if (options.cursor !== undefined) headers.record_cursor = options.cursor;
  if (options.accept !== undefined) headers.accept = options.accept;
  return fetch(`${sim.apiBaseUrl}${path}`, { headers, signal: options.signal });
}

function records(report: string, query: Record<string, string> = {}): string {
  const search = new URLSearchParams(query).toString();
  return `${PATH}/${report}${search ? `?${search}` : ''}`;
}

type Page = { code: number; data: Record<string, unknown>[] };

describe('Get Records paging', () => {
  it('delivers 2,419 registrations over 3 pages (1000/1000/419) with the cursor header on pages 1–2 only', async () => {
    const sim = await start();
    const access = await token(sim);
    const path = records('All_Registrations', { max_records: '1000' });
    const sizes: number[] = [];
    const cursors: (string | null)[] = [];
    const ids: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const res = await get(sim, path, { token: access, cursor });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Page;
      expect(body.code).toBe(3000);
      sizes.push(body.data.length);
      ids.push(...body.data.map((r) => r.ID as string));
      const next = res.headers.get('record_cursor');
      cursors.push(next);
      if (next === null) break;
      cursor = next;
    }
    expect(sizes).toEqual([1000, 1000, 419]);
    expect(cursors[0]).toMatch(/^[A-Za-z0-9]+$/);
    expect(cursors[1]).toMatch(/^[A-Za-z0-9]+$/);
    expect(cursors[2]).toBeNull();
    // Ascending by ID (as numbers), no duplicates, exactly the simulator's registrations.
    const sorted = [...ids].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    expect(ids).toEqual(sorted);
    expect(new Set(ids).size).toBe(2419);
    expect(ids).toEqual(sim.listRegistrations().map((r) => r.id));

    const calls = sim.requests.filter((r) => r.kind === 'records');
    expect(calls.map((r) => r.page)).toEqual([1, 2, 3]);
    expect(calls.map((r) => r.records)).toEqual([1000, 1000, 419]);
    expect(calls.map((r) => r.cursor)).toEqual([undefined, cursors[0], cursors[1]]);
    expect(sim.countRequests({ kind: 'records' })).toBe(3);
    expect(sim.countRequests({ kind: 'records', report: 'All_Registrations' })).toBe(3);
    expect(sim.countRequests({ kind: 'token' })).toBe(1);
    expect(sim.tokenMints).toBe(1);
  });

  it('serialises records exactly as Zoho does (string IDs, lookup object, app-format local times)', async () => {
    const sim = await start();
    const event = sim.addEvent({ Event_Name: 'Hội thảo Đà Nẵng', Start_Date: { date: '2024-03-21' }, Venue: 'GEM Center' });
    sim.clock.set(Date.UTC(2024, 2, 14, 2, 12, 44, 500)); // 14-Mar-2024 09:12:44.5 local
    const reg = sim.addRegistration(event.id, {
      Full_Name: 'Nguyễn Thị Ánh',
      Email: 'anh.nguyen@example.com',
      Phone: '+84 912 345 678',
      Ticket_Type: 'Standard',
      Amount: '70.00',
      Checked_In: false,
    });
    sim.clock.set(Date.UTC(2024, 2, 15, 10, 3, 9)); // 15-Mar-2024 17:03:09 local
    sim.editRegistration(reg.id, { Checked_In: true });

    const access = await token(sim);
    const res = await get(sim, `${PATH}/All_Registrations/${reg.id}`, { token: access });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json;charset=UTF-8');
    expect(await res.text()).toBe(
      `{"code":3000,"data":{"ID":"${reg.id}","Event":{"ID":"${event.id}","display_value":"Hội thảo Đà Nẵng",` +
        `"zc_display_value":"Hội thảo Đà Nẵng"},"Full_Name":"Nguyễn Thị Ánh","Email":"anh.nguyen@example.com",` +
        `"Phone":"+84 912 345 678","Ticket_Type":"Standard","Amount":"70.00","Checked_In":true,` +
        `"Added_Time":"14-Mar-2024 09:12:44","Modified_Time":"15-Mar-2024 17:03:09"}}`,
    );
    expect(sim.toApiRecord(sim.getRegistration(reg.id)!)).toEqual({
      ID: reg.id,
      Event: { ID: event.id, display_value: 'Hội thảo Đà Nẵng', zc_display_value: 'Hội thảo Đà Nẵng' },
      Full_Name: 'Nguyễn Thị Ánh',
      Email: 'anh.nguyen@example.com',
      Phone: '+84 912 345 678',
      Ticket_Type: 'Standard',
      Amount: '70.00',
      Checked_In: true,
      Added_Time: '14-Mar-2024 09:12:44',
      Modified_Time: '15-Mar-2024 17:03:09',
    });

    const events = await get(sim, records('All_Events', { criteria: `ID == ${event.id}` }), { token: access });
    expect(await events.json()).toEqual({
      code: 3000,
      data: [
        {
          ID: event.id,
          Event_Name: 'Hội thảo Đà Nẵng',
          Start_Date: '21-Mar-2024',
          Venue: 'GEM Center',
          Added_Time: '20-Mar-2024 10:00:00',
          Modified_Time: '20-Mar-2024 10:00:00',
        },
      ],
    });
  });

  it('returns only ID plus the requested fields with field_config=custom, and keeps page numbers per chain', async () => {
    const sim = await start({ dataset: { events: 3, registrations: 450, seed: 9 } });
    const access = await token(sim);
    const path = records('All_Registrations', {
      field_config: 'custom',
      fields: 'Modified_Time,Event',
    });
    const first = await get(sim, path, { token: access });
    const body = (await first.json()) as Page;
    expect(body.data.length).toBe(200);
    const reg = sim.listRegistrations()[0]!;
    expect(body.data[0]).toEqual({
      ID: reg.id,
      Event: {
        ID: reg.eventId,
        display_value: sim.getEvent(reg.eventId)!.fields.Event_Name,
        zc_display_value: sim.getEvent(reg.eventId)!.fields.Event_Name,
      },
      Modified_Time: sim.formatDateTime(reg.modifiedAt),
    });
    const second = await get(sim, path, { token: access, cursor: first.headers.get('record_cursor')! });
    const third = await get(sim, path, { token: access, cursor: second.headers.get('record_cursor')! });
    expect(((await third.json()) as Page).data.length).toBe(50);
    expect(third.headers.get('record_cursor')).toBeNull();
    const listing = sim.requests.filter((r) => r.query.field_config === 'custom');
    expect(listing.map((r) => [r.kind, r.page, r.status, r.zohoCode])).toEqual([
      ['records', 1, 200, 3000],
      ['records', 2, 200, 3000],
      ['records', 3, 200, 3000],
    ]);
  });

  it('lets a cursor be reused (retry) and rejects unknown, foreign and expired cursors with 400/2950', async () => {
    const sim = await start({ cursorTtlMs: 60_000 });
    const access = await token(sim);
    const path = records('All_Registrations', { max_records: '500' });
    const first = await get(sim, path, { token: access });
    const cursor = first.headers.get('record_cursor')!;
    const a = (await (await get(sim, path, { token: access, cursor })).json()) as Page;
    const b = (await (await get(sim, path, { token: access, cursor })).json()) as Page;
    expect(a.data.map((r) => r.ID)).toEqual(b.data.map((r) => r.ID));
    expect(a.data[0]!.ID).toBe(sim.listRegistrations()[500]!.id);

    const invalid = { code: 2950, message: 'Invalid record cursor' };
    const unknown = await get(sim, path, { token: access, cursor: 'nope' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual(invalid);
    const foreign = await get(sim, records('All_Registrations', { max_records: '1000' }), { token: access, cursor });
    expect(foreign.status).toBe(400);
    expect(await foreign.json()).toEqual(invalid);

    sim.clock.advance(60_000);
    const expired = await get(sim, path, { token: access, cursor });
    expect(expired.status).toBe(400);
    expect(await expired.json()).toEqual(invalid);
  });

  it('pages with from/limit on API v2 and refuses limit > 200 with code 3970', async () => {
    const sim = await start({ dataset: { events: 2, registrations: 250, seed: 4 } });
    const access = await token(sim);
    const v2 = '/creator/v2/data/zylker/event-registrations/report/All_Registrations';
    const page = (await (await get(sim, `${v2}?from=201&limit=200`, { token: access })).json()) as Page;
    expect(page.data.map((r) => r.ID)).toEqual(
      sim
        .listRegistrations()
        .slice(200)
        .map((r) => r.id),
    );
    // API v2 sends a lookup as its display value.
    expect(typeof page.data[0]!.Event).toBe('string');
    const tooMany = await get(sim, `${v2}?limit=201`, { token: access });
    expect(tooMany.status).toBe(200);
    expect(await tooMany.json()).toEqual({ code: 3970, message: 'A maximum of 200 records can be fetched per request.' });
  });

  it('rejects max_records outside 200/500/1000 with 400/1060', async () => {
    const sim = await start();
    const access = await token(sim);
    const res = await get(sim, records('All_Registrations', { max_records: '300' }), { token: access });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 1060, message: 'Invalid request parameter found - max_records' });
  });
});

describe('errors', () => {
  it('answers 3100 for an empty criteria match: HTTP 404 by default, 200 with emptyStatus 200', async () => {
    const sim = await start();
    const access = await token(sim);
    const path = records('All_Registrations', { criteria: 'Full_Name == "Không Ai Cả"' });
    const res = await get(sim, path, { token: access });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 3100, message: 'No Data Available' });
    expect(sim.requests.at(-1)).toMatchObject({ kind: 'records', status: 404, zohoCode: 3100 });

    const lenient = await start({ emptyStatus: 200 });
    const res200 = await get(lenient, path, { token: await token(lenient) });
    expect(res200.status).toBe(200);
    expect(await res200.json()).toEqual({ code: 3100, message: 'No Data Available' });

    const empty = await start({ dataset: { events: 0, registrations: 0 } });
    const none = await get(empty, records('All_Registrations'), { token: await token(empty) });
    expect(none.status).toBe(404);
    expect(await none.json()).toEqual({ code: 3100, message: 'No Data Available' });
  });

  it('answers 3100 for a cursor page with nothing left (rows deleted between pages)', async () => {
    const sim = await start({ dataset: { events: 1, registrations: 400, seed: 2 } });
    const access = await token(sim);
    const path = records('All_Registrations');
    const first = await get(sim, path, { token: access });
    for (const reg of sim.listRegistrations().slice(200)) sim.deleteRegistration(reg.id);
    const next = await get(sim, path, { token: access, cursor: first.headers.get('record_cursor')! });
    expect(next.status).toBe(404);
    expect(await next.json()).toEqual({ code: 3100, message: 'No Data Available' });
  });

  it('validates the path in order: owner 1040, application 2892, report 2894, unknown path 1000, method 1020', async () => {
    const sim = await start();
    const access = await token(sim);
    const cases: [string, number, unknown][] = [
      [
        '/creator/v2.1/data/nobody/event-registrations/report/All_Registrations',
        404,
        { code: 1040, message: 'No account owner named nobody found.' },
      ],
      [
        '/creator/v2.1/data/zylker/other-app/report/All_Registrations',
        404,
        { code: 2892, message: 'No application named other-app found. Please check and try again.' },
      ],
      [
        '/creator/v2.1/data/zylker/event-registrations/report/All_Ordrs',
        404,
        { code: 2894, message: 'No report named All_Ordrs found. Please check and try again.' },
      ],
      ['/creator/v2.1/data/zylker', 404, { code: 1000, message: 'Invalid API URL format.' }],
    ];
    for (const [path, status, body] of cases) {
      const res = await get(sim, path, { token: access });
      expect(res.status, path).toBe(status);
      expect(await res.json()).toEqual(body);
    }
    const post = await fetch(`${sim.apiBaseUrl}${PATH}/All_Registrations`, {
      method: 'POST',
      headers: { Authorization: `Zoho-oauthtoken ${access}` },
    });
    expect(post.status).toBe(405);
    expect(await post.json()).toEqual({ code: 1020, message: 'POST is not a valid method for this request.' });
    expect(sim.requests.find((r) => r.path.endsWith('All_Ordrs'))).toMatchObject({
      kind: 'records',
      report: 'All_Ordrs',
      status: 404,
      zohoCode: 2894,
    });
  });

  it('answers 3190 (HTTP 200) for a missing record ID', async () => {
    const sim = await start();
    const access = await token(sim);
    const res = await get(sim, `${PATH}/All_Registrations/4433256000099999999`, { token: access });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ code: 3190, message: 'No record with ID 4433256000099999999 found.' });
    expect(sim.requests.at(-1)).toMatchObject({ kind: 'record', report: 'All_Registrations' });
  });

  it('answers 4000 with HTTP 200 past dailyLimit', async () => {
    const sim = await start({ dailyLimit: 2 });
    const access = await token(sim);
    const path = records('All_Events');
    expect((await get(sim, path, { token: access })).status).toBe(200);
    expect((await get(sim, path, { token: access })).status).toBe(200);
    const over = await get(sim, path, { token: access });
    expect(over.status).toBe(200);
    expect(await over.json()).toEqual({
      code: 4000,
      message: "Account's Developer API limit has been reached. Please upgrade to execute more REST API calls.",
    });
    // Token calls do not count; the next day (in the app zone) the quota is back.
    sim.clock.advance(86_400_000);
    expect((await get(sim, path, { token: await token(sim) })).status).toBe(200);
  });

  it('answers 429 code 2955 past perMinuteLimit until the minute is over or counters are reset', async () => {
    const sim = await start({ perMinuteLimit: 2 });
    const access = await token(sim);
    const path = records('All_Events');
    expect((await get(sim, path, { token: access })).status).toBe(200);
    expect((await get(sim, path, { token: access })).status).toBe(200);
    const over = await get(sim, path, { token: access });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBeNull();
    expect(await over.json()).toEqual({
      code: 2955,
      message: 'You have reached your API call limit for a minute. Please try again after sometime.',
    });
    sim.clock.advance(60_000);
    expect((await get(sim, path, { token: access })).status).toBe(200);
    expect((await get(sim, path, { token: access })).status).toBe(200);
    expect((await get(sim, path, { token: access })).status).toBe(429);
    sim.resetCounters();
    expect((await get(sim, path, { token: access })).status).toBe(200);
  });

  it('answers 429 code 2955 beyond maxConcurrent calls in flight', async () => {
    const sim = await start({ maxConcurrent: 2, latencyMs: 150 });
    const access = await token(sim);
    const path = records('All_Events');
    const statuses = await Promise.all([1, 2, 3].map(() => get(sim, path, { token: access }).then((r) => r.status)));
    expect(statuses.sort()).toEqual([200, 200, 429]);
    expect((await get(sim, path, { token: access })).status).toBe(200);
  });

  it('answers 401 code 1030 after expireTokens(), for a missing header and a Bearer scheme; a new token works', async () => {
    const sim = await start();
    const access = await token(sim);
    const path = records('All_Events');
    expect((await get(sim, path, { token: access })).status).toBe(200);
    sim.expireTokens();
    const res = await get(sim, path, { token: access });
    expect(res.status).toBe(401);
    const unauthorized = {
      code: 1030,
      message: 'Authorization Failure. The access token is either invalid or has expired.',
    };
    expect(await res.json()).toEqual(unauthorized);
    const bare = await fetch(`${sim.apiBaseUrl}${path}`);
    expect(bare.status).toBe(401);
    const fresh = await token(sim);
    const bearer = await fetch(`${sim.apiBaseUrl}${path}`, { headers: { Authorization: `Bearer ${fresh}` } });
    expect(bearer.status).toBe(401);
    expect(await bearer.json()).toEqual(unauthorized);
    expect((await get(sim, path, { token: fresh })).status).toBe(200);
  });

  it('expires access tokens after tokenTtlSeconds on the simulator clock', async () => {
    const sim = await start({ tokenTtlSeconds: 60 });
    const res = await mint(sim);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    expect(body.expires_in).toBe(60);
    sim.clock.advance(59_999);
    expect((await get(sim, records('All_Events'), { token: body.access_token })).status).toBe(200);
    sim.clock.advance(1);
    expect((await get(sim, records('All_Events'), { token: body.access_token })).status).toBe(401);
  });

  it('enforces the accept header (absent, application/json, text/csv and */* allowed)', async () => {
    const sim = await start({ dataset: { events: 2, registrations: 3, seed: 5 } });
    const access = await token(sim);
    const path = records('All_Events');
    for (const accept of ['application/json', '*/*']) {
      expect((await get(sim, path, { token: access, accept })).status).toBe(200);
    }
    const axiosDefault = await get(sim, path, { token: access, accept: 'application/json, text/plain, */*' });
    expect(axiosDefault.status).toBe(400);
    expect(await axiosDefault.json()).toEqual({
      code: 1000,
      message: "Please enter a valid input for 'accept' header key",
    });
    const csv = await get(sim, path, { token: access, accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv;charset=UTF-8');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('ID,Event_Name,Start_Date,Venue,Added_Time,Modified_Time');
    expect(lines.length).toBe(3);
    expect(lines[1]!.startsWith(`${sim.listEvents()[0]!.id},`)).toBe(true);
  });
});

describe('token endpoint', () => {
  it('mints 1000.<32 hex>.<32 hex> tokens from query-string or form parameters', async () => {
    const sim = await start();
    const byForm = await mint(sim);
    expect(byForm.status).toBe(200);
    const body = (await byForm.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['access_token', 'expires_in', 'api_domain', 'token_type']);
    expect(body.access_token).toMatch(/^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$/);
    expect(body.expires_in).toBe(3600);
    expect(body.api_domain).toBe(sim.apiBaseUrl);
    expect(body.token_type).toBe('Bearer');
    const byQuery = await fetch(`${sim.accountsBaseUrl}/oauth/v2/token?${tokenForm(sim).toString()}`, { method: 'POST' });
    expect(((await byQuery.json()) as { access_token: string }).access_token).toMatch(/^1000\./);
    expect(sim.tokenMints).toBe(2);
  });

  it('answers invalid_code for an unknown refresh token and invalid_client for a wrong client (HTTP 200)', async () => {
    const sim = await start();
    const badRefresh = await mint(sim, { refresh_token: '1000.dead.beef' });
    expect(badRefresh.status).toBe(200);
    expect(await badRefresh.json()).toEqual({ error: 'invalid_code' });
    const badClient = await mint(sim, { client_secret: 'wrong' });
    expect(badClient.status).toBe(200);
    expect(await badClient.json()).toEqual({ error: 'invalid_client' });
    expect(sim.tokenMints).toBe(0);
  });

  it('answers Access Denied beyond tokenMintLimit (HTTP 200 by default, configurable)', async () => {
    const denied = {
      error: 'Access Denied',
      error_description: 'You have made too many requests continuously. Please try again after some time.',
    };
    const sim = await start({ tokenMintLimit: { max: 2, windowMs: 600_000 } });
    expect((await mint(sim)).status).toBe(200);
    expect((await mint(sim)).status).toBe(200);
    const third = await mint(sim);
    expect(third.status).toBe(200);
    expect(await third.json()).toEqual(denied);
    expect(sim.tokenMints).toBe(2);
    sim.clock.advance(600_000);
    expect(((await (await mint(sim)).json()) as { access_token?: string }).access_token).toMatch(/^1000\./);

    const strict = await start({ tokenMintLimit: { max: 0, windowMs: 1000 }, tokenThrottleStatus: 400 });
    const refused = await mint(strict);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual(denied);
  });
});

describe('legacyNumericIds', () => {
  it('writes record and lookup IDs as bare 19-digit JSON numbers', async () => {
    const sim = await start({ legacyNumericIds: true, dataset: { events: 2, registrations: 5, seed: 1 } });
    const access = await token(sim);
    const reg = sim.listRegistrations()[0]!;
    const res = await get(sim, records('All_Registrations'), { token: access });
    const text = await res.text();
    expect(text.startsWith(`{"code":3000,"data":[{"ID":${reg.id},"Event":{"ID":${reg.eventId},"display_value":"`)).toBe(
      true,
    );
    expect(text).toMatch(/"ID":4433256000\d{9}[,}]/);
    expect(text).not.toContain('"ID":"');
    // JSON.parse would round the 19-digit number: the last digits are lost.
    const parsed = JSON.parse(text) as { data: { ID: number }[] };
    expect(String(parsed.data[0]!.ID)).not.toBe(reg.id);
  });
});

describe('meta', () => {
  it('lists the application with its date format and time zone on v2 and v2.1', async () => {
    const sim = await start({ timeZone: 'Europe/Berlin', dateFormat: 'MMM dd,yyyy' });
    const access = await token(sim);
    for (const version of ['v2', 'v2.1']) {
      const res = await get(sim, `/creator/${version}/meta/applications`, { token: access });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { code: number; applications: Record<string, unknown>[] };
      expect(body.code).toBe(3000);
      expect(body.applications[0]).toMatchObject({
        application_name: 'Event Registrations',
        link_name: 'event-registrations',
        workspace_name: 'zylker',
        date_format: 'MMM dd,yyyy',
        time_zone: 'Europe/Berlin',
        category: 1,
      });
      expect(body.applications[0]!.creation_date).toMatch(/^[A-Z][a-z]{2} \d{2},\d{4} \d{2}:\d{2}:\d{2}$/);
    }
    expect(sim.countRequests({ kind: 'meta' })).toBe(2);
  });
});

describe('mutations', () => {
  it('edit bumps Modified_Time to the clock (second resolution), changing a field by default', async () => {
    const sim = await start();
    const before = sim.listRegistrations()[10]!;
    sim.clock.set(Date.UTC(2024, 2, 21, 1, 2, 3, 999));
    const edited = sim.editRegistration(before.id);
    expect(edited.modifiedAt).toBe(Date.UTC(2024, 2, 21, 1, 2, 3));
    expect(edited.addedAt).toBe(before.addedAt);
    expect(edited.fields.Checked_In).toBe(!before.fields.Checked_In);
    expect(sim.getRegistration(before.id)).toEqual(edited);
    // A second edit in the same clock second gets the same Modified_Time.
    sim.clock.advance(0.5);
    expect(sim.editRegistration(before.id, { Phone: '+84 900 000 000' }).modifiedAt).toBe(edited.modifiedAt);

    const access = await token(sim);
    const res = await get(
      sim,
      records('All_Registrations', { criteria: "Modified_Time >= '21-Mar-2024 08:02:03'" }),
      { token: access },
    );
    const body = (await res.json()) as Page;
    expect(body.data.map((r) => [r.ID, r.Modified_Time, r.Phone])).toEqual([
      [before.id, '21-Mar-2024 08:02:03', '+84 900 000 000'],
    ]);
  });

  it('delete removes the record from listings and Get by ID', async () => {
    const sim = await start();
    const victim = sim.listRegistrations()[5]!;
    expect(sim.deleteRegistration(victim.id)).toBe(true);
    expect(sim.deleteRegistration(victim.id)).toBe(false);
    expect(sim.getRegistration(victim.id)).toBeUndefined();
    expect(sim.registrationCount()).toBe(2418);
    expect(sim.registrationCount(victim.eventId)).toBe(sim.listRegistrations(victim.eventId).length);
    const access = await token(sim);
    const byId = await get(sim, `${PATH}/All_Registrations/${victim.id}`, { token: access });
    expect(((await byId.json()) as { code: number }).code).toBe(3190);
    const list = await get(sim, records('All_Registrations', { criteria: `Event == ${victim.eventId}` }), {
      token: access,
    });
    const ids = ((await list.json()) as Page).data.map((r) => r.ID);
    expect(ids).not.toContain(victim.id);
    expect(ids.length).toBe(sim.registrationCount(victim.eventId));
  });

  it('add gives an ID greater than every existing ID and lists it last', async () => {
    const sim = await start({ dataset: { events: 2, registrations: 150, seed: 8 } });
    const maxBefore = [...sim.listRegistrations(), ...sim.listEvents()]
      .map((r) => BigInt(r.id))
      .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
      .at(-1)!;
    const event = sim.listEvents()[1]!;
    const added = sim.addRegistration(event.id, { Full_Name: 'Đỗ Quý Phúc' });
    expect(added.id).toMatch(/^\d{19}$/);
    expect(BigInt(added.id) > maxBefore).toBe(true);
    expect(added.addedAt).toBe(START);
    expect(added.modifiedAt).toBe(START);
    expect(added.fields.Full_Name).toBe('Đỗ Quý Phúc');
    const next = sim.addEvent();
    expect(BigInt(next.id) > BigInt(added.id)).toBe(true);
    const access = await token(sim);
    const body = (await (await get(sim, records('All_Registrations'), { token: access })).json()) as Page;
    expect(body.data.at(-1)).toEqual(sim.toApiRecord(added));
  });

  it('move re-points the lookup; deleteEvent can take its registrations along or leave an empty lookup', async () => {
    const sim = await start({ dataset: { events: 3, registrations: 90, seed: 6 } });
    const events = sim.listEvents();
    const a = events[0]!;
    const b = events[1]!;
    const c = events[2]!;
    const reg = sim.listRegistrations(a.id)[0]!;
    const countA = sim.registrationCount(a.id);
    const moved = sim.moveRegistration(reg.id, b.id);
    expect(moved.eventId).toBe(b.id);
    expect(sim.registrationCount(a.id)).toBe(countA - 1);
    expect(sim.listRegistrations(b.id).map((r) => r.id)).toContain(reg.id);

    const inB = sim.registrationCount(b.id);
    expect(sim.deleteEvent(b.id, { withRegistrations: true })).toBe(inB);
    expect(sim.getRegistration(reg.id)).toBeUndefined();
    expect(sim.registrationCount()).toBe(90 - inB);

    const orphan: SimRegistration = sim.listRegistrations(c.id)[0]!;
    expect(sim.deleteEvent(c.id)).toBe(0);
    expect(sim.getRegistration(orphan.id)!.eventId).toBe('');
    expect(sim.toApiRecord(sim.getRegistration(orphan.id)!).Event).toBe('');
  });
});

describe('failure injection', () => {
  it('answers an injected error for page 2 once; the retry with the same cursor succeeds', async () => {
    const sim = await start();
    sim.inject({ kind: 'records', report: 'All_Registrations', page: 2, respond: { type: 'zoho', status: 500, code: 2930 } });
    const access = await token(sim);
    const path = records('All_Registrations', { max_records: '1000' });
    const first = await get(sim, path, { token: access });
    const cursor = first.headers.get('record_cursor')!;
    const failed = await get(sim, path, { token: access, cursor });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ code: 2930, message: 'Error Occurred. We are sorry for the inconvenience.' });
    const retried = await get(sim, path, { token: access, cursor });
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as Page).data.length).toBe(1000);
    expect(sim.requests.filter((r) => r.kind === 'records').map((r) => [r.page, r.status])).toEqual([
      [1, 200],
      [2, 500],
      [2, 200],
    ]);
  });

  it('honours after and times, and custom status/body answers', async () => {
    const sim = await start();
    sim.inject({ kind: 'records', after: 1, times: 2, respond: { status: 503, body: { oops: true } } });
    const access = await token(sim);
    const path = records('All_Events');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(sim, path, { token: access })).status);
    expect(statuses).toEqual([200, 503, 503, 200]);
  });

  it('supports timeout (held until the client aborts), malformed JSON and socket reset', async () => {
    const sim = await start();
    const access = await token(sim);
    const path = records('All_Events');

    sim.inject({ kind: 'records', respond: { type: 'timeout' } });
    const controller = new AbortController();
    const pending = get(sim, path, { token: access, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toThrow();

    sim.inject({ kind: 'records', respond: { type: 'malformed' } });
    const malformed = await get(sim, path, { token: access });
    expect(malformed.status).toBe(200);
    await expect(malformed.json()).rejects.toThrow(SyntaxError);

    sim.inject({ kind: 'records', respond: { type: 'reset' } });
    await expect(get(sim, path, { token: access })).rejects.toThrow();

    expect((await get(sim, path, { token: access })).status).toBe(200);
  });

  it('close() releases a request held by a timeout injection', async () => {
    const sim = await start();
    const access = await token(sim);
    sim.inject({ respond: { type: 'timeout' } });
    const pending = get(sim, records('All_Events'), { token: access });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sim.close();
    await expect(pending).rejects.toThrow();
  });
});

describe('lifecycle', () => {
  it('close() leaves no listening port and no open sockets', async () => {
    const sim = await start();
    const access = await token(sim);
    expect((await get(sim, records('All_Events'), { token: access })).status).toBe(200);
    const url = sim.apiBaseUrl;
    await sim.close();
    await expect(fetch(`${url}/creator/v2.1/meta/applications`)).rejects.toThrow();
    await sim.close(); // idempotent
  });

  it('adds latencyMs to API calls', async () => {
    const sim = await start({ latencyMs: 120 });
    const access = await token(sim);
    const t0 = performance.now();
    await get(sim, records('All_Events'), { token: access });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });
});

describe('dataset', () => {
  it('is deterministic for a seed, uses 19-digit IDs and gives every event at least one registration', () => {
    const a = generateDataset({ events: 40, registrations: 2419, seed: 1, now: START });
    const b = generateDataset({ events: 40, registrations: 2419, seed: 1, now: START });
    expect(a.registrations.map((r) => JSON.stringify(r))).toEqual(b.registrations.map((r) => JSON.stringify(r)));
    expect(a.events).toEqual(b.events);
    const ids = [...a.events, ...a.registrations].map((r) => r.id);
    expect(ids.every((id) => /^4433256000\d{9}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(2459);
    const perEvent = new Map<string, number>();
    for (const r of a.registrations) perEvent.set(r.eventId, (perEvent.get(r.eventId) ?? 0) + 1);
    expect(perEvent.size).toBe(40);
    const counts = [...perEvent.values()];
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...counts)).toBeGreaterThan(3 * Math.min(...counts));
    for (const r of a.registrations) {
      expect(r.addedAt % 1000).toBe(0);
      expect(r.modifiedAt).toBeGreaterThanOrEqual(r.addedAt);
      expect(r.modifiedAt).toBeLessThanOrEqual(START);
      expect(r.addedAt).toBeGreaterThanOrEqual(START - 90 * 86_400_000);
      expect((r.fields.Full_Name as string).normalize('NFC')).toBe(r.fields.Full_Name);
    }
    const c = generateDataset({ events: 40, registrations: 2419, seed: 2, now: START });
    expect(c.registrations.map((r) => r.eventId)).not.toEqual(a.registrations.map((r) => r.eventId));
  });

  it('generates 1,000,000 registrations (ordered IDs) within a minute', () => {
    const t0 = performance.now();
    const big = generateDataset({ events: 40, registrations: 1_000_000, seed: 3, now: START });
    expect(big.registrations.length).toBe(1_000_000);
    expect(big.registrations.at(-1)!.id > big.registrations[0]!.id).toBe(true);
    // A sanity bound only (the machine is shared): generation speed is measured in npm run bench.
    expect(performance.now() - t0).toBeLessThan(60_000);
  });
});
