/**
 * A real, throwaway 6-node Redis Cluster (3 masters + 3 replicas) for tests: `redis-server
 * --cluster-enabled yes` on six free ports (data and cluster-bus port `port + 10000` both free),
 * joined with `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`, no persistence,
 * everything under a temporary directory. Every wait is bounded; `close()` kills the processes and
 * removes the directory (call it in `afterAll`).
 *
 * Facts relied on (Redis Cluster specification, https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/):
 * the bus port is the data port + 10000; `CLUSTER INFO` reports `cluster_state:ok` once every slot
 * is served; `CLUSTER KEYSLOT` gives a key's slot; `CLUSTER SHARDS`/`CLUSTER NODES` name each
 * slot's master; a master unreachable for longer than `cluster-node-timeout` is failed over by its
 * replica.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';

const run = promisify(execFile);

/** `cluster-node-timeout` of the test cluster: how long a master may be unreachable before failover. Unit: ms. */
export const CLUSTER_NODE_TIMEOUT_MS = 2000;

/** One node of the cluster as `CLUSTER NODES` describes it. */
export interface ClusterNodeInfo {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** For a replica: its master's node ID. */
  readonly masterId: string | undefined;
  /** Slot ranges served (masters), e.g. `[[0, 5460]]`. */
  readonly slots: readonly (readonly [number, number])[];
  /** Whether the node is flagged `fail` or `fail?`. */
  readonly failing: boolean;
}

/** A running test cluster. */
export interface RedisClusterHandle {
  /** The six data ports. */
  readonly ports: readonly number[];
  /** Startup nodes for ioredis `Cluster` (`[{ host, port }, …]`). */
  readonly startupNodes: readonly { host: string; port: number }[];
  /** `REDIS_CLUSTER_NODES` form: `127.0.0.1:p1,127.0.0.1:p2,…`. */
  readonly nodesEnv: string;
  /** A new ioredis `Cluster` client on the test cluster (closed by `close()` if still open). */
  client(options?: ClusterOptions): Cluster;
  /** A plain connection to one node (closed by `close()`). */
  node(port: number): Redis;
  /** Runs `redis-cli -p port …args` and resolves its stdout (bounded to 20 s). */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The nodes as the node on `viaPort` (default: the first reachable) sees them. */
  topology(viaPort?: number): Promise<ClusterNodeInfo[]>;
  /** The slot of a key (`CLUSTER KEYSLOT`). */
  keySlot(key: string): Promise<number>;
  /** The master currently serving a slot. */
  masterOf(slot: number): Promise<ClusterNodeInfo>;
  /** Sends SIGSTOP to a node's process (it stops answering but keeps its sockets). */
  pause(port: number): void;
  /** Sends SIGCONT to a paused node. */
  resume(port: number): void;
  /** Waits (bounded) until every reachable node reports `cluster_state:ok` and every master has an in-sync replica. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node, closes every client and removes the temporary directory. Never rejects. */
  close(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` ports whose cluster-bus port (+10000) is free too, from a random start in 20000–40000. */
async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  let port = 20000 + Math.floor(Math.random() * 20000);
  for (let tries = 0; ports.length < count && tries < 2000; tries += 1, port += 1) {
    if ((await portFree(port)) && (await portFree(port + 10000))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`Found only ${ports.length} free port pairs for the test cluster`);
  return ports;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(100);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Parses `CLUSTER NODES` output. */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const parts = line.split(' ');
      const [id, address, flags, master] = parts as [string, string, string, string];
      const port = Number(address.split('@')[0]!.split(':').pop());
      const slots: [number, number][] = [];
      for (const part of parts.slice(8)) {
        if (part.startsWith('[')) continue; // migrating/importing markers
        const [a, b] = part.split('-');
        slots.push([Number(a), Number(b ?? a)]);
      }
      const flagList = flags.split(',');
      return {
        id,
        port,
        role: flagList.includes('master') ? ('master' as const) : ('replica' as const),
        masterId: master === '-' ? undefined : master,
        slots,
        failing: flagList.includes('fail') || flagList.includes('fail?'),
      };
    });
}

/**
 * Starts a 6-node cluster (3 masters, 3 replicas) and waits until it is healthy (at most ~40 s).
 *
 * @throws Error when redis-server cannot start, the cluster cannot be created, or it is not healthy in time
 *   (the processes started so far are killed first).
 */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'zrs-cluster-'));
  const ports = await freeClusterPorts(6);
  const processes = new Map<number, ChildProcess>();
  const clients: (Redis | Cluster)[] = [];
  const paused = new Set<number>();

  const close = async (): Promise<void> => {
    for (const c of clients) c.disconnect();
    for (const port of paused) processes.get(port)?.kill('SIGCONT');
    const exits = [...processes.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 3000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  };

  const cli = async (port: number, ...args: string[]): Promise<string> => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 20_000 });
    return stdout;
  };

  const topology = async (viaPort?: number): Promise<ClusterNodeInfo[]> => {
    const candidates = viaPort === undefined ? ports.filter((p) => !paused.has(p)) : [viaPort];
    let lastError: unknown;
    for (const port of candidates) {
      try {
        return parseClusterNodes(await cli(port, 'CLUSTER', 'NODES'));
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`No node answered CLUSTER NODES: ${String(lastError)}`);
  };

  const waitHealthy = async (timeoutMs = 30_000): Promise<void> => {
    await until('cluster_state:ok on every node', timeoutMs, async () => {
      for (const port of ports) {
        if (paused.has(port)) continue;
        if (!(await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      }
      return true;
    });
    await until('an in-sync replica for every master', timeoutMs, async () => {
      const nodes = await topology();
      const masters = nodes.filter((n) => n.role === 'master' && n.slots.length > 0 && !n.failing);
      if (masters.length !== 3) return false;
      for (const m of masters) {
        const replicas = nodes.filter((n) => n.role === 'replica' && n.masterId === m.id && !n.failing && !paused.has(n.port));
        let synced = false;
        for (const r of replicas) {
          if ((await cli(r.port, 'INFO', 'replication')).includes('master_link_status:up')) synced = true;
        }
        if (!synced) return false;
      }
      return true;
    });
  };

  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', String(CLUSTER_NODE_TIMEOUT_MS),
          '--dir', dir,
          '--save', '',
          '--appendonly', 'no',
          '--daemonize', 'no',
        ],
        { stdio: 'ignore' },
      );
      processes.set(port, child);
    }
    await until('six redis-servers answering PING', 10_000, async () => {
      for (const port of ports) if ((await cli(port, 'PING')).trim() !== 'PONG') return false;
      return true;
    });
    await run(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 30_000 },
    );
    await waitHealthy(30_000);
  } catch (error) {
    await close();
    throw error;
  }

  const startupNodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  const handle: RedisClusterHandle = {
    ports,
    startupNodes,
    nodesEnv: startupNodes.map((n) => `${n.host}:${n.port}`).join(','),
    client(options = {}) {
      const c = new Cluster([...startupNodes], { redisOptions: { maxRetriesPerRequest: 2 }, ...options });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    node(port) {
      const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: false });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    cli,
    topology,
    async keySlot(key) {
      const live = ports.find((p) => !paused.has(p))!;
      return Number((await cli(live, 'CLUSTER', 'KEYSLOT', key)).trim());
    },
    async masterOf(slot) {
      const nodes = await topology();
      const master = nodes.find((n) => n.role === 'master' && !n.failing && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!master) throw new Error(`No master serves slot ${slot}`);
      return master;
    },
    pause(port) {
      processes.get(port)?.kill('SIGSTOP');
      paused.add(port);
    },
    resume(port) {
      processes.get(port)?.kill('SIGCONT');
      paused.delete(port);
    },
    waitHealthy,
    close,
  };
  return handle;
}
