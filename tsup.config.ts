import { defineConfig } from 'tsup';

/**
 * One entry per subpath in package.json#exports (test/package/exports.test.ts keeps the two lists in step).
 * p-retry and p-limit are ESM-only: they are bundled (`noExternal`) so that the CJS build works on every
 * Node 20 release, not only on those where require(esm) is enabled by default (20.19+).
 */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    express: 'src/express.ts',
    fastify: 'src/fastify.ts',
    testing: 'src/testing.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  noExternal: ['p-retry', 'p-limit', 'yocto-queue', 'is-network-error'],
  external: ['ioredis', 'express', 'fastify', 'fastify-plugin'],
});
