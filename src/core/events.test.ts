import { channel } from "node:diagnostics_channel";
import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import {
  createEvents,
  type DecisionEvent,
  EVENT_TYPES,
  type ThrottleEvent,
  type ViolationEvent,
} from "./events.js";
import { createLimiter, SAMPLE_EVERY } from "./limiter.js";
import type { Logger } from "./logger.js";

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: { warn: (m) => lines.push(m) }, lines };
}

describe("EventHub", () => {
  it("is inactive until someone listens to a decision's events, and again after they leave", () => {
    const hub = createEvents();
    expect(hub.active).toBe(false);
    const offDenied = hub.on("denied", () => {});
    expect(hub.active).toBe(false); // denials are not a decision's events
    expect(hub.wants("denied")).toBe(true);
    const off = hub.on("violation", () => {});
    expect(hub.active).toBe(true);
    off();
    off(); // removing twice is harmless
    expect(hub.active).toBe(false);
    offDenied();
    expect(hub.wants("denied")).toBe(false);
  });

  it("counts timing requests: emitters measure only while one is held", () => {
    const hub = createEvents();
    expect(hub.timing).toBe(false);
    const a = hub.wantTimings();
    const b = hub.wantTimings();
    a();
    a();
    expect(hub.timing).toBe(true);
    b();
    expect(hub.timing).toBe(false);
  });

  it("refuses unknown event names and listeners that are not functions", () => {
    const hub = createEvents();
    expect(() => hub.on("nope" as "decision", () => {})).toThrow(/unknown event "nope"/);
    expect(() => hub.on("decision", 42 as never)).toThrow(/must be a function/);
  });

  it("a listener that throws is reported once and never stops the others or the caller", async () => {
    const { logger, lines } = recorder();
    const events = createEvents({ logger });
    const seen: string[] = [];
    events.on("decision", () => {
      throw new Error("boom");
    });
    events.on("decision", (e) => seen.push(e.key));
    const limiter = createLimiter({ policies: "1/s", events });
    expect((await limiter.consume("a")).allowed).toBe(true);
    expect(limiter.consumeSync("a").allowed).toBe(false);
    expect(seen).toEqual(["a", "a"]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/WARN_TK_LISTENER_FAILED: a "decision" listener threw \(boom\)/);
  });

  it("a listener added during an emit sees the next event, not the current one", () => {
    const hub = createEvents();
    const calls: string[] = [];
    hub.on("decision", () => {
      calls.push("first");
      hub.on("decision", () => calls.push("late"));
    });
    const limiter = createLimiter({ policies: "5/s", events: hub });
    limiter.consumeSync("k");
    expect(calls).toEqual(["first"]);
    limiter.consumeSync("k");
    expect(calls).toEqual(["first", "first", "late"]);
  });
});

describe("a limiter's events", () => {
  it("fires decision for every consume, limited and violation for refusals, with ratethrottle's payload", async () => {
    const clock = manualClock(1_000_000);
    const limiter = createLimiter({
      policies: { limit: 2, window: "1m", algorithm: "fixed-window", name: "login" },
      clock: clock.now,
      name: "auth",
    });
    const seen: ThrottleEvent[] = [];
    for (const type of EVENT_TYPES) limiter.on(type, (e) => seen.push(e));
    await limiter.consume("user:1");
    limiter.consumeSync("user:1");
    clock.advance(5_000);
    const refused = await limiter.consume("user:1", { cost: 1 });
    expect(refused.allowed).toBe(false);
    expect(seen.map((e) => e.type)).toEqual([
      "decision",
      "decision",
      "decision",
      "limited",
      "violation",
    ]);
    const d = seen[2] as DecisionEvent;
    expect(d).toEqual({
      type: "decision",
      time: 1_005_000,
      rule: "auth",
      key: "user:1",
      cost: 1,
      decision: refused,
      shadow: false,
      durationMs: undefined, // nobody asked for timings
    });
    expect(seen[4] as ViolationEvent).toEqual({
      type: "violation",
      time: 1_005_000,
      identifier: "user:1",
      rule: "auth",
      policy: "login",
      requestsMade: 3,
      limit: 2,
      retryAfter: 55,
      retryAfterMs: 55_000,
      reason: "limited",
      shadow: false,
    });
  });

  it("fires blocked (and a violation) while a blockFor penalty runs", () => {
    const clock = manualClock(0);
    const limiter = createLimiter({
      policies: { limit: 1, window: "1s", blockFor: "10s" },
      clock: clock.now,
    });
    const blocked: DecisionEvent[] = [];
    const violations: ViolationEvent[] = [];
    limiter.on("blocked", (e) => blocked.push(e));
    limiter.on("violation", (e) => violations.push(e));
    limiter.consumeSync("k");
    limiter.consumeSync("k"); // limited: the block starts
    limiter.consumeSync("k"); // blocked
    expect(blocked).toHaveLength(1);
    expect(blocked[0]!.rule).toBe("tk"); // the name defaults to the prefix
    expect(blocked[0]!.durationMs).toBeUndefined(); // nobody asked for timings
    expect(violations.map((v) => [v.reason, v.retryAfter])).toEqual([
      ["limited", 10],
      ["blocked", 10],
    ]);
  });

  it("times store calls on request: one in-process decision in SAMPLE_EVERY, the first included", async () => {
    const limiter = createLimiter({ policies: "1000/s" });
    const timed: (number | undefined)[] = [];
    limiter.on("decision", (e) => timed.push(e.durationMs));
    limiter.consumeSync("k");
    const release = limiter.events.wantTimings();
    for (let i = 0; i < SAMPLE_EVERY; i++) limiter.consumeSync("k");
    await limiter.consume("k"); // async consume decides synchronously on this store: sampled too
    release();
    limiter.consumeSync("k");
    const at = timed.flatMap((ms, i) => (ms === undefined ? [] : [i]));
    // Decision 0: nobody asked. Of those made while timings are wanted (1 to SAMPLE_EVERY + 1,
    // the last the async one), the first and the (SAMPLE_EVERY + 1)th. After release: none.
    expect(at).toEqual([1, 1 + SAMPLE_EVERY]);
    expect(timed[1]).toBeGreaterThanOrEqual(0);
  });

  it("never reports a violation for a cost that can never pass as anything but cost-exceeds-limit", async () => {
    const limiter = createLimiter({ policies: "3/s" });
    const v: ViolationEvent[] = [];
    limiter.on("violation", (e) => v.push(e));
    const d = await limiter.consume("k", { cost: 5 });
    expect(d.reason).toBe("cost-exceeds-limit");
    expect(v[0]!.reason).toBe("cost-exceeds-limit");
    expect(v[0]!.retryAfter).toBe(Number.POSITIVE_INFINITY);
  });

  it("one hub shared by two limiters sees both, each under its own name", () => {
    const events = createEvents();
    const rules: string[] = [];
    events.on("decision", (e) => rules.push(e.rule));
    createLimiter({ policies: "1/s", events, name: "search" }).consumeSync("a");
    createLimiter({ policies: "1/s", events, prefix: "upload" }).consumeSync("a");
    expect(rules).toEqual(["search", "upload"]);
  });

  it("checks the events, name and metrics options", () => {
    const bad = (): unknown =>
      createLimiter({
        policies: "1/s",
        events: {} as never,
        name: "has spaces" as string,
        metrics: "yes" as never,
      });
    expect(bad).toThrow(ConfigError);
    try {
      bad();
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.option)).toEqual([
        "events",
        "name",
        "metrics",
      ]);
    }
    expect(() => createLimiter({ policies: "1/s" }).metrics()).toThrow(/metrics: true/);
  });
});

describe("diagnostics_channel", () => {
  it("publishes throttlekit:<type> to subscribers, with no listener on the hub", () => {
    const limiter = createLimiter({ policies: "1/s" });
    expect(limiter.events.active).toBe(false);
    const got: unknown[] = [];
    const onMessage = (m: unknown): void => {
      got.push(m);
    };
    const ch = channel("throttlekit:limited");
    ch.subscribe(onMessage);
    try {
      expect(limiter.events.active).toBe(true);
      limiter.consumeSync("k");
      const d: Decision = limiter.consumeSync("k");
      expect(got).toHaveLength(1);
      expect((got[0] as DecisionEvent).decision).toBe(d);
    } finally {
      ch.unsubscribe(onMessage);
    }
    expect(limiter.events.active).toBe(false);
  });

  it("publishes reloaded and reloadRejected on their channels without making a hub active", () => {
    const hub = createEvents();
    const got: unknown[] = [];
    const onMessage = (m: unknown): void => {
      got.push(m);
    };
    const channels = [channel("throttlekit:reloaded"), channel("throttlekit:reloadRejected")];
    for (const ch of channels) ch.subscribe(onMessage);
    try {
      // The decision path's one check stays the decision channels': a reload watcher costs it nothing.
      expect(hub.active).toBe(false);
      expect(hub.wants("reloaded")).toBe(true);
      expect(EVENT_TYPES).toContain("reloadRejected");
      hub.emit("reloaded", { type: "reloaded", time: 1, rules: ["a"] });
      const error = new ConfigError([{ option: "rules", received: 1, expected: "an array" }]);
      hub.emit("reloadRejected", { type: "reloadRejected", time: 2, error });
      expect(got).toEqual([
        { type: "reloaded", time: 1, rules: ["a"] },
        { type: "reloadRejected", time: 2, error },
      ]);
    } finally {
      for (const ch of channels) ch.unsubscribe(onMessage);
    }
  });
});
