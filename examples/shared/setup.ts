/**
 * Wiring shared by the example servers: a Zoho source (real Zoho when the credentials are in the
 * environment, otherwise the local simulator), a Redis sink and a `SyncWorker` configured from the
 * original design's environment variables.
 *
 * Environment:
 * - `REDIS_URL` (default `redis://127.0.0.1:6379`), or a Redis Cluster with
 *   `REDIS_CLUSTER_NODES=host:port,…` (`REDIS_USERNAME`, `REDIS_PASSWORD` optional);
 *   `SYNC_KEY_PREFIX` (default `zrs-example`);
 * - real Zoho when all of `ZOHO_CLIENT_ID`, `ZOHO_CLIENT_SECRET`, `ZOHO_REFRESH_TOKEN`,
 *   `ZOHO_ACCOUNT_OWNER`, `ZOHO_APP_LINK_NAME` are set; optional `ZOHO_DATA_CENTRE` (default `com`),
 *   `ZOHO_EVENTS_REPORT` (`All_Events`), `ZOHO_REGISTRATIONS_REPORT` (`All_Registrations`),
 *   `ZOHO_EVENT_LOOKUP_FIELD` (`Event`), `ZOHO_TIME_ZONE`, `ZOHO_DATE_FORMAT`;
 * - simulator size: `SIM_EVENTS` (default 40), `SIM_REGISTRATIONS` (default 2419);
 * - worker: `SYNC_INTERVAL_MS`, `SYNC_BATCH_SIZE`, `SYNC_MAX_RETRIES`, `ENABLE_AUTO_SYNC`, `LOG_LEVEL`, ...
 */
import { ConfigError } from '../../src/errors.js';
import { createRedisClient } from '../../src/redis/connection.js';
import { redisConnectionFromEnv } from '../../src/redis/connection-config.js';
import { RedisSink } from '../../src/redis/redis-sink.js';
import { createZohoSimulator, type ZohoSimulator } from '../../src/testing.js';
import { configFromEnv } from '../../src/worker/options.js';
import { SyncWorker } from '../../src/worker/sync-worker.js';
import { isZohoDataCentre } from '../../src/zoho/data-centres.js';
import { ZohoCreatorSource, type ZohoCreatorSourceOptions } from '../../src/zoho/zoho-creator-source.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Everything an example server needs, and how to release it. */
export interface ExampleSetup {
  /** The worker to mount. */
  readonly worker: SyncWorker;
  /** `simulator` or `zoho`. */
  readonly backend: 'simulator' | 'zoho';
  /** The simulator, when used. */
  readonly simulator: ZohoSimulator | undefined;
  /** Human-readable lines describing the wiring (no secrets). */
  readonly description: readonly string[];
  /** An event ID to try `force-sync` with (simulator only). */
  readonly sampleEventId: string | undefined;
  /** Stops the worker and closes Redis, the source and the simulator. Never rejects. */
  close(): Promise<void>;
}

const ZOHO_REQUIRED = ['ZOHO_CLIENT_ID', 'ZOHO_CLIENT_SECRET', 'ZOHO_REFRESH_TOKEN', 'ZOHO_ACCOUNT_OWNER', 'ZOHO_APP_LINK_NAME'] as const;

/**
 * Builds the source, sink and worker from `env`.
 *
 * @throws {@link ConfigError} when only some of the Zoho variables are set, or a worker variable is invalid.
 */
export async function createExampleSetup(env: Env = process.env): Promise<ExampleSetup> {
  const connection = redisConnectionFromEnv(env);
  const keyPrefix = env.SYNC_KEY_PREFIX || 'zrs-example';
  const workerConfig = configFromEnv(env);

  const present = ZOHO_REQUIRED.filter((name) => env[name]);
  let simulator: ZohoSimulator | undefined;
  let sourceOptions: ZohoCreatorSourceOptions;
  let sampleEventId: string | undefined;
  const description: string[] = [];
  if (present.length > 0) {
    const missing = ZOHO_REQUIRED.filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new ConfigError(missing[0]!, `Set all Zoho variables or none; missing: ${missing.join(', ')}`);
    }
    const dataCentre = env.ZOHO_DATA_CENTRE || 'com';
    if (!isZohoDataCentre(dataCentre)) throw new ConfigError('ZOHO_DATA_CENTRE', `Unknown Zoho data centre ${JSON.stringify(dataCentre)}`);
    sourceOptions = {
      clientId: env.ZOHO_CLIENT_ID!,
      clientSecret: env.ZOHO_CLIENT_SECRET!,
      refreshToken: env.ZOHO_REFRESH_TOKEN!,
      accountOwner: env.ZOHO_ACCOUNT_OWNER!,
      appLinkName: env.ZOHO_APP_LINK_NAME!,
      dataCentre,
      eventsReport: env.ZOHO_EVENTS_REPORT || 'All_Events',
      registrationsReport: env.ZOHO_REGISTRATIONS_REPORT || 'All_Registrations',
      eventLookupField: env.ZOHO_EVENT_LOOKUP_FIELD || 'Event',
      timeZone: env.ZOHO_TIME_ZONE || undefined,
      dateFormat: env.ZOHO_DATE_FORMAT || undefined,
    };
    description.push(`Zoho Creator: ${sourceOptions.accountOwner}/${sourceOptions.appLinkName} (data centre ${dataCentre})`);
  } else {
    const events = positiveInt(env, 'SIM_EVENTS', 40);
    const registrations = positiveInt(env, 'SIM_REGISTRATIONS', 2419);
    simulator = await createZohoSimulator({ dataset: { events, registrations, seed: 1 } });
    const sim = simulator;
    sourceOptions = {
      ...sim.credentials,
      ...sim.config,
      apiBaseUrl: sim.apiBaseUrl,
      accountsBaseUrl: sim.accountsBaseUrl,
    };
    sampleEventId = sim.listEvents()[0]?.id;
    description.push(
      `Zoho simulator at ${sim.apiBaseUrl}: ${events} events, ${registrations} registrations` +
        (sampleEventId ? `; sample event ${sampleEventId}` : ''),
      'Set ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN, ZOHO_ACCOUNT_OWNER and ZOHO_APP_LINK_NAME to use real Zoho.',
    );
  }

  const source = new ZohoCreatorSource(sourceOptions);
  const redis = createRedisClient(connection, { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined); // reported through SinkError on use; avoid ioredis's unhandled-error log spam
  const sink = new RedisSink({ redis, keyPrefix });
  const worker = new SyncWorker({ source, sink, ...workerConfig });
  description.push(`Redis ${connection.label}, key prefix ${keyPrefix}`);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await worker.stop();
      await source.close?.().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
      await simulator?.close();
    })();
    return closing;
  };
  return { worker, backend: simulator ? 'simulator' : 'zoho', simulator, description, sampleEventId, close };
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(name, `${name}=${JSON.stringify(raw)} is not a positive integer`);
  return value;
}

/** `PORT` (default 3000; 0 picks a free port) and `HOST` (default 127.0.0.1) of an example server. */
export function listenAddress(env: Env = process.env): { port: number; host: string } {
  const raw = env.PORT;
  const port = raw === undefined || raw === '' ? 3000 : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError('PORT', `PORT=${JSON.stringify(raw)} is not a port number`);
  return { port, host: env.HOST || '127.0.0.1' };
}

/**
 * The line an example server prints when it cannot listen: "port N is in use" for EADDRINUSE (with
 * what to do), the system's message otherwise.
 */
export function listenFailure(error: unknown, host: string, port: number): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return `Cannot listen on ${host}:${port}: port ${port} is in use (another server runs there); stop it, or set PORT to another port (PORT=0 picks a free one).`;
  }
  if (code === 'EACCES') return `Cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges); set PORT to another port.`;
  return `Cannot listen on ${host}:${port}: ${error instanceof Error ? error.message : String(error)}`;
}

/** The bearer token of an example server: `SYNC_API_TOKEN`, or `dev-token`. */
export function exampleToken(env: Env = process.env): { token: string; isDefault: boolean } {
  const token = env.SYNC_API_TOKEN;
  return token ? { token, isDefault: false } : { token: 'dev-token', isDefault: true };
}

/** The start-up banner: where to call, with which token, and the curl walkthrough. */
export function banner(framework: string, baseUrl: string, token: { token: string; isDefault: boolean }, setup: ExampleSetup): string[] {
  const shown = token.isDefault ? token.token : '$SYNC_API_TOKEN';
  const auth = `-H "Authorization: Bearer ${shown}"`;
  const eventId = setup.sampleEventId ?? '<eventId>';
  return [
    `Sync worker API (${framework}) listening on ${baseUrl}`,
    token.isDefault ? `Bearer token: ${token.token} (default; set SYNC_API_TOKEN to change it)` : 'Bearer token: from SYNC_API_TOKEN',
    ...setup.description,
    'Try:',
    `  curl -X POST ${auth} ${baseUrl}/start`,
    `  curl ${auth} ${baseUrl}/status`,
    `  curl -X POST ${auth} ${baseUrl}/force-sync/${eventId}`,
    `  curl ${auth} ${baseUrl}/discrepancy-check`,
    `  curl -X POST ${auth} ${baseUrl}/full-sync`,
  ];
}
