/**
 * The published package, proven rather than assumed: `npm pack` (which builds first), install the
 * tarball into a fresh temporary project, and from there
 * - import every entry point with ESM `import` and CJS `require` (the CJS run with require(esm) off,
 *   so the ESM-only p-retry and p-limit must have been bundled), and run a tiny sync against the
 *   simulator into the real Redis from each, with metrics, an Express router and a Fastify plugin;
 * - recognise error classes across the two builds (`isSyncError()`, `instanceof`);
 * - type-check a small TypeScript consumer under `moduleResolution` node16 (ESM and CJS files),
 *   bundler and node10;
 * - run the `zoho-redis-sync` bin against the simulator.
 *
 * Needs the npm registry (or a warm npm cache) for the consumer's dependencies.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, REDIS_URL, randomPrefix } from '../redis/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PREFIX = randomPrefix('pkg');
const ENTRIES = { '.': 'index', './express': 'express', './fastify': 'fastify', './testing': 'testing', './metrics': 'metrics', './bullmq': 'bullmq' } as const;

/** The version of a package installed in this repository (so the consumer's install hits the npm cache). */
function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 240_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  return result.stdout;
}

/** {@link run} without blocking, so that independent checks use both cores. */
function runAsync(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, encoding: 'utf8', timeout: 240_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const ESM_SCRIPT = String.raw`
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as core from '@org/zoho-redis-sync';
import * as expressEntry from '@org/zoho-redis-sync/express';
import * as fastifyEntry from '@org/zoho-redis-sync/fastify';
import * as testing from '@org/zoho-redis-sync/testing';
import * as metrics from '@org/zoho-redis-sync/metrics';
import * as bullmqEntry from '@org/zoho-redis-sync/bullmq';
import pkg from '@org/zoho-redis-sync/package.json' with { type: 'json' };
import express from 'express';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';

const expected = JSON.parse(process.env.EXPECTED_EXPORTS);
const modules = { '.': core, './express': expressEntry, './fastify': fastifyEntry, './testing': testing, './metrics': metrics, './bullmq': bullmqEntry };
for (const [subpath, mod] of Object.entries(modules)) assert.deepEqual(Object.keys(mod).sort(), expected[subpath], subpath);
assert.equal(bullmqEntry.planPartitions([{ id: '1', expectedRecords: 10 }, { id: '2', expectedRecords: 20 }]).partitions.length, 1);

const sim = await testing.createZohoSimulator({ dataset: { events: 3, registrations: 1200, seed: 7 } });
const redis = new Redis(process.env.REDIS_URL);
const sink = new core.RedisSink({ redis, keyPrefix: process.env.PREFIX + '-esm' });
const source = new core.ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl });
const worker = new core.SyncWorker({ source, sink, enableAutoSync: false, logger: core.silentLogger, ...core.configFromEnv({ SYNC_BATCH_SIZE: '50' }) });
const registry = new Registry();
metrics.registerSyncMetrics(worker, registry);
const result = await worker.performFullSync();
assert.equal(result.added, 1200);
assert.equal(result.pages, 2);
assert.match(await registry.metrics(), /zoho_redis_sync_records_total\{change="added"\} 1200/);

const app = express();
app.use('/api/sync-worker', expressEntry.createSyncWorkerRouter(worker, { token: 'esm-token-1' }));
const server = createServer(app);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const status = await fetch('http://127.0.0.1:' + server.address().port + '/api/sync-worker/status', { headers: { authorization: 'Bearer esm-token-1' } });
assert.equal(status.status, 200);
assert.equal((await status.json()).stats.records_added, 1200);
server.close();
const fastify = Fastify();
await fastify.register(fastifyEntry.syncWorkerRoutes, { prefix: '/api/sync-worker', worker, token: 'esm-token-2' });
const forced = await fastify.inject({ method: 'POST', url: '/api/sync-worker/force-sync/123?wait=true', headers: { authorization: 'Bearer esm-token-2' } });
assert.equal(forced.statusCode, 404);
assert.equal(forced.json().error.code, 'ERR_SYNC_UNKNOWN_EVENT');
await fastify.close();
assert.throws(() => expressEntry.createSyncWorkerRouter(worker, {}), (e) => core.isSyncError(e) && e.code === 'ERR_SYNC_INVALID_OPTION');

await source.close?.();
redis.disconnect();
await sim.close();
console.log(JSON.stringify({ ok: true, version: pkg.version, added: result.added }));
`;

const CJS_SCRIPT = String.raw`
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const core = require('@org/zoho-redis-sync');
const expressEntry = require('@org/zoho-redis-sync/express');
const fastifyEntry = require('@org/zoho-redis-sync/fastify');
const testing = require('@org/zoho-redis-sync/testing');
const metrics = require('@org/zoho-redis-sync/metrics');
const bullmqEntry = require('@org/zoho-redis-sync/bullmq');
const pkg = require('@org/zoho-redis-sync/package.json');
const { Redis } = require('ioredis');
const { Registry } = require('prom-client');

async function main() {
  // This process cannot require() ES modules: whatever loaded did so as CommonJS.
  assert.notEqual(process.features.require_module, true);
  const main = require.resolve('@org/zoho-redis-sync');
  assert.match(main, /dist[\\/]index\.cjs$/);
  const text = readFileSync(main, 'utf8');
  assert.doesNotMatch(text, /require\(["'](p-retry|p-limit)["']\)/);

  const expected = JSON.parse(process.env.EXPECTED_EXPORTS);
  const modules = { '.': core, './express': expressEntry, './fastify': fastifyEntry, './testing': testing, './metrics': metrics, './bullmq': bullmqEntry };
  for (const [subpath, mod] of Object.entries(modules)) assert.deepEqual(Object.keys(mod).sort(), expected[subpath], subpath);
  assert.equal(typeof bullmqEntry.DistributedSync, 'function');

  // p-limit (SyncWorker) and p-retry (Zoho calls, Redis retries) at work in the CJS build.
  const sim = await testing.createZohoSimulator({ dataset: { events: 2, registrations: 1100, seed: 8 } });
  sim.inject({ kind: 'records', page: 2, respond: { status: 500, body: 'upstream hiccup' }, times: 1 });
  const redis = new Redis(process.env.REDIS_URL);
  const sink = new core.RedisSink({ redis, keyPrefix: process.env.PREFIX + '-cjs' });
  const source = new core.ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, accountsBaseUrl: sim.accountsBaseUrl, minRetryDelayMs: 5 });
  const worker = new core.SyncWorker({ source, sink, enableAutoSync: false, logger: core.silentLogger, concurrency: 2 });
  const registry = new Registry();
  metrics.registerSyncMetrics(worker, registry);
  const result = await worker.performFullSync();
  assert.equal(result.added, 1100);
  assert.match(await registry.metrics(), /zoho_redis_sync_runs_total\{kind="full",outcome="succeeded"\} 1/);
  assert.equal(typeof expressEntry.createSyncWorkerRouter(worker, { token: 'cjs-token-1' }), 'function');
  assert.equal(typeof fastifyEntry.syncWorkerRoutes, 'function');

  // Errors made by one build are recognised by the other, both ways.
  const esm = await import('@org/zoho-redis-sync');
  assert.notEqual(esm.SyncError, core.SyncError, 'both builds are loaded');
  const fromEsm = new esm.ZohoApiError('No report found', { httpStatus: 404, zohoCode: 2894 });
  assert.ok(core.isSyncError(fromEsm));
  assert.ok(core.isZohoApiError(fromEsm));
  assert.ok(fromEsm instanceof core.ZohoApiError);
  assert.ok(fromEsm instanceof core.SyncError);
  assert.ok(!(fromEsm instanceof core.SinkError));
  const fromCjs = new core.SinkError('Redis is down');
  assert.ok(esm.isSyncError(fromCjs));
  assert.ok(fromCjs instanceof esm.SinkError);
  assert.ok(fromCjs instanceof esm.SyncError);
  assert.ok(!(fromCjs instanceof esm.ZohoApiError));
  assert.ok(!(new Error('plain') instanceof core.SyncError));
  assert.ok(!esm.isSyncError(new Error('plain')));
  assert.equal(esm.toErrorResponse(new core.BusyError('run-1', 'full')).status, 409);
  let thrown;
  try {
    await worker.forceSyncEvent('123');
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof esm.UnknownEventError, 'an error thrown by a CJS run is an ESM UnknownEventError');
  assert.equal(thrown.code, esm.SyncErrorCode.UNKNOWN_EVENT);

  await source.close?.();
  redis.disconnect();
  await sim.close();
  console.log(JSON.stringify({ ok: true, version: pkg.version, added: result.added }));
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/** A consumer exercising the public types of every entry; `@ts-expect-error` lines prove the types are not `any`. */
const CONSUMER_TS = `
import { configFromEnv, isSyncError, RedisSink, type RunResult, SyncErrorCode, SyncWorker, type SyncWorkerStatus, ZohoCreatorSource } from '@org/zoho-redis-sync';
import { createSyncWorkerRouter } from '@org/zoho-redis-sync/express';
import { syncWorkerRoutes } from '@org/zoho-redis-sync/fastify';
import { registerSyncMetrics } from '@org/zoho-redis-sync/metrics';
import { createZohoSimulator } from '@org/zoho-redis-sync/testing';
import { DistributedSync, type DistributedSyncOptions } from '@org/zoho-redis-sync/bullmq';
import express from 'express';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';

export async function main(): Promise<number> {
  const sim = await createZohoSimulator({ dataset: { events: 1, registrations: 1 } });
  const source = new ZohoCreatorSource({ ...sim.config, ...sim.credentials, apiBaseUrl: sim.apiBaseUrl, dataCentre: 'eu' });
  const sink = new RedisSink({ redis: new Redis(), keyPrefix: 'app' });
  const worker = new SyncWorker({ source, sink, ...configFromEnv(process.env) });
  // @ts-expect-error an unknown option is a type error
  new SyncWorker({ source, sink, syncIntervalMinutes: 5 });
  // @ts-expect-error dataCentre is a closed union
  new ZohoCreatorSource({ ...sim.config, ...sim.credentials, dataCentre: 'mars' });
  worker.on('syncCompleted', (result: RunResult) => {
    const added: number = result.added;
    void added;
  });
  worker.on('syncCompleted', (result) => {
    // @ts-expect-error payloads are typed
    const added: string = result.added;
    void added;
  });
  const status: SyncWorkerStatus = worker.getStatus();
  const app = express();
  app.use('/api/sync-worker', createSyncWorkerRouter(worker, { token: 'secret' }));
  // @ts-expect-error the router needs a token, an authorize hook or allowUnauthenticated
  createSyncWorkerRouter(worker, { triggerLimit: {} });
  const fastify = Fastify();
  await fastify.register(syncWorkerRoutes, { prefix: '/api/sync-worker', worker, token: 'secret' });
  const metrics = registerSyncMetrics(worker, new Registry(), { dailyCallLimit: 1000 });
  metrics.unregister();
  const distributedOptions: DistributedSyncOptions = { connection: new Redis({ maxRetriesPerRequest: null }), redis: new Redis(), source, sink };
  const distributed = new DistributedSync(distributedOptions);
  createSyncWorkerRouter(distributed, { token: 'secret' });
  // @ts-expect-error the distributed status has the SyncWorker shape
  const wrong: string = distributed.getStatus().stats.records_added;
  void wrong;
  try {
    await worker.forceSyncEvent('4433256000013547003');
  } catch (error) {
    if (isSyncError(error) && error.code === SyncErrorCode.UNKNOWN_EVENT) return 404;
  }
  return status.stats.records_added;
}
`;

/** The code block of the README that follows `<!-- snippet: <name>`. */
function readmeSnippet(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const marker = readme.indexOf(`<!-- snippet: ${name}`);
  if (marker < 0) throw new Error(`README.md has no snippet ${name}`);
  const match = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(marker));
  if (!match) throw new Error(`README.md snippet ${name} has no ts code block`);
  return `${match[1]}\n`;
}

describe('the packed tarball in a fresh project', () => {
  let work: string;
  let consumer: string;
  let tarball: string;
  let redis: Redis;
  const expectedExports: Record<string, string[]> = {};

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    for (const [subpath, file] of Object.entries(ENTRIES)) {
      const mod = (await import(`../../src/${file}.ts`)) as Record<string, unknown>;
      expectedExports[subpath] = Object.keys(mod).sort();
    }
    work = mkdtempSync(join(tmpdir(), 'zrs-package-'));
    // `npm pack` runs `prepack` (the build), whose output precedes the JSON answer on stdout.
    const packOutput = run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
    const packed = JSON.parse(packOutput.slice(packOutput.lastIndexOf('\n[\n') + 1)) as { filename: string }[];
    tarball = join(work, packed[0]!.filename);
    consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }, null, 2)}\n`);
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--ignore-scripts',
        tarball,
        ...['ioredis', 'prom-client', 'express', 'fastify', 'bullmq', '@types/node', '@types/express'].map((n) => `${n}@${installedVersion(n)}`),
      ],
      consumer,
    );
  }, 300_000);

  afterAll(async () => {
    await deletePrefix(redis, `${PREFIX}`);
    redis.disconnect();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarball holds dist, README, CHANGELOG, LICENSE and package.json only', () => {
    const listing = run('tar', ['-tzf', tarball], work).trim().split('\n');
    const top = new Set(listing.map((p) => p.replace(/^package\//, '').split('/')[0]));
    expect([...top].sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist', 'package.json']);
    for (const file of Object.values(ENTRIES)) {
      for (const ext of ['.js', '.cjs', '.d.ts', '.d.cts']) expect(listing).toContain(`package/dist/${file}${ext}`);
    }
    expect(listing).toContain('package/dist/cli.js');
  });

  it('ESM: imports every entry, syncs the simulator into Redis, serves the Express and Fastify routes', () => {
    writeFileSync(join(consumer, 'esm.mjs'), ESM_SCRIPT);
    const out = run(process.execPath, ['esm.mjs'], consumer, {
      REDIS_URL,
      PREFIX,
      EXPECTED_EXPORTS: JSON.stringify(expectedExports),
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({ ok: true, added: 1200 });
  }, 120_000);

  it('CJS with require(esm) off: requires every entry, p-retry and p-limit work, errors are recognised across builds', () => {
    writeFileSync(join(consumer, 'cjs.cjs'), CJS_SCRIPT);
    // Node ≥ 20.19 can require() ES modules; turn that off so only a truly CommonJS build passes.
    const flag = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', '0']).status === 0 ? ['--no-experimental-require-module'] : [];
    const out = run(process.execPath, [...flag, 'cjs.cjs'], consumer, {
      REDIS_URL,
      PREFIX,
      EXPECTED_EXPORTS: JSON.stringify(expectedExports),
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({ ok: true, added: 1100 });
  }, 120_000);

  // Concurrent: three independent compilations, one per core rather than one after another.
  it.concurrent.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }, ['consumer.mts', 'consumer.cts']],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, ['consumer.ts']],
    ['node10', { module: 'commonjs', moduleResolution: 'node10' }, ['consumer.ts']],
  ] as const)('TypeScript consumer type-checks under moduleResolution %s', async (name, resolution, files) => {
    for (const file of files) writeFileSync(join(consumer, file), CONSUMER_TS);
    const tsconfig = {
      compilerOptions: {
        ...resolution,
        target: 'es2022',
        lib: ['es2023'],
        strict: true,
        noEmit: true,
        esModuleInterop: true,
        // Check the package's own declarations too (and their imports of ioredis, express, fastify,
        // prom-client) under node16 and bundler; node10 only needs to resolve them.
        skipLibCheck: name === 'node10',
        types: ['node'],
        ...(name === 'node10' ? { ignoreDeprecations: '5.0' } : {}),
      },
      files,
    };
    writeFileSync(join(consumer, `tsconfig.${name}.json`), JSON.stringify(tsconfig, null, 2));
    await runAsync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', `tsconfig.${name}.json`], consumer);
  }, 180_000);

  it("the README's quick-start snippets type-check against the package; the simulator one runs as printed", () => {
    const prefix = `${PREFIX}-readme`;
    writeFileSync(join(consumer, 'readme-quickstart.mts'), readmeSnippet('quickstart'));
    const simulator = readmeSnippet('simulator');
    expect(simulator).toContain("keyPrefix: 'zrs-try'");
    writeFileSync(join(consumer, 'readme-simulator.mts'), simulator.replace("keyPrefix: 'zrs-try'", `keyPrefix: '${prefix}'`));
    const tsconfig = {
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        lib: ['es2023'],
        strict: true,
        noEmit: true,
        skipLibCheck: true, // the library's declarations are checked by the consumer tests above
        types: ['node'],
      },
      files: ['readme-quickstart.mts', 'readme-simulator.mts'],
    };
    writeFileSync(join(consumer, 'tsconfig.readme.json'), JSON.stringify(tsconfig, null, 2));
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.readme.json'], consumer);
    const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
    const first = run(process.execPath, [tsx, 'readme-simulator.mts'], consumer, { REDIS_URL });
    expect(first).toMatch(
      /^first sync: 2419 added, 0 updated, 5 Zoho calls\nsecond sync: 0 added, 0 updated, 2419 unchanged, 4 Zoho calls\nevent \d+: \d+ registrations in Redis\n$/,
    );
    const again = run(process.execPath, [tsx, 'readme-simulator.mts'], consumer, { REDIS_URL });
    expect(again.split('\n')[0]).toBe('first sync: 0 added, 2419 updated, 5 Zoho calls');
  }, 120_000);

  it('the zoho-redis-sync bin runs against the simulator and reports its version', () => {
    const bin = join(consumer, 'node_modules/.bin/zoho-redis-sync');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(run(bin, ['--version'], consumer).trim()).toBe(pkg.version);
    const out = run(bin, ['full-sync', '--simulator'], consumer, {
      REDIS_URL,
      SIM_KEY_PREFIX: `${PREFIX}-bin`,
      SIM_EVENTS: '3',
      SIM_REGISTRATIONS: '250',
      LOG_LEVEL: '',
    });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; data: { added?: number } });
    expect(lines.at(-1)).toMatchObject({ event: 'syncCompleted', data: { added: 250 } });
    expect(execFileSync(bin, ['status', '--simulator', '--json'], { cwd: consumer, env: { ...process.env, REDIS_URL, SIM_KEY_PREFIX: `${PREFIX}-bin` }, encoding: 'utf8' })).toContain(
      '"records":250',
    );
  }, 120_000);
});
