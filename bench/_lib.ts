import { connectRedis, deletePrefix, makeWorker, newPrefix, startSim } from './common.js';
const sim = await startSim({ events: 40, registrations: 200000, seed: 1, latencyMs: 0 });
const redis = connectRedis();
const p = newPrefix('lib'); const { worker } = makeWorker(sim.info, redis, p);
const t = performance.now(); await worker.performFullSync(); console.log('library ms', Math.round(performance.now() - t));
await deletePrefix(redis, p); redis.disconnect(); await sim.close(); process.exit(0);
