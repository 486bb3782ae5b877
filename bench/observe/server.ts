/**
 * The server of `npm run bench:observe`: one node:http hello-world server on 127.0.0.1 whose
 * mode the bench switches between phases (an IPC message), so every mode is measured in the
 * same process with the same heap and JIT state. Usage (the bench spawns it with an IPC channel):
 *   node --import tsx bench/observe/server.ts plain|traced
 * Prints `PORT <n>` once listening. Messages in: a mode; out: `{ mode, counted }` once switched,
 * `counted` being the decisions the exporter that was just closed reported (a check that it saw
 * the traffic), or null.
 *
 * plain modes: "bare" (no limiter), "limiter" (throttlekit/node, nobody listening to its
 * events), "prometheus" (+ prometheusMetrics in a Registry), "otel" (+ otelMetrics on an SDK
 * MeterProvider; no active span). traced modes (a second process: AsyncLocalStorage's cost
 * stays out of the plain one): "traced" (each request in a recording span of a
 * BasicTracerProvider, the limiter, no exporter), "traced-otel" (+ otelMetrics, which also sets
 * ratelimit.* on the span).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { Registry } from "prom-client";
import { createEvents } from "throttlekit";
import { apiKey } from "throttlekit/http";
import { nodeRateLimit } from "throttlekit/node";
import { otelMetrics } from "throttlekit/otel";
import { prometheusMetrics } from "throttlekit/prometheus";

export const PLAIN_MODES = ["bare", "limiter", "prometheus", "otel"] as const;
export const TRACED_MODES = ["traced", "traced-otel"] as const;
export type Mode = (typeof PLAIN_MODES)[number] | (typeof TRACED_MODES)[number];

/** A reader the bench collects from by hand (no timer in the measured process). */
class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

function main(): void {
  const kind = process.argv[2];
  if (kind !== "plain" && kind !== "traced") throw new Error("usage: server.ts plain|traced");
  const traced = kind === "traced";
  if (traced) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider());
  }
  const tracer = trace.getTracer("bench");

  const events = createEvents({ logger: false });
  // Far above anything a run sends: nothing is refused.
  const limit = nodeRateLimit({
    events,
    policies: "1000000000/min",
    identity: apiKey("x-api-key"),
    logger: false,
  });
  const hello = (_req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("Content-Type", "text/plain");
    res.end("hello");
  };
  const limited = limit.wrap(hello);

  let mode: Mode = traced ? "traced" : "bare";
  let closeExporter: (() => Promise<number>) | undefined;

  const server = createServer((req, res) => {
    if (mode === "bare") return hello(req, res);
    if (!traced) return limited(req, res);
    tracer.startActiveSpan("GET /", (span) => {
      res.once("finish", () => span.end());
      limited(req, res);
    });
  });

  process.on("message", async (message: Mode) => {
    const counted = closeExporter === undefined ? null : await closeExporter();
    closeExporter = undefined;
    mode = message;
    if (mode === "prometheus") {
      const registry = new Registry();
      const m = prometheusMetrics({ events, registry });
      closeExporter = async () => {
        const json = await registry.getMetricsAsJSON();
        m.close();
        const requests = json.find((x) => x.name === "throttlekit_requests_total");
        return (requests?.values ?? []).reduce((a, v) => a + v.value, 0);
      };
    } else if (mode === "otel" || mode === "traced-otel") {
      // A provider per phase: every phase counts from zero, as a fresh process would.
      const reader = new ManualReader();
      const provider = new MeterProvider({ readers: [reader] });
      const m = otelMetrics({ events, meter: provider.getMeter("throttlekit") });
      closeExporter = async () => {
        const { resourceMetrics } = await reader.collect();
        m.close();
        await provider.shutdown();
        let n = 0;
        for (const sm of resourceMetrics.scopeMetrics) {
          for (const metric of sm.metrics) {
            if (metric.descriptor.name !== "throttlekit.requests") continue;
            for (const p of metric.dataPoints) n += p.value as number;
          }
        }
        return n;
      };
    }
    process.send!({ mode, counted });
  });
  process.once("SIGTERM", () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  server.listen(0, "127.0.0.1", () => {
    console.log(`PORT ${(server.address() as AddressInfo).port}`);
  });
}

// Run only as the server process: the bench imports this file for its mode names.
if (process.argv[1] === fileURLToPath(import.meta.url)) main();
