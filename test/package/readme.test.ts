/**
 * The README tells the truth about the code: every option, environment variable, event, error code,
 * metric, CLI command and example is documented; relative links point at files that exist; the
 * Failure behaviour section is the current docs/failure-behaviour.md. (The quick-start snippets are
 * run against the packed package in package.test.ts.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CLI_COMMANDS } from '../../src/cli/args.js';
import { REPORTED_EVENTS } from '../../src/cli/output.js';
import { SyncErrorCode } from '../../src/errors.js';
import { HttpErrorCode } from '../../src/http/error-map.js';
import { type MetricsWorker, registerSyncMetrics } from '../../src/metrics.js';
import { DEFAULT_SYNC_WORKER_OPTIONS, ENV_VARIABLES } from '../../src/worker/options.js';
// @ts-expect-error a plain .mjs script without types
import { failureSection } from '../../scripts/merge-failure-behaviour.mjs';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The lines of the README section that starts with `heading`. */
function section(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no ${heading}`);
  const level = heading.split(' ')[0]!;
  const next = readme.slice(start + heading.length + 2).search(new RegExp(`\\n${level} `));
  return next < 0 ? readme.slice(start) : readme.slice(start, start + heading.length + 2 + next);
}

describe('README.md', () => {
  it('keeps the two fresh-clone commands verbatim', () => {
    expect(readme).toContain('```sh\nnpm ci && npm run demo\n```');
    expect(readme).toContain('```sh\nnpm test\n```');
    expect(readme).toContain('npm install @org/zoho-redis-sync ioredis');
  });

  it('documents every SyncWorker option with its environment variable and default', () => {
    const table = section('### `SyncWorker`');
    const options = Object.entries(DEFAULT_SYNC_WORKER_OPTIONS).flatMap(([key, value]) =>
      typeof value === 'object' && value !== null ? Object.keys(value).map((k) => `${key}.${k}`) : [key],
    );
    for (const option of options) expect(table, option).toMatch(new RegExp(`\\| \`${option.replace('.', '\\.')}\` \\|`));
    const envByOption = Object.fromEntries(Object.entries(ENV_VARIABLES).map(([env, option]) => [option, env]));
    for (const [option, env] of Object.entries(envByOption)) expect(table, env).toContain(`| \`${option}\` | \`${env}\` |`);
    for (const [option, value] of Object.entries(DEFAULT_SYNC_WORKER_OPTIONS)) {
      if (typeof value === 'number') {
        const row = table.split('\n').find((l) => l.startsWith(`| \`${option}\` |`))!;
        expect(row, option).toContain(` ${value}`);
      }
    }
  });

  it('shows the key schema exactly as src/redis/key-schema.ts documents it', () => {
    const source = readFileSync(new URL('../../src/redis/key-schema.ts', import.meta.url), 'utf8');
    const rows = source
      .split('\n')
      .filter((l) => l.startsWith(' * | `<p>'))
      .map((l) => l.slice(3));
    expect(rows.length).toBeGreaterThan(5);
    const table = section('## Redis key schema');
    for (const row of rows) expect(table, row).toContain(`\n${row}\n`);
    expect(table.split('\n').filter((l) => l.startsWith('| `<p>'))).toHaveLength(rows.length);
  });

  it('documents every event in the events table', () => {
    const table = section('## Events');
    for (const event of REPORTED_EVENTS) expect(table, event).toContain(`| \`${event}\` |`);
  });

  it('documents every error code', () => {
    for (const code of [...Object.values(SyncErrorCode), ...Object.values(HttpErrorCode)]) {
      if (code.startsWith('ERR_SYNC_ZOHO_') && readme.includes('`ERR_SYNC_ZOHO_*`')) expect(readme).toContain(code);
      else expect(readme, code).toContain(code);
    }
  });

  it('documents every metric', () => {
    const worker: MetricsWorker = {
      on: (() => worker) as unknown as MetricsWorker['on'],
      off: (() => worker) as unknown as MetricsWorker['off'],
      getStatus: (() => {
        throw new Error('not scraped');
      }) as MetricsWorker['getStatus'],
    };
    const { names } = registerSyncMetrics(worker, new Registry(), { dailyCallLimit: 1000 });
    const table = section('## Metrics');
    for (const name of names) expect(table, name).toContain(`| \`${name}\` |`);
  });

  it('documents every CLI command and every example', () => {
    const cli = section('## Command line');
    for (const command of CLI_COMMANDS) expect(cli, command).toContain(`zoho-redis-sync ${command}`);
    for (const file of readdirSync(new URL('../../examples/', import.meta.url)).filter((f) => f.endsWith('.ts'))) {
      expect(readme, file).toContain(`examples/${file}`);
    }
  });

  it('links only to files that exist', () => {
    const links = [...readme.matchAll(/\]\((?!https?:|#)([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) {
      // BENCHMARKS.md is written by the performance work in bench/; linked ahead of it.
      if (link === 'BENCHMARKS.md') continue;
      expect(existsSync(new URL(`../../${link}`, import.meta.url)), link).toBe(true);
    }
    const anchors = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    const headings = new Set(
      [...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^\p{L}\p{N} -]/gu, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const anchor of anchors) expect(headings.has(anchor), `#${anchor}`).toBe(true);
  });

  it('holds the current docs/failure-behaviour.md as its Failure behaviour section (npm run docs:readme)', () => {
    const doc = readFileSync(new URL('../../docs/failure-behaviour.md', import.meta.url), 'utf8');
    expect(readme.includes((failureSection as (d: string) => string)(doc)), 'README.md is out of date: run `npm run docs:readme`').toBe(true);
  });
});
