/**
 * Small `node:http` servers on 127.0.0.1 for the hostile-Zoho tests: each records every request
 * (method, URL, headers, body) and answers through a handler the test supplies. Helpers build a
 * fake accounts server and source options pointing at loopback hosts.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { ZohoCreatorSourceOptions } from '../../src/zoho/source-options.js';

/** One request a loopback server received. */
export interface LoopbackRequest {
  readonly method: string;
  /** Path and query. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The request body (UTF-8). */
  readonly body: string;
}

/** A running loopback server. */
export interface Loopback {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `127.0.0.1:<port>` */
  readonly host: string;
  /** Every request so far, in order. */
  readonly requests: LoopbackRequest[];
  close(): Promise<void>;
}

/** What a handler does with a request: write the answer on `res`. */
export type LoopbackHandler = (req: LoopbackRequest, res: ServerResponse) => void | Promise<void>;

/** Starts a server on a free loopback port. */
export async function startLoopback(handler: LoopbackHandler): Promise<Loopback> {
  const requests: LoopbackRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(entry);
      Promise.resolve(handler(entry, res)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('loopback server has no port');
  const host = `127.0.0.1:${address.port}`;
  return {
    url: `http://${host}`,
    host,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Long enough to be scrubbed, distinctive enough to search for. */
export const CLIENT_SECRET = 'cs-5ca1ab1e0ddba11c0ffee00000000001';
export const REFRESH_TOKEN = '1000.rt-0ddba11c0ffee5ca1ab1e00000000002';

/** An accounts server that mints `tokens[0]`, `tokens[1]`, ... (the last one again when they run out). */
export function accountsHandler(tokens: readonly string[], apiDomain: () => string): LoopbackHandler {
  let minted = 0;
  return (req, res) => {
    if (req.method !== 'POST' || !req.url.startsWith('/oauth/v2/token')) return json(res, 404, { error: 'not_found' });
    const token = tokens[Math.min(minted++, tokens.length - 1)]!;
    return json(res, 200, { access_token: token, expires_in: 3600, api_domain: apiDomain(), token_type: 'Bearer' });
  };
}

/** Source options for loopback hosts (date format and zone given, so no meta call). */
export function loopbackSourceOptions(api: Loopback | string, accounts: Loopback | string, extra: Partial<ZohoCreatorSourceOptions> = {}): ZohoCreatorSourceOptions {
  return {
    accountOwner: 'owner',
    appLinkName: 'app',
    eventsReport: 'All_Events',
    registrationsReport: 'All_Registrations',
    eventLookupField: 'Event',
    clientId: '1000.CLIENTID',
    clientSecret: CLIENT_SECRET,
    refreshToken: REFRESH_TOKEN,
    apiBaseUrl: typeof api === 'string' ? api : api.url,
    accountsBaseUrl: typeof accounts === 'string' ? accounts : accounts.url,
    dateFormat: 'dd-MMM-yyyy',
    timeZone: 'UTC',
    minRetryDelayMs: 1,
    rateLimitPauseMs: 1,
    retries: 3,
    timeoutMs: 10_000,
    ...extra,
  };
}

/** A registration row as Creator sends it. */
export function row(id: string, eventId = '4000000000000000001'): Record<string, unknown> {
  return { ID: id, Event: { ID: eventId, display_value: 'E', zc_display_value: 'E' }, Modified_Time: '15-Mar-2024 17:03:09' };
}
