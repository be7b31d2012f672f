/**
 * A Zoho Creator simulator: a real HTTP server (node:http) that speaks Creator's wire format for
 * OAuth refresh, Get Records (v2.1 cursor paging, v2 offset paging), Get Record by ID and the
 * applications meta API, with rate limits, quotas and failure injection for tests.
 *
 * Facts come from the shared Zoho Creator API notes; the marks below follow them: [doc] official,
 * [code] seen in public client code, [inferred] a guess that real Zoho has not confirmed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, InvalidInputError } from '../errors.js';
import { type ClockLike, type ControllableClock, SimulatorClock, toControllableClock } from './clock.js';
import {
  CriteriaError,
  type CriteriaPredicate,
  type CriteriaSchema,
  compileCriteria,
  instantLowerBound,
  parseCriteria,
  requiredIds,
} from './criteria.js';
import {
  compareIds,
  type Dataset,
  generateDataset,
  isValidId,
  mulberry32,
  RegistrationRow,
  type SimEvent,
  type SimFields,
  type SimFieldValue,
  type SimRegistration,
} from './dataset.js';
import { BulkReadJobs, type BulkReportHost, type BulkStatusStyle } from './bulk-read.js';
import { collectPage, SortedIds } from './store.js';
import { ModifiedTimeIndex, ReportingMap } from './modified-index.js';
import { isValidTimeZone, ZohoTime } from './zoho-time.js';

/** What a request was, for the log and for injection rules. `records` covers every Get Records call (any `field_config`, API v2 and v2.1). */
export type RequestKind = 'token' | 'records' | 'record' | 'meta' | 'bulk-create' | 'bulk-status' | 'bulk-download' | 'other';

/** One logged request (logged on arrival; `status`, `zohoCode` and `records` are filled in when answered). */
export interface SimRequest {
  /** Arrival time on the simulator clock, epoch ms. */
  readonly at: number;
  /** HTTP method, upper case. */
  readonly method: string;
  /** URL path without the query string. */
  readonly path: string;
  /** The request kind. */
  readonly kind: RequestKind;
  /** The report link name in the path (for `records` / `record`). */
  readonly report?: string;
  /** Query parameters, decoded (for a repeated parameter, the last value). */
  readonly query: Readonly<Record<string, string>>;
  /** The `record_cursor` request header, when sent. */
  readonly cursor?: string;
  /** 1-based page within a cursor chain (first request without cursor = 1); for v2 offset paging, `from`/`limit` based. `undefined` for an unknown cursor. */
  readonly page?: number;
  /** HTTP status answered; 0 while pending or when no response was sent (injected timeout/reset). */
  readonly status: number;
  /** The `code` of a Zoho JSON body, when the answer had one (3000, 3100, 2955, ...). */
  readonly zohoCode?: number;
  /** Number of records returned (Get Records / Get Record by ID successes, bulk downloads). */
  readonly records?: number;
}

/**
 * What an injection rule answers instead of the normal handler:
 * - `{ status, body }`: that HTTP status and body (objects are sent as JSON, strings verbatim);
 * - `{ type: 'timeout' }`: never answers; the request is held until the client aborts (or `close()`);
 * - `{ type: 'malformed' }`: HTTP 200 with a truncated JSON body;
 * - `{ type: 'reset' }`: destroys the socket without answering;
 * - `{ type: 'zoho', status, code, message? }`: a Zoho error body `{code, message}` (message defaults to Zoho's text for known codes).
 */
export type InjectedResponse =
  | { readonly status: number; readonly body: unknown; readonly headers?: Readonly<Record<string, string>> }
  | { readonly type: 'timeout' }
  | { readonly type: 'malformed' }
  | { readonly type: 'reset' }
  | { readonly type: 'zoho'; readonly status: number; readonly code: number; readonly message?: string };

/** A failure-injection rule. Rules are checked in the order added; the first matching live rule answers. */
export interface InjectionRule {
  /** Only requests of this kind; any kind when omitted (token calls included). */
  readonly kind?: RequestKind;
  /** Only requests for this report link name. */
  readonly report?: string;
  /** Only this 1-based page of a cursor chain (see {@link SimRequest.page}). */
  readonly page?: number;
  /** How many matching requests it answers; default 1. */
  readonly times?: number;
  /** Let this many matching requests through normally first; default 0. */
  readonly after?: number;
  /** The answer. */
  readonly respond: InjectedResponse;
}

/** OAuth client credentials the simulator accepts. */
export interface SimulatorCredentials {
  /** OAuth client ID. */
  readonly clientId: string;
  /** OAuth client secret. */
  readonly clientSecret: string;
  /** The one refresh token that mints access tokens. */
  readonly refreshToken: string;
}

/** The simulated application. */
export interface SimulatorConfig {
  /** Account owner (workspace) name in API paths; default `zylker`. */
  readonly accountOwner: string;
  /** Application link name; default `event-registrations`. */
  readonly appLinkName: string;
  /** Events report link name; default `All_Events`. */
  readonly eventsReport: string;
  /** Registrations report link name; default `All_Registrations`. */
  readonly registrationsReport: string;
  /** Registration lookup field holding `{ID, display_value, zc_display_value}` of the event; default `Event`. */
  readonly eventLookupField: string;
  /** The app's IANA time zone (meta API `time_zone`); default `Asia/Ho_Chi_Minh`. */
  readonly timeZone: string;
  /** The app's date format (meta API `date_format`); date-times are `${dateFormat} HH:mm:ss`. Default `dd-MMM-yyyy`. */
  readonly dateFormat: string;
}

/** Options of {@link createZohoSimulator}. Every option has a default. */
export interface ZohoSimulatorOptions extends Partial<SimulatorConfig>, Partial<SimulatorCredentials> {
  /** A data set, or the size of one to generate; default `{ events: 40, registrations: 2419, seed: 1 }` generated at the clock's time. */
  readonly dataset?: Dataset | { readonly events: number; readonly registrations: number; readonly seed?: number };
  /** TCP port; default 0 (any free port). */
  readonly port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  readonly host?: string;
  /** Delay added to every API (non-token) call, ms; default 0. */
  readonly latencyMs?: number;
  /** HTTP status of the empty-result answer (code 3100); default 404. */
  readonly emptyStatus?: 200 | 404;
  /** Access-token lifetime, seconds (simulator clock); default 3600. */
  readonly tokenTtlSeconds?: number;
  /** API calls allowed per minute (fixed window on the simulator clock); beyond it HTTP 429 code 2955. Default unlimited. */
  readonly perMinuteLimit?: number;
  /** API calls allowed per calendar day in the app zone; beyond it HTTP 200 code 4000. Default unlimited. */
  readonly dailyLimit?: number;
  /** API calls allowed in flight at once; beyond it HTTP 429 code 2955. Default unlimited. */
  readonly maxConcurrent?: number;
  /** At most `max` token mints per `windowMs` (simulator clock); beyond it `{"error":"Access Denied",...}`. Default none. */
  readonly tokenMintLimit?: { readonly max: number; readonly windowMs: number };
  /** HTTP status of the throttled token answer; default 200. */
  readonly tokenThrottleStatus?: number;
  /** Emit every `"ID"` (record and lookup) as a bare JSON number with all its digits (legacy v1 / Deluge shape). Default false. */
  readonly legacyNumericIds?: boolean;
  /** Lifetime of a `record_cursor`, ms (simulator clock); default 10 minutes. */
  readonly cursorTtlMs?: number;
  /** Time source; default a manual {@link SimulatorClock} at `Date.now()` floored to the second. A clock without `set`/`advance` is wrapped so that they shift an offset. */
  readonly clock?: ClockLike;
  /**
   * OAuth scopes of the refresh token (and so of every access token minted from it). Bulk Read
   * calls need `ZohoCreator.bulk.CREATE` (create) and `ZohoCreator.bulk.READ` (status, download)
   * and otherwise answer HTTP 401 code 2945 [doc]. @defaultValue every scope, bulk ones included
   */
  readonly scopes?: readonly string[];
  /**
   * How long a bulk read job stays in progress, on the simulator's clock. The default clock is a
   * manual {@link SimulatorClock} that moves only when you `advance()` it: with it, a job stays in
   * progress until the test advances the clock past this duration (a sync polling it waits until its
   * `bulkJobTimeoutMs`). Pass `clock: { now: () => Date.now() }` for jobs that finish by themselves.
   * Unit: ms. @defaultValue 0 (completed at the first status call)
   */
  readonly bulkJobDurationMs?: number;
  /** Spelling of bulk job statuses: `doc` ("IN PROGRESS", "COMPLETED") or `oas` ("In-progress", "Completed"). @defaultValue `'doc'` */
  readonly bulkStatusStyle?: BulkStatusStyle;
  /** Records per bulk job at most (a test knob; Zoho exports up to 200,000). @defaultValue 200,000 */
  readonly bulkRecordsPerJob?: number;
  /** Lifetime of a bulk `record_cursor`. Unit: ms. @defaultValue 15 minutes [doc] */
  readonly bulkCursorTtlMs?: number;
}

/** Every scope the simulator knows; the default of {@link ZohoSimulatorOptions.scopes}. */
export const SIMULATOR_SCOPES: readonly string[] = [
  'ZohoCreator.report.READ',
  'ZohoCreator.meta.application.READ',
  'ZohoCreator.dashboard.READ',
  'ZohoCreator.bulk.CREATE',
  'ZohoCreator.bulk.READ',
];

const DEFAULT_CREDENTIALS: SimulatorCredentials = {
  clientId: '1000.SIMULATORCLIENT0000000000000000',
  clientSecret: '5ca1ab1e0ddba11c0ffee0000000000000000000',
  refreshToken: '1000.5e1f2a3b4c5d6e7f8091a2b3c4d5e6f7.0123456789abcdef0123456789abcdef',
};

/** Zoho's texts for the codes the simulator answers [doc] unless marked. */
const MESSAGES: Readonly<Record<number, string>> = {
  1000: 'Invalid API URL format.',
  1020: 'Method is not a valid method for this request.',
  1030: 'Authorization Failure. The access token is either invalid or has expired.',
  1040: 'No account owner found.',
  1060: 'Invalid request parameter found.',
  2892: 'No application found. Please check and try again.',
  2894: 'No report found. Please check and try again.',
  2898: 'Permission denied to view record(s).',
  2901: 'Invalid criteria', // [inferred] v1-era code; the v2.1 code for bad criteria is unknown
  2930: 'Error Occurred. We are sorry for the inconvenience.',
  2933: 'You do not have permission to access this application.',
  2945: 'This is an invalid oauthscope. Please regenerate the oauthtoken corresponding to the API with proper oauthscope.',
  2950: 'Invalid record cursor', // [inferred] code and text
  2955: 'You have reached your API call limit for a minute. Please try again after sometime.',
  3100: 'No Data Available', // [inferred] text; the code is [code]/[derived]
  3190: 'No record found.',
  3970: 'A maximum of 200 records can be fetched per request.',
  4000: "Account's Developer API limit has been reached. Please upgrade to execute more REST API calls.",
};

const EVENT_NAME_FIELD = 'Event_Name';
const MAX_RECORDS_ALLOWED = new Set(['200', '500', '1000']); // [inferred] allowed set; docs say default 200, max 1000
const FIELD_CONFIGS = new Set(['quick_view', 'detail_view', 'all', 'custom']);
const TOKEN_BODY_LIMIT = 64 * 1024;
const CRITERIA_CACHE_SIZE = 1000;

/** Marks that a handler has answered (or deliberately not answered) a request. */
const DONE = 'done' as const;
type Done = typeof DONE;

type MutableRequest = { -readonly [K in keyof SimRequest]: SimRequest[K] };

interface Route {
  readonly kind: RequestKind;
  readonly version?: 'v2' | 'v2.1';
  readonly owner?: string;
  readonly app?: string;
  readonly report?: string;
  readonly recordId?: string;
  readonly meta?: 'applications' | 'reports';
  readonly jobId?: string;
}

/** Which fields a serialised record carries: all (quick_view, detail_view, all) or a custom list. */
interface View {
  readonly custom: ReadonlySet<string> | undefined;
  /** API v2 shapes: lookups as their display string [doc: V21-NEW lists the v2.1 change]. */
  readonly v2: boolean;
}

interface CompiledCriteria<R> {
  readonly predicate: CriteriaPredicate<R>;
  /** Event IDs a match must belong to, when the criteria pin the lookup (uses the per-event index). */
  readonly ids: ReadonlySet<string> | undefined;
  /** The least `Modified_Time` a match can have (epoch ms), when the criteria bound it (uses the time index). */
  readonly modifiedFrom: number | undefined;
}

interface Report<R> {
  readonly name: string;
  readonly ids: SortedIds;
  readonly cache: Map<string, CompiledCriteria<R> | CriteriaError>;
  readonly lookupPaths: readonly string[];
  readonly get: (id: string) => R | undefined;
  readonly idOf: (row: R) => string;
  readonly schema: CriteriaSchema<R>;
  readonly serialize: (row: R, view: View) => Record<string, unknown>;
  readonly partitions: (ids: ReadonlySet<string>) => SortedIds[] | undefined;
  /** Candidate IDs modified at or after an instant (a superset, ID-sorted), for reports with a time index. */
  readonly modifiedSince?: ((from: number) => SortedIds) | undefined;
}

interface CursorState {
  readonly key: string;
  readonly lastId: string;
  /** The page number this cursor fetches. */
  readonly page: number;
  expiresAt: number;
}

interface LiveRule {
  readonly rule: InjectionRule;
  seen: number;
  fired: number;
}

interface Sleep {
  readonly timer: NodeJS.Timeout;
  readonly resolve: () => void;
}

const FULL_VIEW: View = { custom: undefined, v2: false };

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Bulk Read paths: `/creator/v2(.1)/bulk/{owner}/{app}/report/{report}/read[/{job}[/result]]`
 * [doc: v2.1 pages] and the legacy `/api/bulk/v2(.1)/...` form [doc: the `download_url` sample].
 */
function bulkRoute(parts: readonly string[]): Route | undefined {
  let rest: readonly string[];
  if (parts[0] === 'creator' && (parts[1] === 'v2' || parts[1] === 'v2.1') && parts[2] === 'bulk') rest = parts.slice(3);
  else if (parts[0] === 'api' && parts[1] === 'bulk' && (parts[2] === 'v2' || parts[2] === 'v2.1')) rest = parts.slice(3);
  else return undefined;
  if (rest.length < 5 || rest[2] !== 'report' || rest[4] !== 'read') return { kind: 'other' };
  const base = { owner: rest[0]!, app: rest[1]!, report: rest[3]! };
  if (rest.length === 5) return { kind: 'bulk-create', ...base };
  if (rest.length === 6) return { kind: 'bulk-status', ...base, jobId: rest[5]! };
  if (rest.length === 7 && rest[6] === 'result') return { kind: 'bulk-download', ...base, jobId: rest[5]! };
  return { kind: 'other' };
}

function nonNegative(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new ConfigError(option, `${option} must be a number ≥ 0, got ${String(value)}`);
  }
  return value;
}

function csvCell(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (Array.isArray(value)) text = value.map(String).join(',');
  else if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    text = String(record.zc_display_value ?? record.display_value ?? record.ID ?? '');
  } else text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The simulator. Create it with {@link createZohoSimulator} (or `new ZohoSimulator(options)` then
 * `await sim.start()`), point a client at {@link apiBaseUrl} / {@link accountsBaseUrl} with
 * {@link credentials}, and `await sim.close()` at the end.
 *
 * @example
 * ```ts
 * const sim = await createZohoSimulator({ dataset: { events: 3, registrations: 500 } });
 * const token = await fetch(`${sim.accountsBaseUrl}/oauth/v2/token?grant_type=refresh_token&client_id=${sim.credentials.clientId}` +
 *   `&client_secret=${sim.credentials.clientSecret}&refresh_token=${sim.credentials.refreshToken}`, { method: 'POST' });
 * await sim.close();
 * ```
 */
export class ZohoSimulator {
  /** The simulated application's names, zone and date format. */
  readonly config: SimulatorConfig;
  /** The OAuth client and refresh token that the token endpoint accepts. */
  readonly credentials: SimulatorCredentials;
  /** The simulator clock (see {@link ZohoSimulatorOptions.clock}). */
  readonly clock: ControllableClock;

  private readonly time: ZohoTime;
  private readonly options: ZohoSimulatorOptions;
  private readonly latencyMs: number;
  private readonly emptyStatus: 200 | 404;
  private readonly tokenTtlSeconds: number;
  private readonly perMinuteLimit: number;
  private readonly dailyLimit: number;
  private readonly maxConcurrent: number;
  private readonly cursorTtlMs: number;
  private readonly tokenThrottleStatus: number;
  private readonly legacyNumericIds: boolean;
  private readonly random: () => number;
  private readonly cursorSalt = randomBytes(8).toString('hex');
  private readonly applicationCreated: number;

  private readonly events = new Map<string, SimEvent>();
  private readonly eventIds: SortedIds;
  private readonly regs = new ReportingMap<string, RegistrationRow>((id) => this.modifiedIndex.touch(id));
  private readonly modifiedIndex = new ModifiedTimeIndex(
    () => this.regs.entries(),
    () => this.regs.size,
  );
  private readonly regIds: SortedIds;
  private readonly byEvent = new Map<string, SortedIds>();
  private maxId: bigint;
  private readonly eventReport: Report<SimEvent>;
  private readonly registrationReport: Report<RegistrationRow>;

  private readonly tokens = new Map<string, number>();
  private mintTimes: number[] = [];
  private mints = 0;
  private readonly cursors = new Map<string, CursorState>();
  private rules: LiveRule[] = [];
  private log: MutableRequest[] = [];
  private minute: { start: number; count: number } | undefined;
  private daily: { day: string; count: number } | undefined;
  private inFlight = 0;
  private readonly scopes: ReadonlySet<string>;
  private readonly bulk: BulkReadJobs;
  private readonly bulkHost: BulkReportHost;

  private server: Server | undefined;
  private baseUrl: string | undefined;
  private closing = false;
  private readonly sleeps = new Set<Sleep>();
  private readonly held = new Set<ServerResponse>();

  /** Builds the simulator (data set included) without listening; see {@link start}. Throws `ConfigError` for invalid options. */
  constructor(options: ZohoSimulatorOptions = {}) {
    this.options = options;
    const timeZone = options.timeZone ?? 'Asia/Ho_Chi_Minh';
    if (!isValidTimeZone(timeZone)) throw new ConfigError('timeZone', `Unknown IANA time zone: ${timeZone}`);
    this.config = Object.freeze({
      accountOwner: options.accountOwner ?? 'zylker',
      appLinkName: options.appLinkName ?? 'event-registrations',
      eventsReport: options.eventsReport ?? 'All_Events',
      registrationsReport: options.registrationsReport ?? 'All_Registrations',
      eventLookupField: options.eventLookupField ?? 'Event',
      timeZone,
      dateFormat: options.dateFormat ?? 'dd-MMM-yyyy',
    });
    if (this.config.eventsReport === this.config.registrationsReport) {
      throw new ConfigError('eventsReport', 'eventsReport and registrationsReport must differ');
    }
    this.credentials = Object.freeze({
      clientId: options.clientId ?? DEFAULT_CREDENTIALS.clientId,
      clientSecret: options.clientSecret ?? DEFAULT_CREDENTIALS.clientSecret,
      refreshToken: options.refreshToken ?? DEFAULT_CREDENTIALS.refreshToken,
    });
    this.clock = options.clock ? toControllableClock(options.clock) : new SimulatorClock();
    this.time = new ZohoTime(timeZone, this.config.dateFormat);
    this.latencyMs = nonNegative('latencyMs', options.latencyMs, 0);
    const emptyStatus = options.emptyStatus ?? 404;
    if (emptyStatus !== 200 && emptyStatus !== 404) throw new ConfigError('emptyStatus', 'emptyStatus must be 200 or 404');
    this.emptyStatus = emptyStatus;
    this.tokenTtlSeconds = nonNegative('tokenTtlSeconds', options.tokenTtlSeconds, 3600);
    this.perMinuteLimit = nonNegative('perMinuteLimit', options.perMinuteLimit, Number.POSITIVE_INFINITY);
    this.dailyLimit = nonNegative('dailyLimit', options.dailyLimit, Number.POSITIVE_INFINITY);
    this.maxConcurrent = nonNegative('maxConcurrent', options.maxConcurrent, Number.POSITIVE_INFINITY);
    this.cursorTtlMs = nonNegative('cursorTtlMs', options.cursorTtlMs, 10 * 60_000);
    this.tokenThrottleStatus = options.tokenThrottleStatus ?? 200;
    this.legacyNumericIds = options.legacyNumericIds ?? false;
    if (options.tokenMintLimit) {
      nonNegative('tokenMintLimit.max', options.tokenMintLimit.max, 0);
      nonNegative('tokenMintLimit.windowMs', options.tokenMintLimit.windowMs, 0);
    }

    const spec = options.dataset ?? { events: 40, registrations: 2419, seed: 1 };
    const seed = 'seed' in spec && typeof spec.seed === 'number' ? spec.seed : 1;
    this.random = mulberry32(seed ^ 0x5eed5eed);
    let dataset: Dataset;
    if (Array.isArray(spec.events)) {
      dataset = spec as Dataset;
    } else {
      const sized = spec as { events: number; registrations: number; seed?: number };
      try {
        dataset = generateDataset({
          events: sized.events,
          registrations: sized.registrations,
          seed,
          now: this.clock.now(),
          timeZone,
        });
      } catch (error) {
        throw new ConfigError('dataset', error instanceof Error ? error.message : String(error));
      }
    }

    // Validate IDs (1–19 digits, unique across both reports) and find the largest one.
    let maxId = '0';
    const checkId = (id: unknown): string => {
      if (typeof id !== 'string' || !isValidId(id)) throw new ConfigError('dataset', `Invalid record ID: ${String(id)}`);
      if (compareIds(id, maxId) > 0) maxId = id;
      return id;
    };
    for (const event of dataset.events) {
      if (this.events.has(checkId(event.id))) throw new ConfigError('dataset', `Duplicate record ID: ${event.id}`);
      this.events.set(event.id, Object.freeze({ ...event, fields: Object.freeze({ ...event.fields }) }));
    }
    const regIds: string[] = [];
    const perEvent = new Map<string, string[]>();
    for (const registration of dataset.registrations) {
      const id = checkId(registration.id);
      if (this.regs.has(id) || this.events.has(id)) throw new ConfigError('dataset', `Duplicate record ID: ${id}`);
      const row = RegistrationRow.from(registration);
      this.regs.set(id, row);
      regIds.push(id);
      if (row.eventId !== '') {
        let list = perEvent.get(row.eventId);
        if (!list) {
          list = [];
          perEvent.set(row.eventId, list);
        }
        list.push(id);
      }
    }
    this.maxId = BigInt(maxId);
    const sorted = (ids: string[]): boolean => ids.every((id, i) => i === 0 || compareIds(ids[i - 1]!, id) < 0);
    this.eventIds = new SortedIds([...this.events.keys()]);
    this.regIds = new SortedIds(regIds, sorted(regIds));
    for (const [eventId, ids] of perEvent) this.byEvent.set(eventId, new SortedIds(ids, sorted(ids)));
    let earliest = this.clock.now();
    for (const event of this.events.values()) earliest = Math.min(earliest, event.addedAt);
    this.applicationCreated = Math.floor((earliest - 30 * 86_400_000) / 1000) * 1000;

    this.eventReport = this.buildEventReport();
    this.registrationReport = this.buildRegistrationReport();
    this.scopes = new Set(options.scopes ?? SIMULATOR_SCOPES);
    const recordsPerJob = options.bulkRecordsPerJob;
    if (recordsPerJob !== undefined && (!Number.isInteger(recordsPerJob) || recordsPerJob < 1)) {
      throw new ConfigError('bulkRecordsPerJob', 'bulkRecordsPerJob must be an integer ≥ 1');
    }
    if (options.bulkStatusStyle !== undefined && options.bulkStatusStyle !== 'doc' && options.bulkStatusStyle !== 'oas') {
      throw new ConfigError('bulkStatusStyle', "bulkStatusStyle must be 'doc' or 'oas'");
    }
    this.bulk = new BulkReadJobs({
      accountOwner: this.config.accountOwner,
      appLinkName: this.config.appLinkName,
      jobDurationMs: nonNegative('bulkJobDurationMs', options.bulkJobDurationMs, 0),
      statusStyle: options.bulkStatusStyle,
      recordsPerJob,
      cursorTtlMs: options.bulkCursorTtlMs === undefined ? undefined : nonNegative('bulkCursorTtlMs', options.bulkCursorTtlMs, 0),
    });
    this.bulkHost = this.makeBulkHost();
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts listening (idempotent). Resolves once the port is bound. */
  async start(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => this.onRequest(req, res));
    const port = this.options.port ?? 0;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.baseUrl = `http://${hostPart}:${address.port}`;
    this.server = server;
    return this;
  }

  /** Closes the server, every socket (keep-alive and held ones) and every pending latency timer. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server || this.closing) return;
    this.closing = true;
    for (const sleep of this.sleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.sleeps.clear();
    for (const res of this.held) res.destroy();
    this.held.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Base URL of the API host, e.g. `http://127.0.0.1:41234`; API paths start with `/creator/...`. Throws before {@link start}. */
  get apiBaseUrl(): string {
    if (this.baseUrl === undefined) throw new InvalidInputError('The simulator is not listening yet; call start()');
    return this.baseUrl;
  }

  /** Base URL of the accounts (OAuth) host; the same origin as {@link apiBaseUrl}. Token path: `/oauth/v2/token`. */
  get accountsBaseUrl(): string {
    return this.apiBaseUrl;
  }

  // ---------------------------------------------------------------- data access

  /** All events in ID order. */
  listEvents(): SimEvent[] {
    return this.eventIds.values().map((id) => this.events.get(id)!);
  }

  /** One event, or `undefined`. */
  getEvent(id: string): SimEvent | undefined {
    return this.events.get(id);
  }

  /** Registrations in ID order (plain copies), optionally of one event only. */
  listRegistrations(eventId?: string): SimRegistration[] {
    const ids = eventId === undefined ? this.regIds : this.byEvent.get(eventId);
    if (!ids) return [];
    return ids.values().map((id) => this.regs.get(id)!.toJSON());
  }

  /** One registration (a plain copy), or `undefined`. */
  getRegistration(id: string): SimRegistration | undefined {
    return this.regs.get(id)?.toJSON();
  }

  /** Number of registrations, optionally of one event. */
  registrationCount(eventId?: string): number {
    if (eventId === undefined) return this.regs.size;
    return this.byEvent.get(eventId)?.size ?? 0;
  }

  /**
   * A registration as Get Records (v2.1, full view) serialises it: `ID` as a string, the lookup as
   * `{ID, display_value, zc_display_value}`, times as `${dateFormat} HH:mm:ss` in the app zone.
   * (With `legacyNumericIds` only the wire text differs; JS numbers cannot hold 19 digits.)
   */
  toApiRecord(registration: SimRegistration): Record<string, unknown> {
    return this.registrationReport.serialize(RegistrationRow.from(registration), FULL_VIEW);
  }

  /** An event as Get Records (v2.1, full view) serialises it. */
  toApiEvent(event: SimEvent): Record<string, unknown> {
    return this.eventReport.serialize(event, FULL_VIEW);
  }

  /** Formats an instant (epoch ms) as the API does: `${dateFormat} HH:mm:ss` in the app zone. */
  formatDateTime(ms: number): string {
    return this.time.formatDateTime(ms);
  }

  /** Parses `${dateFormat} HH:mm:ss` text in the app zone (ambiguous → earlier, gap → shifted forward); `undefined` if it does not match. */
  parseDateTime(text: string): number | undefined {
    return this.time.parseDateTime(text);
  }

  // ---------------------------------------------------------------- mutations

  /**
   * Adds a registration to an event with a new ID greater than every existing ID; Added_Time and
   * Modified_Time are the clock's time floored to the second. `fields` override generated values.
   */
  addRegistration(eventId: string, fields?: SimFields): SimRegistration {
    if (!this.events.has(eventId)) throw new InvalidInputError(`Unknown event ${eventId}`);
    const id = this.nextId();
    const now = this.nowSeconds();
    const gen = Math.floor(this.random() * 4294967296);
    const row = new RegistrationRow(id, eventId, now, now, gen, fields ? { ...fields } : undefined);
    this.regs.set(id, row);
    this.regIds.insert(id);
    this.partition(eventId).insert(id);
    return row.toJSON();
  }

  /**
   * Edits a registration: merges `fields` (default: flips `Checked_In`) and sets Modified_Time to the
   * clock's time floored to the second (two edits in one clock second get the same Modified_Time).
   */
  editRegistration(id: string, fields?: SimFields): SimRegistration {
    const row = this.requireRegistration(id);
    const changes = fields ?? { Checked_In: row.field('Checked_In') !== true };
    const next = row.with({ fields: changes, modifiedAt: this.nowSeconds() });
    this.regs.set(id, next);
    return next.toJSON();
  }

  /** Deletes a registration (it simply vanishes, as in Zoho). Returns whether it existed. */
  deleteRegistration(id: string): boolean {
    const row = this.regs.get(id);
    if (!row) return false;
    this.regs.delete(id);
    this.regIds.remove(id);
    if (row.eventId !== '') this.byEvent.get(row.eventId)?.remove(id);
    return true;
  }

  /** Points a registration's lookup at another event and bumps its Modified_Time. */
  moveRegistration(id: string, newEventId: string): SimRegistration {
    const row = this.requireRegistration(id);
    if (!this.events.has(newEventId)) throw new InvalidInputError(`Unknown event ${newEventId}`);
    if (row.eventId !== '') this.byEvent.get(row.eventId)?.remove(id);
    this.partition(newEventId).insert(id);
    const next = row.with({ eventId: newEventId, modifiedAt: this.nowSeconds() });
    this.regs.set(id, next);
    return next.toJSON();
  }

  /** Adds an event with a new ID greater than every existing ID. `fields` override the generated `Event_Name`, `Start_Date`, `Venue`. */
  addEvent(fields?: SimFields): SimEvent {
    const id = this.nextId();
    const now = this.nowSeconds();
    const event: SimEvent = Object.freeze({
      id,
      addedAt: now,
      modifiedAt: now,
      fields: Object.freeze({
        [EVENT_NAME_FIELD]: `Sự kiện mới #${this.events.size + 1}`.normalize('NFC'),
        Start_Date: { date: this.time.isoDateOf(now + 30 * 86_400_000) },
        Venue: 'GEM Center',
        ...fields,
      }),
    });
    this.events.set(id, event);
    this.eventIds.insert(id);
    return event;
  }

  /** Edits an event's fields (e.g. its name, which every registration's lookup display shows) and bumps its Modified_Time. */
  editEvent(id: string, fields: SimFields): SimEvent {
    const event = this.events.get(id);
    if (!event) throw new InvalidInputError(`Unknown event ${id}`);
    const next: SimEvent = Object.freeze({
      ...event,
      modifiedAt: this.nowSeconds(),
      fields: Object.freeze({ ...event.fields, ...fields }),
    });
    this.events.set(id, next);
    return next;
  }

  /**
   * Deletes an event. With `withRegistrations: true` its registrations are deleted too; otherwise
   * their lookup becomes empty (`eventId === ''`, serialised as `""` [inferred]). Returns the number
   * of registrations deleted (0 when the event did not exist).
   */
  deleteEvent(id: string, options: { withRegistrations?: boolean } = {}): number {
    if (!this.events.delete(id)) return 0;
    this.eventIds.remove(id);
    const ids = this.byEvent.get(id)?.values() ?? [];
    this.byEvent.delete(id);
    let deleted = 0;
    for (const regId of [...ids]) {
      const row = this.regs.get(regId);
      if (!row) continue;
      if (options.withRegistrations) {
        this.regs.delete(regId);
        this.regIds.remove(regId);
        deleted++;
      } else {
        this.regs.set(regId, row.with({ eventId: '' }));
      }
    }
    return deleted;
  }

  // ---------------------------------------------------------------- auth

  /** Invalidates every access token issued so far; their next use answers HTTP 401 code 1030. */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** Number of successful token mints through the token endpoint. */
  get tokenMints(): number {
    return this.mints;
  }

  /** Issues a valid access token directly (no HTTP call; not counted in {@link tokenMints}). */
  issueAccessToken(): string {
    const token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, this.clock.now() + this.tokenTtlSeconds * 1000);
    return token;
  }

  // ---------------------------------------------------------------- failure injection, counters, log

  /** Adds a failure-injection rule (checked before normal handling, after `latencyMs`). */
  inject(rule: InjectionRule): void {
    if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 1)) {
      throw new InvalidInputError('inject: times must be an integer ≥ 1');
    }
    if (rule.after !== undefined && (!Number.isInteger(rule.after) || rule.after < 0)) {
      throw new InvalidInputError('inject: after must be an integer ≥ 0');
    }
    this.rules.push({ rule, seen: 0, fired: 0 });
  }

  /** Bulk read jobs created so far. */
  get bulkJobCount(): number {
    return this.bulk.jobCount;
  }

  /** Expires every bulk `record_cursor` handed out so far; the next job using one answers HTTP 400 code 2950 [inferred]. */
  expireBulkCursors(): void {
    this.bulk.expireCursors();
  }

  /** Removes every injection rule. */
  clearInjections(): void {
    this.rules = [];
  }

  /** Resets the per-minute and daily API counters and the token-mint throttle window. */
  resetCounters(): void {
    this.minute = undefined;
    this.daily = undefined;
    this.mintTimes = [];
  }

  /** Every request received since the start (or {@link clearRequests}), in arrival order. */
  get requests(): ReadonlyArray<SimRequest> {
    return this.log;
  }

  /** Counts logged requests matching `filter` (kind and/or report). */
  countRequests(filter: { kind?: RequestKind; report?: string } = {}): number {
    let count = 0;
    for (const entry of this.log) {
      if (filter.kind !== undefined && entry.kind !== filter.kind) continue;
      if (filter.report !== undefined && entry.report !== filter.report) continue;
      count++;
    }
    return count;
  }

  /** Empties the request log. */
  clearRequests(): void {
    this.log = [];
  }

  // ---------------------------------------------------------------- internals: data

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000) * 1000;
  }

  private nextId(): string {
    this.maxId += 4n;
    const id = this.maxId.toString();
    if (id.length > 19) throw new InvalidInputError('Record IDs exhausted (more than 19 digits)');
    return id;
  }

  private requireRegistration(id: string): RegistrationRow {
    const row = this.regs.get(id);
    if (!row) throw new InvalidInputError(`Unknown registration ${id}`);
    return row;
  }

  private partition(eventId: string): SortedIds {
    let list = this.byEvent.get(eventId);
    if (!list) {
      list = new SortedIds();
      this.byEvent.set(eventId, list);
    }
    return list;
  }

  private eventName(eventId: string): string {
    const value = this.events.get(eventId)?.fields[EVENT_NAME_FIELD];
    return typeof value === 'string' ? value : '';
  }

  private serializeValue(value: SimFieldValue | undefined): unknown {
    if (value === null || value === undefined || typeof value !== 'object') return value ?? null;
    if (Array.isArray(value)) return [...value];
    if ('date' in value) return this.time.formatDate(value.date);
    if ('dateTime' in value) return this.time.formatDateTime(value.dateTime);
    return value;
  }

  /** The lookup value: `{ID, display_value, zc_display_value}` [doc: v2.1], a display string for v2, `""` when empty [inferred]. */
  private lookupValue(eventId: string, v2: boolean): unknown {
    if (eventId === '') return '';
    const name = this.eventName(eventId);
    return v2 ? name : { ID: eventId, display_value: name, zc_display_value: name };
  }

  private buildRegistrationReport(): Report<RegistrationRow> {
    const lookup = this.config.eventLookupField;
    const schema: CriteriaSchema<RegistrationRow> = (path) => {
      if (path === 'ID') return { kind: 'id', get: (r) => r.id };
      if (path === lookup) return { kind: 'lookup', get: (r) => r.eventId, display: (r) => this.eventName(r.eventId) };
      if (path === `${lookup}.ID`) return { kind: 'lookup', get: (r) => r.eventId, display: (r) => r.eventId };
      if (path === 'Added_Time') return { kind: 'instant', get: (r) => r.addedAt };
      if (path === 'Modified_Time') return { kind: 'instant', get: (r) => r.modifiedAt };
      if (path.startsWith(`${lookup}.`)) {
        const sub = path.slice(lookup.length + 1);
        if (sub.includes('.')) return undefined;
        if (sub === 'display_value' || sub === 'zc_display_value') {
          return { kind: 'dynamic', get: (r) => this.eventName(r.eventId) };
        }
        return { kind: 'dynamic', get: (r) => this.events.get(r.eventId)?.fields[sub] ?? null };
      }
      if (path.includes('.')) return undefined;
      return { kind: 'dynamic', get: (r) => r.field(path) ?? null };
    };
    const serialize = (row: RegistrationRow, view: View): Record<string, unknown> => {
      const out: Record<string, unknown> = { ID: row.id };
      const custom = view.custom;
      if (!custom || custom.has(lookup)) out[lookup] = this.lookupValue(row.eventId, view.v2);
      if (custom) {
        for (const name of custom) {
          if (name === 'ID' || name === lookup || name === 'Added_Time' || name === 'Modified_Time') continue;
          const value = row.field(name);
          if (value !== undefined) out[name] = this.serializeValue(value);
        }
      } else {
        const fields = row.fields;
        for (const name of Object.keys(fields)) out[name] = this.serializeValue(fields[name]);
      }
      if (!custom || custom.has('Added_Time')) out.Added_Time = this.time.formatDateTime(row.addedAt);
      if (!custom || custom.has('Modified_Time')) out.Modified_Time = this.time.formatDateTime(row.modifiedAt);
      return out;
    };
    return {
      name: this.config.registrationsReport,
      ids: this.regIds,
      cache: new Map(),
      lookupPaths: [lookup, `${lookup}.ID`],
      get: (id) => this.regs.get(id),
      idOf: (row) => row.id,
      schema,
      serialize,
      partitions: (ids) => [...ids].map((id) => this.byEvent.get(id) ?? new SortedIds()),
      modifiedSince: (from) => this.modifiedIndex.since(from),
    };
  }

  private buildEventReport(): Report<SimEvent> {
    const schema: CriteriaSchema<SimEvent> = (path) => {
      if (path === 'ID') return { kind: 'id', get: (e) => e.id };
      if (path === 'Added_Time') return { kind: 'instant', get: (e) => e.addedAt };
      if (path === 'Modified_Time') return { kind: 'instant', get: (e) => e.modifiedAt };
      if (path.includes('.')) return undefined;
      return { kind: 'dynamic', get: (e) => e.fields[path] ?? null };
    };
    const serialize = (event: SimEvent, view: View): Record<string, unknown> => {
      const out: Record<string, unknown> = { ID: event.id };
      for (const name of Object.keys(event.fields)) {
        if (!view.custom || view.custom.has(name)) out[name] = this.serializeValue(event.fields[name]);
      }
      if (!view.custom || view.custom.has('Added_Time')) out.Added_Time = this.time.formatDateTime(event.addedAt);
      if (!view.custom || view.custom.has('Modified_Time')) out.Modified_Time = this.time.formatDateTime(event.modifiedAt);
      return out;
    };
    return {
      name: this.config.eventsReport,
      ids: this.eventIds,
      cache: new Map(),
      lookupPaths: [],
      get: (id) => this.events.get(id),
      idOf: (event) => event.id,
      schema,
      serialize,
      partitions: () => undefined,
    };
  }

  /** Parses and compiles criteria once per (report, string); a full scan re-uses it on every page. */
  private compile<R>(report: Report<R>, text: string): CompiledCriteria<R> | CriteriaError {
    const cached = report.cache.get(text);
    if (cached) return cached;
    let result: CompiledCriteria<R> | CriteriaError;
    try {
      const node = parseCriteria(text, this.time);
      const predicate = compileCriteria(node, report.schema, this.time);
      result = {
        predicate,
        ids: report.lookupPaths.length ? requiredIds(node, report.lookupPaths) : undefined,
        modifiedFrom: report.modifiedSince ? instantLowerBound(node, 'Modified_Time') : undefined,
      };
    } catch (error) {
      if (!(error instanceof CriteriaError)) throw error;
      result = error;
    }
    if (report.cache.size >= CRITERIA_CACHE_SIZE) {
      const oldest = report.cache.keys().next();
      if (!oldest.done) report.cache.delete(oldest.value);
    }
    report.cache.set(text, result);
    return result;
  }

  /**
   * The ID lists a listing walks (merged in ID order; the criteria still decide every row): the
   * events the lookup pins, else the rows modified since the criteria's lower bound (an incremental
   * listing), else every row.
   */
  private candidates<R>(report: Report<R>, compiled: CompiledCriteria<R> | undefined): readonly SortedIds[] {
    const pinned = compiled?.ids && report.partitions(compiled.ids);
    if (pinned) return pinned;
    const from = compiled?.modifiedFrom;
    if (from !== undefined && report.modifiedSince) return [report.modifiedSince(from)];
    return [report.ids];
  }

  private makeCursor(key: string, lastId: string, page: number): string {
    const now = this.clock.now();
    if (this.cursors.size > 10_000) {
      for (const [token, state] of this.cursors) if (state.expiresAt <= now) this.cursors.delete(token);
    }
    // Deterministic per (query, position): a retried page hands out the same cursor again.
    const token = createHash('sha256')
      .update(`${this.cursorSalt}\u0000${key}\u0000${lastId}`)
      .digest('base64')
      .replace(/[^A-Za-z0-9]/g, '')
      .slice(0, 32);
    this.cursors.set(token, { key, lastId, page, expiresAt: now + this.cursorTtlMs });
    return token;
  }

  // ---------------------------------------------------------------- internals: HTTP

  private route(pathname: string): Route {
    let parts: string[];
    try {
      parts = pathname.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
    } catch {
      return { kind: 'other' };
    }
    if (parts.length === 3 && parts[0] === 'oauth' && parts[1] === 'v2' && parts[2] === 'token') return { kind: 'token' };
    const bulk = bulkRoute(parts);
    if (bulk) return bulk;
    if (parts[0] !== 'creator' || (parts[1] !== 'v2' && parts[1] !== 'v2.1')) return { kind: 'other' };
    const version: 'v2' | 'v2.1' = parts[1];
    if (parts[2] === 'data' && parts[5] === 'report' && (parts.length === 7 || parts.length === 8)) {
      const base = { version, owner: parts[3]!, app: parts[4]!, report: parts[6]! };
      return parts.length === 7 ? { kind: 'records', ...base } : { kind: 'record', ...base, recordId: parts[7]! };
    }
    if (parts[2] === 'meta') {
      if (parts.length === 4 && parts[3] === 'applications') return { kind: 'meta', version, meta: 'applications' };
      if (parts.length === 5 && parts[4] === 'applications') {
        return { kind: 'meta', version, meta: 'applications', owner: parts[3]! };
      }
      if (parts.length === 6 && parts[5] === 'reports') {
        return { kind: 'meta', version, meta: 'reports', owner: parts[3]!, app: parts[4]! };
      }
    }
    return { kind: 'other' };
  }

  private pageOf(route: Route, query: Record<string, string>, cursor: string | undefined): number | undefined {
    if (route.kind !== 'records') return undefined;
    if (cursor !== undefined) return this.cursors.get(cursor)?.page;
    if (route.version === 'v2') {
      const from = Number(query.from ?? '1');
      const limit = Number(query.limit ?? '200');
      if (Number.isInteger(from) && from >= 1 && Number.isInteger(limit) && limit >= 1) return Math.floor((from - 1) / limit) + 1;
    }
    return 1;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    const route = this.route(url.pathname);
    const query = Object.fromEntries(url.searchParams);
    const cursor = header(req, 'record_cursor');
    const entry: MutableRequest = {
      at: this.clock.now(),
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      kind: route.kind,
      query,
      status: 0,
    };
    if (route.report !== undefined) entry.report = route.report;
    if (cursor !== undefined) entry.cursor = cursor;
    const page = this.pageOf(route, query, cursor);
    if (page !== undefined) entry.page = page;
    this.log.push(entry);
    this.process(req, res, url, route, entry).catch(() => {
      if (!res.headersSent && !res.destroyed) this.zoho(res, entry, 500, 2930);
      else res.destroy();
    });
  }

  private async process(req: IncomingMessage, res: ServerResponse, url: URL, route: Route, entry: MutableRequest): Promise<Done> {
    let gone = false;
    res.once('close', () => {
      gone = true;
    });
    if (route.kind !== 'token') {
      this.inFlight++;
      res.once('close', () => {
        this.inFlight--;
      });
      // Concurrency cap: 429/2955 [derived: "6 concurrent calls per account, 429 on excess"].
      if (this.inFlight > this.maxConcurrent) return this.zoho(res, entry, 429, 2955);
      if (this.latencyMs > 0) {
        await this.sleep(this.latencyMs);
        if (gone || this.closing) return DONE;
      }
    }

    const injected = this.takeInjection(entry);
    if (injected) return this.applyInjection(req, res, entry, injected);
    if (route.kind === 'token') return this.handleToken(req, res, url, entry, () => gone);

    // Auth: `Authorization: Zoho-oauthtoken <token>` [doc]; anything else → 401/1030 [doc].
    const auth = header(req, 'authorization') ?? '';
    const token = auth.startsWith('Zoho-oauthtoken ') ? auth.slice('Zoho-oauthtoken '.length).trim() : '';
    const expiresAt = this.tokens.get(token);
    if (expiresAt === undefined || expiresAt <= this.clock.now()) return this.zoho(res, entry, 401, 1030);

    // `accept`: absent, application/json or text/csv [doc]; other values → 400 [code: observed
    // "Please enter a valid input for 'accept' header key"; the code 1000 is inferred]. `*/*` is
    // accepted too: Node's fetch (undici) sends `accept: */*` by default, and rejecting it would
    // break every fetch-based client. Axios' `application/json, text/plain, */*` is rejected, as observed.
    const accept = header(req, 'accept');
    const media = accept === undefined ? '' : (accept.split(';')[0] ?? '').trim().toLowerCase();
    if (media !== '' && media !== 'application/json' && media !== 'text/csv' && media !== '*/*') {
      return this.zoho(res, entry, 400, 1000, "Please enter a valid input for 'accept' header key");
    }
    const csv = media === 'text/csv';

    const limited = this.countCall();
    if (limited) return this.zoho(res, entry, limited.status, limited.code);

    if (route.kind === 'other') return this.zoho(res, entry, 404, 1000);
    if (route.kind === 'bulk-create' || route.kind === 'bulk-status' || route.kind === 'bulk-download') {
      return this.handleBulk(req, res, entry, route, () => gone);
    }
    if (entry.method !== 'GET') {
      return this.zoho(res, entry, 405, 1020, `${entry.method} is not a valid method for this request.`);
    }
    if (route.owner !== undefined && route.owner !== this.config.accountOwner) {
      return this.zoho(res, entry, 404, 1040, `No account owner named ${route.owner} found.`);
    }
    if (route.app !== undefined && route.app !== this.config.appLinkName) {
      return this.zoho(res, entry, 404, 2892, `No application named ${route.app} found. Please check and try again.`);
    }
    if (route.kind === 'meta') return this.handleMeta(res, entry, route);
    const reportName = route.report ?? '';
    if (reportName === this.config.eventsReport) return this.handleData(res, entry, route, this.eventReport, csv);
    if (reportName === this.config.registrationsReport) {
      return this.handleData(res, entry, route, this.registrationReport, csv);
    }
    return this.zoho(res, entry, 404, 2894, `No report named ${reportName} found. Please check and try again.`);
  }

  /**
   * Bulk Read: create (POST, scope `ZohoCreator.bulk.CREATE`), status and download (GET, scope
   * `ZohoCreator.bulk.READ`); a missing scope → HTTP 401 code 2945 [doc: OAS-v2 on every endpoint].
   */
  private async handleBulk(
    req: IncomingMessage,
    res: ServerResponse,
    entry: MutableRequest,
    route: Route,
    gone: () => boolean,
  ): Promise<Done> {
    const method = route.kind === 'bulk-create' ? 'POST' : 'GET';
    if (entry.method !== method) return this.zoho(res, entry, 405, 1020, `${entry.method} is not a valid method for this request.`);
    const scope = route.kind === 'bulk-create' ? 'ZohoCreator.bulk.CREATE' : 'ZohoCreator.bulk.READ';
    if (!this.scopes.has(scope)) return this.zoho(res, entry, 401, 2945);
    if (route.owner !== this.config.accountOwner) return this.zoho(res, entry, 404, 1040, `No account owner named ${route.owner} found.`);
    if (route.app !== this.config.appLinkName) {
      return this.zoho(res, entry, 404, 2892, `No application named ${route.app} found. Please check and try again.`);
    }
    const report = route.report ?? '';
    if (report !== this.config.eventsReport && report !== this.config.registrationsReport) {
      return this.zoho(res, entry, 404, 2894, `No report named ${report} found. Please check and try again.`);
    }
    const host = this.bulkHost;
    const answer = (status: number, code?: number): void => {
      entry.status = status;
      if (code !== undefined) entry.zohoCode = code;
    };
    const tracked: BulkReportHost = {
      ...host,
      sendJson: (r, status, body, headers) => {
        answer(status, (body as { code?: number }).code);
        host.sendJson(r, status, body, headers);
      },
      zoho: (r, status, code, message) => {
        answer(status, code);
        host.zoho(r, status, code, message);
      },
    };
    if (route.kind === 'bulk-create') {
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of req) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > TOKEN_BODY_LIMIT) {
          res.destroy();
          return DONE;
        }
        chunks.push(buffer);
      }
      if (gone()) return DONE;
      this.bulk.create(tracked, res, report, Buffer.concat(chunks).toString('utf8'));
      return DONE;
    }
    if (route.kind === 'bulk-status') {
      this.bulk.status(tracked, res, report, route.jobId ?? '');
      return DONE;
    }
    const records = this.bulk.download(tracked, res, report, route.jobId ?? '');
    if (records !== undefined) {
      entry.status = 200;
      entry.records = records;
    }
    return DONE;
  }

  private makeBulkHost(): BulkReportHost {
    const reportOf = (name: string): Report<unknown> =>
      (name === this.config.eventsReport ? this.eventReport : this.registrationReport) as Report<unknown>;
    return {
      now: () => this.clock.now(),
      formatDateTime: (ms) => this.time.formatDateTime(Math.floor(ms / 1000) * 1000),
      snapshot: (name, criteria, after, limit) => {
        const report = reportOf(name);
        let compiled: CompiledCriteria<unknown> | undefined;
        if (criteria !== '') {
          const result = this.compile(report, criteria);
          if (result instanceof CriteriaError) return undefined;
          compiled = result;
        }
        const sources = this.candidates(report, compiled);
        const { rows, more } = collectPage({ sources, get: report.get, after, limit, predicate: compiled?.predicate });
        const last = rows[rows.length - 1];
        return { rows, more, lastId: last === undefined ? undefined : report.idOf(last) };
      },
      serialize: (name, row, fields) =>
        reportOf(name).serialize(row, fields === undefined ? FULL_VIEW : { custom: new Set(['ID', ...fields]), v2: false }),
      sendJson: (res, status, body, headers) => {
        const payload = Buffer.from(this.jsonText(body), 'utf8');
        res.writeHead(status, { ...headers, 'content-type': 'application/json;charset=UTF-8', 'content-length': payload.length });
        res.end(payload);
      },
      zoho: (res, status, code, message) => {
        const payload = Buffer.from(JSON.stringify({ code, message: message ?? MESSAGES[code] ?? 'Error' }), 'utf8');
        res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': payload.length });
        res.end(payload);
      },
    };
  }

  /** Counts an API call against the daily and per-minute limits; returns the refusal, if any. */
  private countCall(): { status: number; code: number } | undefined {
    const now = this.clock.now();
    const day = this.time.isoDateOf(now);
    if (!this.daily || this.daily.day !== day) this.daily = { day, count: 0 };
    // Daily Developer API limit: HTTP 200 + code 4000 [doc].
    if (this.daily.count >= this.dailyLimit) return { status: 200, code: 4000 };
    if (!this.minute || now - this.minute.start >= 60_000) this.minute = { start: now, count: 0 };
    // Per-minute limit: HTTP 429 + code 2955 [doc]; no Retry-After header [inferred: none documented].
    if (this.minute.count >= this.perMinuteLimit) return { status: 429, code: 2955 };
    this.daily.count++;
    this.minute.count++;
    return undefined;
  }

  private handleMeta(res: ServerResponse, entry: MutableRequest, route: Route): Done {
    if (route.meta === 'applications') {
      // Shape [doc: OAS-v2 example of /meta/applications].
      return this.sendJson(res, entry, 200, {
        code: 3000,
        applications: [
          {
            application_name: 'Event Registrations',
            date_format: this.config.dateFormat,
            creation_date: this.time.formatDateTime(this.applicationCreated),
            link_name: this.config.appLinkName,
            category: 1,
            time_zone: this.config.timeZone,
            created_by: this.config.accountOwner,
            workspace_name: this.config.accountOwner,
          },
        ],
      });
    }
    // Report list shape [inferred].
    return this.sendJson(res, entry, 200, {
      code: 3000,
      reports: [
        { display_name: 'All Events', link_name: this.config.eventsReport, type: 1 },
        { display_name: 'All Registrations', link_name: this.config.registrationsReport, type: 1 },
      ],
    });
  }

  private viewOf(query: Record<string, string>, v2: boolean): View | undefined {
    if (v2) return { custom: undefined, v2: true };
    const config = query.field_config ?? 'quick_view';
    if (!FIELD_CONFIGS.has(config)) return undefined;
    if (config !== 'custom') return FULL_VIEW;
    const names = (query.fields ?? '').split(',').map((n) => n.trim()).filter((n) => n.length > 0);
    return { custom: new Set(['ID', ...names]), v2: false };
  }

  private handleData<R>(res: ServerResponse, entry: MutableRequest, route: Route, report: Report<R>, csv: boolean): Done {
    const query = entry.query;
    const v2 = route.version === 'v2';
    const view = this.viewOf(query, v2);
    if (!view) return this.zoho(res, entry, 400, 1060, 'Invalid request parameter found - field_config');

    if (route.kind === 'record') {
      const id = route.recordId ?? '';
      const row = isValidId(id) ? report.get(id) : undefined;
      // Missing ID → code 3190 [doc]; HTTP 200 [inferred from the OAS listing it under 200].
      if (row === undefined) return this.zoho(res, entry, 200, 3190, `No record with ID ${id} found.`);
      entry.records = 1;
      const data = report.serialize(row, view);
      return csv ? this.sendCsv(res, entry, [data]) : this.sendJson(res, entry, 200, { code: 3000, data });
    }

    const criteriaText = (query.criteria ?? '').trim();
    let compiled: CompiledCriteria<R> | undefined;
    if (criteriaText !== '') {
      const result = this.compile(report, criteriaText);
      // Malformed criteria → 400/2901 [inferred: the v2.1 code is undocumented; 2901 is v1's "Invalid Operator"].
      if (result instanceof CriteriaError) return this.zoho(res, entry, 400, 2901);
      compiled = result;
    }
    const sources = this.candidates(report, compiled);

    if (v2) {
      // API v2 offset paging: from (1-based), limit ≤ 200 else HTTP 200 code 3970 [doc].
      const from = Number(query.from ?? '1');
      const limit = Number(query.limit ?? '200');
      if (!Number.isInteger(from) || from < 1) return this.zoho(res, entry, 400, 1060, 'Invalid request parameter found - from');
      if (!Number.isInteger(limit) || limit < 1) return this.zoho(res, entry, 400, 1060, 'Invalid request parameter found - limit');
      if (limit > 200) return this.zoho(res, entry, 200, 3970);
      const { rows } = collectPage({ sources, get: report.get, skip: from - 1, limit, predicate: compiled?.predicate });
      if (rows.length === 0) return this.empty(res, entry);
      entry.records = rows.length;
      const data = rows.map((row) => report.serialize(row, view));
      return csv ? this.sendCsv(res, entry, data) : this.sendJson(res, entry, 200, { code: 3000, data });
    }

    const maxRaw = query.max_records;
    // max_records ∈ {200, 500, 1000} [inferred]; otherwise 400/1060 [inferred: V21-CODES lists 1060 "Invalid request parameter found"].
    if (maxRaw !== undefined && !MAX_RECORDS_ALLOWED.has(maxRaw)) {
      return this.zoho(res, entry, 400, 1060, 'Invalid request parameter found - max_records');
    }
    const limit = maxRaw === undefined ? 200 : Number(maxRaw);
    // The cursor is bound to the query: a cursor sent with another query is invalid [doc: "same URL"].
    const key = [report.name, criteriaText, query.fields ?? '', query.field_config ?? 'quick_view', String(limit)].join('\u0000');
    let after: string | undefined;
    let page = 1;
    const cursor = entry.cursor;
    if (cursor !== undefined) {
      const state = this.cursors.get(cursor);
      // Unknown / expired / foreign cursor → 400/2950 [inferred: code and status are undocumented].
      if (!state || state.expiresAt <= this.clock.now() || state.key !== key) return this.zoho(res, entry, 400, 2950);
      after = state.lastId;
      page = state.page;
    }
    const { rows, more } = collectPage({ sources, get: report.get, after, limit, predicate: compiled?.predicate });
    // Nothing (left) to return → code 3100, HTTP 404 by default [code]/[derived].
    if (rows.length === 0) return this.empty(res, entry);
    entry.records = rows.length;
    const headers: Record<string, string> = {};
    // More rows remain → response header `record_cursor` [doc]; the last page has none [code].
    if (more) headers.record_cursor = this.makeCursor(key, report.idOf(rows[rows.length - 1]!), page + 1);
    const data = rows.map((row) => report.serialize(row, view));
    if (csv) return this.sendCsv(res, entry, data, headers);
    return this.sendJson(res, entry, 200, { code: 3000, data }, headers);
  }

  private async handleToken(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    entry: MutableRequest,
    gone: () => boolean,
  ): Promise<Done> {
    const params = new URLSearchParams(url.search);
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > TOKEN_BODY_LIMIT) {
        res.destroy();
        return DONE;
      }
      chunks.push(buffer);
    }
    if (gone()) return DONE;
    // Parameters in the query string [doc] or a form body [code].
    for (const [name, value] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) params.set(name, value);
    if (entry.method !== 'POST') return this.sendJson(res, entry, 405, { error: 'invalid_request' });
    if (params.get('grant_type') !== 'refresh_token') {
      return this.sendJson(res, entry, 200, { error: 'unsupported_grant_type' }); // [inferred]
    }
    // Wrong client → {"error":"invalid_client"} [doc]; unknown refresh token → {"error":"invalid_code"} [code]; HTTP 200 [code].
    if (params.get('client_id') !== this.credentials.clientId || params.get('client_secret') !== this.credentials.clientSecret) {
      return this.sendJson(res, entry, 200, { error: 'invalid_client' });
    }
    if (params.get('refresh_token') !== this.credentials.refreshToken) {
      return this.sendJson(res, entry, 200, { error: 'invalid_code' });
    }
    const now = this.clock.now();
    const limit = this.options.tokenMintLimit;
    if (limit) {
      this.mintTimes = this.mintTimes.filter((t) => t > now - limit.windowMs);
      // Mint throttle [doc: 10 tokens / 10 min per refresh token]; body [code]; status configurable [inferred].
      if (this.mintTimes.length >= limit.max) {
        return this.sendJson(res, entry, this.tokenThrottleStatus, {
          error: 'Access Denied',
          error_description: 'You have made too many requests continuously. Please try again after some time.',
        });
      }
    }
    const token = this.issueAccessToken();
    this.mints++;
    this.mintTimes.push(now);
    // Success shape [doc]: access_token, expires_in (seconds), api_domain, token_type "Bearer".
    return this.sendJson(res, entry, 200, {
      access_token: token,
      expires_in: this.tokenTtlSeconds,
      api_domain: this.apiBaseUrl,
      token_type: 'Bearer',
    });
  }

  private takeInjection(entry: MutableRequest): InjectedResponse | undefined {
    for (const live of this.rules) {
      const { rule } = live;
      if (live.fired >= (rule.times ?? 1)) continue;
      if (rule.kind !== undefined && rule.kind !== entry.kind) continue;
      if (rule.report !== undefined && rule.report !== entry.report) continue;
      if (rule.page !== undefined && rule.page !== entry.page) continue;
      if (live.seen < (rule.after ?? 0)) {
        live.seen++;
        continue;
      }
      live.fired++;
      this.rules = this.rules.filter((r) => r.fired < (r.rule.times ?? 1));
      return rule.respond;
    }
    return undefined;
  }

  private applyInjection(req: IncomingMessage, res: ServerResponse, entry: MutableRequest, respond: InjectedResponse): Done {
    if ('type' in respond) {
      switch (respond.type) {
        case 'timeout':
          this.held.add(res);
          res.once('close', () => this.held.delete(res));
          return DONE;
        case 'reset':
          req.socket.destroy();
          return DONE;
        case 'malformed': {
          const text = '{"code":3000,"data":[{"ID":"4433256000';
          entry.status = 200;
          res.writeHead(200, {
            'content-type': 'application/json;charset=UTF-8',
            'content-length': Buffer.byteLength(text),
          });
          res.end(text);
          return DONE;
        }
        default:
          return this.zoho(res, entry, respond.status, respond.code, respond.message);
      }
    }
    if (typeof respond.body === 'string') {
      entry.status = respond.status;
      res.writeHead(respond.status, {
        'content-type': 'application/json;charset=UTF-8',
        'content-length': Buffer.byteLength(respond.body),
        ...respond.headers,
      });
      res.end(respond.body);
      return DONE;
    }
    return this.sendJson(res, entry, respond.status, respond.body, respond.headers);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleep: Sleep = {
        timer: setTimeout(() => {
          this.sleeps.delete(sleep);
          resolve();
        }, ms),
        resolve,
      };
      this.sleeps.add(sleep);
    });
  }

  private empty(res: ServerResponse, entry: MutableRequest): Done {
    return this.zoho(res, entry, this.emptyStatus, 3100);
  }

  private zoho(res: ServerResponse, entry: MutableRequest, status: number, code: number, message?: string): Done {
    return this.sendJson(res, entry, status, { code, message: message ?? MESSAGES[code] ?? 'Error' });
  }

  /** JSON text of a body; with `legacyNumericIds` every `"ID":"<digits>"` loses its quotes (safe: escaped quotes inside strings never match). */
  private jsonText(body: unknown): string {
    const text = JSON.stringify(body) ?? 'null';
    return this.legacyNumericIds ? text.replace(/"ID":"(\d{1,19})"/g, '"ID":$1') : text;
  }

  private sendJson(
    res: ServerResponse,
    entry: MutableRequest,
    status: number,
    body: unknown,
    headers: Readonly<Record<string, string>> = {},
  ): Done {
    if (res.headersSent || res.destroyed) return DONE;
    const payload = Buffer.from(this.jsonText(body), 'utf8');
    entry.status = status;
    if (typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'number') {
      entry.zohoCode = (body as { code: number }).code;
    }
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json;charset=UTF-8',
      'content-length': payload.length,
    });
    res.end(payload);
    return DONE;
  }

  /** CSV answer for `accept: text/csv` [doc: supported]; layout (header row of field names, lookups as display value) [inferred]. */
  private sendCsv(
    res: ServerResponse,
    entry: MutableRequest,
    rows: readonly Record<string, unknown>[],
    headers: Readonly<Record<string, string>> = {},
  ): Done {
    if (res.headersSent || res.destroyed) return DONE;
    const columns = Object.keys(rows[0] ?? {});
    const lines = [columns.map(csvCell).join(',')];
    for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
    const payload = Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
    entry.status = 200;
    entry.zohoCode = 3000;
    res.writeHead(200, { ...headers, 'content-type': 'text/csv;charset=UTF-8', 'content-length': payload.length });
    res.end(payload);
    return DONE;
  }
}

/**
 * Creates a {@link ZohoSimulator} and starts it listening on 127.0.0.1 (port 0 = any free port).
 *
 * @example
 * ```ts
 * const sim = await createZohoSimulator({ dataset: { events: 40, registrations: 2419, seed: 1 } });
 * try { ... fetch(`${sim.apiBaseUrl}/creator/v2.1/data/zylker/event-registrations/report/All_Registrations`) ... }
 * finally { await sim.close(); }
 * ```
 */
export async function createZohoSimulator(options: ZohoSimulatorOptions = {}): Promise<ZohoSimulator> {
  return new ZohoSimulator(options).start();
}
