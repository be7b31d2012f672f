/**
 * Throwaway `redis-server` processes for tests: each on a free loopback port, in its own temporary
 * directory, with persistence off (`--save "" --appendonly no`), stopped (and its directory removed)
 * by `stop()`. Used by the test setup when no Redis answers, and by tests that need a Redis of their
 * own (to kill, restart or form a cluster with) without touching the shared one.
 *
 * Every wait is bounded: start-up by `startTimeoutMs`, shutdown by `stopTimeoutMs` (then SIGKILL).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Port to listen on; default a free port chosen by the OS (retried if another process takes it first). */
  readonly port?: number;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']` or `['--maxmemory', '10mb']`. */
  readonly args?: readonly string[];
  /** The `redis-server` executable; default `redis-server` on PATH. */
  readonly binary?: string;
  /** How long to wait for PONG after spawning, in ms; default 10,000. */
  readonly startTimeoutMs?: number;
  /** How long `stop()` waits for the process to exit after SIGTERM before SIGKILL, in ms; default 5,000. */
  readonly stopTimeoutMs?: number;
}

/** A running throwaway `redis-server`. */
export interface RedisServer {
  /** `127.0.0.1`. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (DB 0). */
  readonly url: string;
  /** Its working directory (cluster config files, RDB if a test enables it); removed by `stop()`. */
  readonly dir: string;
  /** The current process (replaced by `restart()`). */
  readonly process: ChildProcess;
  /** Whether the current process has exited. */
  readonly exited: boolean;
  /**
   * Kills the process with `signal` (default SIGKILL: no shutdown, as a crash; clients see the
   * connection drop). A paused process is resumed first. Resolves at exit.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stalls it (`SIGSTOP`): connections stay open, nothing answers. */
  pause(): void;
  /** Resumes a stalled server (`SIGCONT`). */
  resume(): void;
  /** Starts a new process on the same port and directory (after `kill()`); resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** A port that was free a moment ago (the OS picks it; the listener is closed at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

/**
 * Whether a Redis answers `PING` with `+PONG` at `host:port` within `timeoutMs` (a bare RESP
 * exchange; no client library). A server that demands AUTH answers `-NOAUTH`, which counts as no.
 */
export function pingPort(port: number, host = HOST, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let reply = '';
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/**
 * The `process_id` the Redis at `port` reports (`INFO server`); `null` when it answers with an error
 * (e.g. `INFO` renamed away with `--rename-command INFO ""`); undefined if none answers within `timeoutMs`.
 */
function serverPid(port: number, timeoutMs: number): Promise<number | null | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
    let reply = '';
    const done = (pid: number | null | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(pid);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      const match = /process_id:(\d+)\r\n/.exec(reply);
      if (match) done(Number(match[1]));
      else if (reply.startsWith('-') && reply.includes('\r\n')) done(null);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
  });
}

/** Resolves when `proc` has exited (at once if it already has). */
function exitOf(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}

/**
 * Spawns redis-server on `port` in `dir`; resolves once it answers (checked by its process ID, so
 * another server already on the port never passes for it), rejects with its output otherwise.
 */
async function spawnOn(port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> {
  const binary = options.binary ?? 'redis-server';
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])];
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  let spawnError: Error | undefined;
  proc.once('error', (error) => {
    spawnError = error;
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.message}`);
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${binary} on port ${port} exited (${proc.exitCode ?? proc.signalCode}): ${output.trim().slice(-600)}`);
    }
    const pid = await serverPid(port, 500);
    if (proc.pid !== undefined && pid === proc.pid) return proc;
    // No INFO (renamed away): a PONG while our process still runs (a second server on a taken port exits at once).
    if (pid === null && (await pingPort(port, HOST, 500)) && proc.exitCode === null && proc.signalCode === null) return proc;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      await exitOf(proc);
      throw new Error(`${binary} on port ${port} did not answer PING within ${options.startTimeoutMs ?? 10_000} ms: ${output.trim().slice(-600)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts a throwaway `redis-server` (see the module comment). Rejects when the binary is missing
 * or the server does not answer within `startTimeoutMs`; with no `port` given, a port taken by
 * someone else between choosing and binding is retried with another (3 attempts).
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'zrs-redis-'));
  let port = options.port ?? (await freePort());
  let proc: ChildProcess | undefined;
  for (let attempt = 1; proc === undefined; attempt += 1) {
    try {
      proc = await spawnOn(port, dir, options);
    } catch (error) {
      const busy = error instanceof Error && /address already in use/i.test(error.message);
      if (!busy || options.port !== undefined || attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
      port = await freePort();
    }
  }
  let current: ChildProcess = proc;
  let stopped = false;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const server: RedisServer = {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    get process() {
      return current;
    },
    get exited() {
      return current.exitCode !== null || current.signalCode !== null;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (server.exited) return;
      current.kill('SIGCONT');
      current.kill(signal);
      await exitOf(current);
    },
    pause() {
      if (!server.exited) current.kill('SIGSTOP');
    },
    resume() {
      if (!server.exited) current.kill('SIGCONT');
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      if (!server.exited) await server.kill();
      current = await spawnOn(port, dir, options);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!server.exited) {
        current.kill('SIGCONT');
        current.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          exitOf(current).then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), stopTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          current.kill('SIGKILL');
          await exitOf(current);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** A running private redis-server, as {@link startPrivateRedis} returns it. */
export type PrivateRedis = Pick<RedisServer, 'url' | 'port' | 'kill' | 'pause' | 'resume' | 'restart' | 'stop'>;

/**
 * {@link startRedisServer} on a free port without persistence, plus `args` (e.g.
 * `['--maxmemory-policy', 'allkeys-lru']`); the caller stops it (afterAll/afterEach).
 */
export function startPrivateRedis(args: readonly string[] = []): Promise<PrivateRedis> {
  return startRedisServer({ args });
}
