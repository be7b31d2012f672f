/**
 * Push-to-Redis lag statistics: a ring of the latest samples and their percentiles.
 */

/** Percentiles of the latest samples. Unit: ms; `null` when there is no sample yet. */
export interface LagSummary {
  readonly p50: number | null;
  readonly p99: number | null;
  /** Samples the percentiles are computed from (the latest, up to the ring's size). */
  readonly samples: number;
}

/** Keeps the latest `size` lag samples. */
export class LagRing {
  readonly #values: number[] = [];
  readonly #size: number;
  #next = 0;

  constructor(size = 2048) {
    this.#size = size;
  }

  /** Adds one sample (ms). */
  add(ms: number): void {
    if (this.#values.length < this.#size) this.#values.push(ms);
    else this.#values[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#size;
  }

  /** Nearest-rank p50 and p99 of the samples held. */
  summary(): LagSummary {
    if (this.#values.length === 0) return { p50: null, p99: null, samples: 0 };
    const sorted = [...this.#values].sort((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), samples: sorted.length };
  }
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}
