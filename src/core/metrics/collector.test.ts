import { describe, expect, it } from "vitest";
import { manualClock } from "../../testing/manual-clock.js";
import type { Decision } from "../decision.js";
import { ConfigError } from "../errors/config-error.js";
import { createEvents, type DecisionEvent, emitDecision } from "../events.js";
import { createLimiter } from "../limiter.js";
import { memoryStore } from "../memory-store.js";
import { createMetrics } from "./collector.js";
import { MAX_PAIRS, OVERFLOW } from "./counts.js";

describe("createMetrics", () => {
  it("counts each outcome per rule and binding policy, with totals and the block rate", async () => {
    const clock = manualClock(1_000_000);
    const events = createEvents();
    const metrics = createMetrics(events, { clock: clock.now });
    const api = createLimiter({
      policies: [
        { limit: 2, window: "1m", name: "burst" },
        { limit: 100, window: "1h" },
      ],
      name: "api",
      events,
      clock: clock.now,
    });
    const login = createLimiter({
      policies: { limit: 1, window: "1m", blockFor: "5m" },
      name: "login",
      events,
      clock: clock.now,
    });
    for (let i = 0; i < 3; i++) await api.consume("u1"); // 2 allowed, 1 limited by "burst"
    await api.consume("u2", { cost: 3 }); // cost-exceeds-limit: limited
    login.consumeSync("ip:1"); // allowed
    login.consumeSync("ip:1"); // limited: the block starts
    login.consumeSync("ip:1"); // blocked
    events.emit("denied", {
      type: "denied",
      time: clock.now(),
      rule: "login",
      key: undefined,
      address: "203.0.113.9",
      reason: "ban",
    });
    const s = metrics.snapshot();
    expect(s.total).toEqual({
      requests: 8,
      allowed: 3,
      limited: 3,
      blocked: 1,
      denied: 1,
      degraded: 0,
      shadowed: 0,
      blockRate: 5 / 8,
    });
    expect(Object.keys(s.rules)).toEqual(["api", "login"]);
    expect(s.rules.api!.policies.burst).toMatchObject({ requests: 4, allowed: 2, limited: 2 });
    expect(s.rules.login!.policies["1/1m"]).toMatchObject({ allowed: 1, limited: 1, blocked: 1 });
    expect(s.rules.login!.policies["deny-list"]).toMatchObject({ requests: 1, denied: 1 });
    expect(s.rules.login).toMatchObject({ requests: 4, blockRate: 0.75 });
    expect(s.recentViolations.map((v) => [v.identifier, v.rule, v.reason])).toEqual([
      ["u1", "api", "limited"],
      ["u2", "api", "cost-exceeds-limit"],
      ["ip:1", "login", "limited"],
      ["ip:1", "login", "blocked"],
    ]);
    expect(s.topOffenders.map((o) => [o.key, o.count])).toEqual([
      ["ip:1", 2],
      ["203.0.113.9", 1],
      ["u1", 1],
      ["u2", 1],
    ]);
    expect(s.since).toBe(1_000_000);
    expect(JSON.parse(JSON.stringify(s)).total.requests).toBe(8);
    await metrics.close();
  });

  it("counts degraded decisions whatever their answer, outages until recovered, and shadowed refusals", () => {
    const events = createEvents();
    const metrics = createMetrics(events);
    const policy = createLimiter({ policies: "1/s" }).policies[0]!;
    const decision = (allowed: boolean, reason: Decision["reason"]): Decision => ({
      allowed,
      limit: 1,
      remaining: 0,
      resetMs: 1000,
      retryAfterMs: allowed ? 0 : 1000,
      reason,
      policy,
      policies: [],
      delayMs: 0,
    });
    events.emit("degraded", storeEvent("degraded"));
    emitDecision(events, 1, "r", "k", 1, decision(true, "degraded"), false, 12);
    emitDecision(events, 1, "r", "k", 1, decision(false, "degraded"), false, 3);
    expect(metrics.snapshot().outages).toEqual({ count: 1, ongoing: true });
    events.emit("recovered", storeEvent("recovered"));
    emitDecision(events, 1, "r", "k", 1, decision(false, "limited"), true, undefined);
    emitDecision(events, 1, "r", "k", 1, decision(true, "exempt"), false, undefined);
    // A Decision saying "denied" is counted from its `denied` event only.
    emitDecision(events, 1, "r", "k", 1, decision(false, "denied"), false, undefined);
    const s = metrics.snapshot();
    expect(s.outages).toEqual({ count: 1, ongoing: false });
    expect(s.total).toMatchObject({
      requests: 4,
      degraded: 2,
      limited: 1,
      shadowed: 1,
      allowed: 1,
    });
    expect(s.storeLatency).toMatchObject({ count: 2, sumMs: 15, maxMs: 12 });
  });

  it("asks emitters for timings while open, and stops listening on close", async () => {
    const events = createEvents();
    const metrics = createMetrics(events);
    expect(events.timing).toBe(true);
    expect(events.active).toBe(true);
    await metrics.close();
    await metrics.close();
    expect(events.timing).toBe(false);
    expect(events.active).toBe(false);
    expect(events.wants("denied")).toBe(false);
  });

  it("keeps the latest violations only, and the snapshot is a fresh copy", () => {
    const limiter = createLimiter({ policies: "1/h", metrics: { recentViolations: 3 } });
    for (let i = 0; i < 10; i++) limiter.consumeSync("k");
    const s = limiter.metrics();
    expect(s.recentViolations).toHaveLength(3);
    expect(s.total.limited).toBe(9);
    (s.recentViolations[0] as { identifier: string }).identifier = "changed";
    expect(limiter.metrics().recentViolations[0]!.identifier).toBe("k");
  });

  it("reset starts from zero", () => {
    const clock = manualClock(5000);
    const limiter = createLimiter({ policies: "1/h", clock: clock.now, metrics: true });
    limiter.consumeSync("a");
    limiter.consumeSync("a");
    clock.advance("1s");
    limiter.resetMetrics();
    const s = limiter.metrics();
    expect(s.total.requests).toBe(0);
    expect(s.rules).toEqual({});
    expect(s.recentViolations).toEqual([]);
    expect(s.topOffenders).toEqual([]);
    expect(s.since).toBe(6000);
    limiter.consumeSync("a");
    expect(limiter.metrics().total).toMatchObject({ requests: 1, limited: 1, blockRate: 1 });
  });

  it("bounds the (rule, policy) pairs: rules named after clients share one overflow pair", () => {
    const events = createEvents();
    const metrics = createMetrics(events);
    const d = createLimiter({ policies: "5/s" }).consumeSync("x");
    for (let i = 0; i < MAX_PAIRS + 500; i++) {
      const e: DecisionEvent = {
        type: "decision",
        time: 0,
        rule: `rule-${i}`,
        key: "k",
        cost: 1,
        decision: d,
        shadow: false,
        durationMs: undefined,
      };
      events.emit("decision", e);
    }
    const s = metrics.snapshot();
    expect(Object.keys(s.rules)).toHaveLength(MAX_PAIRS + 1);
    expect(s.rules[OVERFLOW]!.requests).toBe(500);
    expect(s.total.requests).toBe(MAX_PAIRS + 500);
  });

  it("refuses bad options with one ConfigError naming each", () => {
    try {
      createMetrics(createEvents(), {
        recentViolations: -1,
        topOffenders: 1.5,
        store: memoryStore({ logger: false }) && ({ name: "x" } as never),
        flushEvery: "10ms",
        retention: "forever",
        prefix: "",
        clock: 3 as never,
        nope: 1,
      } as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.map((p) => p.option)).toEqual([
        "metrics.nope",
        "metrics.recentViolations",
        "metrics.topOffenders",
        "metrics.store",
        "metrics.prefix",
        "metrics.flushEvery",
        "metrics.retention",
        "metrics.clock",
      ]);
    }
    expect(() => createMetrics({} as never)).toThrow(ConfigError);
    expect(() => createLimiter({ policies: "1/s", metrics: { topOffenders: -1 } })).toThrow(
      /metrics\.topOffenders/,
    );
  });
});

function storeEvent(type: "degraded" | "recovered") {
  return {
    type,
    time: 0,
    store: "redis",
    mode: "fallback",
    error: type === "degraded" ? "ECONNREFUSED" : undefined,
    outageMs: type === "recovered" ? 10 : undefined,
    degradedDecisions: type === "recovered" ? 2 : undefined,
  } as const;
}
