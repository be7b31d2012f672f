/**
 * Issue 12 items 2 and 3. Item 2: one scrubber for everything the source says — Zoho echoes input
 * back, so loopback servers here echo the client secret, the refresh token and every access token
 * minted (current and earlier) in `error_description` and `message`, in plain, URL-encoded and JSON
 * forms; none of them may appear in an error (message, cause chain, JSON), a log line (captured
 * loggers of source and worker), `worker.getStatus()` or the router's HTTP error body.
 * Item 3: an `api_domain` other than the configured host is never switched to; the final 1030
 * names both hosts and the `dataCentre` option.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SyncErrorCode, ZohoApiError } from '../../src/errors.js';
import { createSyncRoutes } from '../../src/http/routes.js';
import type { Logger } from '../../src/logger.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { REDACTED, SecretScrubber } from '../../src/zoho/secret-scrubber.js';
import { ZohoCreatorSource } from '../../src/zoho/zoho-creator-source.js';
import { deletePrefix, randomPrefix, REDIS_URL } from '../redis/helpers.js';
import { CLIENT_SECRET, type Loopback, REFRESH_TOKEN, accountsHandler, json, loopbackSourceOptions, startLoopback } from './loopback.js';

const TOKEN_1 = '1000.a1b2c3d4e5f60718293a4b5c6d7e8f90.first';
const TOKEN_2 = '1000.0f1e2d3c4b5a69788796a5b4c3d2e1f0.second';
const SECRETS = [CLIENT_SECRET, REFRESH_TOKEN, TOKEN_1, TOKEN_2];

/** Everything Zoho might echo, in several encodings, inside ordinary text. */
function echo(): string {
  return (
    `token ${TOKEN_1} was refused, and so was${TOKEN_2}; client secret is ${CLIENT_SECRET}, ` +
    `see https://x.test/?refresh_token=${encodeURIComponent(REFRESH_TOKEN)}&client_secret=${encodeURIComponent(CLIENT_SECRET)} ` +
    `or ${JSON.stringify({ refresh: REFRESH_TOKEN })} (raw:${REFRESH_TOKEN})`
  );
}

/** Every string reachable from `value`: own properties (enumerable or not), causes, stacks. */
function everything(value: unknown, seen = new Set<unknown>()): string {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null || seen.has(value)) return String(value);
  seen.add(value);
  const parts: string[] = [];
  for (const key of Reflect.ownKeys(value)) {
    const v = (value as Record<string | symbol, unknown>)[key];
    parts.push(String(key), everything(v, seen));
  }
  if (value instanceof Error) parts.push(String(value.stack), everything(value.cause, seen));
  return parts.join('\n');
}

function expectClean(what: string, text: string, secrets: readonly string[] = SECRETS): void {
  for (const secret of secrets) {
    expect(text, `${what} holds a secret`).not.toContain(secret);
    expect(text, `${what} holds a URL-encoded secret`).not.toContain(encodeURIComponent(secret));
  }
}

function capturingLogger(): { logger: Logger; lines: unknown[] } {
  const lines: unknown[] = [];
  const put = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push({ level, message, fields });
  return { logger: { debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') }, lines };
}

const servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Token 1 is refused with 1030; token 2 gets 401/2945 with a message that echoes everything. */
async function echoingZoho(apiDomain?: string) {
  let api: Loopback | undefined;
  const accounts = await startLoopback(accountsHandler([TOKEN_1, TOKEN_2], () => apiDomain ?? api!.url));
  api = await startLoopback((req, res) => {
    if (req.headers.authorization === `Zoho-oauthtoken ${TOKEN_1}`) return json(res, 401, { code: 1030, message: `Authorization Failure for ${TOKEN_1}` });
    return json(res, 401, { code: 2945, message: echo() });
  });
  servers.push(accounts, api);
  return { api, accounts };
}

describe('one scrubber for everything the source says', () => {
  it('an API error echoing the secret, the refresh token and both minted tokens reaches the caller scrubbed', async () => {
    const { api, accounts } = await echoingZoho();
    const log = capturingLogger();
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts, { logger: log.logger }));
    const error = await source.listEvents().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ZohoApiError);
    expect(error).toMatchObject({ httpStatus: 401, zohoCode: 2945 });
    // Both tokens really were minted and used, so there was something to scrub.
    expect(api.requests.map((r) => r.headers.authorization)).toEqual([`Zoho-oauthtoken ${TOKEN_1}`, `Zoho-oauthtoken ${TOKEN_2}`]);
    expect((error as Error).message).toContain(REDACTED);
    expectClean('message', (error as Error).message);
    expectClean('zohoMessage', String((error as ZohoApiError).zohoMessage));
    expectClean('JSON', JSON.stringify(error));
    expectClean('error graph', everything(error));
    expectClean('logs', everything(log.lines));
  });

  it('the accounts server echoing the refresh token and secret in error_description: the ZohoAuthError is scrubbed', async () => {
    const accounts = await startLoopback((_req, res) =>
      json(res, 400, { error: 'invalid_code', error_description: `refresh_token ${REFRESH_TOKEN} with ${CLIENT_SECRET}: ${echo()}` }),
    );
    servers.push(accounts);
    const error = await new ZohoCreatorSource(loopbackSourceOptions('http://127.0.0.1:9', accounts)).listEvents().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ZohoAuthError', code: SyncErrorCode.ZOHO_AUTH, oauthError: 'invalid_code' });
    // No token was minted here: the two long-lived secrets are what must not appear.
    expectClean('auth error', everything(error), [CLIENT_SECRET, REFRESH_TOKEN]);
    expectClean('auth JSON', JSON.stringify(error), [CLIENT_SECRET, REFRESH_TOKEN]);
  });

  it('a network error whose cause quotes a token is scrubbed down the cause chain', async () => {
    const failing = async (): Promise<Response> => {
      throw new TypeError('fetch failed', { cause: new Error(`socket to host with ${REFRESH_TOKEN} reset`, { cause: `inner ${CLIENT_SECRET}` }) });
    };
    const source = new ZohoCreatorSource(loopbackSourceOptions('http://127.0.0.1:9', 'http://127.0.0.1:9', { fetch: failing, retries: 0 }));
    const error = await source.listEvents().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_NETWORK });
    expect(everything(error)).toContain('socket to host with');
    expectClean('network error', everything(error), [CLIENT_SECRET, REFRESH_TOKEN]);
  });

  describe('through the worker, its status and the router', () => {
    let redis: Redis;
    const prefix = randomPrefix('scrub');
    beforeAll(() => {
      redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    });
    afterAll(async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });

    it('no secret in the worker log, getStatus(), the syncFailed payload or the HTTP error body', async () => {
      const { api, accounts } = await echoingZoho();
      const sourceLog = capturingLogger();
      const workerLog = capturingLogger();
      const worker = new SyncWorker({
        source: new ZohoCreatorSource(loopbackSourceOptions(api, accounts, { logger: sourceLog.logger })),
        sink: new RedisSink({ redis, keyPrefix: prefix }),
        enableAutoSync: false,
        logger: workerLog.logger,
        logLevel: 'debug',
        lease: { enabled: false },
      });
      const failures: unknown[] = [];
      worker.on('syncFailed', (payload) => failures.push(payload));
      worker.on('error', () => undefined);

      const routes = createSyncRoutes(worker, { allowUnauthenticated: true, logger: workerLog.logger });
      const fullSync = routes.find((r) => r.name === 'full-sync')!;
      const answer = await fullSync.handler({ method: 'POST', path: '/full-sync', params: {}, query: { wait: 'true' }, headers: {}, raw: undefined });
      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ error: { code: 'ERR_SYNC_ZOHO_API', zoho_code: 2945 } });
      expectClean('HTTP body', JSON.stringify(answer.body));

      const status = worker.getStatus();
      expect(status.last_run).toMatchObject({ outcome: 'failed', error_code: 'ERR_SYNC_ZOHO_API' });
      expectClean('status', JSON.stringify(status));
      const statusRoute = routes.find((r) => r.name === 'status')!;
      expectClean('GET /status', JSON.stringify((await statusRoute.handler({ method: 'GET', path: '/status', params: {}, query: {}, headers: {}, raw: undefined })).body));

      expect(failures).toHaveLength(1);
      expectClean('syncFailed', everything(failures));
      expect(workerLog.lines.length).toBeGreaterThan(0);
      expectClean('worker log', everything(workerLog.lines));
      expectClean('source log', everything(sourceLog.lines));
      await worker.stop();
    });
  });

  it('SecretScrubber: every remembered form, whatever the surrounding text; loggers and nested fields', () => {
    const scrubber = new SecretScrubber([CLIENT_SECRET]);
    scrubber.rememberToken(TOKEN_1);
    const lines: string[] = [];
    const logger = scrubber.logger({
      debug: (m, f) => lines.push(m + JSON.stringify(f)),
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    });
    logger.debug(`x${TOKEN_1}y`, { nested: { list: [`a${CLIENT_SECRET}b`, encodeURIComponent(CLIENT_SECRET)] }, n: 3 });
    expect(lines[0]).toBe(`x${REDACTED}y{"nested":{"list":["a${REDACTED}b","${REDACTED}"]},"n":3}`);
    expect(scrubber.scrub('Zoho-oauthtoken 1000.unknown.token.value')).toBe(`Zoho-oauthtoken ${REDACTED}`);
    expect(scrubber.scrub('nothing secret here')).toBe('nothing secret here');
  });
});

describe('api_domain', () => {
  it('a token minted for another API domain is not used there; the final 1030 names both hosts and dataCentre', async () => {
    const accounts = await startLoopback(accountsHandler([TOKEN_1, TOKEN_2], () => 'https://www.zohoapis.eu'));
    const api = await startLoopback((_req, res) => json(res, 401, { code: 1030, message: 'Authorization Failure. The access token is either invalid or has expired.' }));
    servers.push(accounts, api);
    const log = capturingLogger();
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts, { logger: log.logger }));
    const error = await source.listEvents().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ZohoApiError', zohoCode: 1030, httpStatus: 401 });
    const message = (error as Error).message;
    expect(message).toContain('www.zohoapis.eu');
    expect(message).toContain(api.host);
    expect(message).toContain('`dataCentre`');
    // Never switched: both attempts (first token, re-minted token) went to the configured host.
    expect(api.requests).toHaveLength(2);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ apiDomain: 'www.zohoapis.eu', configuredHost: api.host }) }),
    );
  });

  it('when api_domain matches the configured host, a 1030 keeps its plain message', async () => {
    let api: Loopback | undefined;
    const accounts = await startLoopback(accountsHandler([TOKEN_1, TOKEN_2], () => api!.url));
    api = await startLoopback((_req, res) => json(res, 401, { code: 1030, message: 'Authorization Failure.' }));
    servers.push(accounts, api);
    const error = await new ZohoCreatorSource(loopbackSourceOptions(api, accounts)).listEvents().catch((e: unknown) => e);
    expect(error).toMatchObject({ zohoCode: 1030 });
    expect((error as Error).message).not.toContain('dataCentre');
  });
});
