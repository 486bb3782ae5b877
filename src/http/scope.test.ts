import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { memoryStore } from "../core/memory-store.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";
import type { HttpRule } from "./rules.js";
import { MAX_SCOPE_LENGTH, scopedKey } from "./scope.js";

function req(path: string, route?: string): HttpRequest {
  return {
    method: "GET",
    path,
    ...(route !== undefined ? { route } : {}),
    remoteAddress: "192.0.2.1",
    raw: undefined,
    header: () => undefined,
  };
}

function build(options: HttpLimiterOptions) {
  const clock = manualClock();
  return { clock, limiter: createHttpLimiter({ clock: clock.now, logger: false, ...options }) };
}

async function ok(limiter: { handle(r: HttpRequest): unknown }, r: HttpRequest): Promise<boolean> {
  return ((await limiter.handle(r)) as HttpOutcome).action === "continue";
}

const rule = (scope?: HttpRule["scope"]): HttpRule => ({
  path: ["/a", "/b", "/items/:id"],
  policies: "1/min",
  ...(scope !== undefined ? { scope } : {}),
});

describe("scope", () => {
  it('"rule" (the default) shares one counter over every path the rule matches', async () => {
    const { limiter } = build({ rules: [rule()] });
    expect(await ok(limiter, req("/a"))).toBe(true);
    expect(await ok(limiter, req("/b"))).toBe(false);
  });

  it('"path" counts each concrete path on its own', async () => {
    const { limiter } = build({ rules: [rule("path")] });
    for (const p of ["/a", "/b", "/items/1", "/items/2"])
      expect(await ok(limiter, req(p))).toBe(true);
    for (const p of ["/a", "/b", "/items/1", "/items/2"])
      expect(await ok(limiter, req(p))).toBe(false);
  });

  it('"route" counts per route template: the framework\'s, else the pattern that matched', async () => {
    const { limiter } = build({ rules: [rule("route")] });
    expect(await ok(limiter, req("/items/1"))).toBe(true);
    expect(await ok(limiter, req("/items/2"))).toBe(false);
    expect(await ok(limiter, req("/a"))).toBe(true);
    expect(await ok(limiter, req("/b"))).toBe(true);
    // With the framework's template, requests count under it.
    const fw = build({ policies: "1/min", rules: [{ policies: "1/min", scope: "route" }] }).limiter;
    expect(await ok(fw, req("/items/1", "/items/:id"))).toBe(true);
    expect(await ok(fw, req("/items/2", "/items/:id"))).toBe(false);
    expect(await ok(fw, req("/users/2", "/users/:id"))).toBe(true);
    // A rule without path and a request without route: one counter, as "rule".
    expect(await ok(fw, req("/x"))).toBe(true);
    expect(await ok(fw, req("/y"))).toBe(false);
  });

  it("key management reaches a scoped counter with { path }", async () => {
    const { limiter } = build({ rules: [{ ...rule("path"), name: "p" }], policies: "1/min" });
    await limiter.handle(req("/a"));
    await limiter.handle(req("/b"));
    await limiter.resetKey("192.0.2.1", { path: "/a" });
    expect(await ok(limiter, req("/a"))).toBe(true);
    expect(await ok(limiter, req("/b"))).toBe(false);
    expect((await limiter.getKey("192.0.2.1", { rule: "p", path: "/b" }))?.remaining).toBe(0);
    await expect(limiter.resetKey("192.0.2.1", { rule: "p" })).rejects.toThrow(
      /scope "path"|per path/,
    );
    // Without path, scoped rules are left alone and the others are reached.
    expect(Object.keys(await limiter.getKey("192.0.2.1"))).toEqual(["default"]);
  });

  it("the top-level scope is the catch-all's", async () => {
    const { limiter } = build({ policies: "1/min", scope: "path" });
    expect(await ok(limiter, req("/x"))).toBe(true);
    expect(await ok(limiter, req("/y"))).toBe(true);
    expect(await ok(limiter, req("/x"))).toBe(false);
    expect(() => createHttpLimiter({ policies: "1/s", scope: "all" as never })).toThrow(
      /options\.scope/,
    );
  });

  it("refuses an unknown scope", () => {
    expect(() =>
      createHttpLimiter({ rules: [{ policies: "1/s", scope: "url" as never }] }),
    ).toThrow(ConfigError);
  });
});

describe('attack: a scanner varying the path under scope "path"', () => {
  it("cannot make more counters than the store holds, nor long keys", async () => {
    const store = memoryStore({ maxKeys: 500 });
    const { limiter } = build({ store, rules: [{ policies: "5/min", scope: "path" }] });
    for (let i = 0; i < 3000; i++) {
      await limiter.handle(req(`/scan/${i}/${"x".repeat(i % 3 === 0 ? 5000 : 10)}`));
      expect(store.size).toBeLessThanOrEqual(500);
    }
    const long = scopedKey("k".repeat(1024), `/${"p".repeat(10_000)}`);
    expect(long.length).toBeLessThanOrEqual(1024);
    const hashed = scopedKey("k", `/${"p".repeat(MAX_SCOPE_LENGTH)}`).split("\u0000");
    expect(hashed[0]).toMatch(/^#[0-9a-z]+$/);
    expect(hashed[1]).toBe("k");
  });

  it("cannot spell an identity key that reaches another identity's counter", () => {
    // A NUL in a path (or route) is hashed away, so "<part>\0<key>" splits one way only.
    expect(scopedKey("b", "/a\u0000x")).not.toBe(scopedKey("x\u0000b", "/a"));
    expect(scopedKey("x\u0000b", "/a").startsWith("/a\u0000")).toBe(true);
  });
});
