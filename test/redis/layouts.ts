/**
 * The worked layouts of the README's "Key layouts" section, read from the README itself (so the
 * tests use the layouts exactly as documented): each `### Layout N: …` subsection's `layout: {…}`
 * object literal (string values only), or `undefined` for the default layout.
 */
import { readFileSync } from 'node:fs';
import type { RecordLayoutOptions } from '../../src/redis/layout.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The text of the README section under `heading` (up to the next heading of the same or a higher level). */
export function readmeSection(heading: string): string {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no ${heading}`);
  const level = heading.split(' ')[0]!;
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

function parseLayout(code: string): RecordLayoutOptions | undefined {
  const at = code.indexOf('layout: {');
  if (at < 0) return undefined;
  // Only the layout's `name: 'value'` entries follow `layout: {` in each snippet.
  const entries = [...code.slice(at).matchAll(/(\w+): '([^']*)'/g)].map((m) => [m[1]!, m[2]!]);
  return Object.fromEntries(entries) as RecordLayoutOptions;
}

/** Worked layout title (e.g. `Layout 2: one hash per registration, a set per event`) → layout options and key prefix. */
export const README_LAYOUTS: ReadonlyArray<{ title: string; keyPrefix: string; layout: RecordLayoutOptions | undefined; text: string }> = readmeSection(
  '## Key layouts',
)
  .split('\n### ')
  .slice(1)
  .map((part) => {
    const title = part.slice(0, part.indexOf('\n'));
    const code = part.slice(part.indexOf('```ts') + 5, part.indexOf('```', part.indexOf('```ts') + 5));
    const keyPrefix = /keyPrefix: '([^']+)'/.exec(code)?.[1] ?? 'zrs';
    return { title, keyPrefix, layout: parseLayout(code), text: part };
  });

/** The README's non-default layouts by title (for the contract suite). */
export const KEY_LAYOUTS: Record<string, RecordLayoutOptions> = Object.fromEntries(
  README_LAYOUTS.filter((l) => l.layout !== undefined).map((l) => [l.title, l.layout!]),
);
