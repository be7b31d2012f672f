/**
 * Issue 12 item 1: redirects are never followed. Real `fetch` against loopback servers: a token
 * endpoint that answers 307 (which would re-POST the client secret and refresh token) and an API
 * host that answers 302 to another host serving records.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SyncErrorCode } from '../../src/errors.js';
import type { FetchFunction } from '../../src/zoho/http-client.js';
import { ZohoCreatorSource } from '../../src/zoho/zoho-creator-source.js';
import {
  CLIENT_SECRET,
  type Loopback,
  REFRESH_TOKEN,
  accountsHandler,
  json,
  loopbackSourceOptions,
  row,
  startLoopback,
} from './loopback.js';

const servers: Loopback[] = [];
async function serve(...args: Parameters<typeof startLoopback>): Promise<Loopback> {
  const server = await startLoopback(...args);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A host that would gladly take anything: it mints tokens and serves a page of its own records. */
async function evilHost(): Promise<Loopback> {
  return serve((req, res) => {
    if (req.method === 'POST') return json(res, 200, { access_token: '1000.evil-token-000000000000', expires_in: 3600, token_type: 'Bearer' });
    return json(res, 200, { code: 3000, data: [row('6666666666666666666')] });
  });
}

async function collect(source: ZohoCreatorSource): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of source.readRecords()) ids.push(...page.items.map((r) => r.id));
  return ids;
}

describe('redirects', () => {
  it('a 307 from the token endpoint is a typed error naming the Location host; the secret never reaches it', async () => {
    const evil = await evilHost();
    const accounts = await serve((_req, res) => {
      res.writeHead(307, { location: `${evil.url}/oauth/v2/token` });
      res.end();
    });
    const api = await serve((_req, res) => json(res, 200, { code: 3000, data: [row('1')] }));
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts));

    const error = await collect(source).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ZohoApiError', code: SyncErrorCode.ZOHO_REDIRECT, httpStatus: 307 });
    expect((error as Error).message).toContain(evil.host);
    // Not retried (retries: 3), never re-posted elsewhere, no API call with a foreign token.
    expect(accounts.requests).toHaveLength(1);
    expect(evil.requests).toHaveLength(0);
    expect(api.requests).toHaveLength(0);
    expect(accounts.requests[0]!.body).toContain('client_secret=');
    for (const r of evil.requests) expect(r.body).not.toContain(CLIENT_SECRET);
  });

  it('a 302 from the API host is a typed error; the other host is never asked and its records are never returned', async () => {
    const evil = await evilHost();
    let api: Loopback | undefined;
    const accounts = await serve(accountsHandler(['1000.good-token-0000000000001'], () => api!.url));
    api = await serve((_req, res) => {
      res.writeHead(302, { location: `${evil.url}/creator/v2.1/data/owner/app/report/All_Registrations` });
      res.end();
    });
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts));

    const error = await collect(source).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_REDIRECT, httpStatus: 302 });
    expect((error as Error).message).toContain(`host ${evil.host}`);
    expect(api.requests).toHaveLength(1);
    expect(evil.requests).toHaveLength(0);
    expect(source.getCallCounts().records).toBe(1);
  });

  it('a relative Location names the API host itself, and is not followed either', async () => {
    let api: Loopback | undefined;
    const accounts = await serve(accountsHandler(['1000.good-token-0000000000001'], () => api!.url));
    api = await serve((req, res) => {
      if (req.url.startsWith('/elsewhere')) return json(res, 200, { code: 3000, data: [row('7')] });
      res.writeHead(301, { location: '/elsewhere' });
      res.end();
    });
    const error = await collect(new ZohoCreatorSource(loopbackSourceOptions(api, accounts))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_REDIRECT, httpStatus: 301 });
    expect((error as Error).message).toContain(`host ${api.host}`);
    expect(api.requests.map((r) => r.url.split('?')[0])).toEqual(['/creator/v2.1/data/owner/app/report/All_Registrations']);
  });

  it('a custom fetch that follows redirects anyway: the other host answer is refused, nothing is returned', async () => {
    const evil = await evilHost();
    let api: Loopback | undefined;
    const accounts = await serve(accountsHandler(['1000.good-token-0000000000001'], () => api!.url));
    api = await serve((_req, res) => {
      res.writeHead(302, { location: `${evil.url}/page` });
      res.end();
    });
    const following: FetchFunction = (input, init) => globalThis.fetch(input, { ...init, redirect: 'follow' });
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts, { fetch: following }));

    const error = await collect(source).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_REDIRECT });
    expect((error as Error).message).toContain(evil.host);
    // This fetch did follow (so the other host was asked), but its records never came out.
    expect(evil.requests).toHaveLength(1);
    // The token stays on the configured hosts even then: fetch drops Authorization across origins.
    expect(evil.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('the refresh token never leaves for another host, even inside the 307 Location', async () => {
    const evil = await evilHost();
    const accounts = await serve((_req, res) => {
      res.writeHead(308, { location: `${evil.url}/steal?rt=${REFRESH_TOKEN}` });
      res.end();
    });
    const error = await new ZohoCreatorSource(loopbackSourceOptions('http://127.0.0.1:9', accounts)).listEvents().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_REDIRECT, httpStatus: 308 });
    // Only the host is named: the Location's path and query (with whatever they echo) are not.
    expect((error as Error).message).not.toContain(REFRESH_TOKEN);
    expect(evil.requests).toHaveLength(0);
  });
});
