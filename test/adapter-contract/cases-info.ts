import { describe, expect, it } from "vitest";
import type { RateLimitInfo } from "../../src/adapters/express.js";
import type { CaseKit } from "./contract.js";

/**
 * What a runner's `/info` handler answers: the rate-limit info the adapter handed it, where that
 * framework's handlers look for it (Express's `req.rateLimit`, Koa's `ctx.state.rateLimit`...),
 * as JSON; `null` when it holds none.
 */
export function infoBody(info: RateLimitInfo | undefined): string {
  if (info === undefined) return "null";
  return JSON.stringify({
    limit: info.limit,
    used: info.used,
    remaining: info.remaining,
    resetTime: info.resetTime instanceof Date ? info.resetTime.getTime() : String(info.resetTime),
    key: info.key,
    allowed: info.decision.allowed,
    reason: info.decision.reason,
    decisionRemaining: info.decision.remaining,
  });
}

type Echoed = {
  limit: number;
  used: number;
  remaining: number;
  resetTime: number | string;
  key: string;
  allowed: boolean;
  reason: string;
  decisionRemaining: number;
} | null;

/** The decision where handlers look for it (issue 19, item 1): numbers, key, reset time. */
export function infoCases({ setup }: CaseKit): void {
  describe("the handler sees the decision (req.rateLimit and its kin)", () => {
    async function echo(t: { get(path?: string, init?: RequestInit): Promise<Response> }) {
      const res = await t.get("/info");
      expect(res.status).toBe(200);
      return JSON.parse(await res.text()) as Echoed;
    }

    it("limit, used, remaining, key and a resetTime within the window", async () => {
      const t = await setup({ policies: [{ limit: 5, window: "1m" }, "100/1d"] });
      t.clock.advance(1234);
      for (let i = 1; i <= 3; i++) {
        const info = await echo(t);
        expect(info).toMatchObject({
          limit: 5,
          used: i,
          remaining: 5 - i,
          key: "127.0.0.1",
          allowed: true,
          reason: "ok",
          decisionRemaining: 5 - i,
        });
        expect(typeof info!.resetTime).toBe("number");
        expect(info!.resetTime as number).toBeGreaterThan(t.clock.now());
        // sliding-window (the default) is back to full at most two windows away.
        expect(info!.resetTime as number).toBeLessThanOrEqual(t.clock.now() + 120_000);
      }
    });

    it("a request's cost counts in used", async () => {
      const t = await setup({ rules: [{ path: "/info", policies: "10/1m", cost: 3 }] });
      expect(await echo(t)).toMatchObject({ limit: 10, used: 3, remaining: 7 });
      expect(await echo(t)).toMatchObject({ limit: 10, used: 6, remaining: 4 });
    });

    it("undefined when no rule decided: skipped, exempt, unmatched", async () => {
      const skipped = await setup({ policies: "5/1m", skip: () => true });
      expect(await echo(skipped)).toBeNull();
      const exempt = await setup({ rules: [{ path: "/info", exempt: true }], policies: "5/1m" });
      expect(await echo(exempt)).toBeNull();
      const unmatched = await setup({ rules: [{ path: "/elsewhere", policies: "5/1m" }] });
      expect(await echo(unmatched)).toBeNull();
      const allowed = await setup({ policies: "5/1m", allow: ["127.0.0.1"] });
      expect(await echo(allowed)).toBeNull();
    });

    it("shadow mode: the handler runs and sees the refusal on paper", async () => {
      const t = await setup({ policies: "1/1m", mode: "shadow" });
      expect(await echo(t)).toMatchObject({ allowed: true, used: 1, remaining: 0 });
      expect(await echo(t)).toMatchObject({
        allowed: false,
        reason: "limited",
        used: 1,
        remaining: 0,
      });
    });
  });
}
