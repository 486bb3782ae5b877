import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { memoryStore } from "../core/memory-store.js";
import type { Store } from "../core/store.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import { jwt } from "./identity/jwt.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";

function req(address: string, token: string): HttpRequest {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  return {
    method: "GET",
    path: "/",
    remoteAddress: address,
    raw: undefined,
    header: (n) => headers[n],
  };
}

type Answer = { status?: number; reason: string; headers?: Record<string, string>; body?: string };

function build(options: Partial<HttpLimiterOptions> = {}) {
  const clock = manualClock();
  const limiter = createHttpLimiter({
    policies: "1000/min",
    identity: jwt({ secret: SECRET }),
    clock: clock.now,
    ...options,
  });
  const call = async (address: string, token: string) =>
    (await limiter.handle(req(address, token))) as HttpOutcome as Answer;
  const good = (sub: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(sub)
      .setIssuedAt(Math.floor(clock.now() / 1000))
      .setExpirationTime(Math.floor(clock.now() / 1000) + 3600)
      .sign(new TextEncoder().encode(SECRET));
  return { clock, limiter, call, good };
}

describe("identityFailures (issue 13, item 11)", () => {
  it("counts bad tokens per address: 401 within the budget, then 429 with Retry-After", async () => {
    const { call, good, clock } = build({ identityFailures: "5/min" });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await call("198.51.100.7", `bad.token.${i}`)).status!);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const over = await call("198.51.100.7", "bad.token.x");
    expect(over.reason).toBe("limited");
    expect(Number(over.headers!["Retry-After"])).toBeGreaterThan(0);
    expect(over.headers!["Cache-Control"]).toBe("no-store");
    expect(JSON.parse(over.body!).type).toMatch(/#quota-exceeded$/);

    // Another address is unaffected, with a good token or a bad one.
    expect((await call("203.0.113.9", await good("alice"))).reason).toBe("ok");
    expect((await call("203.0.113.9", "bad.token.y")).status).toBe(401);
    // A good token from the guessing address still identifies its holder.
    expect((await call("198.51.100.7", await good("bob"))).reason).toBe("ok");
    // The budget refills with time.
    clock.advance("2m");
    expect((await call("198.51.100.7", "bad.token.z")).status).toBe(401);
  });

  it("defaults to 20 failures a minute", async () => {
    const { call } = build();
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await call("198.51.100.7", "bad")).status!);
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
  });

  it("false counts nothing", async () => {
    const { call } = build({ identityFailures: false });
    for (let i = 0; i < 30; i++) expect((await call("198.51.100.7", "bad")).status).toBe(401);
  });

  it("counts in the limiter's store, under its own namespace", async () => {
    const store = memoryStore();
    const namespaces: string[] = [];
    const spy: Store = {
      ...store,
      name: "spy",
      bind(namespace, policies) {
        namespaces.push(namespace);
        return store.bind(namespace, policies);
      },
    };
    const { call } = build({ store: spy, prefix: "app", identityFailures: "1/min" });
    expect((await call("198.51.100.7", "bad")).status).toBe(401);
    expect((await call("198.51.100.7", "bad")).status).toBe(429);
    expect(namespaces).toContain("app:identity-failures");
  });

  it("a store error while counting leaves the 401", async () => {
    const fail = () => Promise.reject(new Error("down"));
    const down: Store = {
      name: "down",
      bind: () => ({
        consume: fail,
        peek: fail,
        refund: fail,
        reset: fail,
        block: fail,
        unblock: fail,
      }),
    };
    const { call } = build({ store: down, identityFailures: "1/min" });
    for (let i = 0; i < 3; i++) expect((await call("198.51.100.7", "bad")).status).toBe(401);
  });

  it("validates the option", () => {
    try {
      build({ identityFailures: "lots" as never });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.map((p) => p.option)).toEqual(["identityFailures"]);
    }
  });
});
