/**
 * The bench's dedicated library child (bench/memory-child.ts): bundled with tsup into .tmp/bench/ and
 * run by plain `node`, so its memory is that of compiled code as in production (tsx's loader alone
 * adds about 35 MiB of RSS), and nothing of the bench process counts as the library's.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import type { ChildReport, ChildTask } from './memory-child.js';

const CHILD_DIR = fileURLToPath(new URL('../.tmp/bench/', import.meta.url));

/** Bundles bench/memory-child.ts (and the library) into .tmp/bench/ so that it runs without tsx. */
export async function buildChild(): Promise<string> {
  await build({
    entry: { 'memory-child': fileURLToPath(new URL('memory-child.ts', import.meta.url)) },
    outDir: CHILD_DIR,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    config: false,
    silent: true,
    splitting: false,
    sourcemap: false,
    dts: false,
    clean: false,
  });
  return `${CHILD_DIR}memory-child.js`;
}

export async function runChild(file: string, task: ChildTask): Promise<ChildReport> {
  const child = fork(file, [JSON.stringify(task)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const report = new Promise<ChildReport>((resolve, reject) => {
    child.once('message', (message) => resolve(message as ChildReport));
    child.once('exit', (code) => reject(new Error(`The ${task.mode} child exited with code ${String(code)} before reporting`)));
  });
  const result = await report;
  await new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return result;
}

