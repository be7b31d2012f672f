/**
 * A vitest reporter that prints the fault table after a run:
 * `fault | survived | records lost | duplicates`, one row per test that left a `fault` row in its
 * task meta (see helpers.ts), plus any failed test of test/faults/ that did not get that far.
 *
 * Use beside the default reporter:
 * `vitest run test/faults --reporter=default --reporter=./test/faults/fault-table-reporter.ts`
 */
import type { Reporter, TestModule } from 'vitest/node';

interface Row {
  readonly fault: string;
  readonly survived: boolean;
  readonly lost: string;
  readonly duplicates: string;
}

export default class FaultTableReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows: Row[] = [];
    // The list (faults.test.ts) first, then the other files by name; tests in file order.
    const rank = (id: string): string => (id.endsWith('/faults.test.ts') ? `0${id}` : `1${id}`);
    const modules = [...testModules].sort((a, b) => rank(a.moduleId).localeCompare(rank(b.moduleId)));
    for (const module of modules) {
      const inFaults = module.moduleId.includes('/test/faults/');
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        const row = test.meta().fault;
        if (row) {
          rows.push({ fault: row.fault, survived: state === 'passed', lost: String(row.lost), duplicates: String(row.duplicates) });
        } else if (inFaults && state === 'failed') {
          rows.push({ fault: test.name, survived: false, lost: '?', duplicates: '?' });
        }
      }
    }
    if (rows.length === 0) return;
    const header: Row = { fault: 'fault', survived: true, lost: 'records lost', duplicates: 'duplicates' };
    const cells = (r: Row, head = false): string[] => [r.fault, head ? 'survived' : r.survived ? 'yes' : 'NO', r.lost, r.duplicates];
    const table = [cells(header, true), ...rows.map((r) => cells(r))];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((line) => line[i]!.length)));
    const format = (line: string[]): string => `| ${line.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
    const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
    const out = [format(table[0]!), rule, ...table.slice(1).map(format)];
    const failed = rows.filter((r) => !r.survived || r.lost !== '0' || r.duplicates !== '0').length;
    out.push('', failed === 0 ? `All ${rows.length} faults survived with 0 records lost and 0 duplicates.` : `${failed} of ${rows.length} faults NOT survived cleanly.`);
    process.stdout.write(`\nFault table\n\n${out.join('\n')}\n`);
  }
}
