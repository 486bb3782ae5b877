import { describe, expect, it } from "vitest";
import {
  createEvents,
  type DecisionEvent,
  type EventHub,
  type ThrottleEvent,
} from "../../src/core/events.js";
import { ABNORMAL_USAGE_DETECTED_TYPE } from "../../src/http/problem.js";
import type { CaseKit } from "./contract.js";

const byClient = (req: { header(name: string): string | undefined }) =>
  `client:${req.header("x-client") ?? "anon"}`;

/** A hub with every event it sees recorded, in order. */
export function recorded(): { events: EventHub; seen: ThrottleEvent[] } {
  const events = createEvents();
  const seen: ThrottleEvent[] = [];
  for (const type of [
    "decision",
    "limited",
    "blocked",
    "denied",
    "violation",
    "autoBlock",
  ] as const) {
    events.on(type, (e) => seen.push(e));
  }
  return { events, seen };
}

/**
 * Events (issue 17, item 1) and `protect` (item 4) through each adapter: one decision event per
 * request with the rule, key and shadow flag, refusals' limited and violation, the deny list's
 * denied, and a scanner auto-blocked and answered 429 abnormal-usage-detected.
 */
export function eventCases({ setup, statusOf }: CaseKit): void {
  describe("events", () => {
    it("one decision per request, named by its rule; refusals add limited and violation; denials denied", async () => {
      const { events, seen } = recorded();
      const t = await setup({
        events,
        identity: byClient,
        deny: ["client:bad"],
        rules: [{ name: "api", path: "/api/**", policies: "2/min" }],
        policies: "100/min",
      });
      const as = (client: string, path: string) =>
        statusOf(t.get(path, { headers: { "x-client": client } }));
      expect([
        await as("ann", "/api/a"),
        await as("ann", "/api/b"),
        await as("ann", "/api/c"),
        await as("bob", "/"),
        await as("bad", "/api/a"),
      ]).toEqual([200, 200, 429, 200, 403]);
      expect(seen.map((e) => e.type)).toEqual([
        "decision",
        "decision",
        "decision",
        "limited",
        "violation",
        "decision",
        "denied",
      ]);
      const decisions = seen.filter((e): e is DecisionEvent => e.type === "decision");
      expect(decisions.map((e) => [e.rule, e.key, e.decision.allowed, e.shadow])).toEqual([
        ["api", "client:ann", true, false],
        ["api", "client:ann", true, false],
        ["api", "client:ann", false, false],
        ["default", "client:bob", true, false],
      ]);
      expect(seen[4]).toMatchObject({
        identifier: "client:ann",
        rule: "api",
        policy: "2/1m",
        requestsMade: 3,
        limit: 2,
        reason: "limited",
      });
      expect(seen[6]).toMatchObject({ rule: "api", key: "client:bad", reason: undefined });
    });
  });

  describe("protect", () => {
    it("a scanner of 404 paths is blocked and answered 429 abnormal-usage-detected; an ordinary client is not", async () => {
      const { events, seen } = recorded();
      const t = await setup({
        events,
        identity: byClient,
        policies: "1000/min",
        protect: { autoBlock: true, window: "10s", blockDuration: "5m" },
        logger: false,
      });
      const scan = { headers: { "x-client": "scanner", "user-agent": "zgrab/0.x" } };
      let refused: Response | undefined;
      for (let i = 0; i < 40 && refused === undefined; i++) {
        t.clock.advance(100);
        const res = await t.get(`/status/404/wp-${i}.php`, scan);
        if (res.status === 404) await res.arrayBuffer();
        else refused = res;
      }
      expect(refused?.status).toBe(429);
      const body = JSON.parse(await refused!.text());
      expect(body.type).toBe(ABNORMAL_USAGE_DETECTED_TYPE);
      const retryAfter = Number(refused!.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(300);
      expect(seen.filter((e) => e.type === "autoBlock")).toEqual([
        expect.objectContaining({ identifier: "client:scanner", by: "abuse" }),
      ]);
      expect(seen.at(-1)).toMatchObject({
        type: "denied",
        key: "client:scanner",
        reason: expect.stringMatching(/^abuse:/),
      });

      const browse = { headers: { "x-client": "ann", "user-agent": "Mozilla/5.0" } };
      for (let i = 0; i < 12; i++) {
        t.clock.advance(500);
        expect(await statusOf(t.get(i % 4 === 0 ? "/" : `/docs/${i % 3}`, browse))).toBe(200);
      }
      expect(await statusOf(t.get("/", browse))).toBe(200);
      expect(seen.filter((e) => e.type === "autoBlock")).toHaveLength(1);
    });
  });
}
