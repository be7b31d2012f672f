/**
 * The simulator's data model (events and registrations) and a seeded, deterministic generator.
 *
 * Zoho facts relied on (API notes §5, §9): record IDs are 16–19-digit integers sent as strings
 * [code]; IDs grow with creation time [inferred]; a registration points at its event through a single
 * lookup field [doc: v2.1 lookup shape]. Instants are kept as epoch-ms numbers and only formatted
 * (in the app's format and zone) when a record is serialised.
 */
import { ZohoTime } from './zoho-time.js';

/** A calendar date (a Zoho Date field), formatted with the app's `date_format` on output. */
export interface SimDate {
  /** ISO calendar date, `yyyy-MM-dd`. */
  readonly date: string;
}

/** An instant (a Zoho Date-Time field), formatted as `${date_format} HH:mm:ss` in the app zone on output. */
export interface SimDateTime {
  /** Epoch milliseconds. */
  readonly dateTime: number;
}

/**
 * A field value as stored by the simulator. Strings, numbers, booleans and `null` are sent as they
 * are (Zoho sends decimals as strings with a fixed scale, e.g. `"70.00"`, so the generated data stores
 * them that way); {@link SimDate} and {@link SimDateTime} are formatted; string arrays are
 * multi-select values.
 */
export type SimFieldValue = string | number | boolean | null | SimDate | SimDateTime | readonly string[];

/** Field values by Zoho field link name (e.g. `Full_Name`). */
export type SimFields = Readonly<Record<string, SimFieldValue>>;

/**
 * One row of the events report.
 * `fields` of generated events: `Event_Name` (string), `Start_Date` ({@link SimDate}), `Venue` (string).
 */
export interface SimEvent {
  /** The record ID: 1–19 digits, no leading zero. */
  readonly id: string;
  /** `Added_Time` instant, epoch ms (second resolution). */
  readonly addedAt: number;
  /** `Modified_Time` instant, epoch ms (second resolution). */
  readonly modifiedAt: number;
  /** The other fields by link name, in output order. */
  readonly fields: SimFields;
}

/**
 * One row of the registrations report.
 * `fields` of generated registrations, in output order: `Full_Name`, `Email`, `Phone`,
 * `Ticket_Type`, `Amount` (decimal string such as `"70.00"`), `Checked_In` (boolean).
 */
export interface SimRegistration {
  /** The record ID: 1–19 digits, no leading zero. */
  readonly id: string;
  /** The ID of the event in the lookup field; `''` when the lookup is empty. */
  readonly eventId: string;
  /** `Added_Time` instant, epoch ms (second resolution). */
  readonly addedAt: number;
  /** `Modified_Time` instant, epoch ms (second resolution). */
  readonly modifiedAt: number;
  /** The other fields by link name, in output order (the lookup, `ID` and the times are not in here). */
  readonly fields: SimFields;
}

/** A complete data set for a simulator. */
export interface Dataset {
  /** Rows of the events report. */
  readonly events: readonly SimEvent[];
  /** Rows of the registrations report. */
  readonly registrations: readonly SimRegistration[];
}

/** Options of {@link generateDataset}. */
export interface DatasetOptions {
  /** Number of events (≥ 0). */
  readonly events: number;
  /** Number of registrations (≥ 0, at most 20,000,000). Every event gets at least one when there are enough. */
  readonly registrations: number;
  /** PRNG seed (any 32-bit integer); default 1. Same seed + same `now` = same data set. */
  readonly seed?: number;
  /** The "current" instant, epoch ms; all Added/Modified times lie up to 90 days before it. Default `Date.now()` floored to the second. */
  readonly now?: number;
  /** IANA zone used to pick event start dates (local calendar dates); default `Asia/Ho_Chi_Minh`. */
  readonly timeZone?: string;
}

/** Compares two digit-string IDs numerically (IDs have no leading zeros, so length first, then text). */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** True for a Zoho-style ID: 1–19 digits without a leading zero (or the single digit `0`). */
export function isValidId(value: string): boolean {
  return /^(?:0|[1-9]\d{0,18})$/.test(value);
}

/** mulberry32: a tiny 32-bit seeded PRNG; returns a function yielding floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const nfc = (values: readonly string[]): string[] => values.map((v) => v.normalize('NFC'));
const fold = (value: string): string =>
  value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase();

const FAMILY = nfc(['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Võ', 'Đặng', 'Bùi', 'Đỗ', 'Phan', 'Vũ', 'Ngô', 'Dương']);
const MIDDLE = nfc(['Thị', 'Văn', 'Minh', 'Ngọc', 'Thanh', 'Hữu', 'Quốc', 'Thu', 'Gia', 'Bảo', 'Đức', 'Hoài']);
const GIVEN = nfc([
  'Ánh', 'Thư', 'Đức', 'Hương', 'Quý', 'Phúc', 'Trâm', 'Nhật', 'An', 'Bình', 'Châu', 'Dũng', 'Giang', 'Hải', 'Hạnh', 'Khoa',
  'Linh', 'Long', 'Mai', 'Nam', 'Ngân', 'Phương', 'Quân', 'Sơn', 'Tâm', 'Thảo', 'Trung', 'Tuấn', 'Uyên', 'Vy', 'Yến', 'Khánh',
]);
const FAMILY_ASCII = FAMILY.map(fold);
const GIVEN_ASCII = GIVEN.map(fold);
/** Ticket types with cumulative percentages and their price (decimal strings, as Zoho sends decimals). */
const TICKETS: ReadonlyArray<readonly [name: string, upToPercent: number, amount: string]> = [
  ['Standard', 55, '70.00'],
  ['Early Bird', 75, '55.00'],
  ['Student', 90, '35.00'],
  ['VIP', 100, '150.00'],
];
const TOPICS = nfc([
  'Hội thảo Công nghệ',
  'Ngày hội Khởi nghiệp',
  'Triển lãm Thiết kế',
  'Diễn đàn Du lịch',
  'Hội nghị Y tế',
  'Lễ hội Ẩm thực',
  'Workshop Dữ liệu',
  'Đêm nhạc Gala',
]);
const CITIES = nfc(['Hà Nội', 'TP. Hồ Chí Minh', 'Đà Nẵng', 'Huế', 'Cần Thơ', 'Hải Phòng', 'Nha Trang', 'Đà Lạt']);
const VENUES = nfc([
  'Trung tâm Hội nghị Quốc gia',
  'GEM Center',
  'Ariyana Convention Centre',
  'Nhà hát Lớn',
  'White Palace',
  'Cung Văn hóa Lao động',
  'Trung tâm Triển lãm SECC',
]);

/** Fields derived from a registration's 32-bit generator value (never stored, computed on access). */
function generatedFields(gen: number, id: string): Record<string, SimFieldValue> {
  const family = gen % FAMILY.length;
  const middle = Math.floor(gen / 14) % MIDDLE.length;
  const given = Math.floor(gen / 168) % GIVEN.length;
  const ticketRoll = Math.floor(gen / 5376) % 100;
  const checkedIn = Math.floor(gen / 537_600) % 100 < 35;
  const ticket = TICKETS.find((t) => ticketRoll < t[1]) ?? TICKETS[0]!;
  const digits = String(mix32(gen) % 100_000_000).padStart(8, '0');
  return {
    Full_Name: `${FAMILY[family]} ${MIDDLE[middle]} ${GIVEN[given]}`,
    Email: `${GIVEN_ASCII[given]}.${FAMILY_ASCII[family]}.${id.slice(-6)}@example.com`,
    Phone: `+84 9${digits.slice(0, 2)} ${digits.slice(2, 5)} ${digits.slice(5, 8)}`,
    Ticket_Type: ticket[0],
    Amount: ticket[2],
    Checked_In: checkedIn,
  };
}

/**
 * Compact storage of one registration: generated rows keep a 32-bit generator value instead of
 * their field strings, which are derived on access. Rows are immutable; changes make a new row.
 * Implements {@link SimRegistration} (`fields` is a getter).
 */
export class RegistrationRow implements SimRegistration {
  /**
   * @param gen - generator value (uint32) from which the base fields derive; `-1` for none.
   * @param own - field values set explicitly; they override and extend the generated ones.
   */
  constructor(
    readonly id: string,
    readonly eventId: string,
    readonly addedAt: number,
    readonly modifiedAt: number,
    private readonly gen: number,
    private readonly own: SimFields | undefined,
  ) {}

  /** Turns any {@link SimRegistration} into a row (a row is returned as is). */
  static from(registration: SimRegistration): RegistrationRow {
    if (registration instanceof RegistrationRow) return registration;
    return new RegistrationRow(
      registration.id,
      registration.eventId,
      registration.addedAt,
      registration.modifiedAt,
      -1,
      { ...registration.fields },
    );
  }

  /** All field values by link name, in output order. */
  get fields(): SimFields {
    if (this.gen < 0) return this.own ?? {};
    const base = generatedFields(this.gen, this.id);
    return this.own ? { ...base, ...this.own } : base;
  }

  /** One field value (`undefined` when the row has no such field). */
  field(name: string): SimFieldValue | undefined {
    const own = this.own?.[name];
    if (own !== undefined || this.gen < 0) return own;
    return generatedFields(this.gen, this.id)[name];
  }

  /** A new row with the given changes applied (field values merge into the existing ones). */
  with(changes: { eventId?: string; modifiedAt?: number; fields?: SimFields }): RegistrationRow {
    const own = changes.fields ? { ...this.own, ...changes.fields } : this.own;
    return new RegistrationRow(
      this.id,
      changes.eventId ?? this.eventId,
      this.addedAt,
      changes.modifiedAt ?? this.modifiedAt,
      this.gen,
      own,
    );
  }

  /** A plain-object copy (what the simulator's accessors hand out). */
  toJSON(): SimRegistration {
    return { id: this.id, eventId: this.eventId, addedAt: this.addedAt, modifiedAt: this.modifiedAt, fields: this.fields };
  }
}

const PREFIX = '4433256000';
const EVENT_ID_BASE = 100_003;
const REGISTRATION_ID_BASE = 13_000_003;
const MAX_REGISTRATIONS = 20_000_000;
const SPREAD_MS = 90 * 86_400_000;

function makeId(suffix: number): string {
  return PREFIX + String(suffix).padStart(9, '0');
}

/** Event names, venues and start dates for `count` events. */
function generateEvents(count: number, rng: () => number, now: number, time: ZohoTime): SimEvent[] {
  const events: SimEvent[] = [];
  for (let i = 0; i < count; i++) {
    // Events exist before their registrations (which start 88 days back).
    const addedAt = Math.floor((now - SPREAD_MS + rng() * 2 * 86_400_000) / 1000) * 1000;
    const modifiedAt = rng() < 0.5 ? addedAt : Math.floor((addedAt + rng() * (now - addedAt)) / 1000) * 1000;
    const start = now + (rng() * 90 - 30) * 86_400_000;
    const topic = TOPICS[Math.floor(rng() * TOPICS.length)]!;
    const city = CITIES[Math.floor(rng() * CITIES.length)]!;
    events.push({
      id: makeId(EVENT_ID_BASE + i * 4),
      addedAt,
      modifiedAt,
      fields: {
        Event_Name: `${topic} ${city} #${i + 1}`,
        Start_Date: { date: time.isoDateOf(start) },
        Venue: VENUES[Math.floor(rng() * VENUES.length)]!,
      },
    });
  }
  return events;
}

/**
 * Generates a deterministic data set: `events` events and `registrations` registrations spread
 * unevenly over them (every event gets at least one when `registrations >= events`).
 *
 * IDs are 19-digit strings `4433256000` + 9 digits; events use a low range, registrations a higher
 * one; registration IDs increase with `Added_Time`. Added/Modified times are whole seconds within
 * the 90 days before `now`; about 60 % of registrations were never modified (`modifiedAt === addedAt`).
 * One million registrations take about a second and are stored compactly ({@link RegistrationRow}).
 *
 * @example
 * ```ts
 * const { events, registrations } = generateDataset({ events: 40, registrations: 2419, seed: 1 });
 * ```
 */
export function generateDataset(options: DatasetOptions): Dataset {
  const { events: eventCount, registrations: registrationCount } = options;
  if (!Number.isInteger(eventCount) || eventCount < 0) throw new RangeError(`events must be an integer ≥ 0, got ${eventCount}`);
  if (!Number.isInteger(registrationCount) || registrationCount < 0 || registrationCount > MAX_REGISTRATIONS) {
    throw new RangeError(`registrations must be an integer in 0..${MAX_REGISTRATIONS}, got ${registrationCount}`);
  }
  if (registrationCount > 0 && eventCount === 0) throw new RangeError('registrations need at least one event');
  const now = Math.floor((options.now ?? Date.now()) / 1000) * 1000;
  const rng = mulberry32(options.seed ?? 1);
  const time = new ZohoTime(options.timeZone ?? 'Asia/Ho_Chi_Minh', 'yyyy-MM-dd');
  const events = generateEvents(eventCount, rng, now, time);

  // Uneven event weights (a few big events, many small ones) as a cumulative distribution.
  const cumulative = new Float64Array(eventCount);
  let total = 0;
  for (let i = 0; i < eventCount; i++) {
    total += 0.15 + rng() ** 3 * 6;
    cumulative[i] = total;
  }
  const pickEvent = (): number => {
    const target = rng() * total;
    let lo = 0;
    let hi = eventCount - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };

  const added = new Float64Array(registrationCount);
  const registrationSpread = SPREAD_MS - 2 * 86_400_000;
  for (let i = 0; i < registrationCount; i++) added[i] = Math.floor((now - 60_000 - rng() * registrationSpread) / 1000) * 1000;
  added.sort();

  const eventOf = new Int32Array(registrationCount);
  const perEvent = new Int32Array(eventCount);
  for (let i = 0; i < registrationCount; i++) {
    const e = pickEvent();
    eventOf[i] = e;
    perEvent[e]! += 1;
  }
  // Every event gets at least one registration (when there are enough), taken from bigger events.
  if (registrationCount >= eventCount) {
    for (let e = 0; e < eventCount; e++) {
      while (perEvent[e] === 0) {
        const i = Math.floor(rng() * registrationCount);
        const from = eventOf[i]!;
        if (perEvent[from]! > 1) {
          perEvent[from]! -= 1;
          eventOf[i] = e;
          perEvent[e] = 1;
        }
      }
    }
  }

  const registrations: RegistrationRow[] = new Array(registrationCount);
  let suffix = REGISTRATION_ID_BASE;
  for (let i = 0; i < registrationCount; i++) {
    const addedAt = added[i]!;
    const modifiedAt = rng() < 0.6 ? addedAt : Math.floor((addedAt + rng() * (now - addedAt)) / 1000) * 1000;
    const gen = (rng() * 4294967296) >>> 0;
    registrations[i] = new RegistrationRow(makeId(suffix), events[eventOf[i]!]!.id, addedAt, modifiedAt, gen, undefined);
    suffix += 4 + 4 * Math.floor(rng() * 4);
  }
  return { events, registrations };
}
