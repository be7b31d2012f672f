/**
 * Zoho data centres (DCs) and the two hosts each one needs: the API host that serves Creator
 * REST calls and the accounts host that mints OAuth access tokens.
 *
 * Sources (see /work/shared/reference/zoho-creator-api.md §1):
 * - API hosts `https://www.zohoapis.<tld>`: Zoho's OpenAPI file lists the eight TLDs
 *   (https://www.zoho.com/creator/help/api/v2/openapi-specification.html); the `www.` form is what
 *   the token response's `api_domain` carries and what public clients use ([code]).
 * - Accounts hosts: https://zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html and
 *   per-product OAuth pages (`accounts.zoho.com.cn`, `accounts.zoho.com.au`); Canada from
 *   https://www.zoho.com/fsm/developer/help/api/refresh-token.html (`accounts.zohocloud.ca`).
 */

/** The data centres Zoho Creator runs in, by top-level domain. */
export const ZOHO_DATA_CENTRES = ['com', 'eu', 'in', 'com.au', 'jp', 'ca', 'com.cn', 'sa'] as const;

/** One of {@link ZOHO_DATA_CENTRES}: `com` (US), `eu`, `in`, `com.au`, `jp`, `ca`, `com.cn`, `sa`. */
export type ZohoDataCentre = (typeof ZOHO_DATA_CENTRES)[number];

/** The hosts of one data centre (absolute URLs without a trailing slash). */
export interface ZohoDataCentreHosts {
  /** Creator REST API base, e.g. `https://www.zohoapis.com`; paths start with `/creator/v2.1/`. */
  readonly apiBaseUrl: string;
  /** OAuth accounts server, e.g. `https://accounts.zoho.com`; the token path is `/oauth/v2/token`. */
  readonly accountsBaseUrl: string;
}

const ACCOUNTS_HOSTS: Readonly<Record<ZohoDataCentre, string>> = {
  com: 'https://accounts.zoho.com',
  eu: 'https://accounts.zoho.eu',
  in: 'https://accounts.zoho.in',
  // Zoho's base-URL page says `accounts.zoho.au`; every other Zoho OAuth page says `.com.au` (treated as a typo).
  'com.au': 'https://accounts.zoho.com.au',
  jp: 'https://accounts.zoho.jp',
  // [doc] FSM refresh-token page; some public code uses accounts.zoho.ca instead, hence the override option.
  ca: 'https://accounts.zohocloud.ca',
  'com.cn': 'https://accounts.zoho.com.cn',
  sa: 'https://accounts.zoho.sa',
};

/** True when `value` names a known data centre. */
export function isZohoDataCentre(value: unknown): value is ZohoDataCentre {
  return typeof value === 'string' && (ZOHO_DATA_CENTRES as readonly string[]).includes(value);
}

/**
 * The API and accounts hosts of a data centre. Overrides (for a proxy, a new DC, or the test
 * simulator) win over the table; a trailing slash is removed.
 *
 * Does not validate: callers check `dataCentre` with {@link isZohoDataCentre} and the overrides
 * as URLs first (the source constructor throws `ConfigError` for them).
 *
 * @param dataCentre - the DC's TLD, e.g. `eu`.
 * @param overrides - `apiBaseUrl` / `accountsBaseUrl` to use instead of the table's.
 */
export function resolveDataCentreHosts(
  dataCentre: ZohoDataCentre,
  overrides: { apiBaseUrl?: string | undefined; accountsBaseUrl?: string | undefined } = {},
): ZohoDataCentreHosts {
  return {
    apiBaseUrl: trimSlash(overrides.apiBaseUrl ?? `https://www.zohoapis.${dataCentre}`),
    accountsBaseUrl: trimSlash(overrides.accountsBaseUrl ?? ACCOUNTS_HOSTS[dataCentre]),
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
