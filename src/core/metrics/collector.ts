import type { EventHub } from "../events.js";
import type { Metrics, MetricsOptions } from "./types.js";

/**
 * Builds a metrics collector listening to `events` (issue 17, item 2).
 *
 * @example
 * const events = createEvents();
 * const metrics = createMetrics(events);
 * createHttpLimiter({ policies: "100/min", events });
 * metrics.snapshot().total.blockRate;
 */
export function createMetrics(events: EventHub, options: MetricsOptions = {}): Metrics {
  void events;
  void options;
  throw new Error("createMetrics: not built yet (issue 17, item 2)");
}
