/**
 * The README's "Plugging in your own sink" section tells the truth: its contract table lists exactly
 * the required methods the worker checks (and counts them: at most 8), the optional extras are the
 * capability-gated ones, and its snippets use the names the code and the example export.
 * (test/examples/custom-sink.test.ts runs the section's steps on the node-redis example; the
 * "Key layouts" section is followed by test/redis/layouts.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as example from '../../examples/custom-sink-node-redis.js';
import { REQUIRED_SINK_METHODS } from '../../src/worker/record-ops.js';
import { readmeSection } from '../redis/layouts.js';

const section = readmeSection('## Plugging in your own sink');
const rows = section
  .split('\n')
  .filter((l) => l.startsWith('| `'))
  .map((l) => l.split('|').map((c) => c.trim()));

describe('README: Plugging in your own sink', () => {
  it('numbers exactly the required methods, and says how many there are (at most 8)', () => {
    const numbered = rows.filter((r) => /^\d+$/.test(r[2]!)).map((r) => /^`(\w+)\(/.exec(r[1]!)?.[1]);
    expect(numbered).toEqual([...REQUIRED_SINK_METHODS]);
    expect(rows.filter((r) => /^\d+$/.test(r[2]!)).map((r) => Number(r[2]))).toEqual(REQUIRED_SINK_METHODS.map((_, i) => i + 1));
    expect(section).toContain(`**${REQUIRED_SINK_METHODS.length} required methods**`);
    expect(REQUIRED_SINK_METHODS.length).toBeLessThanOrEqual(8);
  });

  it('lists the optional extras with their capability flag and the core fallback', () => {
    const optional = rows.filter((r) => r[2]!.startsWith('no (`capabilities.'));
    expect(optional.map((r) => /^`(\w+)\(/.exec(r[1]!)?.[1])).toEqual(['compareStamps', 'locateRecord']);
    for (const r of optional) expect(r[2]).toContain(`capabilities.${/^`(\w+)\(/.exec(r[1]!)?.[1]}`);
    for (const r of optional) expect(r[4]!.length).toBeGreaterThan(0);
    const capabilities = rows.find((r) => r[1] === '`capabilities`')!;
    expect(capabilities[3]).toContain('{ compareStamps, locateRecord, exactRoundTrip, ordering?, notesWrites? }');
    // Ordering is a behaviour of the required methods, not an extra method: its own row, with its fallback.
    const ordering = section.split('\n').find((l) => l.startsWith('| ordered writes |'))!.split('|').map((c) => c.trim());
    expect(ordering[2]).toBe('no (`capabilities.ordering`)');
    expect(ordering[4]).toContain('drops older versions');
    // So is one-call bookkeeping: an option of upsertRecords, with its fallback.
    const noting = section.split('\n').find((l) => l.startsWith('| one-call bookkeeping |'))!.split('|').map((c) => c.trim());
    expect(noting[2]).toContain('no (`capabilities.notesWrites`');
    expect(noting[4]).toContain('state.noteWrites');
  });

  it('links the example, which stays under 150 lines and exports what the snippets use', () => {
    expect(section).toContain('[examples/custom-sink-node-redis.ts](examples/custom-sink-node-redis.ts)');
    const lines = readFileSync(new URL('../../examples/custom-sink-node-redis.ts', import.meta.url), 'utf8').split('\n').length;
    expect(lines).toBeLessThan(150);
    expect(typeof example.NodeRedisSink).toBe('function');
    for (const name of ['testSinkContract', 'NodeRedisSink', 'RedisStateStore', 'SyncWorker']) expect(section).toContain(name);
  });
});
