/**
 * Shared pieces of the benchmark: the simulator child process, the library's source/sink/worker
 * factories, Redis clean-up, timing and statistics helpers.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { silentLogger } from '../src/logger.js';
import { RedisSink } from '../src/redis/redis-sink.js';
import type { SimulatorConfig, SimulatorCredentials } from '../src/testing.js';
import type { SyncWorkerOptions } from '../src/worker/options.js';
import { SyncWorker } from '../src/worker/sync-worker.js';
import { ZohoCreatorSource } from '../src/zoho/zoho-creator-source.js';

/** Redis the benchmark writes to (own key prefix per run; keys are deleted afterwards). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** `BENCH_QUICK=1`: smaller data sets (about a tenth), for a quick look. */
export const QUICK = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';

/** Size and behaviour of a simulator child. */
export interface SimSpec {
  readonly events: number;
  readonly registrations: number;
  readonly seed: number;
  /** Added to every API (non-token) call. Unit: ms. */
  readonly latencyMs: number;
}

/** What the simulator child reports once listening. */
export interface SimInfo {
  readonly apiBaseUrl: string;
  readonly accountsBaseUrl: string;
  readonly credentials: SimulatorCredentials;
  readonly config: SimulatorConfig;
  /** Unit: records. */
  readonly registrations: number;
  /** Unit: events. */
  readonly events: number;
}

/** Commands the simulator child understands. */
export type SimCommand =
  | { readonly id: number; readonly type: 'edit'; readonly count: number }
  | { readonly id: number; readonly type: 'requests' }
  | { readonly id: number; readonly type: 'clear-requests' };

/** A command without its correlation ID. */
type SimCommandBody = SimCommand extends infer C ? (C extends SimCommand ? Omit<C, 'id'> : never) : never;

/** Messages the simulator child sends. */
export type SimMessage =
  | { readonly type: 'ready'; readonly info: SimInfo }
  | { readonly type: 'reply'; readonly id: number; readonly value: unknown };

/** Requests the simulator received, by kind. Unit: calls. */
export interface SimRequestCounts {
  readonly token: number;
  readonly records: number;
  readonly meta: number;
}

/** A running simulator child. */
export interface SimHandle {
  readonly info: SimInfo;
  /** Edits `count` registrations (spread over the ID range); resolves the number edited. */
  edit(count: number): Promise<number>;
  requests(): Promise<SimRequestCounts>;
  clearRequests(): Promise<void>;
  close(): Promise<void>;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** Forks a TypeScript file of bench/ with tsx. */
export function forkTs(file: string, args: readonly string[], options: { execArgv?: readonly string[] } = {}): ChildProcess {
  return fork(`${HERE}${file}`, [...args], {
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Starts a simulator in its own process and waits until it listens. */
export async function startSim(spec: SimSpec): Promise<SimHandle> {
  const child = forkTs('sim-process.ts', [JSON.stringify(spec)], { execArgv: ['--max-old-space-size=4096', ...(process.env.BENCH_SIM_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_SIM_CPU_PROF}`] : [])] });
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 1;
  const info = await new Promise<SimInfo>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`The simulator process exited early (code ${String(code)})`)));
    child.on('message', (raw) => {
      const message = raw as SimMessage;
      if (message.type === 'ready') resolve(message.info);
      else pending.get(message.id)?.(message.value);
    });
  });
  child.removeAllListeners('exit');
  const call = <T>(command: SimCommandBody): Promise<T> =>
    new Promise<T>((resolve) => {
      const id = nextId++;
      pending.set(id, (value) => {
        pending.delete(id);
        resolve(value as T);
      });
      child.send({ ...command, id });
    });
  return {
    info,
    edit: (count) => call<number>({ type: 'edit', count }),
    requests: () => call<SimRequestCounts>({ type: 'requests' }),
    clearRequests: async () => {
      await call<boolean>({ type: 'clear-requests' });
    },
    close: () => stopChild(child),
  };
}

/** Sends SIGTERM and waits for the exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** Whether a SIGINT / SIGTERM is being handled (see {@link deleteLivePrefixesOnSignal}). */
let stopping = false;

/** True once SIGINT / SIGTERM arrived: a failure after it is the interruption's, and the signal handler exits. */
export function interrupted(): boolean {
  return stopping;
}

/** Prefixes {@link newPrefix} handed out and {@link deletePrefix} has not deleted yet. */
const livePrefixes = new Set<string>();

/**
 * A fresh key prefix for one contender of one scenario, deleted on SIGINT / SIGTERM until
 * {@link deletePrefix} deletes it. Single use: after `deletePrefix` the interrupt clean-up no
 * longer knows it, so write nothing under it again.
 */
export function newPrefix(label: string): string {
  const prefix = `zrs-bench-${label}-${randomBytes(3).toString('hex')}`;
  livePrefixes.add(prefix);
  return prefix;
}

/**
 * On SIGINT or SIGTERM (Ctrl-C, a timeout's kill), deletes the keys of every prefix still live on a
 * connection of its own, then exits with 130 or 143: an interrupted run skips its `finally` blocks,
 * and would otherwise leave its keys in the shared Redis.
 */
export function deleteLivePrefixesOnSignal(): void {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      if (stopping) return;
      // From here on the run's own code fails (its clients are closed below): interrupted() tells
      // it to leave the exit to this handler.
      stopping = true;
      const prefixes = [...livePrefixes];
      process.stderr.write(`\n${signal}: deleting the keys of ${prefixes.length} bench prefix(es) before exiting\n`);
      // A run in progress writes through these clients: close them, or it writes on after the delete.
      for (const client of liveClients) client.disconnect();
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
      (async () => {
        for (const prefix of prefixes) await deletePrefix(redis, prefix);
      })()
        .catch((error: unknown) => process.stderr.write(`could not delete every bench prefix: ${error instanceof Error ? error.message : String(error)}\n`))
        .finally(() => {
          redis.disconnect();
          process.exit(code);
        });
    });
  }
}

/** Clients {@link connectRedis} made: closed first on SIGINT / SIGTERM, so nothing writes while the keys are deleted. */
const liveClients = new Set<Redis>();

/** A Redis client for the benchmark. */
export function connectRedis(): Redis {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  liveClients.add(client);
  client.once('end', () => liveClients.delete(client));
  return client;
}

/** Deletes every key under `prefix` (SCAN + UNLINK; never FLUSHALL). Resolves the number deleted. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  livePrefixes.delete(prefix);
  return deleted;
}

/** A `ZohoCreatorSource` on the simulator, as an application would configure it. */
export function makeSource(info: SimInfo): ZohoCreatorSource {
  return new ZohoCreatorSource({
    ...info.config,
    ...info.credentials,
    // Let the source read the date format and zone from the meta API, as in production.
    dateFormat: undefined,
    timeZone: undefined,
    apiBaseUrl: info.apiBaseUrl,
    accountsBaseUrl: info.accountsBaseUrl,
    timeoutMs: 120_000,
    logger: silentLogger,
  });
}

/** The library under test: a worker on a `ZohoCreatorSource` and a `RedisSink`, default options. */
export function makeWorker(
  info: SimInfo,
  redis: Redis,
  prefix: string,
  options: Partial<SyncWorkerOptions> = {},
): { worker: SyncWorker; sink: RedisSink; source: ZohoCreatorSource } {
  const source = makeSource(info);
  const sink = new RedisSink({ redis, keyPrefix: prefix });
  const worker = new SyncWorker({ source, sink, enableAutoSync: false, logger: silentLogger, ...options });
  return { worker, sink, source };
}

/** Milliseconds since `start` (a `performance.now()` value). */
export function since(start: number): number {
  return performance.now() - start;
}

/** The q-quantile (0–1) of a list of numbers (nearest rank); 0 for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Rounds to `digits` decimals. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Bytes → MiB, one decimal. */
export function mib(bytes: number): number {
  return round(bytes / 1024 / 1024, 1);
}

/** Waits `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
