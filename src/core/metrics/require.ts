import { ConfigError } from "../errors/config-error.js";
import type { Metrics } from "./types.js";

/**
 * The collector of a limiter's `metrics` option, or the ConfigError that says how to turn it on:
 * `limiter.metrics()` and `resetMetrics()` (core and HTTP limiters alike) on a limiter built
 * without it.
 */
export function requireMetrics(collector: Metrics | undefined): Metrics {
  if (collector !== undefined) return collector;
  throw new ConfigError([
    {
      option: "metrics",
      received: undefined,
      expected: "metrics: true (or its options) when the limiter is created, to call metrics()",
    },
  ]);
}
