/**
 * A node:http server limited by throttlekit/node, reporting to OpenTelemetry (127.0.0.1:3000,
 * or $PORT): the throttlekit.* metrics, and ratelimit.* attributes on each request's span.
 * Both go to the console here; swap in an OTLP exporter to send them to a collector.
 * Run `npx tsx examples/otel/server.ts`, then:
 *   for i in $(seq 4); do curl -s -o /dev/null -w "%{http_code}\n" localhost:3000/; done
 * Each request prints its span: the fourth has attributes
 *   'ratelimit.allowed': false, 'ratelimit.policy': '3/10s', 'ratelimit.remaining': 0,
 *   'ratelimit.rule': 'api', 'ratelimit.reason': 'limited'
 * Every 10 s (and on Ctrl-C) the metrics print: throttlekit.requests with attributes
 * { rule: 'api', policy: '3/10s', outcome: 'limited' } and the rest (docs/otel.md).
 */
import { createServer } from "node:http";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { createEvents } from "throttlekit";
import { nodeRateLimit } from "throttlekit/node";
import { otelMetrics } from "throttlekit/otel";

// The OpenTelemetry SDK, as an app sets it up once at start (an OTLP exporter in production).
// The context manager carries the active span across awaits: throttlekit reads it there.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
});
trace.setGlobalTracerProvider(tracerProvider);
const meterProvider = new MeterProvider({
  readers: [
    new PeriodicExportingMetricReader({
      exporter: new ConsoleMetricExporter(),
      exportIntervalMillis: 10_000,
    }),
  ],
});
metrics.setGlobalMeterProvider(meterProvider);

// throttlekit: the limiter emits into `events`; otelMetrics reports them through the global
// MeterProvider (meter "throttlekit") and sets ratelimit.* on the span active at each decision.
const events = createEvents();
otelMetrics({ events });
const limit = nodeRateLimit({
  events,
  rules: [{ name: "api", policies: "3/10s" }],
});

const handle = limit.wrap((_req, res) => {
  res.setHeader("Content-Type", "text/plain; charset=utf-8");
  res.end("Hello from behind throttlekit\n");
});

// Instrumentation (@opentelemetry/instrumentation-http) would start this span for you.
const tracer = trace.getTracer("example-server");
const server = createServer((req, res) => {
  tracer.startActiveSpan(`${req.method} ${req.url}`, (span) => {
    res.once("close", () => {
      span.setAttribute("http.response.status_code", res.statusCode);
      span.end();
    });
    handle(req, res);
  });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    server.close(async () => {
      // Flushes the last metrics (and spans) to the exporters before exiting.
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
      process.exit(0);
    });
    server.closeAllConnections();
  });
}

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on ${typeof address === "object" && address ? address.port : address}`);
});
