import { ceilingLoad } from './loaders.js';
import { connectRedis, deletePrefix, makeWorker, newPrefix, startSim } from './common.js';
const N = Number(process.env.N ?? 200000);
const sim = await startSim({ events: 40, registrations: N, seed: 1, latencyMs: 0 });
const redis = connectRedis();
const warm = newPrefix('warm'); await ceilingLoad(sim.info, redis, warm, 5); await deletePrefix(redis, warm);
const libs: number[] = []; const ceils: number[] = [];
for (let r = 0; r < Number(process.env.R ?? 3); r++) {
  let p = newPrefix('ceil'); let t = performance.now(); await ceilingLoad(sim.info, redis, p); ceils.push(performance.now() - t); await deletePrefix(redis, p);
  p = newPrefix('lib'); const { worker } = makeWorker(sim.info, redis, p); t = performance.now(); await worker.performFullSync(); libs.push(performance.now() - t); await deletePrefix(redis, p);
  console.log(`round ${r}: ceiling ${Math.round(ceils.at(-1)!)} ms, library ${Math.round(libs.at(-1)!)} ms, ratio ${(ceils.at(-1)! / libs.at(-1)!).toFixed(3)}`);
}
console.log('best ratio', (Math.min(...ceils) / Math.min(...libs)).toFixed(3));
redis.disconnect(); await sim.close(); process.exit(0);
