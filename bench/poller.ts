/**
 * Polls an HTTP endpoint from its own process (so its timing is not skewed by the host's event
 * loop) until the parent sends `stop`, then reports the latencies. It also measures its own
 * event-loop delay: this process does almost nothing, so that delay is the machine's scheduling
 * noise (a busy 2-core machine can leave any process waiting for a CPU), the floor under the host's.
 *
 * argv[2]: URL; argv[3]: interval between the end of one request and the next. Unit: ms.
 */
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { PollerReport } from './run.js';

const url = process.argv[2] ?? '';
const intervalMs = Number(process.argv[3] ?? '20');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const latencies: number[] = [];
let errors = 0;
let stopping = false;
const ownDelay = monitorEventLoopDelay({ resolution: 10 });
ownDelay.enable();

function get(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${String(res.statusCode)}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function loop(): Promise<void> {
  while (!stopping) {
    const started = performance.now();
    try {
      await get();
      latencies.push(performance.now() - started);
    } catch {
      errors += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

process.on('message', (message) => {
  if (message !== 'stop') return;
  stopping = true;
});

loop().then(
  () => {
    ownDelay.disable();
    const report: PollerReport = { latencies, errors, ownLoopMaxMs: ownDelay.max / 1e6, ownLoopP99Ms: ownDelay.percentile(99) / 1e6 };
    process.send?.(report, () => process.exit(0));
  },
  () => process.exit(1),
);
process.send?.('ready');
