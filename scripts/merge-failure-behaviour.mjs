#!/usr/bin/env node
/**
 * Copies docs/failure-behaviour.md into README.md's "Failure behaviour" section (headings one level
 * down), between the `failure-behaviour:start` / `failure-behaviour:end` markers.
 *
 *   npm run docs:readme          # rewrite README.md
 *   npm run docs:readme -- --check   # exit 1 when README.md is out of date
 *
 * test/package/readme.test.ts runs the same comparison.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- failure-behaviour:start: merged from docs/failure-behaviour.md by `npm run docs:readme`; edit that file, not this section -->';
const END = '<!-- failure-behaviour:end -->';

/** The section as it must appear in the README. */
export function failureSection(doc) {
  let inCode = false;
  const lines = doc
    .replace(/\r\n/g, '\n')
    .trim()
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) inCode = !inCode;
      return !inCode && /^#{1,5} /.test(line) ? `#${line}` : line;
    });
  return `${START}\n${lines.join('\n')}\n${END}`;
}

/** README text with the section replaced. */
export function mergeInto(readme, doc) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error('README.md lacks the failure-behaviour markers');
  return readme.slice(0, start) + failureSection(doc) + readme.slice(end + END.length);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const readmeUrl = new URL('../README.md', import.meta.url);
  const readme = readFileSync(readmeUrl, 'utf8');
  const merged = mergeInto(readme, readFileSync(new URL('../docs/failure-behaviour.md', import.meta.url), 'utf8'));
  if (process.argv.includes('--check')) {
    if (merged !== readme) {
      console.error('README.md is out of date with docs/failure-behaviour.md: run `npm run docs:readme`.');
      process.exit(1);
    }
  } else if (merged !== readme) {
    writeFileSync(readmeUrl, merged);
    console.log('README.md: Failure behaviour section updated from docs/failure-behaviour.md');
  } else {
    console.log('README.md is up to date with docs/failure-behaviour.md');
  }
}
