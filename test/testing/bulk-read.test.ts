/**
 * The simulator's Bulk Read endpoints against the shared Zoho Creator API notes §2.4 and §3.7
 * (create, status in both documented casings, a zip holding one CSV, the `recordCursor` header,
 * 200,000 records per job, a 15-minute cursor, the bulk scopes).
 */
import { parse } from 'csv-parse/sync';
import { unzipSync } from 'fflate';
import { afterEach, describe, expect, it } from 'vitest';
import { createZohoSimulator, SimulatorClock, type ZohoSimulator, type ZohoSimulatorOptions } from '../../src/testing.js';

const START = Date.UTC(2024, 2, 20, 3, 0, 0); // 20-Mar-2024 10:00:00 in Asia/Ho_Chi_Minh
const JOBS = '/creator/v2.1/bulk/zylker/event-registrations/report/All_Registrations/read';

const open: ZohoSimulator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((sim) => sim.close()));
});

async function start(options: ZohoSimulatorOptions = {}): Promise<{ sim: ZohoSimulator; token: string }> {
  const sim = await createZohoSimulator({ clock: new SimulatorClock(START), dataset: { events: 3, registrations: 30, seed: 3 }, ...options });
  open.push(sim);
  return { sim, token: sim.issueAccessToken() };
}

function call(sim: ZohoSimulator, token: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Zoho-oauthtoken ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${sim.apiBaseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

interface Details {
  id: string;
  operation: string;
  created_by: string;
  created_time: string;
  status: string;
  result?: { count: number; download_url: string; record_cursor?: string };
}

async function details(response: Response): Promise<Details> {
  expect(response.status).toBe(200);
  const body = (await response.json()) as { code: number; details: Details };
  expect(body.code).toBe(3000);
  return body.details;
}

/** The CSV inside a downloaded zip: exactly one file, parsed. */
async function csvOf(response: Response): Promise<{ name: string; rows: string[][] }> {
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/zip');
  const files = unzipSync(new Uint8Array(await response.arrayBuffer()));
  const names = Object.keys(files);
  expect(names).toHaveLength(1);
  const text = new TextDecoder().decode(files[names[0]!]);
  return { name: names[0]!, rows: parse(text) as string[][] };
}

describe('simulator Bulk Read', () => {
  it('creates a job "In-progress", completes it, and serves a zip of one CSV with the report rows', async () => {
    const { sim, token } = await start({ bulkJobDurationMs: 5000 });
    const created = await details(await call(sim, token, JOBS, { query: {} }));
    expect(created).toMatchObject({ operation: 'read', created_by: 'zylker', created_time: '20-Mar-2024 10:00:00', status: 'In-progress' });
    expect(created.id).toMatch(/^\d{16,19}$/);

    const pending = await details(await call(sim, token, `${JOBS}/${created.id}`));
    expect(pending.status).toBe('IN PROGRESS');
    expect(pending.result).toBeUndefined();
    const early = await call(sim, token, `${JOBS}/${created.id}/result`);
    expect(early.status).toBe(400);

    sim.clock.advance(5000);
    const done = await details(await call(sim, token, `${JOBS}/${created.id}`));
    expect(done.status).toBe('COMPLETED');
    expect(done.result).toEqual({
      count: 30,
      download_url: `/api/bulk/v2.1/zylker/event-registrations/report/All_Registrations/read/${created.id}/result`,
    });
    // The download_url is a path to prefix with the API domain [doc].
    const download = await call(sim, token, done.result!.download_url);
    expect(download.headers.get('recordCursor')).toBeNull(); // one batch: no cursor
    const { name, rows } = await csvOf(download);
    expect(name).toBe('All_Registrations.csv');
    const [header, ...data] = rows;
    expect(header).toEqual(['ID', 'Event', 'Full_Name', 'Email', 'Phone', 'Ticket_Type', 'Amount', 'Checked_In', 'Added_Time', 'Modified_Time']);
    expect(data).toHaveLength(30);
    const regs = sim.listRegistrations();
    const first = regs[0]!;
    const json = sim.toApiRecord(first);
    // The lookup cell holds the event's ID; dates and times are in the app format, as in JSON.
    expect(data[0]).toEqual([
      first.id,
      first.eventId,
      json.Full_Name,
      json.Email,
      json.Phone,
      json.Ticket_Type,
      json.Amount,
      String(json.Checked_In),
      json.Added_Time,
      json.Modified_Time,
    ]);
    expect(data.map((r) => r[0])).toEqual(regs.map((r) => r.id));
  });

  it('spells statuses as the OAS example does when bulkStatusStyle is oas', async () => {
    const { sim, token } = await start({ bulkStatusStyle: 'oas', bulkJobDurationMs: 1000 });
    const created = await details(await call(sim, token, JOBS, {}));
    expect((await details(await call(sim, token, `${JOBS}/${created.id}`))).status).toBe('In-progress');
    sim.clock.advance(1000);
    expect((await details(await call(sim, token, `${JOBS}/${created.id}`))).status).toBe('Completed');
  });

  it('exports at most 200,000 records per job and continues with the record_cursor', async () => {
    const { sim, token } = await start({ dataset: { events: 2, registrations: 200_001, seed: 5 } });
    const first = await details(await call(sim, token, JOBS, { query: { max_records: 200_000 } }));
    const done = await details(await call(sim, token, `${JOBS}/${first.id}`));
    expect(done.result?.count).toBe(200_000);
    const cursor = done.result?.record_cursor;
    expect(cursor).toMatch(/^[A-Za-z0-9]+$/);
    const second = await details(await call(sim, token, JOBS, { query: { max_records: 200_000, record_cursor: cursor } }));
    const last = await details(await call(sim, token, `${JOBS}/${second.id}`));
    expect(last.result?.count).toBe(1);
    expect(last.result?.record_cursor).toBeUndefined();
    const { rows } = await csvOf(await call(sim, token, `${JOBS}/${second.id}/result`));
    expect(rows.slice(1).map((r) => r[0])).toEqual([sim.listRegistrations().at(-1)!.id]);
  });

  it('rejects max_records outside 100,000–200,000 [doc: OAS bounds]', async () => {
    const { sim, token } = await start();
    for (const max of [99_999, 200_001, 'many']) {
      const response = await call(sim, token, JOBS, { query: { max_records: max } });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: number }).code).toBe(1060);
    }
  });

  it('sends the next cursor as the recordCursor download header, valid for 15 minutes', async () => {
    const { sim, token } = await start({ bulkRecordsPerJob: 20 });
    const job = await details(await call(sim, token, JOBS, {}));
    await details(await call(sim, token, `${JOBS}/${job.id}`));
    const download = await call(sim, token, `${JOBS}/${job.id}/result`);
    const cursor = download.headers.get('recordCursor');
    expect(cursor).toMatch(/^[A-Za-z0-9]+$/);
    expect((await csvOf(download)).rows).toHaveLength(21);
    sim.clock.advance(15 * 60_000);
    const expired = await call(sim, token, JOBS, { query: { record_cursor: cursor } });
    expect(expired.status).toBe(400);
    expect(((await expired.json()) as { code: number }).code).toBe(2950);
  });

  it('binds a cursor to its query: another criteria or field list refuses it', async () => {
    const { sim, token } = await start({ bulkRecordsPerJob: 20 });
    const job = await details(await call(sim, token, JOBS, { query: { fields: ['ID', 'Modified_Time'] } }));
    const cursor = (await details(await call(sim, token, `${JOBS}/${job.id}`))).result?.record_cursor;
    expect((await call(sim, token, JOBS, { query: { record_cursor: cursor } })).status).toBe(400);
    const same = await details(await call(sim, token, JOBS, { query: { fields: ['ID', 'Modified_Time'], record_cursor: cursor } }));
    await details(await call(sim, token, `${JOBS}/${same.id}`));
    const { rows } = await csvOf(await call(sim, token, `${JOBS}/${same.id}/result`));
    expect(rows[0]).toEqual(['ID', 'Modified_Time']);
    expect(rows).toHaveLength(11);
  });

  it('quotes multi-line and Vietnamese text, filters by criteria', async () => {
    const { sim, token } = await start();
    const event = sim.listEvents()[1]!;
    const reg = sim.addRegistration(event.id, { Full_Name: 'Nguyễn Thị "Hoà"', Notes: 'dòng một\r\ndòng hai, và ba' });
    const job = await details(await call(sim, token, JOBS, { query: { criteria: `(Event == ${event.id})` } }));
    await details(await call(sim, token, `${JOBS}/${job.id}`));
    const { rows } = await csvOf(await call(sim, token, `${JOBS}/${job.id}/result`));
    const header = rows[0]!;
    const row = rows.find((r) => r[0] === reg.id)!;
    expect(row[header.indexOf('Full_Name')]).toBe('Nguyễn Thị "Hoà"');
    expect(row[header.indexOf('Notes')]).toBe('dòng một\r\ndòng hai, và ba');
    expect(rows.slice(1).every((r) => r[1] === event.id)).toBe(true);
    expect(rows).toHaveLength(sim.registrationCount(event.id) + 1);
  });

  it('answers 401 code 2945 without the bulk scopes, and counts bulk calls in the request log', async () => {
    const { sim, token } = await start({ scopes: ['ZohoCreator.report.READ', 'ZohoCreator.bulk.READ'] });
    const refused = await call(sim, token, JOBS, {});
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { code: number }).code).toBe(2945);
    expect(sim.countRequests({ kind: 'bulk-create' })).toBe(1);
    expect(sim.requests.at(-1)).toMatchObject({ kind: 'bulk-create', status: 401, zohoCode: 2945 });

    const readOnly = await start({ scopes: ['ZohoCreator.report.READ', 'ZohoCreator.bulk.CREATE'] });
    const job = await details(await call(readOnly.sim, readOnly.token, JOBS, {}));
    expect((await call(readOnly.sim, readOnly.token, `${JOBS}/${job.id}`)).status).toBe(401);
  });

  it('answers 404 for an unknown job and 405 for a GET on the create path', async () => {
    const { sim, token } = await start();
    expect((await call(sim, token, `${JOBS}/123456`)).status).toBe(404);
    expect((await call(sim, token, JOBS)).status).toBe(405);
  });
});
