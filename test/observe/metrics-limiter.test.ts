/**
 * `createLimiter({ metrics: true })` and `limiter.metrics()` end to end (issue 17, item 2), and
 * ratethrottle's README scenario ("Metrics and Monitoring"): get_metrics' total requests,
 * blocked requests, block rate and recent violations, then reset_metrics.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors/config-error.js";
import { createLimiter } from "../../src/core/limiter.js";
import { manualClock } from "../../src/testing/manual-clock.js";

describe("limiter.metrics()", () => {
  it("ratethrottle's scenario: 150 requests on 100/min, then reset", async () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: { limit: 100, window: "1m", name: "api_default" },
      name: "api",
      clock: clock.now,
      metrics: true,
    });
    for (let i = 0; i < 150; i++) await limiter.consume("192.168.1.100");
    const metrics = limiter.metrics();
    const blocked = metrics.total.limited + metrics.total.blocked + metrics.total.denied;
    expect(metrics.total.requests).toBe(150); // total_requests
    expect(blocked).toBe(50); // blocked_requests
    expect((metrics.total.blockRate * 100).toFixed(2)).toBe("33.33"); // block_rate, in %
    expect(metrics.recentViolations).toHaveLength(50); // recent_violations (a ring of 100)
    expect(metrics.recentViolations[0]).toMatchObject({
      identifier: "192.168.1.100",
      rule: "api",
      policy: "api_default",
      requestsMade: 101,
      limit: 100,
    });
    expect(metrics.recentViolations[0]!.retryAfter).toBeGreaterThan(0);
    expect(metrics.recentViolations[0]!.retryAfter).toBeLessThanOrEqual(60);
    expect(metrics.topOffenders[0]).toEqual({ key: "192.168.1.100", count: 50, error: 0 });
    limiter.resetMetrics(); // reset_metrics
    expect(limiter.metrics().total.requests).toBe(0);
    expect(limiter.metrics().recentViolations).toEqual([]);
  });

  it("counts from consume and consumeSync alike, under each decision's binding policy", async () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: [
        { limit: 1, window: "1s", algorithm: "fixed-window", name: "per-second" },
        { limit: 3, window: "1h", algorithm: "fixed-window", name: "per-hour" },
      ],
      clock: clock.now,
      metrics: { topOffenders: 5 },
    });
    limiter.consumeSync("a"); // allowed
    await limiter.consume("a"); // refused by 1/s
    for (let i = 0; i < 3; i++) {
      clock.advance("1s");
      await limiter.consume("a"); // allowed, allowed, then refused by 3/h
    }
    const m = limiter.metrics();
    expect(m.total).toMatchObject({ requests: 5, allowed: 3, limited: 2 });
    expect(m.rules.tk!.policies["per-second"]!.limited).toBe(1);
    expect(m.rules.tk!.policies["per-hour"]!.limited).toBe(1);
  });

  it("metrics() without the option is a ConfigError that says how to turn it on", () => {
    const limiter = createLimiter({ policies: "1/s" });
    expect(() => limiter.metrics()).toThrow(ConfigError);
    expect(() => limiter.metrics()).toThrow(/metrics: true/);
    expect(() => limiter.resetMetrics()).toThrow(ConfigError);
  });
});
