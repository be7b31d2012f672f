import { describe, expect, it } from 'vitest';
import {
  type CriteriaSchema,
  CriteriaError,
  compileCriteria,
  parseCriteria,
  requiredIds,
} from '../../src/testing/criteria.js';
import { ZohoTime } from '../../src/testing/zoho-time.js';
import { createZohoSimulator, SimulatorClock } from '../../src/testing.js';

interface Row {
  id: string;
  eventId: string;
  name: string;
  amount: string;
  checkedIn: boolean;
  modifiedAt: number;
}

const HCM = new ZohoTime('Asia/Ho_Chi_Minh', 'dd-MMM-yyyy');
const NY = new ZohoTime('America/New_York', 'dd-MMM-yyyy');

const schema: CriteriaSchema<Row> = (path) => {
  switch (path) {
    case 'ID':
      return { kind: 'id', get: (r) => r.id };
    case 'Event':
      return { kind: 'lookup', get: (r) => r.eventId, display: (r) => `Event ${r.eventId.slice(-1)}` };
    case 'Event.ID':
      return { kind: 'lookup', get: (r) => r.eventId, display: (r) => r.eventId };
    case 'Full_Name':
      return { kind: 'dynamic', get: (r) => r.name };
    case 'Amount':
      return { kind: 'dynamic', get: (r) => r.amount };
    case 'Checked_In':
      return { kind: 'dynamic', get: (r) => r.checkedIn };
    case 'Modified_Time':
      return { kind: 'instant', get: (r) => r.modifiedAt };
    default:
      return undefined;
  }
};

// 17:03:09 in Ho Chi Minh City (UTC+7) is 10:03:09 UTC.
const T = Date.UTC(2024, 2, 15, 10, 3, 9);
const rows: Row[] = [
  { id: '4433256000013547003', eventId: '4433256000000100003', name: 'Nguyễn Thị Ánh', amount: '70.00', checkedIn: false, modifiedAt: T - 1000 },
  { id: '4433256000013547007', eventId: '4433256000000100003', name: 'Trần Văn Đức', amount: '150.00', checkedIn: true, modifiedAt: T },
  { id: '4433256000013547011', eventId: '4433256000000100007', name: 'Lê Minh Thư', amount: '35.00', checkedIn: false, modifiedAt: T + 1000 },
  { id: '4433256000013547015', eventId: '', name: 'Phạm Ngọc Quý', amount: '55.00', checkedIn: true, modifiedAt: T + 86_400_000 },
];

function matching(criteria: string, time: ZohoTime = HCM): string[] {
  const predicate = compileCriteria(parseCriteria(criteria, time), schema, time);
  return rows.filter(predicate).map((r) => r.id.slice(-4));
}

describe('parseCriteria / compileCriteria', () => {
  it('compares a lookup with a bare 19-digit integer by ID (beyond 2^53, no precision loss)', () => {
    expect(matching('Event == 4433256000000100003')).toEqual(['7003', '7007']);
    expect(matching('Event.ID == 4433256000000100007')).toEqual(['7011']);
    expect(matching('Event != 4433256000000100003')).toEqual(['7011', '7015']);
    // 4433256000000100003 + 1 would round to the same double; the ID comparison must not.
    expect(matching('Event == 4433256000000100004')).toEqual([]);
  });

  it('compares a lookup with a string by its display value, and an ID field numerically', () => {
    expect(matching('Event == "Event 7"')).toEqual(['7011']);
    expect(matching('ID > 4433256000013547007')).toEqual(['7011', '7015']);
    expect(matching('ID <= "4433256000013547007"')).toEqual(['7003', '7007']);
  });

  it('treats Modified_Time >= a date-time literal as inclusive at second resolution', () => {
    expect(matching("Modified_Time >= '15-Mar-2024 17:03:09'")).toEqual(['7007', '7011', '7015']);
    expect(matching("Modified_Time > '15-Mar-2024 17:03:09'")).toEqual(['7011', '7015']);
    expect(matching("Modified_Time == '15-Mar-2024 17:03:09'")).toEqual(['7007']);
    expect(matching("Modified_Time < '15-Mar-2024 17:03:09'")).toEqual(['7003']);
  });

  it('compares a date-time field with a date-only literal by local day', () => {
    expect(matching("Modified_Time == '15-Mar-2024'")).toEqual(['7003', '7007', '7011']);
    expect(matching("Modified_Time <= '15-Mar-2024'")).toEqual(['7003', '7007', '7011']);
    expect(matching("Modified_Time > '15-Mar-2024'")).toEqual(['7015']);
    expect(matching("Modified_Time >= '16-mar-2024'")).toEqual(['7015']);
  });

  it('combines with && and ||, && binding tighter, and honours parentheses', () => {
    expect(matching('Checked_In == true && Amount > 100 || Full_Name == "Lê Minh Thư"')).toEqual(['7007', '7011']);
    expect(matching('Checked_In == true && (Amount > 100 || Full_Name == "Lê Minh Thư")')).toEqual(['7007']);
    expect(matching('(Event == 4433256000000100003 || Event == 4433256000000100007) && Checked_In == false')).toEqual([
      '7003',
      '7011',
    ]);
    expect(matching('((Amount >= 55.00))')).toEqual(['7003', '7007', '7015']);
  });

  it('compares strings exactly, including NFC Vietnamese text and escaped quotes', () => {
    expect(matching('Full_Name == "Nguyễn Thị Ánh"')).toEqual(['7003']);
    expect(matching('Full_Name == "Nguyễn Thị \\"Ánh\\""')).toEqual([]);
    expect(matching('Full_Name != "Nguyễn Thị Ánh"')).toEqual(['7007', '7011', '7015']);
  });

  it('rejects malformed criteria with a CriteriaError', () => {
    const bad = [
      'Event ==',
      'Event = 1',
      '(Event == 1',
      'Event == 1 &&',
      'Event == 1 Amount == 2',
      'Full_Name == "unterminated',
      "Modified_Time >= '2024-03-15 17:03:09'",
      "Modified_Time >= '15-Mar-2024 24:00:00'",
      'Modified_Time >= "15-Mar-2024 17:03:09"',
      'Nope == 1',
      'Event == 1 # x',
      '',
    ];
    for (const text of bad) {
      expect(() => compileCriteria(parseCriteria(text, HCM), schema, HCM), text).toThrow(CriteriaError);
    }
  });

  it('derives the lookup IDs a match must have (for the per-event index)', () => {
    const ids = (text: string) => {
      const found = requiredIds(parseCriteria(text, HCM), ['Event', 'Event.ID']);
      return found ? [...found].sort() : undefined;
    };
    expect(ids('Event == 4433256000000100003')).toEqual(['4433256000000100003']);
    expect(ids('Event.ID == 7 || (Event == 9 && Amount > 1)')).toEqual(['7', '9']);
    expect(ids('Event == 7 && Event == 9')).toEqual([]);
    expect(ids('Event == 7 || Amount > 1')).toBeUndefined();
    expect(ids('Event != 7')).toBeUndefined();
  });
});

describe('DST (America/New_York)', () => {
  it('parses a literal in the repeated hour (01:30 on 2024-11-03) as the EARLIER instant (EDT)', () => {
    const literal = parseCriteria("Modified_Time >= '03-Nov-2024 01:30:00'", NY);
    expect(literal).toMatchObject({ value: { type: 'dateTime', instant: Date.UTC(2024, 10, 3, 5, 30, 0) } });
    expect(NY.parseDateTime('03-Nov-2024 01:30:00')).toBe(Date.UTC(2024, 10, 3, 5, 30, 0));
    // One hour later in real time it is 01:30 again, now EST, and formats the same way.
    expect(NY.formatDateTime(Date.UTC(2024, 10, 3, 6, 30, 0))).toBe('03-Nov-2024 01:30:00');
    expect(NY.formatDateTime(Date.UTC(2024, 10, 3, 5, 30, 0))).toBe('03-Nov-2024 01:30:00');
  });

  it("does not throw on a nonexistent time ('02:30' on 2024-03-10) and shifts it forward", () => {
    expect(() => parseCriteria("Modified_Time >= '10-Mar-2024 02:30:00'", NY)).not.toThrow();
    // 02:30 does not exist; shifted forward by the one-hour gap: 03:30 EDT = 07:30 UTC.
    expect(NY.parseDateTime('10-Mar-2024 02:30:00')).toBe(Date.UTC(2024, 2, 10, 7, 30, 0));
    expect(NY.formatDateTime(Date.UTC(2024, 2, 10, 7, 30, 0))).toBe('10-Mar-2024 03:30:00');
  });

  it('filters by instants across the fall-back hour', () => {
    const first = Date.UTC(2024, 10, 3, 5, 30, 0); // 01:30 EDT
    const second = Date.UTC(2024, 10, 3, 6, 30, 0); // 01:30 EST
    const predicate = compileCriteria(parseCriteria("Modified_Time > '03-Nov-2024 01:30:00'", NY), schema, NY);
    expect(predicate({ ...rows[0]!, modifiedAt: first })).toBe(false);
    expect(predicate({ ...rows[0]!, modifiedAt: second })).toBe(true);
  });
});

describe('criteria over HTTP', () => {
  it('answers 400 code 2901 for malformed criteria and filters by event over the per-event index', async () => {
    const sim = await createZohoSimulator({
      clock: new SimulatorClock(Date.UTC(2024, 2, 20, 3, 0, 0)),
      dataset: { events: 5, registrations: 300, seed: 3 },
    });
    try {
      const token = sim.issueAccessToken();
      const url = (criteria: string) =>
        `${sim.apiBaseUrl}/creator/v2.1/data/zylker/event-registrations/report/All_Registrations?max_records=1000&criteria=${encodeURIComponent(criteria)}`;
      const headers = { Authorization: `Zoho-oauthtoken ${token}` };

      const bad = await fetch(url('Event =='), { headers });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ code: 2901, message: 'Invalid criteria' });

      const event = sim.listEvents()[2]!;
      const byEvent = await fetch(url(`Event == ${event.id}`), { headers });
      expect(byEvent.status).toBe(200);
      const body = (await byEvent.json()) as { data: { ID: string; Event: { ID: string } }[] };
      expect(body.data.map((r) => r.ID)).toEqual(sim.listRegistrations(event.id).map((r) => r.id));
      expect(body.data.length).toBe(sim.registrationCount(event.id));

      const second = sim.listEvents()[4]!;
      const either = await fetch(url(`(Event.ID == ${event.id} || Event == ${second.id}) && Checked_In == true`), {
        headers,
      });
      const eitherBody = (await either.json()) as { data: { ID: string }[] };
      const expected = sim
        .listRegistrations()
        .filter((r) => (r.eventId === event.id || r.eventId === second.id) && r.fields.Checked_In === true)
        .map((r) => r.id);
      expect(expected.length).toBeGreaterThan(0);
      expect(eitherBody.data.map((r) => r.ID)).toEqual(expected);
    } finally {
      await sim.close();
    }
  });
});
