/**
 * package.json and tsup.config.ts describe the same entry points: every `exports` subpath has a tsup
 * entry (and the reverse), with ESM and CJS files and their own types; `typesVersions` covers the
 * subpaths for TypeScript's legacy `node10` resolution; the bin is built by the second tsup config.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Options } from 'tsup';
import { describe, expect, it } from 'vitest';
import config from '../../tsup.config.js';

interface PackageJson {
  name: string;
  version: string;
  type: string;
  main: string;
  module: string;
  types: string;
  files: string[];
  bin: Record<string, string>;
  exports: Record<string, string | { import: { types: string; default: string }; require: { types: string; default: string } }>;
  typesVersions: Record<string, Record<string, string[]>>;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/[\\/]$/, '');
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as PackageJson;
const configs = (Array.isArray(config) ? config : [config]) as Options[];
const [library, bin] = configs as [Options, Options];
const entries = library.entry as Record<string, string>;

describe('package.json ↔ tsup.config.ts', () => {
  it('every exports subpath is a tsup entry and every entry is exported, each with ESM, CJS and its own types', () => {
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    const fromEntries = Object.keys(entries).map((name) => (name === 'index' ? '.' : `./${name}`));
    expect(subpaths.sort()).toEqual(fromEntries.sort());
    for (const [name, source] of Object.entries(entries)) {
      const subpath = name === 'index' ? '.' : `./${name}`;
      expect(pkg.exports[subpath]).toEqual({
        import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
        require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
      });
      expect(source).toBe(name === 'index' ? 'src/index.ts' : `src/${name}.ts`);
    }
    expect(pkg.exports['./package.json']).toBe('./package.json');
    expect(library.format).toEqual(['esm', 'cjs']);
    expect(library.dts).toBe(true);
  });

  it('main/module/types and typesVersions serve tools that ignore exports', () => {
    expect(pkg.type).toBe('module');
    expect(pkg.main).toBe('./dist/index.cjs');
    expect(pkg.module).toBe('./dist/index.js');
    expect(pkg.types).toBe('./dist/index.d.cts');
    const subpaths = Object.keys(entries).filter((n) => n !== 'index');
    expect(pkg.typesVersions).toEqual({ '*': Object.fromEntries(subpaths.map((n) => [n, [`./dist/${n}.d.cts`]])) });
  });

  it('the bin is the ESM-only second build of src/cli/main.ts', () => {
    expect(pkg.bin).toEqual({ 'zoho-redis-sync': './dist/cli.js' });
    expect(bin.entry).toEqual({ cli: 'src/cli/main.ts' });
    expect(bin.format).toEqual(['esm']);
    expect(readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    // The library build cleans dist/ but must not delete what the concurrent bin build writes.
    expect(library.clean).toEqual(['!cli.js']);
    // No sourcemaps in the package (they map to src/, which is not shipped).
    for (const c of configs) expect(c.sourcemap).toBe(false);
  });

  it('ESM-only dependencies are bundled; peers and optional peers stay external', () => {
    for (const c of configs) {
      expect(c.noExternal).toEqual(expect.arrayContaining(['p-retry', 'p-limit']));
      expect(c.external).toEqual(expect.arrayContaining(['ioredis', 'express', 'fastify', 'prom-client', 'bullmq']));
    }
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['bullmq', 'express', 'fastify', 'ioredis', 'prom-client']);
    expect(pkg.peerDependenciesMeta).toEqual({
      bullmq: { optional: true },
      express: { optional: true },
      fastify: { optional: true },
      'prom-client': { optional: true },
    });
    expect(pkg.dependencies['prom-client']).toBeUndefined();
    expect(pkg.dependencies.bullmq).toBeUndefined();
  });

  it('only the ./bullmq entry imports bullmq (the core stays free of it)', () => {
    const grep = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? grep(join(dir, e.name)) : e.name.endsWith('.ts') && /from 'bullmq'/.test(readFileSync(join(dir, e.name), 'utf8')) ? [join(dir, e.name)] : [],
      );
    const importers = grep(join(ROOT, 'src')).map((f) => f.slice(ROOT.length + 1).replaceAll('\\', '/'));
    // Distributed mode lives in src/distributed (reached only through the ./bullmq entry).
    expect(importers).toContain('src/distributed/distributed-sync.ts');
    expect(importers.filter((f) => !f.startsWith('src/distributed/'))).toEqual([]);
    const index = readFileSync(join(ROOT, 'src/index.ts'), 'utf8');
    expect(index).not.toMatch(/distributed|bullmq/);
  });

  it('ships only dist, README and CHANGELOG; npm pack builds first', () => {
    expect(pkg.files).toEqual(['dist', 'README.md', 'CHANGELOG.md']);
    expect(pkg.scripts.prepack).toBe('npm run build');
    expect(pkg.scripts['lint:package']).toBe('publint --strict');
    expect(pkg.scripts['lint:types']).toBe('attw --pack .');
  });
});
