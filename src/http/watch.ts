import { ConfigError } from "../core/errors/config-error.js";
import type { EventHub, EventListener, ThrottleEventType } from "../core/events.js";
import type { Metrics, MetricsSnapshot } from "../core/metrics/types.js";
import type { AbuseDetector } from "../protect/types.js";

/** What an HTTP limiter reports to: its events, metrics and abuse detector. */
export type Watch = {
  readonly events: EventHub;
  /** The `metrics` option's collector. */
  readonly collector: Metrics | undefined;
  /** The `protect` option's detector. */
  readonly protect: AbuseDetector | undefined;
};

/** The HttpLimiter members about watching it: `events`, `on`, `metrics()`, `protect`. */
export abstract class Watching {
  readonly events: EventHub;
  readonly protect: AbuseDetector | undefined;
  protected readonly collector: Metrics | undefined;

  constructor(watch: Watch) {
    this.events = watch.events;
    this.protect = watch.protect;
    this.collector = watch.collector;
  }

  on<K extends ThrottleEventType>(type: K, listener: EventListener<K>): () => void {
    return this.events.on(type, listener);
  }

  metrics(): MetricsSnapshot {
    if (this.collector === undefined) throw metricsOff();
    return this.collector.snapshot();
  }

  resetMetrics(): void {
    if (this.collector === undefined) throw metricsOff();
    this.collector.reset();
  }
}

function metricsOff(): ConfigError {
  return new ConfigError([
    {
      option: "metrics",
      received: undefined,
      expected: "metrics: true (or its options) when the limiter is created, to call metrics()",
    },
  ]);
}
