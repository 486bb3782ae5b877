import type { MetricsBinding } from "./metrics/types.js";

/** Seconds kept per namespace: a day of per-second buckets; the oldest go first beyond it. */
export const MAX_METRIC_SECONDS = 86_400;
/** Fields per second: rules × policies × counts plus offenders, far above any real setup. */
export const MAX_METRIC_FIELDS = 10_000;

type Bucket = { expiresAt: number; readonly counts: Map<string, number> };

/**
 * The memory store's fleet-metrics buckets: the "fleet" is the processes' collectors sharing
 * this store in one process (several limiters, a test, a single-process server). Buckets expire
 * `retentionMs` after their last record, as the Redis buckets do; both the number of seconds and
 * the fields per second are bounded, so a wrong caller cannot grow it without end.
 */
export function memoryMetrics(now: () => number = Date.now): MetricsBinding {
  return new MemoryMetrics(now);
}

class MemoryMetrics implements MetricsBinding {
  private readonly buckets = new Map<number, Bucket>();

  constructor(private readonly now: () => number) {}

  async record(
    second: number,
    counts: ReadonlyMap<string, number>,
    retentionMs: number,
  ): Promise<void> {
    const t = this.now();
    this.expire(t);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = { expiresAt: 0, counts: new Map() };
      this.buckets.set(second, bucket);
      if (this.buckets.size > MAX_METRIC_SECONDS) this.dropOldest();
    }
    bucket.expiresAt = t + retentionMs;
    for (const [field, n] of counts) {
      const had = bucket.counts.get(field);
      if (had === undefined && bucket.counts.size >= MAX_METRIC_FIELDS) continue;
      bucket.counts.set(field, (had ?? 0) + n);
    }
  }

  async read(
    fromSecond: number,
    toSecond: number,
  ): Promise<{ second: number; counts: Map<string, number> }[]> {
    this.expire(this.now());
    const out: { second: number; counts: Map<string, number> }[] = [];
    for (const [second, b] of this.buckets) {
      if (second >= fromSecond && second <= toSecond)
        out.push({ second, counts: new Map(b.counts) });
    }
    return out.sort((a, b) => a.second - b.second);
  }

  private expire(t: number): void {
    for (const [second, b] of this.buckets) if (b.expiresAt <= t) this.buckets.delete(second);
  }

  private dropOldest(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const s of this.buckets.keys()) oldest = Math.min(oldest, s);
    this.buckets.delete(oldest);
  }
}
