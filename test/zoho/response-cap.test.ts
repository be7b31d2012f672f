/**
 * Issue 12 item 6: response size is capped (`maxResponseBytes`). A loopback server streams a 50 MB
 * page; the call fails with a typed error and the server sees the client stop reading long before
 * the end. (No RSS assertion: the shared machine is noisy; the bytes the server managed to write
 * bound what the client could have buffered.)
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, SyncErrorCode } from '../../src/errors.js';
import { DEFAULT_MAX_RESPONSE_BYTES, fetchText, openResponse } from '../../src/zoho/bounded-fetch.js';
import { ZohoCreatorSource } from '../../src/zoho/zoho-creator-source.js';
import { type Loopback, accountsHandler, json, loopbackSourceOptions, row, startLoopback } from './loopback.js';

const MB = 1024 * 1024;
const servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Streams `totalBytes` of a JSON page in 64 KiB chunks, honouring back-pressure; counts what it wrote. */
function streamBigPage(res: ServerResponse, totalBytes: number, written: { bytes: number; finished: boolean }, withLength: boolean): void {
  const head = '{"code":3000,"data":[';
  const unit = `${JSON.stringify(row('4000000000000000002'))},`;
  const chunk = unit.repeat(Math.ceil((64 * 1024) / unit.length));
  res.writeHead(200, { 'content-type': 'application/json', ...(withLength ? { 'content-length': String(totalBytes) } : {}) });
  res.write(head);
  written.bytes = head.length;
  const pump = (): void => {
    while (written.bytes < totalBytes) {
      if (res.destroyed) return;
      const piece = chunk.slice(0, Math.min(chunk.length, totalBytes - written.bytes));
      written.bytes += piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    written.finished = true;
    res.end();
  };
  pump();
}

async function bigPageServer(withLength: boolean) {
  const written = { bytes: 0, finished: false };
  let api: Loopback | undefined;
  const accounts = await startLoopback(accountsHandler(['1000.cap-token-00000000000001'], () => api!.url));
  api = await startLoopback((_req, res) => streamBigPage(res, 50 * MB, written, withLength));
  servers.push(accounts, api);
  return { api, accounts, written };
}

describe('maxResponseBytes', () => {
  it('a 50 MB page without Content-Length is refused once 1 MiB is passed; reading stops early, not retried', async () => {
    const { api, accounts, written } = await bigPageServer(false);
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts, { maxResponseBytes: MB }));
    const error = await (async () => {
      for await (const _page of source.readRecords()) return 'a page came through';
      return 'no error';
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ZohoApiError', code: SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE, httpStatus: 200 });
    expect((error as Error).message).toContain(`${MB} bytes`);
    expect(api.requests).toHaveLength(1);
    // Give the server a moment to notice the closed socket, then check it was cut off early.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(written.finished).toBe(false);
    expect(written.bytes).toBeLessThan(20 * MB);
  });

  it('a Content-Length above the cap is refused before the body is read (fast path)', async () => {
    const { api, accounts, written } = await bigPageServer(true);
    const source = new ZohoCreatorSource(loopbackSourceOptions(api, accounts, { maxResponseBytes: MB }));
    const error = await source.getRecord('4000000000000000002').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE });
    expect((error as Error).message).toContain(`Content-Length ${50 * MB}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(written.finished).toBe(false);
  });

  it('the default cap is 32 MiB, and a page under the cap is read whole', async () => {
    expect(DEFAULT_MAX_RESPONSE_BYTES).toBe(32 * MB);
    let api: Loopback | undefined;
    const accounts = await startLoopback(accountsHandler(['1000.cap-token-00000000000001'], () => api!.url));
    const rows = Array.from({ length: 1000 }, (_, i) => row(String(4000000000000000000n + BigInt(i + 10))));
    api = await startLoopback((_req, res) => json(res, 200, { code: 3000, data: rows }));
    servers.push(accounts, api);
    const pages: number[] = [];
    for await (const page of new ZohoCreatorSource(loopbackSourceOptions(api, accounts)).readRecords()) pages.push(page.items.length);
    expect(pages).toEqual([1000]);
  });

  it('the cap can be set per call (a download may allow more than a page)', async () => {
    const body = 'x'.repeat(3 * MB);
    const server = await startLoopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip' });
      res.end(body);
    });
    servers.push(server);
    const options = { timeoutMs: 10_000, endpoint: 'download' };
    await expect(fetchText(fetch, server.url, {}, { ...options, maxResponseBytes: 2 * MB })).rejects.toMatchObject({
      code: SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE,
    });
    const { body: text } = await fetchText(fetch, server.url, {}, { ...options, maxResponseBytes: 4 * MB });
    expect(text.length).toBe(3 * MB);

    // Streamed (a download): the chunks stop with the typed error once the count passes the cap.
    const opened = await openResponse(fetch, server.url, {}, { ...options, maxResponseBytes: 2 * MB });
    let streamed = 0;
    const streamError = await (async () => {
      for await (const chunk of opened.chunks()) streamed += chunk.byteLength;
    })().catch((e: unknown) => e);
    expect(streamError).toMatchObject({ code: SyncErrorCode.ZOHO_RESPONSE_TOO_LARGE });
    expect(streamed).toBeLessThanOrEqual(2 * MB);
  });

  it('maxResponseBytes must be an integer of at least 1024', () => {
    expect(() => new ZohoCreatorSource(loopbackSourceOptions('http://127.0.0.1:9', 'http://127.0.0.1:9', { maxResponseBytes: 10 }))).toThrow(ConfigError);
  });
});
