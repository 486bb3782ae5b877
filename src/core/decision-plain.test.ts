import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import type { Decision } from "./decision.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";

const FIELDS = [
  "allowed",
  "limit",
  "remaining",
  "resetMs",
  "retryAfterMs",
  "reason",
  "policy",
  "policies",
  "delayMs",
];

/** One decision of every reason the memory store produces, for one and for two policies. */
function everyReason(policies: "one" | "two"): Map<string, Decision> {
  const clock = manualClock();
  const store = memoryStore({ maxKeys: 2, logger: false });
  const list =
    policies === "one"
      ? [{ limit: 2, window: "1s", blockFor: "5s" }]
      : [
          { limit: 2, window: "1s", blockFor: "5s" },
          { limit: 10, window: "1m", algorithm: "gcra" as const },
        ];
  const limiter = createLimiter({ policies: list, store, clock: clock.now });
  const out = new Map<string, Decision>();
  out.set("ok", limiter.consumeSync("a"));
  out.set("cost-exceeds-limit", limiter.consumeSync("a", { cost: 3 }));
  limiter.consumeSync("a");
  out.set("limited", limiter.consumeSync("a"));
  out.set("blocked", limiter.consumeSync("a"));
  limiter.consumeSync("b");
  limiter.consumeSync("b");
  limiter.consumeSync("b"); // a second block: the store holds only blocks
  out.set("degraded", limiter.consumeSync("c"));
  return out;
}

describe("a Decision is a plain, complete, spreadable value (issue 13 item 3)", () => {
  for (const policies of ["one", "two"] as const) {
    it(`survives a spread and structuredClone for every reason (${policies} polic${policies === "one" ? "y" : "ies"})`, () => {
      const decisions = everyReason(policies);
      expect([...decisions.keys()]).toEqual([
        "ok",
        "cost-exceeds-limit",
        "limited",
        "blocked",
        "degraded",
      ]);
      for (const [reason, d] of decisions) {
        expect(d.reason).toBe(reason);
        expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
        expect(Object.keys(d)).toEqual(FIELDS); // one shape, one key order
        for (const copy of [{ ...d }, structuredClone(d)]) {
          expect(copy).toEqual(d);
          expect(Array.isArray(copy.policies)).toBe(true);
          expect(copy.policies).toHaveLength(policies === "one" ? 1 : 2);
        }
        // The fallback path's shape: a spread with one field replaced keeps every field.
        const degraded = { ...d, reason: "degraded" as const };
        expect([...degraded.policies].map((p) => p.limit)).toEqual(d.policies.map((p) => p.limit));
      }
    });
  }
});
