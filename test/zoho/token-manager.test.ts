import { describe, expect, it } from 'vitest';
import { AbortedError, SyncErrorCode, ZohoApiError, ZohoAuthError } from '../../src/errors.js';
import type { FetchFunction } from '../../src/zoho/http-client.js';
import { ZohoTokenManager } from '../../src/zoho/token-manager.js';

type Reply = { status?: number; body: unknown } | 'network-error';

/** A stub token endpoint: answers from `replies` in order (the last one repeats), records requests. */
function stubFetch(replies: Reply[], delayMs = 5) {
  const requests: { url: string; body: string; contentType: string | null }[] = [];
  let i = 0;
  const fetch: FetchFunction = async (input, init) => {
    requests.push({
      url: String(input),
      body: String(init?.body),
      contentType: new Headers(init?.headers).get('content-type'),
    });
    const reply = replies[Math.min(i++, replies.length - 1)]!;
    await new Promise((r) => setTimeout(r, delayMs));
    if (reply === 'network-error') throw new TypeError('fetch failed');
    return new Response(JSON.stringify(reply.body), { status: reply.status ?? 200 });
  };
  return { fetch, requests };
}

const base = {
  accountsBaseUrl: 'https://accounts.example.test/',
  clientId: 'cid',
  clientSecret: 'secret',
  refreshToken: 'rt',
  minRetryDelayMs: 1,
};

let counter = 0;
const tokenBody = (expiresIn = 3600) => ({
  access_token: `1000.token-${++counter}`,
  expires_in: expiresIn,
  api_domain: 'https://www.zohoapis.com',
  token_type: 'Bearer',
});

describe('ZohoTokenManager', () => {
  it('sends the refresh-token grant as a form body to {accounts}/oauth/v2/token', async () => {
    const stub = stubFetch([{ body: tokenBody() }]);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch });
    await tokens.getToken();
    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]?.url).toBe('https://accounts.example.test/oauth/v2/token');
    expect(stub.requests[0]?.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(stub.requests[0]?.body))).toEqual({
      grant_type: 'refresh_token',
      client_id: 'cid',
      client_secret: 'secret',
      refresh_token: 'rt',
    });
  });

  it('ten concurrent getToken() calls share one mint', async () => {
    const stub = stubFetch([{ body: tokenBody() }], 30);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch });
    const got = await Promise.all(Array.from({ length: 10 }, () => tokens.getToken()));
    expect(new Set(got).size).toBe(1);
    expect(stub.requests).toHaveLength(1);
    expect(tokens.getRequestCount()).toBe(1);
    expect(tokens.getMintCount()).toBe(1);
    // Cached afterwards.
    await tokens.getToken();
    expect(stub.requests).toHaveLength(1);
  });

  it('invalidate(token) by ten failing callers causes exactly one new mint', async () => {
    const stub = stubFetch([{ body: tokenBody() }, { body: tokenBody() }], 20);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch });
    const first = await tokens.getToken();
    const second = await Promise.all(
      Array.from({ length: 10 }, async () => {
        tokens.invalidate(first);
        return tokens.getToken();
      }),
    );
    expect(new Set(second).size).toBe(1);
    expect(second[0]).not.toBe(first);
    // A late invalidate of the old token leaves the new one alone.
    tokens.invalidate(first);
    expect(await tokens.getToken()).toBe(second[0]);
    expect(tokens.getMintCount()).toBe(2);
  });

  it('refreshes when fewer than 60 s of the token life remain', async () => {
    let now = 1_000_000;
    const stub = stubFetch([{ body: tokenBody(3600) }, { body: tokenBody(3600) }]);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch, now: () => now });
    const a = await tokens.getToken();
    now += 3_600_000 - 61_000;
    expect(await tokens.getToken()).toBe(a);
    now += 2_000;
    const b = await tokens.getToken();
    expect(b).not.toBe(a);
    expect(stub.requests).toHaveLength(2);
  });

  it('an HTTP 200 {"error":"Access Denied"} body is a ZohoAuthError, retried, and nothing is cached', async () => {
    const denied = {
      error: 'Access Denied',
      error_description: 'You have made too many requests continuously. Please try again after some time.',
    };
    const stub = stubFetch([{ status: 200, body: denied }]);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch, retries: 2 });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoAuthError);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_AUTH, oauthError: 'Access Denied', httpStatus: 200 });
    expect(stub.requests).toHaveLength(3); // throttling is retried with backoff
    expect(tokens.getMintCount()).toBe(0);
    // Nothing cached: the next call asks again, and succeeds once the server does.
    const ok = stubFetch([{ body: tokenBody() }]);
    const tokens2 = new ZohoTokenManager({ ...base, fetch: ok.fetch });
    expect(await tokens2.getToken()).toMatch(/^1000\.token-/);
    await expect(tokens.getToken()).rejects.toBeInstanceOf(ZohoAuthError);
    expect(stub.requests).toHaveLength(6);
  });

  it.each(['invalid_code', 'invalid_client'])('%s fails at once, without retries', async (oauthError) => {
    const stub = stubFetch([{ status: 200, body: { error: oauthError } }]);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch, retries: 3 });
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'ZohoAuthError', oauthError });
    expect(stub.requests).toHaveLength(1);
  });

  it('never stores an undefined or empty access_token', async () => {
    const stub = stubFetch([{ body: { access_token: '', expires_in: 3600 } }, { body: { expires_in: 3600 } }]);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch });
    await expect(tokens.getToken()).rejects.toBeInstanceOf(ZohoAuthError);
    await expect(tokens.getToken()).rejects.toBeInstanceOf(ZohoAuthError);
    expect(tokens.getMintCount()).toBe(0);
  });

  it('retries network errors and HTTP 5xx, then succeeds', async () => {
    const stub = stubFetch(['network-error', { status: 503, body: { oops: true } }, { body: tokenBody() }]);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch, retries: 3 });
    expect(await tokens.getToken()).toMatch(/^1000\.token-/);
    expect(tokens.getRequestCount()).toBe(3);
  });

  it('a persistent network error ends as ZohoApiError ERR_SYNC_ZOHO_NETWORK', async () => {
    const stub = stubFetch(['network-error']);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch, retries: 1 });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoApiError);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_NETWORK });
    expect(String((error as Error).message)).not.toContain('secret');
  });

  it('a caller abort rejects that caller promptly; the shared mint still serves others', async () => {
    const stub = stubFetch([{ body: tokenBody() }], 100);
    const tokens = new ZohoTokenManager({ ...base, fetch: stub.fetch });
    const controller = new AbortController();
    const aborted = tokens.getToken(controller.signal);
    const other = tokens.getToken();
    setTimeout(() => controller.abort(), 10);
    const started = Date.now();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    expect(Date.now() - started).toBeLessThan(80);
    expect(await other).toMatch(/^1000\.token-/);
    expect(stub.requests).toHaveLength(1);
  });
});
