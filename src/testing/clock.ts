/**
 * The simulator's notion of "now": drives `Modified_Time` of mutations, access-token expiry, cursor
 * expiry, the per-minute / daily rate-limit windows and the token-mint throttle window.
 */

/** Anything that tells the time in epoch milliseconds. */
export interface ClockLike {
  /** Current instant, epoch ms. */
  now(): number;
}

/** A clock tests can move: {@link SimulatorClock} or a wrapped {@link ClockLike}. */
export interface ControllableClock extends ClockLike {
  /** Jumps to `ms` (epoch ms). */
  set(ms: number): void;
  /** Moves forward by `ms` milliseconds (negative moves back). */
  advance(ms: number): void;
}

/**
 * A manual clock: it does NOT tick by itself; time only moves through {@link set} and
 * {@link advance}. That makes `Modified_Time` values, same-second edits and expiries deterministic
 * in tests.
 *
 * @example
 * ```ts
 * const clock = new SimulatorClock(Date.UTC(2024, 2, 15, 10, 0, 0));
 * clock.advance(1500);
 * clock.now(); // 1710496801500
 * ```
 */
export class SimulatorClock implements ControllableClock {
  private current: number;

  /** @param startMs - the initial instant, epoch ms; default `Date.now()` floored to the second. */
  constructor(startMs: number = Math.floor(Date.now() / 1000) * 1000) {
    if (!Number.isFinite(startMs)) throw new RangeError(`Invalid clock start: ${startMs}`);
    this.current = startMs;
  }

  /** Current instant, epoch ms. */
  now(): number {
    return this.current;
  }

  /** Jumps to `ms` (epoch ms). */
  set(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`Invalid instant: ${ms}`);
    this.current = ms;
  }

  /** Moves forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!Number.isFinite(ms)) throw new RangeError(`Invalid duration: ${ms}`);
    this.current += ms;
  }
}

/**
 * Makes any {@link ClockLike} controllable: `set`/`advance` shift an offset added to the wrapped
 * clock's reading (so a wrapped real-time clock keeps ticking). A clock that already has `set` and
 * `advance` is returned as is.
 */
export function toControllableClock(clock: ClockLike): ControllableClock {
  const candidate = clock as Partial<ControllableClock>;
  if (typeof candidate.set === 'function' && typeof candidate.advance === 'function') {
    return clock as ControllableClock;
  }
  let offset = 0;
  return {
    now: () => clock.now() + offset,
    set: (ms: number) => {
      offset = ms - clock.now();
    },
    advance: (ms: number) => {
      offset += ms;
    },
  };
}
