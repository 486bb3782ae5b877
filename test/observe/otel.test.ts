/**
 * throttlekit/otel against the real OpenTelemetry SDK: metrics through a MeterProvider whose
 * reader exports to an InMemoryMetricExporter; span attributes through a BasicTracerProvider
 * with an InMemorySpanExporter and the AsyncLocalStorage context manager, on a real node:http
 * server whose handler starts a span and asks a limiter, on the memory store and on a real
 * redis-server (the span must still be active when the Redis answer comes back).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { Redis } from "ioredis";
import {
  ConfigError,
  createEvents,
  createLimiter,
  type EventHub,
  emitDecision,
  type Limiter,
  type Store,
} from "throttlekit";
import { nodeRateLimit } from "throttlekit/node";
import { otelMetrics } from "throttlekit/otel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A MeterProvider whose reader exports to memory; `collect()` returns the latest metrics. */
function sdkMetrics() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  return {
    provider,
    meter: provider.getMeter("test"),
    /** The scope (meter) name of each metric name seen by the last collect. */
    scopes: new Map<string, string>(),
    async collect(): Promise<Map<string, MetricData>> {
      exporter.reset();
      await reader.forceFlush();
      const found = new Map<string, MetricData>();
      for (const rm of exporter.getMetrics()) {
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            found.set(m.descriptor.name, m);
            this.scopes.set(m.descriptor.name, sm.scope.name);
          }
        }
      }
      return found;
    },
  };
}

/** The value of the data point of `m` whose attributes include `attrs` (0 when none). */
function point(m: MetricData | undefined, attrs: Record<string, string>): number {
  const found = (m?.dataPoints ?? []).filter((p) =>
    Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
  );
  if (found.length > 1) throw new Error(`${JSON.stringify(attrs)}: ${found.length} points`);
  return (found[0]?.value as number | undefined) ?? 0;
}

async function hit(l: Limiter, key: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await l.consume(key);
}

const outage = {
  time: 0,
  store: "redis",
  mode: "fail-open",
  error: undefined,
  outageMs: undefined,
  degradedDecisions: undefined,
};

describe("otelMetrics: instruments", () => {
  it("reports requests, violations, shadowed, store latency, outages and auto-blocks", async () => {
    const sdk = sdkMetrics();
    const events = createEvents();
    const otel = otelMetrics({ events, meter: sdk.meter });
    cleanups.push(() => otel.close());
    const clock = manualClock();
    const api = createLimiter({ policies: "3/min", events, name: "api", clock: clock.now });
    await hit(api, "alice", 5);
    const login = createLimiter({ policies: "1/min", name: "login", clock: clock.now });
    const refused = await hit(login, "bob", 1).then(() => login.consume("bob"));
    emitDecision(events, clock.now(), "canary", "bob", 1, refused, true, undefined);
    events.emit("denied", {
      type: "denied",
      time: clock.now(),
      rule: "api",
      key: "mallory",
      address: "203.0.113.7",
      reason: "ban",
    });
    events.emit("degraded", { ...outage, type: "degraded", error: "ECONNREFUSED" });
    events.emit("autoBlock", {
      type: "autoBlock",
      time: clock.now(),
      identifier: "203.0.113.7",
      by: "abuse",
      reasons: ["scanning"],
      score: 0.97,
      durationMs: 60_000,
      until: clock.now() + 60_000,
    });

    let m = await sdk.collect();
    expect([...m.keys()].sort()).toEqual([
      "throttlekit.auto_blocks",
      "throttlekit.requests",
      "throttlekit.shadowed",
      "throttlekit.store.degraded",
      "throttlekit.store.duration",
      "throttlekit.store.outages",
      "throttlekit.violations",
    ]);
    const requests = m.get("throttlekit.requests")!;
    expect(requests.dataPointType).toBe(DataPointType.SUM);
    expect(requests.descriptor.unit).toBe("{request}");
    const api3 = { rule: "api", policy: "3/1m" };
    expect(point(requests, { ...api3, outcome: "allowed" })).toBe(3);
    expect(point(requests, { ...api3, outcome: "limited" })).toBe(2);
    expect(point(requests, { rule: "canary", policy: "1/1m", outcome: "limited" })).toBe(1);
    expect(point(requests, { rule: "api", policy: "deny-list", outcome: "denied" })).toBe(1);
    expect(point(m.get("throttlekit.violations"), api3)).toBe(2);
    expect(point(m.get("throttlekit.violations"), { rule: "canary" })).toBe(1);
    expect(point(m.get("throttlekit.shadowed"), { rule: "canary" })).toBe(1);
    expect(point(m.get("throttlekit.shadowed"), { rule: "api" })).toBe(0);
    expect(point(m.get("throttlekit.store.outages"), { store: "redis" })).toBe(1);
    expect(point(m.get("throttlekit.store.degraded"), { store: "redis" })).toBe(1);
    expect(point(m.get("throttlekit.auto_blocks"), { by: "abuse" })).toBe(1);

    const duration = m.get("throttlekit.store.duration")!;
    expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(duration.descriptor.unit).toBe("s");
    const h = duration.dataPoints[0]!.value as Histogram;
    expect(duration.dataPoints[0]!.attributes).toEqual({ rule: "api" });
    // The api limiter's first decision: an in-process store times one in SAMPLE_EVERY (the
    // canary's had no timing).
    expect(h.count).toBe(1);
    expect(h.buckets.boundaries[0]).toBe(0.00001); // seconds, not the SDK's ms defaults
    // No attribute names a client.
    const attrs = [...m.values()].flatMap((x) => x.dataPoints.map((p) => p.attributes));
    expect(JSON.stringify(attrs)).not.toMatch(/alice|bob|mallory|203\.0\.113/);

    // Cumulative counts keep growing; the outage ends.
    await hit(api, "carol", 1);
    events.emit("recovered", { ...outage, type: "recovered", outageMs: 900 });
    m = await sdk.collect();
    expect(point(m.get("throttlekit.requests"), { ...api3, outcome: "allowed" })).toBe(4);
    expect(point(m.get("throttlekit.store.degraded"), { store: "redis" })).toBe(0);
  });

  it("keeps attribute sets bounded: 100,000 distinct clients add no data point", async () => {
    const sdk = sdkMetrics();
    const events = createEvents();
    const otel = otelMetrics({ events, meter: sdk.meter });
    cleanups.push(() => otel.close());
    const clock = manualClock();
    const rules = ["api", "search"].map((name) =>
      createLimiter({ policies: ["1/s", "1000/day"], events, name, clock: clock.now }),
    );
    for (let i = 0; i < 100_000; i++) {
      const l = rules[i % 2]!;
      l.consumeSync(`client-${i}`);
      l.consumeSync(`client-${i}`);
    }
    const m = await sdk.collect();
    const requests = m.get("throttlekit.requests")!.dataPoints;
    expect(requests.length).toBeLessThanOrEqual(2 * 3 * 5);
    expect(requests.reduce((a, p) => a + (p.value as number), 0)).toBe(200_000);
    expect(m.get("throttlekit.store.duration")!.dataPoints).toHaveLength(2);
  });

  it("uses the global MeterProvider's meter `throttlekit` by default; close() stops reporting", async () => {
    const sdk = sdkMetrics();
    metrics.setGlobalMeterProvider(sdk.provider);
    cleanups.push(() => metrics.disable());
    const events = createEvents();
    const otel = otelMetrics({ events });
    const l = createLimiter({ policies: "3/min", events, name: "api", clock: manualClock().now });
    await hit(l, "a", 1);
    let m = await sdk.collect();
    expect(point(m.get("throttlekit.requests"), { outcome: "allowed" })).toBe(1);
    expect(sdk.scopes.get("throttlekit.requests")).toBe("throttlekit");
    otel.close();
    expect(events.active).toBe(false);
    expect(events.timing).toBe(false);
    await hit(l, "a", 1);
    m = await sdk.collect();
    // Closed: the decision after close() is not counted (a cumulative series keeps its last value).
    expect(point(m.get("throttlekit.requests"), { outcome: "allowed" })).toBe(1);
  });

  it("lists every bad option in one ConfigError", () => {
    let error: unknown;
    try {
      otelMetrics({
        events: {} as EventHub,
        meter: {} as never,
        spanAttributes: "yes" as never,
        buckets: [],
        tracer: 1,
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual([
      "buckets",
      "events",
      "meter",
      "spanAttributes",
      "tracer",
    ]);
  });
});

describe("otelMetrics: attributes on the active span", () => {
  let redisNode: RedisNode;
  let redisClient: Redis;
  let spans: InMemorySpanExporter;

  beforeAll(async () => {
    redisNode = await startRedis();
    redisClient = new Redis({ host: "127.0.0.1", port: redisNode.port });
    spans = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
    trace.setGlobalTracerProvider(provider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });

  afterAll(async () => {
    trace.disable();
    context.disable();
    redisClient?.disconnect();
    await redisNode?.stop();
  });

  /** A node:http server: each request runs in a span of its own, asking `limiter` first. */
  async function serve(limiter: Limiter): Promise<string> {
    const tracer = trace.getTracer("test-server");
    const server: Server = createServer((req, res) => {
      tracer.startActiveSpan(`GET ${req.url}`, async (span) => {
        const key = String(req.headers["x-api-key"] ?? "anonymous");
        const d = await limiter.consume(key);
        // Some later work in the same request (a database call): the span is still active.
        await new Promise((r) => setImmediate(r));
        res.statusCode = d.allowed ? 200 : 429;
        res.end();
        span.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  for (const kind of ["memory", "redis"] as const) {
    it(`sets ratelimit.* on the request's span (${kind} store)`, async () => {
      spans.reset();
      const events = createEvents();
      const otel = otelMetrics({ events, meter: sdkMetrics().meter });
      cleanups.push(() => otel.close());
      const store: Store | undefined =
        kind === "redis" ? redisStore({ client: redisClient }) : undefined;
      const limiter = createLimiter({
        policies: "2/min",
        events,
        name: "api",
        prefix: `span-${Date.now()}`,
        ...(store !== undefined ? { store } : {}),
      });
      const url = await serve(limiter);
      // Concurrent requests of two clients: each span gets its own decision's attributes.
      const ask = (key: string) => fetch(url, { headers: { "x-api-key": key } });
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const [a, b] = await Promise.all([ask("alice"), i === 0 ? ask("bob") : undefined]);
        statuses.push(a.status, ...(b !== undefined ? [b.status] : []));
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      const finished = spans.getFinishedSpans();
      expect(finished).toHaveLength(4);
      const attrs = finished.map((s) => s.attributes);
      const allowed = attrs.filter((a) => a["ratelimit.allowed"] === true);
      const refused = attrs.filter((a) => a["ratelimit.allowed"] === false);
      expect(allowed).toHaveLength(3);
      expect(refused).toEqual([
        {
          "ratelimit.allowed": false,
          "ratelimit.policy": "2/1m",
          "ratelimit.remaining": 0,
          "ratelimit.rule": "api",
          "ratelimit.reason": "limited",
        },
      ]);
      expect(allowed.map((a) => a["ratelimit.remaining"]).sort()).toEqual([0, 1, 1]);
      for (const a of allowed) {
        expect(a).toMatchObject({
          "ratelimit.policy": "2/1m",
          "ratelimit.rule": "api",
          "ratelimit.reason": "ok",
        });
      }
    });
  }

  it("through throttlekit/node: a denial and a shadow rule's refusal say so on the span", async () => {
    spans.reset();
    const events = createEvents({ logger: false });
    const otel = otelMetrics({ events, meter: sdkMetrics().meter });
    cleanups.push(() => otel.close());
    const limit = nodeRateLimit({
      events,
      logger: false,
      trustProxy: 1,
      deny: ["203.0.113.66"],
      rules: [{ name: "canary", policies: "1/min", mode: "shadow" }],
    });
    const handle = limit.wrap((_req, res) => res.end("ok"));
    const tracer = trace.getTracer("test-server");
    const server: Server = createServer((req, res) => {
      tracer.startActiveSpan("request", (span) => {
        res.once("close", () => span.end());
        handle(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const from = async (address: string) => {
      const r = await fetch(url, { headers: { "x-forwarded-for": address } });
      await r.arrayBuffer();
      return r.status;
    };
    expect(await from("203.0.113.66")).toBe(403);
    expect(await from("198.51.100.1")).toBe(200);
    expect(await from("198.51.100.1")).toBe(200); // refused on paper only
    const attrs = spans.getFinishedSpans().map((x) => x.attributes);
    expect(attrs).toHaveLength(3);
    expect(attrs[0]).toEqual({
      "ratelimit.allowed": false,
      "ratelimit.policy": "deny-list",
      "ratelimit.remaining": 0,
      "ratelimit.rule": "canary",
      "ratelimit.reason": "denied",
    });
    expect(attrs[1]).toMatchObject({ "ratelimit.allowed": true, "ratelimit.reason": "ok" });
    expect(attrs[1]).not.toHaveProperty("ratelimit.shadow");
    expect(attrs[2]).toEqual({
      "ratelimit.allowed": true,
      "ratelimit.policy": "1/1m",
      "ratelimit.remaining": 0,
      "ratelimit.rule": "canary",
      "ratelimit.reason": "limited",
      "ratelimit.shadow": true,
    });
    expect(JSON.stringify(attrs)).not.toMatch(/198\.51\.100|203\.0\.113/);
  });

  it("sets nothing with spanAttributes: false, and nothing outside a span", async () => {
    spans.reset();
    const events = createEvents();
    const otel = otelMetrics({ events, meter: sdkMetrics().meter, spanAttributes: false });
    cleanups.push(() => otel.close());
    const limiter = createLimiter({ policies: "2/min", events, name: "api" });
    const url = await serve(limiter);
    expect((await fetch(url)).status).toBe(200);
    expect(spans.getFinishedSpans()[0]!.attributes).toEqual({});
    // No active span: the decision goes through, nothing is set anywhere.
    const on = otelMetrics({ events: createEvents(), meter: sdkMetrics().meter });
    cleanups.push(() => on.close());
    expect((await limiter.consume("outside")).allowed).toBe(true);
  });
});
