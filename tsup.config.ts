import { defineConfig } from 'tsup';

/**
 * Two builds:
 * 1. The library: one entry per subpath in package.json#exports (test/package/exports.test.ts keeps
 *    the two lists in step), ESM + CJS + .d.ts/.d.cts. p-retry and p-limit are ESM-only: they are
 *    bundled (`noExternal`) so that the CJS build works on every Node 20 release, not only on those
 *    where require(esm) is enabled by default (20.19+). prom-client (an optional peer, used only by
 *    `./metrics`) and bullmq (an optional peer, used only by `./bullmq`) stay external.
 * 2. The `zoho-redis-sync` bin (package.json#bin): ESM only, no types; the shebang of
 *    src/cli/main.ts is kept.
 *
 * The library build cleans dist/ except the bin's file, which the second build writes concurrently.
 *
 * No sourcemaps: they were three quarters of the tarball, and they map to src/ files the package
 * does not ship. The published JavaScript is unminified, with names kept, so a stack trace already
 * points at readable code (see the changeset "smaller-package").
 */
const external = ['ioredis', 'express', 'fastify', 'fastify-plugin', 'prom-client', 'bullmq'];
const noExternal = ['p-retry', 'p-limit', 'yocto-queue', 'is-network-error'];

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      express: 'src/express.ts',
      fastify: 'src/fastify.ts',
      testing: 'src/testing.ts',
      metrics: 'src/metrics.ts',
      bullmq: 'src/bullmq.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    clean: ['!cli.js'],
    sourcemap: false,
    target: 'node20',
    platform: 'node',
    splitting: true,
    // Class names must survive bundling: `instanceof` across the ESM and CJS builds compares them (src/errors.ts).
    keepNames: true,
    noExternal,
    external,
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    sourcemap: false,
    target: 'node20',
    platform: 'node',
    splitting: false,
    keepNames: true,
    noExternal,
    external,
  },
]);
