/**
 * Helpers of the fault-injection suite: a record-for-record integrity check of Redis against the
 * simulator, an event recorder, the fault-table row a test leaves for the reporter, a TCP proxy that
 * lets a test cut the sink's Redis connection at an exact moment, and child-process plumbing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { SyncWorkerEvents } from '../../src/worker/events.js';
import type { SyncWorker } from '../../src/worker/sync-worker.js';
import type { Harness } from '../helpers/harness.js';

/** One row of the fault table (see fault-table-reporter.ts). */
export interface FaultRow {
  /** The fault, as printed. */
  readonly fault: string;
  /** Registrations the simulator holds that Redis lacks (or holds with other content) after recovery. */
  readonly lost: number;
  /** Registrations held in more than one event's index, or in the wrong event, after recovery. */
  readonly duplicates: number;
}

declare module 'vitest' {
  interface TaskMeta {
    fault?: FaultRow;
  }
}

/** What Redis holds compared with the simulator, record for record. Every list is sorted. */
export interface Integrity {
  /** Simulator registrations with no record (or no index entry) in their event. */
  readonly missing: string[];
  /** Held in their event with JSON that differs from what Zoho serves. */
  readonly different: string[];
  /** IDs found in two or more events' indexes, or in an event other than the simulator's. */
  readonly duplicates: string[];
  /** IDs held in Redis that the simulator does not have. */
  readonly extra: string[];
  /** Record keys without an index entry, or index entries without a record key. */
  readonly orphans: string[];
}

/**
 * Compares Redis with the simulator: every registration's JSON (the exact text Get Records serves),
 * every event's index, every record key (found with SCAN), so that a registration held twice or in
 * the wrong event is caught.
 */
export async function checkIntegrity(h: Harness): Promise<Integrity> {
  const { redis, sink, sim } = h;
  const events = [...new Set([...sim.listEvents().map((e) => e.id), ...(await sink.state.listEventIds())])];
  const pipeline = redis.pipeline();
  for (const eventId of events) pipeline.hkeys(sink.keys.ids(eventId));
  const replies = (await pipeline.exec()) ?? [];
  const holders = new Map<string, string[]>();
  events.forEach((eventId, i) => {
    const ids = (replies[i]?.[1] ?? []) as string[];
    for (const id of ids) holders.set(id, [...(holders.get(id) ?? []), eventId]);
  });

  const regs = sim.listRegistrations();
  const expected = new Map(regs.map((r) => [r.id, r.eventId]));
  const missing: string[] = [];
  const different: string[] = [];
  for (let i = 0; i < regs.length; i += 500) {
    const chunk = regs.slice(i, i + 500);
    const values = await redis.mget(...chunk.map((r) => sink.keys.record(r.eventId, r.id)));
    chunk.forEach((reg, j) => {
      const json = values[j];
      if (json === null || json === undefined || !(holders.get(reg.id) ?? []).includes(reg.eventId)) missing.push(reg.id);
      else if (json !== JSON.stringify(sim.toApiRecord(reg))) different.push(reg.id);
    });
  }
  const duplicates: string[] = [];
  const extra: string[] = [];
  for (const [id, held] of holders) {
    const want = expected.get(id);
    if (want === undefined) extra.push(id);
    else if (held.length > 1 || held[0] !== want) duplicates.push(id);
  }

  const orphans: string[] = [];
  const recordKeys = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.prefix}:{e:*}:rec:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) recordKeys.add(key);
  } while (cursor !== '0');
  for (const [id, held] of holders) {
    for (const eventId of held) {
      const key = sink.keys.record(eventId, id);
      if (!recordKeys.delete(key)) orphans.push(`${eventId}/${id} (index entry without record)`);
    }
  }
  for (const key of recordKeys) orphans.push(`${key} (record without index entry)`);
  const sort = (a: string[]): string[] => a.sort();
  return { missing: sort(missing), different: sort(different), duplicates: sort(duplicates), extra: sort(extra), orphans: sort(orphans) };
}

/** The integrity of a converged copy. */
export const CONVERGED: Integrity = Object.freeze({ missing: [], different: [], duplicates: [], extra: [], orphans: [] });

/** The fault-table row for an integrity result. */
export function faultRow(fault: string, integrity: Integrity): FaultRow {
  return { fault, lost: integrity.missing.length + integrity.different.length, duplicates: integrity.duplicates.length };
}

/** Everything a worker emitted, by event name, in order. */
export type EventLog = { [K in keyof SyncWorkerEvents]: SyncWorkerEvents[K][0][] };

const EVENT_NAMES: readonly (keyof SyncWorkerEvents)[] = [
  'syncStarted',
  'syncCompleted',
  'syncFailed',
  'eventSynced',
  'recordsAdded',
  'recordsUpdated',
  'recordsRemoved',
  'discrepancyFound',
  'recordDeadLettered',
  'massRemovalBlocked',
  'tickSkipped',
  'runSkipped',
  'leaseLost',
  'recordSynced',
  'error',
];

/** Records every event of `worker` (an `error` listener is attached, so errors are never unhandled). */
export function recordEvents(worker: SyncWorker): EventLog {
  const log: Record<string, unknown[]> = {};
  for (const name of EVENT_NAMES) {
    const list: unknown[] = [];
    log[name] = list;
    (worker.on as (event: string, fn: (payload: unknown) => void) => SyncWorker)(name, (payload) => list.push(payload));
  }
  return log as EventLog;
}

/** IDs named by all `recordsAdded` (or `recordsUpdated`, `recordsRemoved`) events, in order. */
export function eventIds(log: EventLog, name: 'recordsAdded' | 'recordsUpdated' | 'recordsRemoved'): string[] {
  return log[name].flatMap((p) => [...p.ids]);
}

/**
 * A TCP proxy in front of Redis for one client, so that a test can hold Redis's replies and kill
 * the server side of the connection (`CLIENT KILL ID`) while a batch is in flight: Redis has run
 * (part of) the batch, the client never gets the answer.
 */
export class RedisCutProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; held: boolean }>();
  private onHeld: (() => void) | undefined;
  /** Bytes of replies held back and dropped by the last cut. */
  droppedBytes = 0;

  private readonly upstreamHost: string;
  private readonly upstreamPort: number;

  /** @param upstreamUrl the Redis behind the proxy; default the run's `REDIS_URL` (its host, port, DB and credentials). */
  constructor(private readonly upstreamUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') {
    const url = new URL(upstreamUrl);
    this.upstreamHost = url.hostname || '127.0.0.1';
    this.upstreamPort = Number(url.port || 6379);
  }

  /** The upstream URL with the proxy's port in place of Redis's: same credentials and DB. */
  clientUrl(port: number): string {
    const url = new URL(this.upstreamUrl);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return url.toString();
  }

  /** Listens on a free port; resolves it. */
  async listen(): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.upstreamPort, this.upstreamHost);
      const pair = { client, upstream, held: false };
      this.pairs.add(pair);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => {
        if (pair.held) {
          this.droppedBytes += chunk.length;
          const notify = this.onHeld;
          this.onHeld = undefined;
          notify?.();
          return;
        }
        client.write(chunk);
      });
      const close = (): void => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close);
      upstream.on('close', close);
      client.on('error', close);
      upstream.on('error', close);
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    return address.port;
  }

  /**
   * From now on, Redis's replies on the connections open now are not forwarded (connections opened
   * later are not affected); as soon as the first one arrives (Redis has run at least part of what
   * the client sent), `cut` is called. Resolves when `cut` has run.
   */
  holdRepliesThen(cut: () => Promise<void>): Promise<void> {
    for (const pair of this.pairs) pair.held = true;
    return new Promise<void>((resolve, reject) => {
      this.onHeld = () => {
        cut().then(resolve, reject);
      };
    });
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The server-side client ID of an ioredis connection (`CLIENT ID`). */
export async function clientId(redis: Redis): Promise<number> {
  return Number(await redis.client('ID'));
}

/** A child process running a TypeScript fixture, with its stdout parsed as JSON lines. */
export interface Child {
  readonly proc: ChildProcess;
  /** Every JSON line printed so far. */
  readonly lines: Record<string, unknown>[];
  /** Stderr so far (for failure messages). */
  stderr(): string;
  /** Resolves the first line (already printed or to come) matching `predicate`; rejects after `timeoutMs` or at exit. */
  waitFor(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves the exit code and signal; `killedByUs` tells whether `kill()` was needed. */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; killedByUs: boolean }>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
}

/** Absolute path of a fixture under test/faults/fixtures/. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Runs `node --import tsx <script>` with `env` added; stdout lines that are JSON are collected. */
export function spawnChild(script: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: fileURLToPath(new URL('../../', import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buffer = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let killedByUs = false;
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const text = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (text.startsWith('{')) {
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>);
        } catch {
          // not a protocol line
        }
      }
      newline = buffer.indexOf('\n');
    }
    for (const wake of [...waiters]) wake();
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      for (const wake of [...waiters]) wake();
      resolve(exit);
    });
  });
  return {
    proc,
    lines,
    stderr: () => stderr,
    waitFor(predicate, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const check = (): void => {
          const found = lines.find(predicate);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          } else if (exit) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`child exited (${JSON.stringify(exit)}) before the expected line; stderr: ${stderr.slice(-2000)}`));
          }
        };
        timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for a child line; lines: ${JSON.stringify(lines.slice(-5))}; stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async exited(timeoutMs = 15_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const first = await Promise.race([exitPromise, timeout]);
      clearTimeout(timer);
      if (first === 'timeout') {
        killedByUs = true;
        proc.kill('SIGKILL');
        const result = await exitPromise;
        return { ...result, killedByUs };
      }
      return { ...first, killedByUs };
    },
    send(line) {
      proc.stdin?.write(`${line}\n`);
    },
  };
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms until it holds; rejects after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
