import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { memoryStore } from "../core/memory-store.js";
import { manualClock } from "../testing/manual-clock.js";
import { POLICY_CACHE_SIZE } from "./dynamic-policies.js";
import { createHttpLimiter } from "./http-limiter.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";
import { UNLIMITED } from "./unlimited.js";

function req(headers: Record<string, string> = {}, address = "192.0.2.1"): HttpRequest {
  return {
    method: "GET",
    path: "/",
    remoteAddress: address,
    raw: undefined,
    header: (n) => headers[n],
  };
}

function build(options: HttpLimiterOptions) {
  const clock = manualClock();
  return { clock, limiter: createHttpLimiter({ clock: clock.now, logger: false, ...options }) };
}

async function admitted(
  limiter: { handle(r: HttpRequest): unknown },
  r: HttpRequest,
): Promise<number> {
  let n = 0;
  for (let i = 0; i < 20; i++) {
    const out = (await limiter.handle(r)) as HttpOutcome;
    if (out.action === "continue") n++;
  }
  return n;
}

const byPlan = (r: HttpRequest) => (r.header("x-plan") === "pro" ? "10/min" : "3/min");

describe("policies as a function of the request", () => {
  it("limits two plans differently, each on its own counter", async () => {
    const { limiter } = build({ policies: byPlan });
    expect(await admitted(limiter, req({ "x-plan": "free" }))).toBe(3);
    // The same identity on another plan counts on the other policy's counter.
    expect(await admitted(limiter, req({ "x-plan": "pro" }))).toBe(10);
  });

  it("runs async functions, receives the identity and its group, and answers UNLIMITED", async () => {
    const seen: unknown[] = [];
    const { limiter } = build({
      identity: (r) => ({ key: `u:${r.header("x-user")}`, group: r.header("x-group") }),
      rules: [
        {
          path: "/**",
          policies: async (_r, id) => {
            seen.push(id);
            return id.group === "admin" ? UNLIMITED : ["2/min", { limit: 50, window: "1d" }];
          },
        },
      ],
    });
    expect(await admitted(limiter, req({ "x-user": "a", "x-group": "admin" }))).toBe(20);
    expect(await admitted(limiter, req({ "x-user": "b" }))).toBe(2);
    expect(seen[0]).toEqual({ key: "u:a", group: "admin" });
    const out = (await limiter.handle(req({ "x-user": "c" }))) as HttpOutcome;
    expect(out.headers?.RateLimit).toMatch(/^"2\/1m";r=1;t=\d+, "50\/1d";r=49;t=\d+$/);
  });

  it("applies the rule's blockFor to computed policies", async () => {
    const { limiter, clock } = build({ rules: [{ policies: () => "1/s", blockFor: "1m" }] });
    expect(await admitted(limiter, req())).toBe(1);
    clock.advance(2000);
    expect(await admitted(limiter, req())).toBe(0);
  });

  it("rejects the request with a ConfigError naming the rule when the value is no policy", async () => {
    const { limiter } = build({
      rules: [{ name: "plans", policies: (r) => r.header("x-plan") as never }],
    });
    const failed = Promise.resolve(limiter.handle(req({ "x-plan": "lots" })));
    await expect(failed).rejects.toBeInstanceOf(ConfigError);
    await expect(failed).rejects.toThrow(/rules\[0\]\.policies\(req\)/);
    await expect(Promise.resolve(limiter.handle(req()))).rejects.toBeInstanceOf(ConfigError);
    const async = build({ policies: async () => ({ limit: -1, window: "1m" }) });
    await expect(Promise.resolve(async.limiter.handle(req()))).rejects.toBeInstanceOf(ConfigError);
  });

  it("zones share one function; a zone mixing a function and policies is a ConfigError", () => {
    const fn = () => "1/s";
    expect(() =>
      createHttpLimiter({
        rules: [
          { path: "/a", zone: "z", policies: fn },
          { path: "/b", zone: "z", policies: fn },
        ],
      }),
    ).not.toThrow();
    expect(() =>
      createHttpLimiter({
        rules: [
          { path: "/a", zone: "z", policies: "1/s" },
          { path: "/b", zone: "z", policies: fn },
        ],
      }),
    ).toThrow(ConfigError);
    expect(() =>
      createHttpLimiter({
        rules: [
          { path: "/a", zone: "z", policies: fn },
          { path: "/b", zone: "z", policies: () => "1/s" },
        ],
      }),
    ).toThrow(ConfigError);
  });

  it("resetKey and block reach the policy sets the function computed", async () => {
    const { limiter } = build({ policies: byPlan });
    expect(await admitted(limiter, req({ "x-plan": "free" }))).toBe(3);
    await limiter.resetKey("192.0.2.1");
    expect(await admitted(limiter, req({ "x-plan": "free" }))).toBe(3);
    await limiter.resetKey("192.0.2.1");
    await limiter.block("192.0.2.1", "1m");
    expect(await admitted(limiter, req({ "x-plan": "free" }))).toBe(0);
    await limiter.unblock("192.0.2.1");
    expect(await admitted(limiter, req({ "x-plan": "free" }))).toBe(3);
  });
});

describe("attack: a policy function fed client input", () => {
  it("cannot grow the compiled-policy cache past its bound", async () => {
    const store = memoryStore();
    const { limiter } = build({
      store,
      // A careless function: the limit comes straight from a header.
      policies: (r) => `${r.header("x-limit")}/min`,
    });
    const engine = (limiter as unknown as { current: { rules: { dynamic?: { size: number } }[] } })
      .current;
    const cache = engine.rules[0]!.dynamic!;
    for (let i = 1; i <= POLICY_CACHE_SIZE * 2 + 10; i++) {
      await limiter.handle(req({ "x-limit": String(i) }));
      expect(cache.size).toBeLessThanOrEqual(POLICY_CACHE_SIZE);
    }
    // Bad values are never cached.
    const before = cache.size;
    for (let i = 0; i < 50; i++)
      await Promise.resolve(limiter.handle(req({ "x-limit": `x${i}` }))).catch(() => {});
    expect(cache.size).toBe(before);
  });
});
