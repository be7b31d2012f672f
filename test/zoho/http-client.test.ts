import { describe, expect, it } from 'vitest';
import { AbortedError, SyncErrorCode, ZohoApiError } from '../../src/errors.js';
import { type FetchFunction, ZohoHttpClient, type ZohoTokenProvider } from '../../src/zoho/http-client.js';

type Reply =
  | { status?: number; body: unknown; headers?: Record<string, string> }
  | { raw: string; status?: number }
  | 'network-error'
  | 'hang';

interface Seen {
  url: string;
  headers: Headers;
}

function stub(replies: Reply[]) {
  const seen: Seen[] = [];
  let i = 0;
  const fetch: FetchFunction = async (input, init) => {
    seen.push({ url: String(input), headers: new Headers(init?.headers) });
    const reply = replies[Math.min(i++, replies.length - 1)]!;
    if (reply === 'network-error') throw new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) });
    if (reply === 'hang') {
      return new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true });
      });
    }
    if ('raw' in reply) return new Response(reply.raw, { status: reply.status ?? 200 });
    return new Response(JSON.stringify(reply.body), { status: reply.status ?? 200, headers: reply.headers });
  };
  return { fetch, seen };
}

function tokenStub(): ZohoTokenProvider & { mints: number; current: string } {
  const t = {
    mints: 0,
    current: 'tok-0',
    async getToken() {
      if (t.current === '') t.current = `tok-${++t.mints}`;
      return t.current;
    },
    invalidate(token: string) {
      if (token === t.current) t.current = '';
    },
  };
  return t;
}

const URL_ = 'https://api.example.test/creator/v2.1/data/o/a/report/R?max_records=1000';
const ok = (data: unknown = [{ ID: '1' }], headers?: Record<string, string>): Reply => ({ body: { code: 3000, data }, headers });

function client(fetch: FetchFunction, extra: Partial<ConstructorParameters<typeof ZohoHttpClient>[0]> = {}) {
  return new ZohoHttpClient({ tokens: tokenStub(), fetch, minRetryDelayMs: 1, rateLimitPauseMs: 50, retries: 3, ...extra });
}

describe('ZohoHttpClient', () => {
  it('sends the Zoho auth header, accept exactly application/json, and the cursor header', async () => {
    const s = stub([ok([{ ID: '1' }], { record_cursor: 'C2' })]);
    const result = await client(s.fetch).get({ url: URL_, kind: 'records', endpoint: 'R', cursor: 'C1' });
    expect(s.seen[0]?.headers.get('authorization')).toBe('Zoho-oauthtoken tok-0');
    expect(s.seen[0]?.headers.get('accept')).toBe('application/json');
    expect(s.seen[0]?.headers.get('record_cursor')).toBe('C1');
    expect(result).toMatchObject({ outcome: 'ok', httpStatus: 200, recordCursor: 'C2' });
  });

  it.each([200, 404])('code 3100 with HTTP %i is an empty result', async (status) => {
    const s = stub([{ status, body: { code: 3100, message: 'No Data Available' } }]);
    const result = await client(s.fetch).get({ url: URL_, kind: 'records', endpoint: 'R', expectData: 'array' });
    expect(result.outcome).toBe('empty');
    expect(result.recordCursor).toBeUndefined();
  });

  it('code 3190 is no-such-record only when allowed', async () => {
    const body = { code: 3190, message: 'No record with ID 5 found.' };
    const c = client(stub([{ body }]).fetch);
    expect((await c.get({ url: URL_, kind: 'records', endpoint: 'R', allowNoSuchRecord: true })).outcome).toBe('no-such-record');
    await expect(client(stub([{ body }]).fetch).get({ url: URL_, kind: 'records', endpoint: 'R' })).rejects.toMatchObject({
      zohoCode: 3190,
    });
  });

  it('an unknown report (404/2894) fails at once with status, code, message and endpoint', async () => {
    const s = stub([{ status: 404, body: { code: 2894, message: 'No report named R found.' } }]);
    const c = client(s.fetch);
    const error = await c.get({ url: URL_, kind: 'records', endpoint: 'R' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoApiError);
    expect(error).toMatchObject({
      code: SyncErrorCode.ZOHO_API,
      httpStatus: 404,
      zohoCode: 2894,
      zohoMessage: 'No report named R found.',
      endpoint: 'R',
    });
    expect(String((error as Error).message)).not.toContain('tok-');
    expect(s.seen).toHaveLength(1);
  });

  it('HTTP 200 code 4000 is QUOTA_EXHAUSTED, not retried, and recorded until a success', async () => {
    const s = stub([{ status: 200, body: { code: 4000, message: 'limit' } }, ok()]);
    const c = client(s.fetch, { now: () => 1234 });
    await expect(c.get({ url: URL_, kind: 'records', endpoint: 'R' })).rejects.toMatchObject({
      code: SyncErrorCode.ZOHO_QUOTA_EXHAUSTED,
      httpStatus: 200,
      zohoCode: 4000,
    });
    expect(s.seen).toHaveLength(1);
    expect(c.getQuotaState()).toEqual({ exhausted: true, exhaustedAt: 1234 });
    await c.get({ url: URL_, kind: 'records', endpoint: 'R' });
    expect(c.getQuotaState()).toEqual({ exhausted: false, exhaustedAt: 1234 });
  });

  it('retries HTTP 5xx, malformed bodies and network errors, counting every request', async () => {
    const s = stub([{ status: 500, raw: '<html>oops</html>' }, { raw: '{"code":30' }, 'network-error', ok()]);
    const c = client(s.fetch);
    const result = await c.get({ url: URL_, kind: 'ids', endpoint: 'R', expectData: 'array' });
    expect(result.outcome).toBe('ok');
    expect(c.getCallCounts()).toEqual({ records: 0, ids: 4, meta: 0 });
  });

  it('a persistent malformed body ends as ERR_SYNC_ZOHO_MALFORMED_RESPONSE', async () => {
    const s = stub([{ raw: 'not json' }]);
    await expect(client(s.fetch, { retries: 2 }).get({ url: URL_, kind: 'records', endpoint: 'R' })).rejects.toMatchObject({
      code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE,
      httpStatus: 200,
    });
    expect(s.seen).toHaveLength(3);
  });

  it('code 3000 without the expected data shape counts as malformed', async () => {
    const s = stub([{ body: { code: 3000, data: { ID: '1' } } }]);
    await expect(
      client(s.fetch, { retries: 0 }).get({ url: URL_, kind: 'records', endpoint: 'R', expectData: 'array' }),
    ).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_MALFORMED_RESPONSE });
  });

  it('other 4xx answers fail at once', async () => {
    const s = stub([{ status: 403, body: { code: 2898, message: 'Permission denied to view record(s).' } }]);
    await expect(client(s.fetch).get({ url: URL_, kind: 'records', endpoint: 'R' })).rejects.toMatchObject({ httpStatus: 403, zohoCode: 2898 });
    expect(s.seen).toHaveLength(1);
  });

  it('401/1030 re-mints and re-sends once, outside the retry budget', async () => {
    const s = stub([{ status: 401, body: { code: 1030, message: 'Authorization Failure.' } }, ok()]);
    const tokens = tokenStub();
    const c = new ZohoHttpClient({ tokens, fetch: s.fetch, retries: 0 });
    const result = await c.get({ url: URL_, kind: 'records', endpoint: 'R' });
    expect(result.outcome).toBe('ok');
    expect(tokens.mints).toBe(1);
    expect(s.seen.map((x) => x.headers.get('authorization'))).toEqual(['Zoho-oauthtoken tok-0', 'Zoho-oauthtoken tok-1']);
  });

  it('a second 401/1030 after the re-mint is an error', async () => {
    const s = stub([{ status: 401, body: { code: 1030, message: 'Authorization Failure.' } }]);
    await expect(client(s.fetch).get({ url: URL_, kind: 'records', endpoint: 'R' })).rejects.toMatchObject({ httpStatus: 401, zohoCode: 1030 });
    expect(s.seen).toHaveLength(2);
  });

  it('429/2955 waits at least rateLimitPauseMs, then retries; exhausted → ERR_SYNC_ZOHO_RATE_LIMITED', async () => {
    const limited: Reply = { status: 429, body: { code: 2955, message: 'limit per minute' } };
    const s = stub([limited, ok()]);
    const started = Date.now();
    await client(s.fetch, { rateLimitPauseMs: 120 }).get({ url: URL_, kind: 'records', endpoint: 'R' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
    const s2 = stub([limited]);
    await expect(client(s2.fetch, { rateLimitPauseMs: 5, retries: 1 }).get({ url: URL_, kind: 'records', endpoint: 'R' })).rejects.toMatchObject({
      code: SyncErrorCode.ZOHO_RATE_LIMITED,
      httpStatus: 429,
      zohoCode: 2955,
    });
    expect(s2.seen).toHaveLength(2);
  });

  it('abort during a rate-limit pause rejects promptly with AbortedError', async () => {
    const s = stub([{ status: 429, body: { code: 2955 } }]);
    const controller = new AbortController();
    const c = client(s.fetch, { rateLimitPauseMs: 60_000 });
    const pending = c.get({ url: URL_, kind: 'records', endpoint: 'R', signal: controller.signal });
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    // Promptly means: long before the 60 s wait would end (a tight stopwatch flakes on a busy machine).
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('abort during a backoff wait rejects promptly with AbortedError', async () => {
    const s = stub([{ status: 503, body: { code: 2930 } }]);
    const controller = new AbortController();
    const pending = client(s.fetch, { minRetryDelayMs: 60_000 }).get({
      url: URL_,
      kind: 'records',
      endpoint: 'R',
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    // Promptly means: long before the 60 s wait would end (a tight stopwatch flakes on a busy machine).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(s.seen).toHaveLength(1);
  });

  it('abort during a request and before one both reject with AbortedError', async () => {
    const controller = new AbortController();
    const pending = client(stub(['hang']).fetch).get({ url: URL_, kind: 'records', endpoint: 'R', signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await expect(pending).rejects.toBeInstanceOf(AbortedError);
    await expect(
      client(stub([ok()]).fetch).get({ url: URL_, kind: 'records', endpoint: 'R', signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortedError);
  });

  it('a timeout is ERR_SYNC_ZOHO_TIMEOUT after retries', async () => {
    const s = stub(['hang']);
    await expect(
      client(s.fetch, { timeoutMs: 30, retries: 1 }).get({ url: URL_, kind: 'records', endpoint: 'R' }),
    ).rejects.toMatchObject({ code: SyncErrorCode.ZOHO_TIMEOUT, endpoint: 'R' });
    expect(s.seen).toHaveLength(2);
  });
});
