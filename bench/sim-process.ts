/**
 * A Zoho Creator simulator in its own process, driven by the benchmark over IPC, so that its CPU
 * and memory are never counted as the library's. Started by `startSim()` (bench/common.ts).
 *
 * argv[2]: JSON {@link SimSpec}. Sends `{type: 'ready', info}` once listening, then answers
 * {@link SimCommand}s with `{type: 'reply', id, value}`. Uses the real clock, so records edited
 * here get a `Modified_Time` of "now", after any watermark the library committed.
 */
import { createZohoSimulator } from '../src/testing.js';
import type { SimCommand, SimInfo, SimMessage, SimSpec } from './common.js';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as SimSpec;
  const sim = await createZohoSimulator({
    dataset: { events: spec.events, registrations: spec.registrations, seed: spec.seed },
    latencyMs: spec.latencyMs,
    clock: { now: () => Date.now() },
  });
  const send = (message: SimMessage): void => {
    process.send?.(message);
  };
  const info: SimInfo = {
    apiBaseUrl: sim.apiBaseUrl,
    accountsBaseUrl: sim.accountsBaseUrl,
    credentials: sim.credentials,
    config: sim.config,
    registrations: sim.registrationCount(),
    events: sim.listEvents().length,
  };
  process.on('message', (raw) => {
    const command = raw as SimCommand;
    switch (command.type) {
      case 'edit': {
        // Spread the edits evenly over the ID range (and so over the events).
        const ids = sim.listRegistrations().map((r) => r.id);
        const stride = Math.max(1, Math.floor(ids.length / Math.max(1, command.count)));
        let edited = 0;
        for (let i = 0; i < ids.length && edited < command.count; i += stride) {
          sim.editRegistration(ids[i]!);
          edited += 1;
        }
        send({ type: 'reply', id: command.id, value: edited });
        break;
      }
      case 'requests': {
        const value = {
          token: sim.countRequests({ kind: 'token' }),
          records: sim.countRequests({ kind: 'records' }) + sim.countRequests({ kind: 'record' }),
          meta: sim.countRequests({ kind: 'meta' }),
        };
        send({ type: 'reply', id: command.id, value });
        break;
      }
      case 'clear-requests':
        sim.clearRequests();
        send({ type: 'reply', id: command.id, value: true });
        break;
    }
  });
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  send({ type: 'ready', info });
}

main().catch((error: unknown) => {
  process.stderr.write(`sim-process: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
