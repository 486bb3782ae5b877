import type { EventHub, EventListener, ThrottleEventType } from "../core/events.js";
import { requireMetrics } from "../core/metrics/require.js";
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
    return requireMetrics(this.collector).snapshot();
  }

  resetMetrics(): void {
    requireMetrics(this.collector).reset();
  }
}
