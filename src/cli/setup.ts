/**
 * Wiring of the CLI from the environment: Redis (`REDIS_URL`, or a cluster with `REDIS_CLUSTER_NODES`), the Zoho source (`ZOHO_*`, or the
 * bundled simulator with `--simulator`) and a `SyncWorker` configured by `configFromEnv`.
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigError, SinkError } from '../errors.js';
import { createConsoleLogger, type Logger, parseLogLevel } from '../logger.js';
import { createRedisClient } from '../redis/connection.js';
import { redisConnectionFromEnv } from '../redis/connection-config.js';
import { RedisSink } from '../redis/redis-sink.js';
import { generateDataset } from '../testing/dataset.js';
import { createZohoSimulator, type ZohoSimulator } from '../testing/simulator.js';
import { configFromEnv } from '../worker/options.js';
import { SyncWorker } from '../worker/sync-worker.js';
import { isZohoDataCentre } from '../zoho/data-centres.js';
import { ZohoCreatorSource, type ZohoCreatorSourceOptions } from '../zoho/zoho-creator-source.js';
import { shownValue } from '../internal/shown-value.js';

/** The environment the CLI reads. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** The Zoho variables that must all be set (unless `--simulator`). */
export const ZOHO_REQUIRED_VARIABLES = [
  'ZOHO_CLIENT_ID',
  'ZOHO_CLIENT_SECRET',
  'ZOHO_REFRESH_TOKEN',
  'ZOHO_ACCOUNT_OWNER',
  'ZOHO_APP_LINK_NAME',
] as const;


/** Redis as the CLI uses it. */
export interface CliRedis {
  /** The connection (owned by the CLI: {@link CliRedis.close} quits it); a `Cluster` with `REDIS_CLUSTER_NODES`. */
  readonly redis: Redis | Cluster;
  /** The sink over {@link CliRedis.redis} with the key prefix. */
  readonly sink: RedisSink;
  /** `REDIS_URL` with any password blanked, or `cluster host:port,…`. */
  readonly redisUrl: string;
  /** The key prefix in use. */
  readonly keyPrefix: string;
  /** Closes the connection. Never rejects. */
  close(): Promise<void>;
}

/** The Zoho side as the CLI uses it. */
export interface CliSource {
  /** The Zoho source (pointing at the simulator with `--simulator`). */
  readonly source: ZohoCreatorSource;
  /** The simulator, with `--simulator`. */
  readonly simulator: ZohoSimulator | undefined;
  /** One line saying where data comes from (no secrets). */
  readonly description: string;
  /** Closes the source and the simulator. Never rejects. */
  close(): Promise<void>;
}

/** The logger of the CLI: stderr, silent unless `LOG_LEVEL` is set (stdout belongs to progress and JSON lines). */
export function cliLogger(env: CliEnv): Logger {
  const level = env.LOG_LEVEL ? parseLogLevel(env.LOG_LEVEL) : undefined;
  return createConsoleLogger(level ?? 'silent');
}

/**
 * The key prefix of a CLI run: `SYNC_KEY_PREFIX` (default `zrs`), or with `--simulator`
 * `SIM_KEY_PREFIX` (default `zrs-simulator`) — the simulator never writes under your real data's
 * prefix. Trailing colons are dropped (`myapp:` → `myapp`): the key schema adds its own separator,
 * so `myapp:` would otherwise give `myapp::{g}:…`.
 *
 * @throws {@link ConfigError} naming the variable when nothing but colons is left.
 */
export function cliKeyPrefix(env: CliEnv, options: { readonly simulator: boolean }): string {
  const variable = options.simulator ? 'SIM_KEY_PREFIX' : 'SYNC_KEY_PREFIX';
  const raw = env[variable] || (options.simulator ? 'zrs-simulator' : 'zrs');
  const prefix = raw.replace(/:+$/, '');
  if (prefix === '') throw new ConfigError(variable, `${variable}=${shownValue(raw)} leaves no key prefix once its trailing colons are dropped`);
  return prefix;
}

/**
 * Connects to Redis at `REDIS_URL` (or the cluster of `REDIS_CLUSTER_NODES`, see
 * `redisConnectionFromEnv`) with the key prefix of {@link cliKeyPrefix}, so that simulated data
 * never lands among real data.
 *
 * @throws {@link SinkError} when Redis does not answer (the message names the URL, password blanked);
 *   {@link ConfigError} for an invalid prefix or batch size.
 */
export async function connectRedis(env: CliEnv, options: { readonly simulator: boolean }): Promise<CliRedis> {
  const workerConfig = configFromEnv(env);
  const connection = redisConnectionFromEnv(env);
  const redisUrl = connection.label;
  const keyPrefix = cliKeyPrefix(env, options);
  // Give up after a few attempts instead of retrying forever: a CLI must end.
  const redis = createRedisClient(connection, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeoutMs: 5000, maxReconnectAttempts: 3 });
  redis.on('error', () => undefined); // surfaced below and through SinkError
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const reason = error instanceof Error ? error.message : String(error);
    throw new SinkError(`Cannot connect to Redis at ${redisUrl}: ${reason} (set ${connection.kind === 'cluster' ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'})`, { cause: error });
  }
  let sink: RedisSink;
  try {
    sink = new RedisSink({ redis, keyPrefix, batchSize: workerConfig.batchSize });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const close = async (): Promise<void> => {
    await redis.quit().catch(() => redis.disconnect());
  };
  return { redis, sink, redisUrl, keyPrefix, close };
}

/**
 * Creates the Zoho source from the `ZOHO_*` variables, or starts the simulator (`SIM_EVENTS`,
 * `SIM_REGISTRATIONS`; the same data set for every run on the same UTC day, so runs build on each other).
 *
 * @throws {@link ConfigError} naming the first missing or invalid variable.
 */
export async function createSource(env: CliEnv, options: { readonly simulator: boolean; readonly logger: Logger }): Promise<CliSource> {
  if (options.simulator) {
    const events = positiveInt(env, 'SIM_EVENTS', 40);
    const registrations = positiveInt(env, 'SIM_REGISTRATIONS', 2419);
    const now = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const simulator = await createZohoSimulator({ dataset: generateDataset({ events, registrations, seed: 1, now }) });
    const source = new ZohoCreatorSource({
      ...simulator.credentials,
      ...simulator.config,
      apiBaseUrl: simulator.apiBaseUrl,
      accountsBaseUrl: simulator.accountsBaseUrl,
      logger: options.logger,
    });
    return {
      source,
      simulator,
      description: `Zoho Creator simulator at ${simulator.apiBaseUrl} (${events} events, ${registrations} registrations)`,
      close: async () => {
        await source.close?.().catch(() => undefined);
        await simulator.close().catch(() => undefined);
      },
    };
  }
  const missing = ZOHO_REQUIRED_VARIABLES.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(missing[0]!, `Set ${missing.join(', ')} (Zoho credentials), or pass --simulator to try without Zoho`);
  }
  const dataCentre = env.ZOHO_DATA_CENTRE || 'com';
  if (!isZohoDataCentre(dataCentre)) {
    throw new ConfigError('ZOHO_DATA_CENTRE', `ZOHO_DATA_CENTRE=${shownValue(dataCentre)} is not one of com, eu, in, com.au, jp, ca, com.cn, sa`);
  }
  const sourceOptions: ZohoCreatorSourceOptions = {
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
    apiBaseUrl: env.ZOHO_API_BASE_URL || undefined,
    accountsBaseUrl: env.ZOHO_ACCOUNTS_BASE_URL || undefined,
    logger: options.logger,
  };
  const source = new ZohoCreatorSource(sourceOptions);
  return {
    source,
    simulator: undefined,
    description: `Zoho Creator ${sourceOptions.accountOwner}/${sourceOptions.appLinkName} (data centre ${dataCentre})`,
    close: async () => {
      await source.close?.().catch(() => undefined);
    },
  };
}

/**
 * The worker of a CLI run: `configFromEnv(env)` over the defaults, automatic syncing off (each
 * command runs one strategy once).
 *
 * @throws {@link ConfigError} for an invalid worker variable.
 */
export function createCliWorker(env: CliEnv, source: ZohoCreatorSource, sink: RedisSink, logger: Logger): SyncWorker {
  return new SyncWorker({ source, sink, logger, ...configFromEnv(env), enableAutoSync: false });
}

function positiveInt(env: CliEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(name, `${name}=${shownValue(raw)} is not a positive integer`);
  }
  return value;
}
