/**
 * What the CLI prints: a progress bar with records and pages on a terminal, or one JSON line per
 * worker event when stdout is not a terminal (or with `--json`).
 */
import { isSyncError, type SyncError, SyncErrorCode } from '../errors.js';
import type { DiscrepancyReport } from '../worker/discrepancy.js';
import type { SyncWorkerEvents } from '../worker/events.js';
import type { RunKind, RunProgress, RunResult } from '../worker/run.js';
import type { SyncWorker } from '../worker/sync-worker.js';

/** The part of a writable stream the CLI uses (`process.stdout` fits). */
export interface CliStream {
  write(chunk: string): unknown;
  /** True when the stream is a terminal. */
  readonly isTTY?: boolean | undefined;
  /** Terminal width in characters, when known. */
  readonly columns?: number | undefined;
}

/**
 * Every worker event, as a record so that the compiler rejects a missing one: a new event must be
 * reported by the CLI (and documented in the README's events table, which a test checks).
 */
const ALL_EVENTS: Readonly<Record<keyof SyncWorkerEvents, true>> = {
  syncStarted: true,
  syncCompleted: true,
  syncFailed: true,
  eventSynced: true,
  recordsAdded: true,
  recordsUpdated: true,
  recordsRemoved: true,
  staleWritesRefused: true,
  discrepancyFound: true,
  recordDeadLettered: true,
  massRemovalBlocked: true,
  tickSkipped: true,
  runSkipped: true,
  leaseLost: true,
  recordSynced: true,
  error: true,
};

/** The worker events the CLI reports: all of them. */
export const REPORTED_EVENTS = Object.freeze(Object.keys(ALL_EVENTS) as (keyof SyncWorkerEvents)[]);

/** A run as the output follows it. */
export interface WatchedRun {
  /** The run's kind, shown as the bar's label. */
  readonly kind: RunKind;
  /** Live counters of the run. */
  readonly progress: Readonly<RunProgress>;
  /** Records expected (what Redis held before the run), when known; drives the bar's percentage. */
  readonly expectedRecords: number | undefined;
}

/** How the CLI reports. */
export interface CliReporter {
  /** Subscribes to the worker's events. */
  attach(worker: Pick<SyncWorker, 'on' | 'off'>): void;
  /** A run started: show its progress until {@link CliReporter.finish}. */
  watch(run: WatchedRun): void;
  /** The run ended: stop the progress display and print the outcome. */
  finish(outcome: { result: RunResult } | { error: SyncError }): void;
  /** Prints a result object that is not a worker event (the `status` command). */
  document(name: string, value: unknown): void;
  /** Unsubscribes and stops timers. */
  dispose(): void;
}

/** Serialises a payload: errors become `{ name, code, message, ...details }`, bigints strings. */
export function toJsonLine(event: string, payload: unknown, at: Date = new Date()): string {
  return `${JSON.stringify({ event, at: at.toISOString(), data: payload ?? null }, jsonReplacer)}\n`;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    for (const [k, v] of Object.entries(value)) if (k !== 'stack' && k !== 'cause') out[k] = v;
    if (value.cause instanceof Error) out.cause = { name: value.cause.name, message: value.cause.message };
    return out;
  }
  return value;
}

/** One JSON line per worker event, on `out`. */
export function createJsonReporter(out: CliStream): CliReporter {
  let detach: (() => void) | undefined;
  return {
    attach(worker) {
      const listeners = REPORTED_EVENTS.map((event) => {
        const listener = (payload: unknown): void => {
          out.write(toJsonLine(event, payload));
        };
        (worker.on as (e: string, l: (p: unknown) => void) => unknown)(event, listener);
        return [event, listener] as const;
      });
      detach = () => {
        for (const [event, listener] of listeners) (worker.off as (e: string, l: (p: unknown) => void) => unknown)(event, listener);
      };
    },
    watch() {},
    finish() {},
    document(name, value) {
      out.write(toJsonLine(name, value));
    },
    dispose() {
      detach?.();
      detach = undefined;
    },
  };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Inputs of {@link renderProgressLine}. */
export interface ProgressLineInput {
  /** Text before the bar, e.g. `full`. */
  readonly label: string;
  /** The run's live counters. */
  readonly progress: Readonly<RunProgress>;
  /** Records expected; `undefined` draws an indeterminate bar. */
  readonly expectedRecords: number | undefined;
  /** Time since the run started. Unit: ms. */
  readonly elapsedMs: number;
  /** Terminal width; the line never exceeds it. */
  readonly width: number;
  /** Animation frame for an indeterminate bar. */
  readonly frame: number;
}

/**
 * One line of the progress display, e.g.
 * `full-sync [████████░░░░░░░░] 52% 1,260/2,419 records · page 2 · +12 ~0 -0 · 1.2s`.
 * Without an expected total — or once more records came than expected — the bar is indeterminate
 * (a sliding block) and shows the count only, so it never shows more done than the total.
 */
export function renderProgressLine(input: ProgressLineInput): string {
  const { progress: p, expectedRecords, elapsedMs, label } = input;
  const barWidth = 20;
  let bar: string;
  let counts: string;
  // Never more done than the total: once Zoho lists more than Redis held, the total is unknown.
  if (expectedRecords !== undefined && expectedRecords > 0 && p.recordsFetched <= expectedRecords) {
    const ratio = Math.min(1, p.recordsFetched / expectedRecords);
    const filled = Math.round(ratio * barWidth);
    bar = `[${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%`;
    counts = `${fmt(p.recordsFetched)}/${fmt(expectedRecords)} records`;
  } else {
    const block = 4;
    const span = barWidth - block;
    const step = input.frame % (2 * span);
    const pos = step <= span ? step : 2 * span - step;
    bar = `[${' '.repeat(pos)}${'█'.repeat(block)}${' '.repeat(span - pos)}]`;
    counts =
      expectedRecords !== undefined && expectedRecords > 0
        ? `${fmt(p.recordsFetched)} records (Redis held ${fmt(expectedRecords)})`
        : `${fmt(p.recordsFetched)} records`;
  }
  const pages = `${fmt(p.pages)} ${p.pages === 1 ? 'page' : 'pages'}`;
  const changes = `+${fmt(p.added)} ~${fmt(p.updated)} -${fmt(p.removed)}`;
  const line = `${label} ${bar} ${counts} · ${pages} · ${changes} · ${(elapsedMs / 1000).toFixed(1)}s`;
  return line.length > input.width ? line.slice(0, Math.max(0, input.width - 1)) : line;
}

/** The one-paragraph summary of a finished run. */
export function summariseResult(result: RunResult): string {
  const calls = result.apiCalls;
  const lines = [
    `✔ ${result.kind}${result.eventId ? ` ${result.eventId}` : ''} succeeded in ${(result.durationMs / 1000).toFixed(1)} s: ` +
      `${fmt(result.recordsFetched)} records fetched over ${fmt(result.pages)} ${result.pages === 1 ? 'page' : 'pages'}, ` +
      `${fmt(result.eventsSynced)} events synced or checked`,
    `  Redis: ${fmt(result.added)} added, ${fmt(result.updated)} updated, ${fmt(result.removed)} removed, ${fmt(result.unchanged)} unchanged` +
      (result.deadLettered > 0 ? `, ${fmt(result.deadLettered)} dead-lettered` : '') +
      (result.staleWritesRefused > 0 ? `, ${fmt(result.staleWritesRefused)} older versions refused (Redis held newer)` : ''),
    `  Zoho calls: ${calls.total} (token ${calls.token}, records ${calls.records}, ids ${calls.ids}, meta ${calls.meta})` +
      (result.resumed ? '; resumed from a checkpoint (nothing removed)' : '') +
      (result.fellBackToFull ? '; no watermark yet, so this was a full sync' : '') +
      (result.staleCheck ? '; staleness check ran' : ''),
  ];
  if (result.discrepancies) lines.push(...summariseReport(result.discrepancies));
  return `${lines.join('\n')}\n`;
}

/** Lines describing a discrepancy report: totals, then up to 10 events that differ. */
export function summariseReport(report: DiscrepancyReport): string[] {
  const t = report.totals;
  const lines = [
    `  Discrepancies: ${report.hasDiscrepancies ? '' : 'none; '}Zoho ${fmt(t.zohoCount)}, Redis ${fmt(t.redisCount)} over ${fmt(t.eventsChecked)} events` +
      (report.hasDiscrepancies
        ? `; ${fmt(t.missingInRedis)} missing in Redis, ${fmt(t.extraInRedis)} extra in Redis, ${fmt(t.stale)} stale in ${fmt(t.eventsWithDiscrepancies)} events`
        : ''),
  ];
  const drifted = report.events.filter((e) => e.missingInRedis.length + e.extraInRedis.length + e.stale.length > 0);
  for (const e of drifted.slice(0, 10)) {
    lines.push(
      `    event ${e.eventId}: Zoho ${fmt(e.zohoCount)}, Redis ${fmt(e.redisCount)}; missing ${e.missingInRedis.length}, extra ${e.extraInRedis.length}, stale ${e.stale.length}`,
    );
  }
  if (drifted.length > 10) lines.push(`    … and ${drifted.length - 10} more events`);
  if (report.healed) {
    const h = report.healed;
    lines.push(`  Healed: ${fmt(h.added)} added, ${fmt(h.updated)} updated, ${fmt(h.removed)} removed (${fmt(h.eventsResynced)} events re-read)`);
  }
  return lines;
}

/** A progress bar redrawn in place on a terminal, with notable events printed above it. */
export function createProgressReporter(out: CliStream, options: { readonly intervalMs?: number } = {}): CliReporter {
  const intervalMs = options.intervalMs ?? 100;
  let run: WatchedRun | undefined;
  let startedAt = 0;
  let frame = 0;
  let timer: NodeJS.Timeout | undefined;
  let shown = false;
  let detach: (() => void) | undefined;
  const width = (): number => (out.columns !== undefined && out.columns >= 20 ? out.columns : 100);
  const clear = (): void => {
    if (shown) out.write('\r\x1b[2K');
    shown = false;
  };
  const draw = (): void => {
    if (!run) return;
    frame += 1;
    const line = renderProgressLine({
      label: run.kind,
      progress: run.progress,
      expectedRecords: run.expectedRecords,
      elapsedMs: Date.now() - startedAt,
      width: width(),
      frame,
    });
    out.write(`\r\x1b[2K${line}`);
    shown = true;
  };
  const note = (text: string): void => {
    clear();
    out.write(`${text}\n`);
    draw();
  };
  return {
    attach(worker) {
      const on = worker.on.bind(worker) as (e: string, l: (p: never) => void) => unknown;
      const off = worker.off.bind(worker) as (e: string, l: (p: never) => void) => unknown;
      const listeners: [string, (p: never) => void][] = [
        ['discrepancyFound', (r: DiscrepancyReport) => note(summariseReport(r).join('\n'))],
        [
          'massRemovalBlocked',
          (p: SyncWorkerEvents['massRemovalBlocked'][0]) =>
            note(
              `! mass-removal guard: event ${p.eventId} would lose ${fmt(p.wouldRemove)} of ${fmt(p.held)} records (max ${Math.round(p.maxShare * 100)} %); ` +
                `if the deletion is real, re-run with ${MASS_REMOVAL_FLAG}`,
            ),
        ],
        [
          'recordDeadLettered',
          (p: SyncWorkerEvents['recordDeadLettered'][0]) => note(`! dead letter (${p.reason}) in event ${p.eventId ?? '-'}: ${p.detail}`),
        ],
        ['leaseLost', () => note('! this process lost the sync lease; the run stops')],
        // Listening to `error` keeps the worker from logging it; the CLI reports failures itself.
        ['error', () => undefined],
      ];
      for (const [event, listener] of listeners) on(event, listener);
      detach = () => {
        for (const [event, listener] of listeners) off(event, listener);
      };
    },
    watch(watched) {
      run = watched;
      startedAt = Date.now();
      draw();
      timer = setInterval(draw, intervalMs);
      timer.unref();
    },
    finish(outcome) {
      if (timer) clearInterval(timer);
      timer = undefined;
      draw();
      if (shown) out.write('\n');
      shown = false;
      run = undefined;
      if ('result' in outcome) out.write(summariseResult(outcome.result));
    },
    document(_name, value) {
      out.write(typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
    },
    dispose() {
      if (timer) clearInterval(timer);
      timer = undefined;
      detach?.();
      detach = undefined;
    },
  };
}

/** The CLI's flag for `allowMassRemoval: true`. */
export const MASS_REMOVAL_FLAG = '--allow-mass-removal';

/**
 * The one-line reason of a failure, for stderr. A mass-removal refusal names the CLI flag
 * ({@link MASS_REMOVAL_FLAG}) instead of the library's `{ allowMassRemoval: true }`.
 */
export function failureReason(error: unknown): string {
  if (isSyncError(error) && error.code === SyncErrorCode.MASS_REMOVAL) {
    const e = error as SyncError & { eventId?: unknown; wouldRemove?: unknown; held?: unknown; maxShare?: unknown };
    if (typeof e.wouldRemove === 'number' && typeof e.held === 'number' && typeof e.maxShare === 'number') {
      return (
        `Refusing to remove ${fmt(e.wouldRemove)} of ${fmt(e.held)} records of event ${String(e.eventId)} (more than ${Math.round(e.maxShare * 100)} %); ` +
        `if the deletion in Zoho is real, re-run with ${MASS_REMOVAL_FLAG} [${error.code}]`
      );
    }
  }
  if (isSyncError(error)) {
    const zoho = (error as SyncError & { zohoCode?: unknown }).zohoCode;
    return `${error.message.split('\n')[0]} [${error.code}${typeof zoho === 'number' ? `, Zoho code ${zoho}` : ''}]`;
  }
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}
