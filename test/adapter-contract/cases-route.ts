import { describe, expect, it } from "vitest";
import type { CaseKit } from "./contract.js";

/**
 * `scope: "route"` over each framework (issue 19 item 4): where the runner's adapter fills
 * `req.route` (`routeTemplates`), two ids under the route `/items/:id` share one counter and
 * another route counts apart, even under a rule without `path`; where it does not, "route"
 * falls back to the pattern of the rule that matched, and a rule without `path` counts as
 * "rule" does (docs/http.md, "Counting per path or route"). `"path"` separates ids everywhere.
 */
export function routeCases({ setup, statusOf, runner }: CaseKit): void {
  const templates = runner.routeTemplates === true;

  describe(`scope "route" (${templates ? "the framework's route template" : "no route template: the rule's pattern"})`, () => {
    it('"route" on a rule over /items/:id: /items/1 and /items/2 share one counter', async () => {
      const t = await setup({ rules: [{ path: "/items/:id", policies: "1/min", scope: "route" }] });
      expect(await statusOf(t.get("/items/1"))).toBe(200);
      expect(await statusOf(t.get("/items/2"))).toBe(429);
    });

    it('"path" on the same rule counts each id apart', async () => {
      const t = await setup({ rules: [{ path: "/items/:id", policies: "1/min", scope: "path" }] });
      expect(await statusOf(t.get("/items/1"))).toBe(200);
      expect(await statusOf(t.get("/items/2"))).toBe(200);
      expect(await statusOf(t.get("/items/1"))).toBe(429);
      expect(await statusOf(t.get("/items/2"))).toBe(429);
    });

    it('"path": the spellings a framework routes alike share one counter (slashes, case, percent-encoding)', async () => {
      const t = await setup({ rules: [{ policies: "1/min", scope: "path" }] });
      expect(await statusOf(t.get("/items/ab"))).toBe(200);
      for (const spelling of ["/items/ab/", "/items//ab", "/ITEMS/Ab", "/items/%61b"]) {
        expect([spelling, await statusOf(t.get(spelling))]).toEqual([spelling, 429]);
      }
      // Another path is another counter.
      expect(await statusOf(t.get("/items/ac"))).toBe(200);
    });

    it(
      templates
        ? 'top-level "route" (no rule path): one counter per template, /items/:id apart from /status/:code'
        : 'top-level "route" (no rule path): no template, so one counter for every path, as "rule"',
      async () => {
        const t = await setup({ policies: "1/min", scope: "route" });
        expect(await statusOf(t.get("/items/1"))).toBe(200);
        expect(await statusOf(t.get("/items/2"))).toBe(429);
        expect(await statusOf(t.get("/status/200"))).toBe(templates ? 200 : 429);
        expect(await statusOf(t.get("/status/201"))).toBe(429);
      },
    );

    it('a rule over /items/** with "route" never counts per id', async () => {
      const t = await setup({ rules: [{ path: "/items/**", policies: "1/min", scope: "route" }] });
      expect(await statusOf(t.get("/items/1"))).toBe(200);
      expect(await statusOf(t.get("/items/2"))).toBe(429);
      expect(await statusOf(t.get("/items/3"))).toBe(429);
    });
  });
}
