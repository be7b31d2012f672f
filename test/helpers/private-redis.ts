/**
 * A private redis-server for tests that kill, stall or restart Redis (never the shared one): on a
 * free port, no persistence (`--save "" --appendonly no`), bound to 127.0.0.1. Every wait is
 * bounded; `stop()` (call it in afterAll/afterEach) always leaves no process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before returning). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server with `signal` (default SIGKILL) and waits for it to exit (≤ 5 s). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stalls it (`SIGSTOP`): connections stay open, nothing answers. */
  pause(): void;
  /** Resumes a stalled server (`SIGCONT`). */
  resume(): void;
  /** Starts a new, empty server on the same port (after `kill`). */
  restart(): Promise<void>;
  /** Kills whatever runs (resuming it first) and waits for the exit. Idempotent. */
  stop(): Promise<void>;
}

async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts redis-server on a free port; resolves once it answers PING (≤ 10 s). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPong(port, 10_000);
  };
  const exited = (p: ChildProcess): Promise<void> =>
    p.exitCode !== null || p.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5000);
          p.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
  await launch();
  const server: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill(signal = 'SIGKILL') {
      const p = proc;
      if (!p) return;
      p.kill('SIGCONT');
      p.kill(signal);
      await exited(p);
      proc = undefined;
    },
    pause() {
      proc?.kill('SIGSTOP');
    },
    resume() {
      proc?.kill('SIGCONT');
    },
    async restart() {
      if (proc) throw new Error('restart() after kill()');
      await launch();
    },
    async stop() {
      await server.kill('SIGKILL');
    },
  };
  return server;
}
