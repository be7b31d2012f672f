/**
 * The `zoho-redis-sync` command line: parses arguments, wires Redis and Zoho from the environment,
 * runs one strategy once and reports it. Returns the exit code instead of exiting, so tests can
 * call it in-process.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSyncError, SyncErrorCode, toSyncError } from '../errors.js';
import { RedisSink } from '../redis/redis-sink.js';
import { readEventMetas } from '../worker/record-ops.js';
import type { RunRequest } from '../worker/run.js';
import { configFromEnv, DEFAULT_SYNC_WORKER_OPTIONS } from '../worker/options.js';
import { type ParsedArgs, parseCliArgs, USAGE, UsageError } from './args.js';
import { PushInbox } from '../push/inbox.js';
import { formatPushes, readPushes, replayPushes } from './pushes.js';
import { type CliReporter, type CliStream, createJsonReporter, createProgressReporter, failureReason } from './output.js';
import { formatPlan } from './plan-output.js';
import { readCheckpoints } from './checkpoints.js';
import { parseLogLevel } from '../logger.js';
import { type CliEnv, type CliRedis, type CliSource, cliKeyPrefix, cliLogger, connectRedis, createCliWorker, createSource } from './setup.js';

/** Exit codes of the CLI. */
export const EXIT = Object.freeze({
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  DISCREPANCIES: 3,
  INTERRUPTED: 130,
});

/** What the CLI reads and writes. */
export interface CliIo {
  /** Progress, JSON lines and results. Its `isTTY` picks the output mode. */
  readonly stdout: CliStream;
  /** The one-line reason of a failure. */
  readonly stderr: CliStream;
  /** The environment (`process.env`). */
  readonly env: CliEnv;
  /** Aborted on Ctrl-C: the run in flight is stopped (its checkpoint stays, so the next run resumes it). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs the CLI once.
 *
 * @param argv - arguments without the node and script paths, e.g. `['full-sync', '--simulator']`.
 * @returns the exit code (see {@link EXIT}).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`zoho-redis-sync: ${error.message}. Run zoho-redis-sync --help for usage.\n`);
    return EXIT.USAGE;
  }
  if (args.command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  if (args.command === 'version') {
    io.stdout.write(`${packageVersion()}\n`);
    return EXIT.OK;
  }

  const mode = args.output ?? (io.stdout.isTTY ? 'progress' : 'json');
  const reporter: CliReporter = mode === 'json' ? createJsonReporter(io.stdout) : createProgressReporter(io.stdout);
  const fail = (error: unknown): number => {
    const code = isSyncError(error) && error.code === SyncErrorCode.INVALID_OPTION ? EXIT.USAGE : EXIT.FAILED;
    io.stderr.write(`zoho-redis-sync: ${args.command} failed: ${failureReason(error)}\n`);
    return code;
  };

  const logger = cliLogger(io.env);
  let redis: CliRedis | undefined;
  let source: CliSource | undefined;
  try {
    // Validate the worker variables before connecting anywhere: a typo fails fast, naming the variable.
    configFromEnv(io.env);
    redis = await connectRedis(io.env, { simulator: args.simulator });
    if (args.command === 'status') {
      const status = await readStatus(redis, io.env, args.simulator);
      reporter.document('status', mode === 'json' ? status : formatStatus(status));
      return EXIT.OK;
    }

    if (args.command === 'pushes') {
      const pushes = await readPushes(new PushInbox({ redis: redis.redis, keyPrefix: redis.keyPrefix }), redis.keyPrefix);
      reporter.document('pushes', mode === 'json' ? pushes : formatPushes(pushes));
      return EXIT.OK;
    }
    source = await createSource(io.env, { simulator: args.simulator, logger });
    if (args.command === 'replay-pushes') {
      const inbox = new PushInbox({ redis: redis.redis, keyPrefix: redis.keyPrefix });
      const result = await replayPushes(inbox, redis.redis, source.source, redis.sink, redis.sink.state, {
        quotaTimeZone: configFromEnv(io.env).quotaTimeZone,
      });
      reporter.document(
        'replay-pushes',
        mode === 'json' ? result : `Replayed ${result.replayed} push(es): ${result.applied} applied, ${result.failed} failed again\n`,
      );
      return result.failed > 0 ? EXIT.FAILED : EXIT.OK;
    }
    const worker = createCliWorker(io.env, source.source, redis.sink, logger);
    reporter.attach(worker);
    if (mode === 'progress') io.stdout.write(`${source.description} → Redis ${redis.redisUrl} (key prefix ${redis.keyPrefix})\n`);

    const request = toRunRequest(args);
    if (args.dryRun) {
      const plan = await worker.plan(request.kind, {
        eventId: request.kind === 'force' ? request.eventId : undefined,
        heal: request.kind === 'discrepancy-check' ? request.heal : undefined,
      });
      reporter.document('plan', mode === 'json' ? plan : formatPlan(plan));
      await worker.stop();
      return EXIT.OK;
    }
    // Read without failing on a corrupt checkpoint: the worker's state repair deletes it at run start.
    const checkpoints = await readCheckpoints(redis.redis, redis.sink, runCheckpointNames(args));
    for (const c of checkpoints) {
      if (c.problem !== undefined && !logsWarnings(io.env)) io.stderr.write(`zoho-redis-sync: ${unreadableCheckpointNote(c.key, c.problem)}\n`);
    }
    if (args.simulator && checkpoints.some((c) => c.checkpoint !== undefined)) {
      // The simulator lives as long as this process: an earlier run's cursors died with it.
      io.stderr.write(`zoho-redis-sync: ${SIMULATOR_RESTART_NOTE}\n`);
    }
    const expectedRecords = await expectedRecordCount(redis.sink, args);
    const handle = worker.trigger(request);
    reporter.watch({ kind: handle.kind, progress: handle.progress, expectedRecords });
    let interrupted = false;
    const onAbort = (): void => {
      interrupted = true;
      void worker.stop();
    };
    io.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await handle.result;
      reporter.finish({ result });
      if (args.failOnDiscrepancy && result.discrepancies?.hasDiscrepancies) {
        const t = result.discrepancies.totals;
        io.stderr.write(
          `zoho-redis-sync: discrepancies found: ${t.missingInRedis} missing in Redis, ${t.extraInRedis} extra, ${t.stale} stale in ${t.eventsWithDiscrepancies} events\n`,
        );
        return EXIT.DISCREPANCIES;
      }
      return EXIT.OK;
    } catch (error) {
      reporter.finish({ error: toSyncError(error) });
      if (interrupted) {
        io.stderr.write(
          args.simulator
            ? `zoho-redis-sync: ${args.command} interrupted. With --simulator the next run cannot resume: it starts a new simulator, whose listing starts again from page 1 (against Zoho, the next run resumes from the checkpoint)\n`
            : `zoho-redis-sync: ${args.command} interrupted; its checkpoint stays and the next run resumes from it\n`,
        );
        return EXIT.INTERRUPTED;
      }
      return fail(error);
    } finally {
      io.signal?.removeEventListener('abort', onAbort);
      await worker.stop();
    }
  } catch (error) {
    return fail(error);
  } finally {
    reporter.dispose();
    await source?.close();
    await redis?.close();
  }
}

function toRunRequest(args: ParsedArgs): RunRequest {
  const allowMassRemoval = args.allowMassRemoval;
  const ignoreQuotaBudget = args.ignoreQuotaBudget;
  switch (args.command) {
    case 'full-sync':
      return { kind: 'full', allowMassRemoval, ignoreQuotaBudget };
    case 'incremental-sync':
      return { kind: 'incremental', allowMassRemoval, ignoreQuotaBudget };
    case 'force-sync':
      return { kind: 'force', eventId: args.eventId!, allowMassRemoval, ignoreQuotaBudget };
    default:
      return { kind: 'discrepancy-check', heal: args.heal, allowMassRemoval, ignoreQuotaBudget };
  }
}

/** Printed when a `--simulator` run finds an earlier run's checkpoint. */
export const SIMULATOR_RESTART_NOTE =
  'an interrupted earlier run left a checkpoint, but --simulator starts a new simulator every time and its cursors are gone: ' +
  'this listing starts again from page 1 (against Zoho the run would resume)';

/**
 * Printed (on stderr) before a run whose checkpoint `key` is unreadable, unless `LOG_LEVEL` already
 * shows the worker's own warning about it.
 */
export function unreadableCheckpointNote(key: string, problem: string): string {
  return `the checkpoint ${key} is unreadable (${problem}): this run deletes it and its listing starts from page 1`;
}

/** The checkpoints the run `args` asks for would resume (full listing, incremental listing or this event's), as the worker's state repair checks them. */
function runCheckpointNames(args: ParsedArgs): string[] {
  return args.command === 'full-sync' ? ['full'] : args.command === 'incremental-sync' ? ['incremental', 'full'] : args.command === 'force-sync' ? [`force:${args.eventId}`] : [];
}

/** Whether the CLI's logger (`LOG_LEVEL`) shows warnings, such as the worker's report of a state repair. */
function logsWarnings(env: CliEnv): boolean {
  const level = env.LOG_LEVEL ? parseLogLevel(env.LOG_LEVEL) : undefined;
  return level === 'debug' || level === 'info' || level === 'warn';
}

/** What Redis held before the run (the best guess of what Zoho lists), for the bar's percentage. */
async function expectedRecordCount(sink: RedisSink, args: ParsedArgs): Promise<number | undefined> {
  if (args.command === 'incremental-sync') return undefined;
  if (args.command === 'force-sync') {
    const count = await sink.countRecords(args.eventId!);
    return count > 0 ? count : undefined;
  }
  const ids = await sink.state.listEventIds();
  if (ids.length === 0) return undefined;
  const metas = await readEventMetas(sink.state, sink, ids);
  const total = metas.reduce((sum, m) => sum + m.recordCount, 0);
  return total > 0 ? total : undefined;
}

/** The `status` command's answer: what Redis holds, read without any Zoho call. Times are ISO 8601 or null. */
export interface CliStatus {
  /** `REDIS_URL`, password blanked, or `cluster host:port,…`. */
  readonly redis_url: string;
  readonly key_prefix: string;
  /** Highest committed Zoho modification time. */
  readonly watermark: string | null;
  /** End of the last successful run of any kind. */
  readonly last_sync_time: string | null;
  /** End of the last successful full sync. */
  readonly last_full_sync_time: string | null;
  /** When the last staleness check ran. */
  readonly last_stale_check_time: string | null;
  /** Unit: events. */
  readonly events: number;
  /** Unit: records. */
  readonly records: number;
  /** Events whose last complete sync or check is older than `staleAfterMs` (or never happened). */
  readonly stale_events: number;
  /** `staleAfterMs` in force (`SYNC_STALE_AFTER_MS`). Unit: ms. */
  readonly stale_after_ms: number;
  /** Interrupted runs that the next run of that kind resumes. */
  readonly checkpoints: readonly { name: string; run_id: string; next_page: number; started_at: string }[];
  /**
   * Checkpoints that cannot be read (the key is not a string, or its value is not a checkpoint's
   * JSON), with the key and what is wrong. The next run that would resume one deletes it (the
   * worker's state repair) and lists from page 1.
   */
  readonly unreadable_checkpoints: readonly UnreadableCheckpoint[];
  /** The cross-replica lease: held by a running worker, and for how long still (ms). */
  readonly lease: { held: boolean; ttl_ms: number | null };
  /** Entries in the dead-letter streams. Unit: entries. */
  readonly dead_letters: number;
  /**
   * Without `--simulator`: what `--simulator` runs left under their own prefix (`SIM_KEY_PREFIX`),
   * when they left anything, so that they are found; `null` otherwise.
   */
  readonly simulator_runs: {
    key_prefix: string;
    events: number;
    last_sync_time: string | null;
    /** Readable checkpoints. */
    checkpoints: number;
    unreadable_checkpoints: readonly UnreadableCheckpoint[];
  } | null;
  /** Per event, stalest first. */
  readonly event_details: readonly {
    event_id: string;
    records: number;
    source_count: number | null;
    last_sync_time: string | null;
    last_full_sync_time: string | null;
  }[];
}

/** A checkpoint that `status` could not read: its name (`full`, `incremental`), its Redis key and what is wrong with it. */
export interface UnreadableCheckpoint {
  readonly name: string;
  readonly key: string;
  readonly problem: string;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

async function readStatus(r: CliRedis, env: CliEnv, simulator: boolean): Promise<CliStatus> {
  const { sink, redis } = r;
  const staleAfterMs = configFromEnv(env).staleAfterMs ?? DEFAULT_SYNC_WORKER_OPTIONS.staleAfterMs;
  const meta = await sink.state.getSyncMeta();
  const ids = await sink.state.listEventIds();
  const metas = ids.length > 0 ? await readEventMetas(sink.state, sink, ids) : [];
  const now = Date.now();
  const details = ids
    .map((id, i) => ({ id, m: metas[i]! }))
    .sort((a, b) => (a.m.lastSyncAt ?? 0) - (b.m.lastSyncAt ?? 0))
    .map(({ id, m }) => ({
      event_id: id,
      records: m.recordCount,
      source_count: m.sourceCount ?? null,
      last_sync_time: iso(m.lastSyncAt),
      last_full_sync_time: iso(m.lastFullSyncAt),
    }));
  const checkpoints: { name: string; run_id: string; next_page: number; started_at: string }[] = [];
  const unreadable: UnreadableCheckpoint[] = [];
  for (const { name, key, checkpoint: c, problem } of await readCheckpoints(redis, sink, ['full', 'incremental'])) {
    if (c) checkpoints.push({ name, run_id: c.runId, next_page: c.nextPage, started_at: new Date(c.startedAt).toISOString() });
    else unreadable.push({ name, key, problem });
  }
  const pttl = await redis.pttl(sink.keys.lease());
  const deadLetters = await countDeadLetters(redis, [sink.keys.globalDeadLetters(), ...ids.map((id) => sink.keys.deadLetters(id))]);
  return {
    redis_url: r.redisUrl,
    key_prefix: r.keyPrefix,
    watermark: iso(meta.watermark),
    last_sync_time: iso(meta.lastSyncAt),
    last_full_sync_time: iso(meta.lastFullSyncAt),
    last_stale_check_time: iso(meta.lastStaleCheckAt),
    events: ids.length,
    records: metas.reduce((sum, m) => sum + m.recordCount, 0),
    stale_events: metas.filter((m) => m.lastSyncAt === undefined || now - m.lastSyncAt > staleAfterMs).length,
    stale_after_ms: staleAfterMs,
    checkpoints,
    unreadable_checkpoints: unreadable,
    lease: { held: pttl > 0 || pttl === -1, ttl_ms: pttl > 0 ? pttl : null },
    dead_letters: deadLetters,
    simulator_runs: simulator ? null : await readSimulatorRuns(r, env),
    event_details: details,
  };
}

/**
 * Sum of `XLEN` over the streams. Standalone: one pipeline. Cluster: the streams live in different
 * slots (one per event), and an ioredis Cluster pipeline must stay in one slot, so each `XLEN` is
 * its own command (ioredis routes it to the slot's master), 100 in flight at a time.
 */
async function countDeadLetters(redis: CliRedis['redis'], keys: readonly string[]): Promise<number> {
  const lengths: number[] = [];
  if (redis.isCluster) {
    for (let start = 0; start < keys.length; start += 100) {
      lengths.push(...(await Promise.all(keys.slice(start, start + 100).map((key) => redis.xlen(key)))));
    }
  } else {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.xlen(key);
    for (const [err, n] of (await pipeline.exec()) ?? []) if (err === null && typeof n === 'number') lengths.push(n);
  }
  return lengths.reduce((sum, n) => sum + n, 0);
}

/** What `--simulator` runs left under `SIM_KEY_PREFIX` (read-only), or `null` when nothing (or the same prefix). */
async function readSimulatorRuns(r: CliRedis, env: CliEnv): Promise<CliStatus['simulator_runs']> {
  const keyPrefix = cliKeyPrefix(env, { simulator: true });
  if (keyPrefix === r.keyPrefix) return null;
  const sink = new RedisSink({ redis: r.redis, keyPrefix });
  const [meta, ids] = await Promise.all([sink.state.getSyncMeta(), sink.state.listEventIds()]);
  const reads = await readCheckpoints(r.redis, sink, ['full', 'incremental']);
  const checkpoints = reads.filter((c) => c.checkpoint !== undefined).length;
  const unreadable = reads.flatMap(({ name, key, problem }) => (problem === undefined ? [] : [{ name, key, problem }]));
  if (ids.length === 0 && meta.lastSyncAt === undefined && reads.length === 0) return null;
  return { key_prefix: keyPrefix, events: ids.length, last_sync_time: iso(meta.lastSyncAt), checkpoints, unreadable_checkpoints: unreadable };
}

function formatStatus(s: CliStatus): string {
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const when = (t: string | null): string => t ?? 'never';
  const lines = [
    `Redis ${s.redis_url}, key prefix ${s.key_prefix}`,
    `  Watermark:            ${when(s.watermark)}`,
    `  Last sync:            ${when(s.last_sync_time)}`,
    `  Last full sync:       ${when(s.last_full_sync_time)}`,
    `  Last staleness check: ${when(s.last_stale_check_time)}`,
    `  Events: ${fmt(s.events)}, records: ${fmt(s.records)}, stale events: ${fmt(s.stale_events)} (not synced for ${Math.round(s.stale_after_ms / 60_000)} min)`,
    `  Checkpoints: ${s.checkpoints.length === 0 ? 'none' : s.checkpoints.map((c) => `${c.name} at page ${c.next_page} (run ${c.run_id})`).join(', ')}`,
    ...s.unreadable_checkpoints.map((c) => `  Unreadable checkpoint: ${describeUnreadable(c)}`),
    `  Lease: ${s.lease.held ? `held${s.lease.ttl_ms !== null ? `, expires in ${(s.lease.ttl_ms / 1000).toFixed(1)} s` : ''}` : 'free'}`,
    `  Dead letters: ${fmt(s.dead_letters)}`,
  ];
  if (s.simulator_runs) {
    const sim = s.simulator_runs;
    lines.push(
      `  Simulator runs (--simulator) are kept apart, under key prefix ${sim.key_prefix}: ${fmt(sim.events)} events, last sync ${when(sim.last_sync_time)}` +
        `${sim.checkpoints > 0 ? `, ${sim.checkpoints} checkpoint${sim.checkpoints === 1 ? '' : 's'}` : ''}; zoho-redis-sync status --simulator shows them`,
    );
    for (const c of sim.unreadable_checkpoints) lines.push(`    Unreadable checkpoint: ${describeUnreadable(c)}`);
  }
  if (s.event_details.length > 0) {
    lines.push('  Stalest events:');
    for (const e of s.event_details.slice(0, 5)) {
      lines.push(`    ${e.event_id}: ${fmt(e.records)} records, last synced ${when(e.last_sync_time)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function describeUnreadable(c: UnreadableCheckpoint): string {
  return `${c.name} in ${c.key} (${c.problem}); the next run that would resume it deletes it and lists from page 1`;
}

/** This package's version, read from its package.json (found by walking up from this file). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === '@org/zoho-redis-sync' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}
