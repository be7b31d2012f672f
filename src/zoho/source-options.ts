/**
 * The options of {@link ZohoCreatorSource} and their validation (one `ConfigError` naming the
 * first bad option, thrown by the constructor before anything is sent).
 */
import { IANAZone } from 'luxon';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FetchFunction } from './bounded-fetch.js';
import { type ZohoDataCentre, isZohoDataCentre } from './data-centres.js';
import { ZohoDateTimeCodec } from './date-time.js';
import { isPlainObject } from './http-client.js';
import { shownValue } from '../internal/shown-value.js';

/** Records per request Zoho v2.1 accepts (`max_records`; 200 default, 1000 maximum [doc]; the 200/500/1000 set is [inferred]). */
export type ZohoPageSize = 200 | 500 | 1000;

/** The option names {@link ZohoCreatorSource} accepts; any other key is a typo and throws `ConfigError`. */
export const ZOHO_SOURCE_OPTION_KEYS: readonly string[] = [
  'accountOwner',
  'appLinkName',
  'eventsReport',
  'registrationsReport',
  'eventLookupField',
  'clientId',
  'clientSecret',
  'refreshToken',
  'dataCentre',
  'apiBaseUrl',
  'accountsBaseUrl',
  'dateFormat',
  'timeZone',
  'pageSize',
  'timeoutMs',
  'retries',
  'minRetryDelayMs',
  'rateLimitPauseMs',
  'bulkPollMs',
  'bulkJobTimeoutMs',
  'bulkMaxZipBytes',
  'maxResponseBytes',
  'fetch',
  'logger',
];

/** Options of {@link ZohoCreatorSource}. */
export interface ZohoCreatorSourceOptions {
  /** Account owner name (workspace) in the API path, e.g. `jason18`. */
  readonly accountOwner: string;
  /** Application link name, e.g. `event-management`. */
  readonly appLinkName: string;
  /** Link name of the report listing events (partitions), e.g. `All_Events`. */
  readonly eventsReport: string;
  /** Link name of the report listing registrations (records), e.g. `All_Registrations`. */
  readonly registrationsReport: string;
  /** Link name of the lookup field on a registration that points at its event, e.g. `Event`. Letters, digits, `_`. */
  readonly eventLookupField: string;
  /** OAuth client ID. */
  readonly clientId: string;
  /** OAuth client secret. Never logged. */
  readonly clientSecret: string;
  /** OAuth refresh token (scopes `ZohoCreator.report.READ`, plus `ZohoCreator.dashboard.READ` when the meta call is needed). Never logged. */
  readonly refreshToken: string;
  /** Data centre. @defaultValue `'com'` */
  readonly dataCentre?: ZohoDataCentre | undefined;
  /** API host override, e.g. a simulator's `http://127.0.0.1:4010`. @defaultValue `https://www.zohoapis.<dataCentre>` */
  readonly apiBaseUrl?: string | undefined;
  /** Accounts host override. @defaultValue the DC's accounts server, e.g. `https://accounts.zoho.com` */
  readonly accountsBaseUrl?: string | undefined;
  /** The app's `date_format`, e.g. `dd-MMM-yyyy`. With `timeZone` given too, no meta call is made. @defaultValue read from `/meta/applications` */
  readonly dateFormat?: string | undefined;
  /** The app's IANA `time_zone`, e.g. `Europe/Berlin`. @defaultValue read from `/meta/applications` */
  readonly timeZone?: string | undefined;
  /** Records per request (`max_records`). Unit: records. @defaultValue 1000 */
  readonly pageSize?: ZohoPageSize | undefined;
  /** Timeout per HTTP request. Unit: ms. @defaultValue 30 000 */
  readonly timeoutMs?: number | undefined;
  /** Retries per call for retryable failures (network, timeout, 5xx, 429, malformed body). @defaultValue 3 */
  readonly retries?: number | undefined;
  /** First backoff delay, doubled per retry and randomised ×1–2. Unit: ms. @defaultValue 500 */
  readonly minRetryDelayMs?: number | undefined;
  /** Minimum wait after HTTP 429 / code 2955 before retrying. Unit: ms. @defaultValue 60 000 */
  readonly rateLimitPauseMs?: number | undefined;
  /** Bulk Read: first wait before polling a job's status, doubled per poll up to 30 s. Unit: ms. @defaultValue 1000 */
  readonly bulkPollMs?: number | undefined;
  /** Bulk Read: deadline for one job to complete (then `ERR_SYNC_ZOHO_TIMEOUT`). Unit: ms. @defaultValue 600 000 */
  readonly bulkJobTimeoutMs?: number | undefined;
  /** Bulk Read: the largest result zip accepted (`ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE` beyond). Unit: bytes. @defaultValue 536 870 912 (512 MiB) */
  readonly bulkMaxZipBytes?: number | undefined;
  /**
   * Largest response body accepted from Zoho; a larger one fails the call with
   * `ERR_SYNC_ZOHO_RESPONSE_TOO_LARGE` (not retried) and reading stops there. A page of 1000
   * records is about 1–2 MB ([inferred]). Unit: bytes. @defaultValue 33554432 (32 MiB)
   */
  readonly maxResponseBytes?: number | undefined;
  /** `fetch` implementation. It is called with `redirect: 'manual'`; a 3xx answer fails the call. @defaultValue `globalThis.fetch` */
  readonly fetch?: FetchFunction | undefined;
  /** Logger. Every line passes the source's secret scrubber first (no token or secret reaches it). @defaultValue silent */
  readonly logger?: Logger | undefined;
}

/**
 * Checks every option of {@link ZohoCreatorSourceOptions}.
 *
 * @returns the page size and data centre with their defaults applied.
 * @throws ConfigError naming the first invalid option (missing names or credentials, unknown
 *   `dataCentre`, a base URL that is not http(s), an unsupported `dateFormat`, an unknown
 *   `timeZone`, `pageSize` not 200/500/1000, negative or non-integer numbers).
 */
export function validateSourceOptions(options: ZohoCreatorSourceOptions): { pageSize: ZohoPageSize; dataCentre: ZohoDataCentre } {
  if (!isPlainObject(options)) throw new ConfigError('options', 'ZohoCreatorSource needs an options object');
  for (const key of Object.keys(options)) {
    if (ZOHO_SOURCE_OPTION_KEYS.includes(key)) continue;
    const hint = key === 'dataCenter' ? ' (did you mean `dataCentre`?)' : '';
    throw new ConfigError(key, `Unknown ZohoCreatorSource option \`${key}\`${hint}`);
  }
  for (const key of [
    'accountOwner',
    'appLinkName',
    'eventsReport',
    'registrationsReport',
    'eventLookupField',
    'clientId',
    'clientSecret',
    'refreshToken',
  ] as const) {
    const value: unknown = options[key];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new ConfigError(key, `\`${key}\` must be a non-empty string`);
    }
  }
  // The lookup field goes into criteria and `fields=` unquoted: allow link-name characters only.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.eventLookupField)) {
    throw new ConfigError('eventLookupField', '`eventLookupField` must be a Zoho field link name (letters, digits, _)');
  }
  const dataCentre = options.dataCentre ?? 'com';
  if (!isZohoDataCentre(dataCentre)) {
    throw new ConfigError('dataCentre', `\`dataCentre\` must be one of com, eu, in, com.au, jp, ca, com.cn, sa; got ${shownValue(dataCentre)}`);
  }
  checkUrl('apiBaseUrl', options.apiBaseUrl);
  checkUrl('accountsBaseUrl', options.accountsBaseUrl);
  if (options.timeZone !== undefined && (typeof options.timeZone !== 'string' || !IANAZone.isValidZone(options.timeZone))) {
    throw new ConfigError('timeZone', `\`timeZone\` must be an IANA time zone name, got ${shownValue(options.timeZone)}`);
  }
  if (options.dateFormat !== undefined) new ZohoDateTimeCodec(options.dateFormat, 'UTC'); // throws ConfigError('dateFormat')
  const pageSize = options.pageSize ?? 1000;
  if (pageSize !== 200 && pageSize !== 500 && pageSize !== 1000) {
    throw new ConfigError('pageSize', `\`pageSize\` must be 200, 500 or 1000; got ${shownValue(pageSize)}`);
  }
  checkInteger('timeoutMs', options.timeoutMs, 1);
  checkInteger('retries', options.retries, 0);
  checkInteger('minRetryDelayMs', options.minRetryDelayMs, 0);
  checkInteger('rateLimitPauseMs', options.rateLimitPauseMs, 0);
  checkInteger('bulkPollMs', options.bulkPollMs, 0);
  checkInteger('bulkJobTimeoutMs', options.bulkJobTimeoutMs, 1);
  checkInteger('bulkMaxZipBytes', options.bulkMaxZipBytes, 1);
  checkInteger('maxResponseBytes', options.maxResponseBytes, 1024);
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new ConfigError('fetch', '`fetch` must be a function');
  }
  if (options.logger !== undefined && !isLogger(options.logger)) {
    throw new ConfigError('logger', '`logger` must have debug, info, warn and error methods');
  }
  return { pageSize, dataCentre };
}

function checkUrl(option: string, value: unknown): void {
  if (value === undefined) return;
  let url: URL | undefined;
  if (typeof value === 'string') {
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(option, `\`${option}\` must be an http(s) URL, got ${url ? `a ${url.protocol} URL` : shownValue(value)}`);
  }
  // Credentials in a URL travel with every request and into logs; Zoho takes none there.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(option, `\`${option}\` must not hold a user name or password (https://user:pass@host); got one for host ${url.host}`);
  }
}

function checkInteger(option: string, value: unknown, min: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(option, `\`${option}\` must be an integer ≥ ${min}, got ${shownValue(value)}`);
  }
}

function isLogger(value: unknown): value is Logger {
  if (!isPlainObject(value)) return false;
  return ['debug', 'info', 'warn', 'error'].every((m) => typeof value[m] === 'function');
}
