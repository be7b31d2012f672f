#!/usr/bin/env node
/**
 * The `zoho-redis-sync` bin. See `zoho-redis-sync --help` and the README's "Command line" section.
 */
import { runCli } from './run.js';

const controller = new AbortController();
let interrupts = 0;
const interrupt = (): void => {
  interrupts += 1;
  // First Ctrl-C: stop the run cleanly (its checkpoint stays, the lease is released). Second: give up at once.
  if (interrupts > 1) process.exit(130);
  controller.abort();
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);

// A closed stdout (`zoho-redis-sync full-sync | head`) stops the run cleanly instead of crashing
// with EPIPE and leaving the lease held until it expires.
let stdoutClosed = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  stdoutClosed = true;
  controller.abort();
});
const stdout = {
  write: (chunk: string): boolean => (stdoutClosed ? false : process.stdout.write(chunk)),
  get isTTY(): boolean {
    return process.stdout.isTTY === true;
  },
  get columns(): number | undefined {
    return process.stdout.columns;
  },
};

runCli(process.argv.slice(2), { stdout, stderr: process.stderr, env: process.env, signal: controller.signal }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`zoho-redis-sync: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
