/**
 * throttlekit/otel: the events of limiters as OpenTelemetry metrics, and attributes on the
 * active span (issue 17, item 3). Attributes of metrics are bounded by configuration (rule,
 * policy, outcome, store, by): never a key or an address. See docs/otel.md.
 */
import {
  type Meter,
  metrics,
  type ObservableCallback,
  type ObservableCounter,
  type ObservableGauge,
  trace,
} from "@opentelemetry/api";
import { ConfigError, type EventHub, ProblemList } from "../index.js";
import {
  BUCKETS_FORM,
  checkHubs,
  DEFAULT_BUCKETS,
  DENY_LIST_POLICY,
  EventCounts,
  isBuckets,
  OUTCOME_LABELS,
  watch,
} from "./event-counts.js";

export type OtelMetricsOptions = {
  /** The hub (or hubs) to count: `limiter.events`, or one `createEvents()` shared by limiters. */
  events: EventHub | readonly EventHub[];
  /** Where the instruments are created. @default metrics.getMeter("throttlekit") */
  meter?: Meter;
  /**
   * Set `ratelimit.*` attributes on the active span at every decision (and denial): allowed,
   * policy, remaining, rule, reason (and `ratelimit.shadow` when a shadow rule let a refusal
   * through).
   * @default true
   */
  spanAttributes?: boolean;
  /**
   * Bucket boundaries (seconds) advised for `throttlekit.store.duration` (the SDK's defaults are
   * made for milliseconds). @default 10 µs to 1 s (0.00001, 0.000025, ..., 0.5, 1)
   */
  buckets?: readonly number[];
};

export type OtelMetrics = {
  /**
   * Stops counting and setting span attributes, and removes the observable instruments'
   * callbacks (the OTel API cannot delete an instrument: the histogram stays, unfed).
   */
  close(): void;
};

const KEYS = ["events", "meter", "spanAttributes", "buckets"];

/**
 * Reports the events of `events` as OpenTelemetry instruments (`throttlekit.requests`,
 * `throttlekit.violations`, `throttlekit.shadowed`, `throttlekit.store.duration`,
 * `throttlekit.store.outages`, `throttlekit.store.degraded`, `throttlekit.auto_blocks`) and
 * sets `ratelimit.*` attributes on the span active when a limiter decides. Counts are totalled
 * in plain numbers and observed at collection, so a decision costs a map lookup, one histogram
 * record and (with a recording span) five attributes.
 *
 * @example
 * const events = createEvents();
 * const limiter = createLimiter({ policies: "100/min", events, name: "api" });
 * const otel = otelMetrics({ events }); // the global MeterProvider's meter "throttlekit"
 */
export function otelMetrics(options: OtelMetricsOptions): OtelMetrics {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      { option: "options", received: options, expected: "an object with `events`" },
    ]);
  }
  const problems = new ProblemList();
  problems.unknownKeys(options, KEYS);
  const hubs = checkHubs(options.events, problems);
  const meter = options.meter ?? metrics.getMeter("throttlekit");
  if (!isMeter(meter)) {
    problems.add("meter", options.meter, "an OpenTelemetry Meter (meterProvider.getMeter(name))");
  }
  const spans = options.spanAttributes ?? true;
  if (typeof spans !== "boolean") problems.add("spanAttributes", spans, "true or false");
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  if (!isBuckets(buckets)) problems.add("buckets", options.buckets, BUCKETS_FORM);
  problems.throwIfAny();

  const counts = new EventCounts();
  const callbacks: [ObservableCounter | ObservableGauge, ObservableCallback][] = [];
  const observe = (instrument: ObservableCounter | ObservableGauge, cb: ObservableCallback) => {
    instrument.addCallback(cb);
    callbacks.push([instrument, cb]);
  };

  observe(
    meter.createObservableCounter("throttlekit.requests", {
      description:
        "Requests decided, by rule, binding policy and outcome (allowed, limited, blocked, denied, degraded)",
      unit: "{request}",
    }),
    (result) => {
      for (const cell of counts.cells()) {
        for (let i = 0; i < OUTCOME_LABELS.length; i++) {
          const n = cell.outcomes[i]!;
          if (n > 0) result.observe(n, cell.outcomeLabels[i]!);
        }
      }
    },
  );
  observe(
    meter.createObservableCounter("throttlekit.violations", {
      description:
        "Refusals the client caused (limited, blocked, cost over the limit), by rule and policy",
      unit: "{violation}",
    }),
    (result) => {
      for (const cell of counts.cells()) {
        if (cell.violations > 0) result.observe(cell.violations, cell.pairLabels);
      }
    },
  );
  observe(
    meter.createObservableCounter("throttlekit.shadowed", {
      description: "Refusals a rule in shadow mode let through, by rule and policy",
      unit: "{request}",
    }),
    (result) => {
      for (const cell of counts.cells()) {
        if (cell.shadowed > 0) result.observe(cell.shadowed, cell.pairLabels);
      }
    },
  );
  const duration = meter.createHistogram("throttlekit.store.duration", {
    description: "Time the store took to decide, by rule",
    unit: "s",
    advice: { explicitBucketBoundaries: [...buckets] },
  });
  observe(
    meter.createObservableCounter("throttlekit.store.outages", {
      description: "Store outages begun (degraded events), by store",
      unit: "{outage}",
    }),
    (result) => {
      for (const [store, s] of counts.stores) result.observe(s.outages, { store });
    },
  );
  observe(
    meter.createObservableGauge("throttlekit.store.degraded", {
      description: "1 while the store is out and decisions follow onStoreError, else 0, by store",
      unit: "1",
    }),
    (result) => {
      for (const [store, s] of counts.stores) result.observe(s.degraded ? 1 : 0, { store });
    },
  );
  observe(
    meter.createObservableCounter("throttlekit.auto_blocks", {
      description: "Identifiers put on the deny list automatically, by what did it (abuse, ban)",
      unit: "{block}",
    }),
    (result) => {
      for (const [by, n] of counts.autoBlocks) result.observe(n, { by });
    },
  );

  const stop = watch(hubs, counts, {
    timings: true,
    decision(e, cell) {
      if (e.durationMs !== undefined) duration.record(e.durationMs / 1000, cell.ruleLabels);
      if (!spans) return;
      const span = trace.getActiveSpan();
      if (span === undefined || !span.isRecording()) return;
      const d = e.decision;
      // A shadow rule lets its refusals through: the request went on, and the span says why.
      span.setAttribute("ratelimit.allowed", d.allowed || e.shadow);
      span.setAttribute("ratelimit.policy", d.policy.name);
      span.setAttribute("ratelimit.remaining", d.remaining);
      span.setAttribute("ratelimit.rule", e.rule);
      span.setAttribute("ratelimit.reason", d.reason);
      if (e.shadow) span.setAttribute("ratelimit.shadow", true);
    },
    ...(spans
      ? {
          denied(e) {
            const span = trace.getActiveSpan();
            if (span === undefined || !span.isRecording()) return;
            span.setAttribute("ratelimit.allowed", false);
            span.setAttribute("ratelimit.policy", DENY_LIST_POLICY);
            span.setAttribute("ratelimit.remaining", 0);
            span.setAttribute("ratelimit.rule", e.rule);
            span.setAttribute("ratelimit.reason", "denied");
          },
        }
      : {}),
  });
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      stop();
      for (const [instrument, cb] of callbacks) instrument.removeCallback(cb);
    },
  };
}

function isMeter(v: unknown): v is Meter {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    typeof m.createHistogram === "function" &&
    typeof m.createObservableCounter === "function" &&
    typeof m.createObservableGauge === "function"
  );
}
