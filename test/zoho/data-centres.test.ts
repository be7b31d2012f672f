import { describe, expect, it } from 'vitest';
import { ZOHO_DATA_CENTRES, isZohoDataCentre, resolveDataCentreHosts } from '../../src/zoho/data-centres.js';

describe('data centres', () => {
  it.each([
    ['com', 'https://www.zohoapis.com', 'https://accounts.zoho.com'],
    ['eu', 'https://www.zohoapis.eu', 'https://accounts.zoho.eu'],
    ['in', 'https://www.zohoapis.in', 'https://accounts.zoho.in'],
    ['com.au', 'https://www.zohoapis.com.au', 'https://accounts.zoho.com.au'],
    ['jp', 'https://www.zohoapis.jp', 'https://accounts.zoho.jp'],
    ['ca', 'https://www.zohoapis.ca', 'https://accounts.zohocloud.ca'],
    ['com.cn', 'https://www.zohoapis.com.cn', 'https://accounts.zoho.com.cn'],
    ['sa', 'https://www.zohoapis.sa', 'https://accounts.zoho.sa'],
  ] as const)('%s → %s and %s', (dc, api, accounts) => {
    expect(resolveDataCentreHosts(dc)).toEqual({ apiBaseUrl: api, accountsBaseUrl: accounts });
  });

  it('lists exactly the eight DCs and recognises them', () => {
    expect(ZOHO_DATA_CENTRES).toHaveLength(8);
    expect(isZohoDataCentre('eu')).toBe(true);
    expect(isZohoDataCentre('uk')).toBe(false);
    expect(isZohoDataCentre(undefined)).toBe(false);
  });

  it('lets overrides win and trims a trailing slash', () => {
    expect(resolveDataCentreHosts('eu', { apiBaseUrl: 'http://127.0.0.1:4000/', accountsBaseUrl: 'http://127.0.0.1:4001' })).toEqual({
      apiBaseUrl: 'http://127.0.0.1:4000',
      accountsBaseUrl: 'http://127.0.0.1:4001',
    });
  });
});
