/**
 * throttlekit/prometheus: the events of limiters as prom-client metrics (issue 17, item 3).
 * Labels are bounded by configuration (rule, policy, outcome, store, by): never a key or an
 * address, so a flood of distinct clients adds no series. See docs/prometheus.md.
 */
import { Counter, Gauge, type Metric, type Registry, register } from "prom-client";
import { ConfigError, type EventHub, ProblemList } from "../index.js";
import {
  BUCKETS_FORM,
  checkHubs,
  DEFAULT_BUCKETS,
  EventCounts,
  isBuckets,
  OUTCOME_LABELS,
  watch,
} from "./event-counts.js";
import { DurationHistogram } from "./prometheus-histogram.js";

export type PrometheusMetricsOptions = {
  /** The hub (or hubs) to count: `limiter.events`, or one `createEvents()` shared by limiters. */
  events: EventHub | readonly EventHub[];
  /** Where the metrics are registered. @default prom-client's global `register` */
  registry?: Registry;
  /** Prepended to every metric name. @default "throttlekit_" */
  prefix?: string;
  /**
   * Upper bounds (seconds) of `store_duration_seconds`' buckets.
   * @default 10 µs to 1 s (0.00001, 0.000025, ..., 0.5, 1)
   */
  buckets?: readonly number[];
};

export type PrometheusMetrics = {
  /** The registry the metrics live in (serve `await registry.metrics()` on /metrics). */
  readonly registry: Registry;
  /** The metric names registered, in the order of docs/prometheus.md. */
  readonly names: readonly string[];
  /** Stops counting and unregisters the metrics (a later prometheusMetrics may register again). */
  close(): void;
};

const KEYS = ["events", "registry", "prefix", "buckets"];
const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Counts the events of `events` into prom-client metrics: requests by rule, policy and outcome,
 * violations, shadowed refusals, store latency, store outages (and whether one is going on),
 * automatic blocks. Counts (the latency buckets included) are kept in plain numbers and handed to
 * prom-client when the registry is read, so a decision costs two map lookups and a few increments.
 *
 * @example
 * const events = createEvents();
 * const limiter = createLimiter({ policies: "100/min", events, name: "api" });
 * const metrics = prometheusMetrics({ events });
 * // GET /metrics: res.end(await metrics.registry.metrics())
 */
export function prometheusMetrics(options: PrometheusMetricsOptions): PrometheusMetrics {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      { option: "options", received: options, expected: "an object with `events`" },
    ]);
  }
  problems.unknownKeys(options, KEYS);
  const hubs = checkHubs(options.events, problems);
  const registry = options.registry ?? register;
  if (!isRegistry(registry)) {
    problems.add("registry", options.registry, "a prom-client Registry (new Registry())");
  }
  const prefix = options.prefix ?? "throttlekit_";
  const prefixOk = typeof prefix === "string" && (prefix === "" || NAME_RE.test(prefix));
  if (!prefixOk) {
    problems.add("prefix", options.prefix, "a metric name prefix: letters, digits, _ and :");
  }
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  if (!isBuckets(buckets)) problems.add("buckets", options.buckets, BUCKETS_FORM);
  problems.throwIfAny();

  const names = {
    requests: `${prefix}requests_total`,
    violations: `${prefix}violations_total`,
    shadowed: `${prefix}shadowed_total`,
    duration: `${prefix}store_duration_seconds`,
    outages: `${prefix}store_outages_total`,
    degraded: `${prefix}store_degraded`,
    autoBlocks: `${prefix}auto_blocks_total`,
  };
  const taken = Object.values(names).filter((n) => registry.getSingleMetric(n) !== undefined);
  if (taken.length > 0) {
    // prom-client would throw on the first duplicate, with half of our metrics registered.
    throw new ConfigError([
      {
        option: "registry",
        received: `a registry that already has ${taken.join(", ")}`,
        expected:
          "a registry without them: close() the earlier prometheusMetrics, or pass another prefix or registry",
      },
    ]);
  }

  const counts = new EventCounts(buckets);
  const registers = [registry];
  const requests = new Counter({
    name: names.requests,
    help: "Requests decided, by rule, binding policy and outcome (allowed, limited, blocked, denied, degraded)",
    labelNames: ["rule", "policy", "outcome"] as const,
    registers,
    collect() {
      this.reset();
      for (const cell of counts.cells()) {
        for (let i = 0; i < OUTCOME_LABELS.length; i++) {
          const n = cell.outcomes[i]!;
          if (n > 0) this.inc(cell.outcomeLabels[i]!, n);
        }
      }
    },
  });
  const violations = new Counter({
    name: names.violations,
    help: "Refusals the client caused (limited, blocked, cost over the limit), by rule and policy",
    labelNames: ["rule", "policy"] as const,
    registers,
    collect() {
      this.reset();
      for (const cell of counts.cells()) {
        if (cell.violations > 0) this.inc(cell.pairLabels, cell.violations);
      }
    },
  });
  const shadowed = new Counter({
    name: names.shadowed,
    help: "Refusals a rule in shadow mode let through, by rule and policy",
    labelNames: ["rule", "policy"] as const,
    registers,
    collect() {
      this.reset();
      for (const cell of counts.cells()) {
        if (cell.shadowed > 0) this.inc(cell.pairLabels, cell.shadowed);
      }
    },
  });
  const duration = new DurationHistogram(
    names.duration,
    "Time the store took to decide, in seconds, by rule",
    [...buckets],
    counts,
  );
  registry.registerMetric(duration as unknown as Metric);
  const outages = new Counter({
    name: names.outages,
    help: "Store outages begun (degraded events), by store",
    labelNames: ["store"] as const,
    registers,
    collect() {
      this.reset();
      for (const [store, s] of counts.stores) this.inc({ store }, s.outages);
    },
  });
  const degraded = new Gauge({
    name: names.degraded,
    help: "1 while the store is out and decisions follow onStoreError, else 0, by store",
    labelNames: ["store"] as const,
    registers,
    collect() {
      for (const [store, s] of counts.stores) this.set({ store }, s.degraded ? 1 : 0);
    },
  });
  const autoBlocks = new Counter({
    name: names.autoBlocks,
    help: "Identifiers put on the deny list automatically, by what did it (abuse, ban)",
    labelNames: ["by"] as const,
    registers,
    collect() {
      this.reset();
      for (const [by, n] of counts.autoBlocks) this.inc({ by }, n);
    },
  });

  const stop = watch(hubs, counts, { timings: true });
  const mine = new Map<string, unknown>([
    [names.requests, requests],
    [names.violations, violations],
    [names.shadowed, shadowed],
    [names.duration, duration],
    [names.outages, outages],
    [names.degraded, degraded],
    [names.autoBlocks, autoBlocks],
  ]);
  let closed = false;
  return {
    registry,
    names: Object.values(names),
    close() {
      if (closed) return;
      closed = true;
      stop();
      for (const [name, metric] of mine) {
        // Only ours: after close(), someone may have registered the name again.
        if (registry.getSingleMetric(name) === metric) registry.removeSingleMetric(name);
      }
    },
  };
}

function isRegistry(v: unknown): v is Registry {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.registerMetric === "function" &&
    typeof r.getSingleMetric === "function" &&
    typeof r.removeSingleMetric === "function" &&
    typeof r.metrics === "function"
  );
}
