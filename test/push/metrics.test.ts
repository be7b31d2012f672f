/** Push counts and push-to-Redis lag in the Prometheus metrics and in getStatus(). */
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerPushMetrics } from '../../src/metrics.js';
import { createPushHarness, type PushHarness, pushBody, signedJson, waitFor } from './helpers.js';

describe('push metrics', () => {
  let h: PushHarness;
  beforeEach(async () => {
    h = await createPushHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('counts received, rejected and applied pushes and exports the lag', async () => {
    const pushes = h.pushes();
    const registry = new Registry();
    const metrics = registerPushMetrics(pushes, registry);
    await pushes.start();
    const [a, b] = h.sim.listRegistrations();
    await pushes.handleZohoPush(signedJson(pushBody('edited', a!.id)));
    await pushes.handleZohoPush(signedJson(pushBody('created', b!.id)));
    await pushes.handleZohoPush({ headers: { 'content-type': 'application/json' }, body: pushBody('edited', a!.id) });
    await waitFor(() => pushes.getStatus().applied === 2, 10_000, 'applied');
    const text = await registry.metrics();
    expect(text).toContain('zoho_redis_sync_pushes_received_total{action="edited"} 1');
    expect(text).toContain('zoho_redis_sync_pushes_received_total{action="created"} 1');
    expect(text).toContain('zoho_redis_sync_pushes_rejected_total{code="ERR_SYNC_PUSH_SIGNATURE"} 1');
    expect(text).toContain('zoho_redis_sync_pushes_applied_total{outcome="added"} 2');
    expect(text).toContain('zoho_redis_sync_push_lag_seconds_count 2');
    const status = pushes.getStatus();
    expect(status).toMatchObject({ received: 2, rejected: 1, rejected_by_code: { ERR_SYNC_PUSH_SIGNATURE: 1 }, applied: 2, dead_lettered: 0 });
    expect(status.lag_ms.samples).toBe(2);
    expect(status.lag_ms.p99).toBeGreaterThanOrEqual(status.lag_ms.p50!);
    expect(text).toMatch(new RegExp(`zoho_redis_sync_push_lag_p99_seconds ${status.lag_ms.p99! / 1000}\\b`));
    metrics.unregister();
    expect(await registry.metrics()).toBe('\n');
  });
});
