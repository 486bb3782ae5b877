import type { LatencySummary } from "./types.js";

/**
 * Upper bounds (ms) of the store latency buckets: an in-process store decides in microseconds,
 * Redis in a fraction of a millisecond to a few, and a timeout ends at `timeout` (500 ms by
 * default). The last bucket, Infinity, is implied.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
]);

/** A fixed-bucket histogram: memory and time per observation fixed, whatever is observed. */
export class LatencyHistogram {
  /** Per bucket (not cumulative); one more than the bounds, for Infinity. */
  private readonly counts = new Float64Array(LATENCY_BOUNDS_MS.length + 1);
  private count = 0;
  private sum = 0;
  private max = 0;

  observe(ms: number): void {
    if (!(ms >= 0)) return; // NaN or negative: a clock that stepped back
    let i = 0;
    const bounds = LATENCY_BOUNDS_MS;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /**
   * The `q` quantile, interpolated within its bucket as Prometheus' histogram_quantile does,
   * never above the largest value seen; 0 with no observation.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let below = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i]!;
      if (below + inBucket >= rank && inBucket > 0) {
        if (i === LATENCY_BOUNDS_MS.length) return this.max;
        const lo = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
        const hi = LATENCY_BOUNDS_MS[i]!;
        return Math.min(this.max, lo + ((hi - lo) * (rank - below)) / inBucket);
      }
      below += inBucket;
    }
    return this.max;
  }

  summary(): LatencySummary {
    const buckets: { leMs: number; count: number }[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.counts.length; i++) {
      cumulative += this.counts[i]!;
      buckets.push({ leMs: LATENCY_BOUNDS_MS[i] ?? Number.POSITIVE_INFINITY, count: cumulative });
    }
    return {
      count: this.count,
      sumMs: this.sum,
      maxMs: this.max,
      p50Ms: this.quantile(0.5),
      p90Ms: this.quantile(0.9),
      p99Ms: this.quantile(0.99),
      buckets,
    };
  }

  clear(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
}
