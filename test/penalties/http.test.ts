/**
 * Penalties on HTTP rules through createHttpLimiter, over a real node:http server on 127.0.0.1:
 * an escalating blockFor answers 429 with a growing Retry-After, a ban answers 429 with the
 * ban's Retry-After, and bad penalty options are ConfigErrors naming the rule's field.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeRateLimit } from "../../src/adapters/node.js";
import { ConfigError } from "../../src/core/errors/config-error.js";
import { createHttpLimiter } from "../../src/http/http-limiter.js";
import type { HttpLimiterOptions } from "../../src/http/options.js";
import { manualClock } from "../../src/testing/manual-clock.js";

const clock = manualClock();
let server: Server;
let base = "";

beforeAll(async () => {
  const limit = nodeRateLimit({
    clock: clock.now,
    rules: [
      {
        path: "/login",
        methods: "POST",
        policies: { limit: 1, window: "1m", algorithm: "fixed-window" },
        blockFor: { base: "1m", factor: 2, max: "10m", forgetAfter: "1h" },
      },
      {
        path: "/api",
        policies: { limit: 1, window: "1m", algorithm: "fixed-window" },
        ban: { after: 3, within: "1h", duration: "1d" },
      },
    ],
    logger: false,
  });
  server = createServer(limit.wrap((_req, res) => res.end("ok")));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

async function hit(path: string, method = "GET"): Promise<[number, string | null]> {
  const res = await fetch(`${base}${path}`, { method });
  await res.arrayBuffer();
  return [res.status, res.headers.get("retry-after")];
}

describe("penalties on HTTP rules", () => {
  it("an escalating blockFor answers 429 with a growing Retry-After, capped at max", async () => {
    const answers: [number, string | null][] = [];
    for (let i = 0; i < 6; i++) {
      expect((await hit("/login", "POST"))[0]).toBe(200);
      const refused = await hit("/login", "POST");
      answers.push(refused);
      const seconds = Number(refused[1]);
      clock.advance(seconds * 1000 - 1);
      expect(await hit("/login", "POST")).toEqual([429, "1"]); // still in the box
      clock.advance(1);
    }
    expect(answers).toEqual([
      [429, "60"],
      [429, "120"],
      [429, "240"],
      [429, "480"],
      [429, "600"],
      [429, "600"],
    ]);
    clock.advance("1h"); // forgotten
    expect((await hit("/login", "POST"))[0]).toBe(200);
    expect(await hit("/login", "POST")).toEqual([429, "60"]);
  });

  it("a ban answers its third refusal with the ban's Retry-After, then keeps refusing", async () => {
    expect((await hit("/api"))[0]).toBe(200);
    expect(await hit("/api")).toEqual([429, "60"]);
    expect(await hit("/api")).toEqual([429, "60"]);
    expect(await hit("/api")).toEqual([429, "86400"]);
    clock.advance("2m"); // the policy's window is long over; the ban is not
    expect(await hit("/api")).toEqual([429, String(86_400 - 120)]);
  });
});

describe("penalty options on HTTP rules", () => {
  const problems = (options: HttpLimiterOptions): string[] => {
    try {
      createHttpLimiter(options);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => p.option).sort();
      throw error;
    }
    return [];
  };

  it("names every bad field of blockFor and ban", () => {
    expect(
      problems({
        rules: [
          { path: "/a", policies: "1/s", blockFor: { base: "1m", factor: 0 } },
          { path: "/b", policies: "1/s", ban: { after: 0, within: "1h", duration: "soon" } },
          { path: "/c", policies: "1/s", blockFor: "soon" },
        ],
      } as unknown as HttpLimiterOptions),
    ).toEqual([
      "rules[0].blockFor.factor",
      "rules[1].ban.after",
      "rules[1].ban.duration",
      "rules[2].blockFor",
    ]);
  });

  it("rules sharing a zone must declare the same penalties", () => {
    expect(
      problems({
        rules: [
          {
            path: "/a",
            zone: "z",
            policies: "1/s",
            ban: { after: 3, within: "1h", duration: "1d" },
          },
          {
            path: "/b",
            zone: "z",
            policies: "1/s",
            ban: { after: 4, within: "1h", duration: "1d" },
          },
          { path: "/c", zone: "y", policies: "1/s", blockFor: { base: "1m" } },
          { path: "/d", zone: "y", policies: "1/s", blockFor: { base: "1m", factor: 3 } },
        ],
      }),
    ).toEqual(["rules[1].policies", "rules[3].policies"]);
  });

  it("a policy's own blockFor wins over the rule's; the rule's escalates the others", async () => {
    const limiter = createHttpLimiter({
      clock: manualClock().now,
      rules: [
        {
          path: "/a",
          policies: [
            { limit: 1, window: "1s", algorithm: "fixed-window", blockFor: "5m", name: "own" },
            { limit: 1, window: "1s", algorithm: "gcra", name: "ruled" },
          ],
          blockFor: { base: "1m" },
        },
      ],
    });
    const req = {
      method: "GET",
      path: "/a",
      remoteAddress: "192.0.2.1",
      raw: undefined,
      header: () => undefined,
    };
    await limiter.handle(req);
    const refused = await limiter.handle(req);
    expect(refused.action).toBe("respond");
    const d = refused.action === "respond" ? refused.decision : undefined;
    expect(d?.policies.map((p) => [p.policy.name, p.retryAfterMs])).toEqual([
      ["own", 300_000],
      ["ruled", 60_000],
    ]);
    expect(d?.policies[1]?.policy.escalation).toEqual({
      factor: 2,
      maxMs: 86_400_000,
      forgetAfterMs: 86_400_000,
    });
    expect(d?.policies[0]?.policy.escalation).toBeUndefined();
  });
});
