/**
 * Runs a Zoho Creator simulator as a standalone process (for benchmarks, demos and cross-process tests).
 *
 * ```sh
 * tsx src/testing/simulator-main.ts --port 0 --events 40 --registrations 200000 --latency-ms 200
 * ```
 *
 * When listening it prints ONE JSON line on stdout:
 * `{"apiBaseUrl":"http://127.0.0.1:41234","accountsBaseUrl":"http://127.0.0.1:41234","clientId":...,
 * "clientSecret":...,"refreshToken":...,"accountOwner":...,"appLinkName":...,"eventsReport":...,
 * "registrationsReport":...,"eventLookupField":...,"timeZone":...,"dateFormat":...}`
 * and exits with code 0 on SIGTERM or SIGINT after closing the server.
 *
 * Flags (all optional): `--port` (0), `--host` (127.0.0.1), `--events` (40), `--registrations` (2419),
 * `--seed` (1), `--latency-ms` (0), `--per-minute-limit`, `--daily-limit`, `--max-concurrent`,
 * `--token-ttl-seconds` (3600), `--time-zone` (Asia/Ho_Chi_Minh), `--date-format` (dd-MMM-yyyy),
 * `--empty-status` (404), `--legacy-numeric-ids`.
 *
 * Unlike the in-process default, the clock here is real time (tokens and cursors expire as in Zoho).
 */
import { parseArgs } from 'node:util';
import { createZohoSimulator, type ZohoSimulatorOptions } from './simulator.js';

function numberFlag(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || Number.isNaN(value)) {
    throw new Error(`--${name} must be a number, got ${String(raw)}`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      events: { type: 'string' },
      registrations: { type: 'string' },
      seed: { type: 'string' },
      'latency-ms': { type: 'string' },
      'per-minute-limit': { type: 'string' },
      'daily-limit': { type: 'string' },
      'max-concurrent': { type: 'string' },
      'token-ttl-seconds': { type: 'string' },
      'time-zone': { type: 'string' },
      'date-format': { type: 'string' },
      'empty-status': { type: 'string' },
      'legacy-numeric-ids': { type: 'boolean' },
    },
    strict: true,
  });
  const emptyStatus = numberFlag(values, 'empty-status');
  if (emptyStatus !== undefined && emptyStatus !== 200 && emptyStatus !== 404) {
    throw new Error('--empty-status must be 200 or 404');
  }
  const options: ZohoSimulatorOptions = {
    port: numberFlag(values, 'port') ?? 0,
    host: values.host,
    dataset: {
      events: numberFlag(values, 'events') ?? 40,
      registrations: numberFlag(values, 'registrations') ?? 2419,
      seed: numberFlag(values, 'seed') ?? 1,
    },
    latencyMs: numberFlag(values, 'latency-ms'),
    perMinuteLimit: numberFlag(values, 'per-minute-limit'),
    dailyLimit: numberFlag(values, 'daily-limit'),
    maxConcurrent: numberFlag(values, 'max-concurrent'),
    tokenTtlSeconds: numberFlag(values, 'token-ttl-seconds'),
    timeZone: values['time-zone'],
    dateFormat: values['date-format'],
    emptyStatus,
    legacyNumericIds: values['legacy-numeric-ids'] ?? false,
    clock: { now: () => Date.now() },
  };
  const sim = await createZohoSimulator(options);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(
    `${JSON.stringify({
      apiBaseUrl: sim.apiBaseUrl,
      accountsBaseUrl: sim.accountsBaseUrl,
      ...sim.credentials,
      ...sim.config,
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`simulator-main: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
