/**
 * bench:observe's in-process part: nanoseconds per decision of a memory-store limiter's
 * consumeSync (2,000 keys, a limit nothing reaches) with nobody listening, with
 * prometheusMetrics and with otelMetrics (an SDK MeterProvider) on its hub. Samples of each
 * mode interleave; the median per mode, and of the per-round differences, is reported. No
 * HTTP, no other process: the exporter's own cost per decision, as steady as this machine lets it be.
 */
import { performance } from "node:perf_hooks";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { Registry } from "prom-client";
import { createEvents, createLimiter } from "throttlekit";
import { otelMetrics } from "throttlekit/otel";
import { prometheusMetrics } from "throttlekit/prometheus";
import { median } from "../http/harness.js";

class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export const MICRO_MODES = ["none", "prometheus", "otel"] as const;
export type MicroMode = (typeof MICRO_MODES)[number];
export type MicroResult = {
  nsPerDecision: Record<MicroMode, number>;
  /** Median over rounds of (mode − none), ns per decision. */
  addedNs: Record<Exclude<MicroMode, "none">, number>;
  samples: Record<MicroMode, number[]>;
};

const KEYS = Array.from({ length: 2000 }, (_, i) => `key-${i}`);

export function micro(rounds: number, decisions: number): MicroResult {
  const events = createEvents({ logger: false });
  const limiter = createLimiter({ policies: "1000000000/min", events, name: "api" });
  const attach = (mode: MicroMode): (() => void) => {
    if (mode === "prometheus") {
      const m = prometheusMetrics({ events, registry: new Registry() });
      return () => m.close();
    }
    if (mode === "otel") {
      const provider = new MeterProvider({ readers: [new ManualReader()] });
      const m = otelMetrics({ events, meter: provider.getMeter("throttlekit") });
      return () => {
        m.close();
        void provider.shutdown();
      };
    }
    return () => {};
  };
  const sample = (mode: MicroMode): number => {
    const detach = attach(mode);
    const t0 = performance.now();
    for (let i = 0; i < decisions; i++) limiter.consumeSync(KEYS[i % KEYS.length]!);
    const ns = ((performance.now() - t0) * 1e6) / decisions;
    detach();
    return ns;
  };
  for (const mode of MICRO_MODES) sample(mode); // warm-up
  const samples: Record<MicroMode, number[]> = { none: [], prometheus: [], otel: [] };
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < MICRO_MODES.length; i++) {
      const mode = MICRO_MODES[(r + i) % MICRO_MODES.length]!;
      samples[mode].push(sample(mode));
    }
  }
  const added = (mode: "prometheus" | "otel") =>
    Math.round(median(samples[mode].map((x, i) => x - samples.none[i]!)));
  return {
    nsPerDecision: {
      none: Math.round(median(samples.none)),
      prometheus: Math.round(median(samples.prometheus)),
      otel: Math.round(median(samples.otel)),
    },
    addedNs: { prometheus: added("prometheus"), otel: added("otel") },
    samples,
  };
}
