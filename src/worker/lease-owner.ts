/**
 * Lease owner tokens and what the worker says about a lease it found held. A token names the host
 * and process that took the lease (`<host>:<pid>:<uuid>`), so that an operator told "the lease is
 * held" learns by whom — often this very host's previous process, which crashed and whose lease
 * expires by itself — and when it expires.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A new owner token: `<host>:<pid>:<uuid>` (the UUID makes it unique per worker). */
export function newOwnerToken(): string {
  return `${hostname()}:${process.pid}:${randomUUID()}`;
}

/** The host and PID an owner token names, when it was made by {@link newOwnerToken}. */
export function parseOwnerToken(owner: string): { host: string; pid: number } | undefined {
  const match = /^(.+):(\d+):[0-9a-f-]{36}$/.exec(owner);
  if (!match) return undefined;
  return { host: match[1]!, pid: Number(match[2]) };
}

/** Whether a process with this PID runs on this host (`kill(pid, 0)`; `EPERM` means it runs as another user). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Who holds the lease and when it expires, for a message.
 *
 * @param holder - the lease's owner token and remaining time-to-live (ms; `undefined` when the key
 *   has no expiry), or `undefined` when unknown.
 * @param now - epoch ms.
 * @returns e.g. `held by an earlier process on this host (pid 4242, no longer running: it probably crashed); it expires in 27 s, at 2026-12-01T20:01:02.000Z`.
 */
export function describeLeaseHolder(holder: { owner: string; ttlMs: number | undefined } | undefined, now: number): string {
  if (holder === undefined) return 'held by another replica';
  const parsed = parseOwnerToken(holder.owner);
  let who: string;
  if (parsed === undefined) who = `held by owner ${JSON.stringify(holder.owner.slice(0, 120))}`;
  else if (parsed.host !== hostname()) who = `held by a replica on host ${parsed.host} (pid ${parsed.pid})`;
  else if (parsed.pid === process.pid) who = 'held by another worker in this process';
  else if (processRuns(parsed.pid)) who = `held by process ${parsed.pid} on this host`;
  else who = `held by an earlier process on this host (pid ${parsed.pid}, no longer running: it probably crashed)`;
  if (holder.ttlMs === undefined) return `${who}; it has no expiry`;
  const seconds = Math.max(1, Math.ceil(holder.ttlMs / 1000));
  return `${who}; it expires in ${seconds} s, at ${new Date(now + holder.ttlMs).toISOString()}`;
}
