/**
 * An optional, in-memory limit on manual triggers (one per router instance), protecting the Zoho
 * daily API quota from a script or a user hammering `POST /full-sync`.
 */
import { ConfigError, SyncError, SyncErrorCode } from '../errors.js';
import type { TriggerLimitOptions, TriggerLimitRule } from './options.js';
import { shownValue } from '../internal/shown-value.js';

/** The trigger kinds a limit can name (keys of {@link TriggerLimitOptions}). */
export type TriggerLimitKind = keyof TriggerLimitOptions;

const KINDS: readonly TriggerLimitKind[] = ['full', 'incremental', 'force', 'discrepancy'];

/** A manual trigger was refused by the trigger limit. Answered 429 with `retry_after_ms` and `Retry-After`. */
export class TriggerRateLimitedError extends SyncError {
  override readonly name = 'TriggerRateLimitedError';
  /** The limited kind. */
  readonly kind: TriggerLimitKind;
  /** How long until a trigger of this kind will be accepted. Unit: ms. */
  readonly retryAfterMs: number;
  constructor(kind: TriggerLimitKind, rule: TriggerLimitRule, retryAfterMs: number) {
    super(
      `Too many ${kind} triggers: at most ${rule.max} per ${rule.windowMs} ms; retry in ${retryAfterMs} ms`,
      SyncErrorCode.TRIGGER_RATE_LIMITED,
    );
    this.kind = kind;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Sliding-window counters, one per kind. Use {@link TriggerLimiter.check} before starting a run and
 * {@link TriggerLimiter.record} once a run actually started, so refused triggers (409, 400) cost
 * nothing.
 */
export class TriggerLimiter {
  readonly #rules: Partial<Record<TriggerLimitKind, TriggerLimitRule>>;
  readonly #starts = new Map<TriggerLimitKind, number[]>();
  readonly #now: () => number;

  /**
   * @param options - the router's `triggerLimit`; `undefined` means no limit.
   * @param now - clock, for tests. Unit: epoch ms.
   * @throws {@link ConfigError} for an unknown kind or a `max`/`windowMs` that is not a positive integer.
   */
  constructor(options: TriggerLimitOptions | undefined, now: () => number = Date.now) {
    this.#now = now;
    this.#rules = {};
    if (options === undefined) return;
    if (typeof options !== 'object' || options === null) throw new ConfigError('triggerLimit', 'Expected `triggerLimit` to be an object');
    for (const [key, rule] of Object.entries(options) as [string, unknown][]) {
      if (!(KINDS as readonly string[]).includes(key)) {
        throw new ConfigError(`triggerLimit.${key}`, `Unknown trigger kind \`${key}\`; expected one of ${KINDS.join(', ')}`);
      }
      if (rule === undefined) continue;
      const { max, windowMs } = (rule ?? {}) as { max?: unknown; windowMs?: unknown };
      for (const [name, value] of [['max', max], ['windowMs', windowMs]] as const) {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
          throw new ConfigError(`triggerLimit.${key}.${name}`, `Expected \`triggerLimit.${key}.${name}\` to be an integer ≥ 1, got ${shownValue(value)}`);
        }
      }
      this.#rules[key as TriggerLimitKind] = { max: max as number, windowMs: windowMs as number };
    }
  }

  /**
   * Throws when a trigger of `kind` now would exceed its limit.
   *
   * @throws {@link TriggerRateLimitedError} with the wait until the oldest counted trigger leaves the window.
   */
  check(kind: TriggerLimitKind): void {
    const rule = this.#rules[kind];
    if (!rule) return;
    const starts = this.#prune(kind, rule);
    if (starts.length < rule.max) return;
    const retryAfterMs = Math.max(1, starts[0]! + rule.windowMs - this.#now());
    throw new TriggerRateLimitedError(kind, rule, retryAfterMs);
  }

  /** Counts a run of `kind` that started now. */
  record(kind: TriggerLimitKind): void {
    const rule = this.#rules[kind];
    if (!rule) return;
    this.#prune(kind, rule).push(this.#now());
  }

  #prune(kind: TriggerLimitKind, rule: TriggerLimitRule): number[] {
    const cutoff = this.#now() - rule.windowMs;
    const starts = (this.#starts.get(kind) ?? []).filter((t) => t > cutoff);
    this.#starts.set(kind, starts);
    return starts;
  }
}
