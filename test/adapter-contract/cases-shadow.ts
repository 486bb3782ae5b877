import { describe, expect, it } from "vitest";
import type { DecisionEvent } from "../../src/core/events.js";
import { recorded } from "./cases-events.js";
import type { CaseKit } from "./contract.js";

/**
 * Shadow mode (issue 17, item 6) through each adapter: the same traffic through an enforced
 * rule and a shadow one gives 429s in the first and only 200s in the second, with the same
 * refusals reported (shadow: true), and a shadow rule sends no rate-limit header at all.
 */
export function shadowCases({ setup, statusOf }: CaseKit): void {
  describe("shadow mode", () => {
    it("never changes a status code: enforce answers 429 where shadow answers 200, both report the refusal", async () => {
      const { events, seen } = recorded();
      const t = await setup({
        events,
        rules: [
          { name: "enforced", path: "/e/**", policies: "2/min" },
          { name: "shadowed", path: "/s/**", policies: "2/min", mode: "shadow" },
        ],
        // The catch-all rule's mode.
        policies: "2/min",
        mode: "shadow",
      });
      const run = async (base: string) => {
        const out: number[] = [];
        for (let i = 0; i < 5; i++) out.push(await statusOf(t.get(`${base}${i}`)));
        return out;
      };
      expect(await run("/e/")).toEqual([200, 200, 429, 429, 429]);
      expect(await run("/s/")).toEqual([200, 200, 200, 200, 200]);
      expect(await run("/other/")).toEqual([200, 200, 200, 200, 200]);
      const limited = (rule: string) =>
        seen
          .filter((e): e is DecisionEvent => e.type === "limited" && e.rule === rule)
          .map((e) => e.shadow);
      expect(limited("enforced")).toEqual([false, false, false]);
      expect(limited("shadowed")).toEqual([true, true, true]);
      expect(limited("default")).toEqual([true, true, true]);
      expect(seen.filter((e) => e.type === "decision")).toHaveLength(15);

      const res = await t.get("/s/again");
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      for (const h of ["ratelimit", "ratelimit-policy", "retry-after"])
        expect(res.headers.get(h)).toBeNull();
    });
  });
}
