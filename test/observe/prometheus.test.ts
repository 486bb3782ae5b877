/**
 * throttlekit/prometheus against a real prom-client Registry: real limiters decide, the
 * registry is scraped (`registry.metrics()`) and the exposition text parsed, as Prometheus
 * would read it.
 */
import { Registry, register } from "prom-client";
import {
  ConfigError,
  createEvents,
  createLimiter,
  type Decision,
  type EventHub,
  emitDecision,
  type Limiter,
} from "throttlekit";
import { prometheusMetrics } from "throttlekit/prometheus";
import { afterEach, describe, expect, it } from "vitest";
import { SAMPLE_EVERY } from "../../src/core/limiter.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type Exposition, parseExposition, sampleValue, series } from "./prometheus-exposition.js";

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const m of opened.splice(0)) m.close();
});

function metrics(...args: Parameters<typeof prometheusMetrics>) {
  const m = prometheusMetrics(...args);
  opened.push(m);
  return m;
}

async function scrape(registry: Registry): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

const REQUESTS = "throttlekit_requests_total";

/** A refused Decision from a real limiter that nobody listens to. */
async function refusal(policies: string): Promise<Decision> {
  const l = createLimiter({ policies, clock: manualClock().now });
  for (;;) {
    const d = await l.consume("k");
    if (!d.allowed) return d;
  }
}

async function hit(l: Limiter, key: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await l.consume(key);
}

describe("prometheusMetrics", () => {
  it("counts requests by rule, binding policy and outcome after real traffic", async () => {
    const events = createEvents();
    const registry = new Registry();
    metrics({ events, registry });
    const clock = manualClock();
    const api = createLimiter({
      policies: ["3/s", "5/min"],
      events,
      name: "api",
      clock: clock.now,
    });
    const login = createLimiter({
      policies: { limit: 2, window: "1m", blockFor: "10m" },
      events,
      name: "login",
      clock: clock.now,
    });
    await hit(api, "alice", 4); // 3 allowed, then 3/s refuses
    clock.advance("2s"); // past the sliding window's previous second too
    await hit(api, "alice", 3); // 2 allowed (5/min is then spent), 1 refused by 5/min
    await hit(login, "bob", 5); // 2 allowed, 1 limited (the block starts), 2 blocked
    await login.block("carol", "1m");
    await hit(login, "carol", 1);

    const e = await scrape(registry);
    expect(e.types.get(REQUESTS)).toBe("counter");
    // The binding policy of an allowed decision is the one with the least remaining.
    expect(sampleValue(e, REQUESTS, { rule: "api", policy: "3/1s", outcome: "allowed" })).toBe(3);
    expect(sampleValue(e, REQUESTS, { rule: "api", policy: "5/1m", outcome: "allowed" })).toBe(2);
    expect(sampleValue(e, REQUESTS, { rule: "api", policy: "3/1s", outcome: "limited" })).toBe(1);
    expect(sampleValue(e, REQUESTS, { rule: "api", policy: "5/1m", outcome: "limited" })).toBe(1);
    expect(sampleValue(e, REQUESTS, { rule: "login", policy: "2/1m", outcome: "allowed" })).toBe(2);
    expect(sampleValue(e, REQUESTS, { rule: "login", policy: "2/1m", outcome: "limited" })).toBe(1);
    expect(sampleValue(e, REQUESTS, { rule: "login", policy: "2/1m", outcome: "blocked" })).toBe(3);
    const total = series(e, REQUESTS).reduce((a, s) => a + s.value, 0);
    expect(total).toBe(4 + 3 + 5 + 1);
    // Every refusal the client caused is a violation (ratethrottle's), by rule and policy.
    expect(e.types.get("throttlekit_violations_total")).toBe("counter");
    expect(sampleValue(e, "throttlekit_violations_total", { rule: "api", policy: "3/1s" })).toBe(1);
    expect(sampleValue(e, "throttlekit_violations_total", { rule: "api", policy: "5/1m" })).toBe(1);
    expect(sampleValue(e, "throttlekit_violations_total", { rule: "login", policy: "2/1m" })).toBe(
      4,
    );
    expect(series(e, "throttlekit_shadowed_total")).toEqual([]);
  });

  it("counts a refusal a shadow rule let through as limited, as a violation and as shadowed", async () => {
    const events = createEvents();
    const registry = new Registry();
    metrics({ events, registry });
    const refused = await refusal("1/min");
    const allowed = await createLimiter({ policies: "1/min" }).consume("k");
    emitDecision(events, Date.now(), "canary", "k", 1, allowed, false, undefined);
    emitDecision(events, Date.now(), "canary", "k", 1, refused, true, undefined);
    emitDecision(events, Date.now(), "canary", "k", 1, refused, true, undefined);
    const e = await scrape(registry);
    const pair = { rule: "canary", policy: "1/1m" };
    expect(sampleValue(e, REQUESTS, { ...pair, outcome: "allowed" })).toBe(1);
    expect(sampleValue(e, REQUESTS, { ...pair, outcome: "limited" })).toBe(2);
    expect(sampleValue(e, "throttlekit_shadowed_total", pair)).toBe(2);
    expect(sampleValue(e, "throttlekit_violations_total", pair)).toBe(2);
  });

  it("counts denials under policy deny-list, store outages with a degraded gauge, auto-blocks by cause", async () => {
    const events = createEvents();
    const registry = new Registry();
    metrics({ events, registry });
    const time = Date.now();
    for (const address of ["203.0.113.1", "203.0.113.2"]) {
      events.emit("denied", {
        type: "denied",
        time,
        rule: "api",
        key: undefined,
        address,
        reason: "abuse: scanning",
      });
    }
    const outage = {
      time,
      store: "redis",
      mode: "fail-open",
      error: undefined,
      outageMs: undefined,
      degradedDecisions: undefined,
    };
    events.emit("degraded", { ...outage, type: "degraded", error: "ECONNREFUSED" });
    let e = await scrape(registry);
    expect(sampleValue(e, REQUESTS, { rule: "api", policy: "deny-list", outcome: "denied" })).toBe(
      2,
    );
    expect(e.types.get("throttlekit_store_degraded")).toBe("gauge");
    expect(sampleValue(e, "throttlekit_store_degraded", { store: "redis" })).toBe(1);
    expect(sampleValue(e, "throttlekit_store_outages_total", { store: "redis" })).toBe(1);

    events.emit("recovered", { ...outage, type: "recovered", outageMs: 1200 });
    events.emit("degraded", { ...outage, type: "degraded", error: "timeout" });
    events.emit("recovered", { ...outage, type: "recovered", outageMs: 300 });
    for (const by of ["abuse", "abuse", "ban"] as const) {
      events.emit("autoBlock", {
        type: "autoBlock",
        time,
        identifier: "203.0.113.9",
        by,
        reasons: ["rate"],
        score: 1,
        durationMs: 60_000,
        until: time + 60_000,
      });
    }
    e = await scrape(registry);
    expect(sampleValue(e, "throttlekit_store_degraded", { store: "redis" })).toBe(0);
    expect(sampleValue(e, "throttlekit_store_outages_total", { store: "redis" })).toBe(2);
    expect(sampleValue(e, "throttlekit_auto_blocks_total", { by: "abuse" })).toBe(2);
    expect(sampleValue(e, "throttlekit_auto_blocks_total", { by: "ban" })).toBe(1);
    // No label carries an address or an identifier.
    expect(await registry.metrics()).not.toMatch(/203\.0\.113/);
  });

  it("times decisions in store_duration_seconds (it asks the hub for timings), one in-process decision in SAMPLE_EVERY", async () => {
    const events = createEvents();
    const registry = new Registry();
    expect(events.timing).toBe(false);
    const m = metrics({ events, registry, buckets: [0.001, 0.01, 1] });
    expect(events.timing).toBe(true);
    const l = createLimiter({ policies: "2/min", events, name: "api", clock: manualClock().now });
    await hit(l, "a", 2 * SAMPLE_EVERY);
    l.consumeSync("b");
    const e = await scrape(registry);
    const name = "throttlekit_store_duration_seconds";
    expect(e.types.get(name)).toBe("histogram");
    // Decisions 0, SAMPLE_EVERY and 2 × SAMPLE_EVERY (consumeSync's), async and sync alike.
    expect(sampleValue(e, `${name}_count`, { rule: "api" })).toBe(3);
    const buckets = series(e, `${name}_bucket`);
    expect(buckets.map((b) => b.labels.le)).toEqual(["0.001", "0.01", "1", "+Inf"]);
    // Cumulative and ending at the count.
    const counts = buckets.map((b) => b.value);
    expect(counts).toEqual([...counts].sort((x, y) => x - y));
    expect(counts.at(-1)).toBe(3);
    expect(sampleValue(e, `${name}_sum`, { rule: "api" })).toBeGreaterThan(0);
    m.close();
    expect(events.timing).toBe(false);
  });

  it("reads like prom-client's own metrics: default labels, JSON, resetMetrics", async () => {
    const events = createEvents();
    const registry = new Registry();
    registry.setDefaultLabels({ app: "shop" });
    metrics({ events, registry, buckets: [0.5, 1] });
    const l = createLimiter({ policies: "1/min", events, name: "api", clock: manualClock().now });
    await hit(l, "a", 2);
    const e = await scrape(registry);
    const name = "throttlekit_store_duration_seconds";
    // One in-process decision in SAMPLE_EVERY is timed: the first of the two.
    expect(sampleValue(e, `${name}_bucket`, { app: "shop", rule: "api", le: "+Inf" })).toBe(1);
    expect(sampleValue(e, REQUESTS, { app: "shop", outcome: "limited" })).toBe(1);
    const json = await registry.getMetricsAsJSON();
    const histogram = json.find((m) => m.name === name)!;
    expect(histogram.type).toBe("histogram");
    expect(histogram.values).toContainEqual(
      expect.objectContaining({ metricName: `${name}_count`, value: 1 }),
    );
    // The exporter owns its totals: a registry reset does not lose them (nor break a scrape).
    registry.resetMetrics();
    const after = await scrape(registry);
    expect(sampleValue(after, `${name}_count`, { rule: "api" })).toBe(1);
    expect(sampleValue(after, REQUESTS, { outcome: "allowed" })).toBe(1);
  });

  it("keeps series bounded: 100,000 distinct clients add no series and no key", async () => {
    const events = createEvents();
    const registry = new Registry();
    metrics({ events, registry });
    const clock = manualClock();
    const rules = ["api", "search"].map((name) =>
      createLimiter({ policies: ["1/s", "1000/day"], events, name, clock: clock.now }),
    );
    const clients = 100_000;
    for (let i = 0; i < clients; i++) {
      const key = `client-${i}`;
      const l = rules[i % 2]!;
      l.consumeSync(key); // allowed
      l.consumeSync(key); // limited by 1/s
    }
    // A few blocked and denied requests too, so every outcome has a series.
    for (const l of rules) {
      await l.block("client-0", "1m");
      l.consumeSync("client-0");
      events.emit("denied", {
        type: "denied",
        time: clock.now(),
        rule: l.name,
        key: "client-1",
        address: "198.51.100.1",
        reason: undefined,
      });
    }
    const text = await registry.metrics();
    const e = parseExposition(text);
    const policies = 2 + 1; // two policies, and deny-list
    const outcomes = 5;
    const requests = series(e, REQUESTS);
    expect(requests.length).toBeLessThanOrEqual(rules.length * policies * outcomes);
    expect(requests.reduce((a, s) => a + s.value, 0)).toBe(clients * 2 + 2 * 2);
    const keys = new Set(e.samples.flatMap((s) => Object.keys(s.labels)));
    expect([...keys].sort()).toEqual(["le", "outcome", "policy", "rule"]);
    expect(text).not.toMatch(/client-|198\.51\.100/);
    // Every series of every metric, histograms' buckets included, stays a small fixed number.
    expect(e.samples.length).toBeLessThan(100);
  });

  it("keeps at most 1000 (rule, policy) pairs, the rest under _overflow, totals exact", async () => {
    const events = createEvents();
    const registry = new Registry();
    metrics({ events, registry });
    const allowed = createLimiter({ policies: "10/s" }).consumeSync("k");
    // A misuse: a rule named after each client. The series stop growing; nothing is lost.
    for (let i = 0; i < 1500; i++) {
      emitDecision(events, 0, `user-${i}`, "k", 1, allowed, false, 0.01);
    }
    const e = await scrape(registry);
    const requests = series(e, REQUESTS);
    expect(requests).toHaveLength(1001);
    expect(requests.reduce((a, s) => a + s.value, 0)).toBe(1500);
    expect(sampleValue(e, REQUESTS, { rule: "_overflow", policy: "_overflow" })).toBe(500);
    expect(series(e, "throttlekit_store_duration_seconds_count")).toHaveLength(1001);
  });

  it("listens to several hubs, counting each decision once", async () => {
    const a = createEvents();
    const b = createEvents();
    const registry = new Registry();
    metrics({ events: [a, b], registry });
    const clock = manualClock();
    await hit(createLimiter({ policies: "10/s", events: a, name: "a", clock: clock.now }), "k", 2);
    await hit(createLimiter({ policies: "10/s", events: b, name: "b", clock: clock.now }), "k", 3);
    const e = await scrape(registry);
    expect(sampleValue(e, REQUESTS, { rule: "a", outcome: "allowed" })).toBe(2);
    expect(sampleValue(e, REQUESTS, { rule: "b", outcome: "allowed" })).toBe(3);
  });

  it("refuses a second registration in one registry with a ConfigError; close() frees the names", async () => {
    const events = createEvents();
    const registry = new Registry();
    const first = metrics({ events, registry });
    let error: unknown;
    try {
      prometheusMetrics({ events: createEvents(), registry });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(1);
    expect((error as ConfigError).problems[0]!.option).toBe("registry");
    expect((error as ConfigError).message).toMatch(/throttlekit_requests_total.*close\(\)/s);
    // The failed attempt left the first one whole: it still counts and is still scraped.
    const l = createLimiter({ policies: "10/s", events, name: "api", clock: manualClock().now });
    await hit(l, "k", 2);
    expect(sampleValue(await scrape(registry), REQUESTS, { outcome: "allowed" })).toBe(2);
    // Another prefix is another set of names: both live in one registry.
    const other = metrics({ events, registry, prefix: "edge_" });
    await hit(l, "k", 1);
    let e = await scrape(registry);
    expect(sampleValue(e, "edge_requests_total", { outcome: "allowed" })).toBe(1);
    expect(sampleValue(e, REQUESTS, { outcome: "allowed" })).toBe(3);

    first.close();
    other.close();
    e = await scrape(registry);
    expect(e.samples).toEqual([]);
    expect(e.types.size).toBe(0);
    // Names free again: a new exporter registers, counting from zero.
    metrics({ events, registry });
    await hit(l, "k", 1);
    expect(sampleValue(await scrape(registry), REQUESTS, { outcome: "allowed" })).toBe(1);
  });

  it("close() stops listening: the hub goes inactive and limiters skip the events again", () => {
    const events = createEvents();
    const m = prometheusMetrics({ events, registry: new Registry() });
    expect(events.active).toBe(true);
    m.close();
    m.close(); // twice is harmless
    expect(events.active).toBe(false);
    expect(events.timing).toBe(false);
  });

  it("registers in prom-client's global register by default", async () => {
    const events = createEvents();
    const m = metrics({ events });
    expect(m.registry).toBe(register);
    expect(register.getSingleMetric("throttlekit_requests_total")).toBeDefined();
    m.close();
    expect(register.getSingleMetric("throttlekit_requests_total")).toBeUndefined();
  });

  it("lists every bad option in one ConfigError", () => {
    let error: unknown;
    try {
      prometheusMetrics({
        events: [createEvents(), {} as EventHub],
        registry: {} as Registry,
        prefix: "9 lives",
        buckets: [0.1, 0.01],
        labels: ["key"],
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual([
      "buckets",
      "events[1]",
      "labels",
      "prefix",
      "registry",
    ]);
    const hub = createEvents();
    expect(() => prometheusMetrics({ events: [hub, hub] })).toThrow(/events\[1\]/);
    expect(() => prometheusMetrics({ events: [] })).toThrow(ConfigError);
    expect(() => prometheusMetrics(undefined as never)).toThrow(ConfigError);
    // Nothing was registered by the failed attempts.
    expect(register.getSingleMetric("throttlekit_requests_total")).toBeUndefined();
  });
});
