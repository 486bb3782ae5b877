import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { createLimiter } from "./limiter.js";

describe("the rejection that starts a blockFor penalty tells the block's wait (issue 13 item 5)", () => {
  it("{ limit: 1, window: 1s, blockFor: 5s }: the second request is told 5 s, and 5 s is enough", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: { limit: 1, window: "1s", algorithm: "fixed-window", blockFor: "5s" },
      clock: clock.now,
    });
    expect(limiter.consumeSync("k").allowed).toBe(true);
    const d = limiter.consumeSync("k");
    expect(d).toMatchObject({ allowed: false, reason: "limited", retryAfterMs: 5000 });
    expect(d.resetMs).toBeGreaterThanOrEqual(5000);
    expect(d.policies[0]).toMatchObject({ allowed: false, retryAfterMs: 5000, resetMs: 5000 });
    clock.advance(4999);
    expect(limiter.consumeSync("k")).toMatchObject({ reason: "blocked", retryAfterMs: 1 });
    clock.advance(1);
    expect(limiter.consumeSync("k").allowed).toBe(true);
  });

  it("keeps the policy's own wait when it is longer than the block", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: { limit: 1, window: "1m", algorithm: "fixed-window", blockFor: "5s" },
      clock: clock.now,
    });
    limiter.consumeSync("k");
    clock.advance("10s");
    const d = limiter.consumeSync("k");
    expect(d).toMatchObject({ reason: "limited", retryAfterMs: 50_000, resetMs: 50_000 });
    expect(d.policies[0]).toMatchObject({ retryAfterMs: 50_000 });
  });

  it("composite: the top level waits for the longest; each triggering entry carries its own block", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: [
        { limit: 1, window: "1s", algorithm: "fixed-window", blockFor: "5s", name: "short" },
        { limit: 1, window: "2s", algorithm: "fixed-window", blockFor: "3s", name: "medium" },
        { limit: 100, window: "1m", algorithm: "fixed-window", name: "roomy" },
      ],
      clock: clock.now,
    });
    limiter.consumeSync("k");
    const d = limiter.consumeSync("k");
    expect(d).toMatchObject({ allowed: false, reason: "limited", retryAfterMs: 5000 });
    expect(d.policy.name).toBe("short");
    expect(d.resetMs).toBeGreaterThanOrEqual(d.retryAfterMs);
    expect(d.policies.map((p) => [p.policy.name, p.allowed, p.retryAfterMs])).toEqual([
      ["short", false, 5000],
      ["medium", false, 3000],
      ["roomy", true, 0],
    ]);
    for (const p of d.policies) expect(p.resetMs).toBeGreaterThanOrEqual(p.retryAfterMs);
    clock.advance(4999);
    expect(limiter.consumeSync("k").reason).toBe("blocked");
    clock.advance(1);
    expect(limiter.consumeSync("k").allowed).toBe(true);
  });

  it("a cost that can never fit starts no block and stays cost-exceeds-limit", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: { limit: 2, window: "1s", blockFor: "5s" },
      clock: clock.now,
    });
    const d = limiter.consumeSync("k", { cost: 3 });
    expect(d).toMatchObject({
      reason: "cost-exceeds-limit",
      retryAfterMs: Number.POSITIVE_INFINITY,
    });
    expect(limiter.consumeSync("k").reason).toBe("ok");
  });
});
