import type { EventCounts } from "./event-counts.js";

/** One sample in prom-client's metric format (what `Metric.get()` resolves to). */
type Value = {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
};

/**
 * `store_duration_seconds` as a metric object prom-client's Registry reads like its own: `get()`
 * resolves to the same { name, help, type, values, aggregator } its Histogram does (the form of
 * `registry.getMetricsAsJSON()`), built from buckets counted in plain numbers per (rule, policy).
 *
 * Why not prom-client's Histogram: its `observe` costs about 1 µs (the label set hashed, each
 * float bound turned into a property key), 2-3% of a hello-world request through
 * throttlekit/node on this project's bench machine, and it takes no batch of observations that
 * could be handed over at scrape time as the counters are (bench/results/observe.md).
 */
export class DurationHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly labelNames = ["rule"];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    private readonly counts: EventCounts,
  ) {}

  async get() {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [rule, h] of this.counts.durations()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += h.counts[i]!;
        values.push({ labels: { le: this.bounds[i]!, rule }, value: acc, metricName: bucket });
      }
      acc += h.counts[this.bounds.length]!;
      values.push({ labels: { le: "+Inf", rule }, value: acc, metricName: bucket });
      values.push({ labels: { rule }, value: h.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { rule }, value: h.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    };
  }

  /**
   * `registry.resetMetrics()` calls it: the counts belong to the exporter (as the counters'
   * totals do, which the next scrape hands over again); Prometheus copes with resets itself.
   */
  reset(): void {}
}
