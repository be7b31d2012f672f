/**
 * The CLI's push commands: `pushes` lists what waits in the push inbox and what was dead-lettered;
 * `replay-pushes` moves dead-lettered pushes back into the inbox and applies them from this process.
 */
import type { RecordSink } from '../adapters/sink.js';
import type { SourceAdapter } from '../adapters/source.js';
import type { StateStore } from '../adapters/state-store.js';
import type { DeadPushEntry, PushEntry, PushInbox } from '../push/inbox.js';
import { PushProcessor } from '../push/processor.js';

/** The `pushes` command's answer. Times are ISO 8601. */
export interface CliPushes {
  readonly key_prefix: string;
  /** Entries in the inbox (accepted, not yet applied), oldest first, up to 100. */
  readonly pending: readonly { id: string; action: string; record_id: string; event_id: string | null; received_at: string }[];
  /** Dead-lettered entries, oldest first, up to 100. */
  readonly failed: readonly { id: string; action: string; record_id: string; reason: string; attempts: number; dead_at: string }[];
  /** Totals (all entries, not only those listed). Unit: entries. */
  readonly totals: { readonly pending: number; readonly failed: number };
}

/** Reads the inbox and the dead-letter stream (no Zoho call). */
export async function readPushes(inbox: PushInbox, keyPrefix: string): Promise<CliPushes> {
  const [pending, dead, totals] = await Promise.all([inbox.listPending(100), inbox.listDead(100), inbox.counts()]);
  return {
    key_prefix: keyPrefix,
    pending: pending.map((e: PushEntry) => ({
      id: e.id,
      action: e.action,
      record_id: e.recordId,
      event_id: e.eventId ?? null,
      received_at: new Date(e.receivedAt).toISOString(),
    })),
    failed: dead.map((e: DeadPushEntry) => ({
      id: e.id,
      action: e.action,
      record_id: e.recordId,
      reason: e.reason,
      attempts: e.attempts,
      dead_at: new Date(e.deadAt).toISOString(),
    })),
    totals: { pending: totals.pending, failed: totals.dead },
  };
}

/** Human-readable form of {@link CliPushes}. */
export function formatPushes(p: CliPushes): string {
  const lines = [`Push inbox (key prefix ${p.key_prefix}): ${p.totals.pending} pending, ${p.totals.failed} failed`];
  for (const e of p.pending) lines.push(`  pending ${e.id}: ${e.action} ${e.record_id}, received ${e.received_at}`);
  for (const e of p.failed) lines.push(`  failed  ${e.id}: ${e.action} ${e.record_id} after ${e.attempts} attempts (${e.dead_at}): ${e.reason}`);
  return `${lines.join('\n')}\n`;
}

/** What `replay-pushes` did. Unit: pushes. */
export interface CliReplayResult {
  readonly replayed: number;
  readonly applied: number;
  /** Dead-lettered again (Zoho or Redis still failing). */
  readonly failed: number;
}

/**
 * Moves every dead-lettered push back into the inbox and applies them here, then stops. Each push
 * gets `maxAttempts` fresh attempts; one that fails them all is dead-lettered again.
 *
 * @param timeoutMs - stop waiting after this long (what is left stays in the inbox for a running worker). Unit: ms.
 */
export async function replayPushes(
  inbox: PushInbox,
  redis: ConstructorParameters<typeof PushProcessor>[1],
  source: SourceAdapter,
  sink: RecordSink,
  state: StateStore,
  options: { maxAttempts?: number; retryBaseMs?: number; timeoutMs?: number; quotaTimeZone?: string } = {},
): Promise<CliReplayResult> {
  const ids = new Set(await inbox.replayDead(Date.now()));
  let applied = 0;
  let failed = 0;
  if (ids.size === 0) return { replayed: 0, applied, failed };
  let wake: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const check = (): void => {
    if (applied + failed >= ids.size) wake();
  };
  const processor = new PushProcessor(
    inbox,
    redis,
    source,
    sink,
    state,
    {
      coalesceWindowMs: 20,
      maxBatch: 200,
      claimIdleMs: 60_000,
      maxAttempts: options.maxAttempts ?? 3,
      retryBaseMs: options.retryBaseMs ?? 1000,
      retryMaxMs: 10_000,
      trusted: false,
      idleBlockMs: 200,
      // The replay's by-ID reads go into the daily tally, as every Zoho call of the library does.
      quotaTimeZone: options.quotaTimeZone,
    },
    {
      now: Date.now,
      applied: (p) => {
        if (ids.has(p.pushId)) applied++;
        check();
      },
      deadLettered: (p) => {
        failed += p.pushIds.filter((id) => ids.has(id)).length;
        check();
      },
      failed: () => undefined,
    },
  );
  await processor.start();
  const timer = setTimeout(wake, options.timeoutMs ?? 120_000);
  try {
    await settled;
  } finally {
    clearTimeout(timer);
    await processor.stop();
  }
  return { replayed: ids.size, applied, failed };
}

