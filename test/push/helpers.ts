/**
 * Helpers of the push tests: a harness (simulator + real Redis, random prefix) with a
 * `ZohoPushes` bound to it, signed request builders, and bounded waits.
 */
import { silentLogger } from '../../src/logger.js';
import { signPush } from '../../src/push/signature.js';
import { ZohoPushes, type ZohoPushesOptions } from '../../src/push/zoho-pushes.js';
import { createHarness, type Harness } from '../helpers/harness.js';

export const SECRET = 'test-push-secret-0123456789';

export interface PushHarness extends Harness {
  pushes(options?: Partial<ZohoPushesOptions>): ZohoPushes;
}

export async function createPushHarness(): Promise<PushHarness> {
  const h = await createHarness({ dataset: { events: 6, registrations: 600, seed: 3 } });
  const created: ZohoPushes[] = [];
  const close = h.close.bind(h);
  return Object.assign(h, {
    pushes(options: Partial<ZohoPushesOptions> = {}) {
      const p = new ZohoPushes({
        redis: h.redis,
        source: h.source(),
        sink: h.sink,
        secret: SECRET,
        keyPrefix: h.prefix,
        logger: silentLogger,
        claimIdleMs: 60_000,
        retryBaseMs: 20,
        retryMaxMs: 100,
        ...options,
      });
      created.push(p);
      return p;
    },
    async close() {
      await Promise.all(created.map((p) => p.stop()));
      await close();
    },
  });
}

/** The JSON body the README's Deluge snippet builds, and its signed headers. */
export function signedJson(body: string, now = Date.now(), secret = SECRET): { headers: Record<string, string>; body: Buffer } {
  return { headers: { 'content-type': 'application/json', ...signPush(secret, body, now) }, body: Buffer.from(body, 'utf8') };
}

export function pushBody(action: string, recordId: string, extra: Record<string, unknown> = {}): string {
  // IDs as bare numbers, as Deluge's Map.toString() writes a BIGINT field.
  const fields = Object.entries(extra).map(([k, v]) => `,"${k}":${JSON.stringify(v)}`).join('');
  return `{"action":"${action}","record_id":${recordId}${fields}}`;
}

/** Polls `check` every 20 ms until it is truthy or `timeoutMs` passes (then throws). */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
