/**
 * Reads a request body as raw bytes, with a cap, for the HTTP bindings (the HMAC is computed over
 * the exact bytes, so no body parser may run first).
 */
import type { Readable } from 'node:stream';

/** A raw body, or the fact that it was longer than allowed. */
export type RawBody = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly bytes: number };

/**
 * Collects the stream up to `limit` bytes. Beyond the limit it keeps draining (so the answer reaches
 * the client) without keeping the bytes, up to `max(16 × limit, 16 MiB)`, then destroys the stream.
 *
 * @throws the stream's own error (aborted upload).
 */
export function readRawBody(stream: Readable, limit: number): Promise<RawBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      bytes += buffer.length;
      if (bytes <= limit) chunks.push(buffer);
      else if (bytes > Math.max(limit * 16, 16 * 1024 * 1024)) {
        stream.destroy();
        resolve({ ok: false, bytes });
      }
    });
    stream.on('end', () => resolve(bytes <= limit ? { ok: true, body: Buffer.concat(chunks, bytes) } : { ok: false, bytes }));
    stream.on('error', reject);
  });
}
