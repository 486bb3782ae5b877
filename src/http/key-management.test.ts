import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";

function req(path = "/", address = "192.0.2.1", headers: Record<string, string> = {}): HttpRequest {
  return { method: "GET", path, remoteAddress: address, raw: undefined, header: (n) => headers[n] };
}

function build(options: HttpLimiterOptions) {
  const clock = manualClock();
  return { clock, limiter: createHttpLimiter({ clock: clock.now, logger: false, ...options }) };
}

async function status(o: HttpOutcome | Promise<HttpOutcome>): Promise<number> {
  const out = await o;
  return out.action === "continue" ? 200 : (out.status ?? 0);
}

describe("resetKey", () => {
  it("gives a limited client its budget back, in every rule, zones and groups included", async () => {
    const { limiter } = build({
      rules: [
        { path: "/a", zone: "z", policies: "1/min" },
        { path: "/b", zone: "z", policies: "1/min" },
        { path: "/g", name: "g", policies: { default: "1/min", groups: { x: "2/min" } } },
      ],
      policies: "1/min",
    });
    for (const p of ["/a", "/g", "/other"]) expect(await status(limiter.handle(req(p)))).toBe(200);
    for (const p of ["/a", "/b", "/g", "/other"])
      expect(await status(limiter.handle(req(p)))).toBe(429);
    await limiter.resetKey("192.0.2.1");
    for (const p of ["/b", "/g", "/other"]) expect(await status(limiter.handle(req(p)))).toBe(200);
  });

  it("resets one rule by name and leaves the others counted", async () => {
    const { limiter } = build({
      rules: [{ path: "/a", name: "a", policies: "1/min" }],
      policies: "1/min",
    });
    await limiter.handle(req("/a"));
    await limiter.handle(req("/x"));
    await limiter.resetKey("192.0.2.1", { rule: "a" });
    expect(await status(limiter.handle(req("/a")))).toBe(200);
    expect(await status(limiter.handle(req("/x")))).toBe(429);
  });

  it("touches only the key given", async () => {
    const { limiter } = build({ policies: "1/min" });
    await limiter.handle(req("/", "192.0.2.1"));
    await limiter.handle(req("/", "192.0.2.2"));
    await limiter.resetKey("192.0.2.1");
    expect(await status(limiter.handle(req("/", "192.0.2.1")))).toBe(200);
    expect(await status(limiter.handle(req("/", "192.0.2.2")))).toBe(429);
  });

  it("acts on the configuration current after a reload", async () => {
    const { limiter, clock } = build({ policies: "1/min" });
    await limiter.handle(req());
    limiter.reload({ clock: clock.now, logger: false, policies: "1/min", headers: "legacy" });
    expect(await status(limiter.handle(req()))).toBe(429);
    await limiter.resetKey("192.0.2.1");
    expect(await status(limiter.handle(req()))).toBe(200);
  });

  it("refuses an unknown rule, a bad key, unknown options, naming them", async () => {
    const { limiter } = build({ policies: "1/min" });
    await expect(limiter.resetKey("k", { rule: "nope" })).rejects.toThrow(
      /options\.rule.*"default"/s,
    );
    await expect(limiter.resetKey("")).rejects.toBeInstanceOf(ConfigError);
    await expect(limiter.resetKey("k", { typo: 1 } as never)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("keyOf", () => {
  it("answers the key an identity counts a request under (IPv6 by its /56)", async () => {
    const { limiter } = build({ policies: "1/min" });
    expect(await limiter.keyOf(req("/", "192.0.2.9"))).toBe("192.0.2.9");
    const v6 = await limiter.keyOf(req("/", "2001:db8:ab:cd12::1"));
    expect(v6).toBe("2001:db8:ab:cd00::/56");
    await limiter.handle(req("/", "2001:db8:ab:cd12::1"));
    expect(await status(limiter.handle(req("/", "2001:db8:ab:cd99::2")))).toBe(429);
    await limiter.resetKey(v6!);
    expect(await status(limiter.handle(req("/", "2001:db8:ab:cd99::2")))).toBe(200);
  });

  it("uses the identity of the rule the request matches", async () => {
    const { limiter } = build({
      rules: [{ path: "/api/**", identity: (r) => `user:${r.header("x-user")}`, policies: "1/s" }],
      policies: "1/s",
    });
    expect(await limiter.keyOf(req("/api/x", "192.0.2.1", { "x-user": "ann" }))).toBe("user:ann");
    expect(await limiter.keyOf(req("/"))).toBe("192.0.2.1");
  });
});

describe("getKey", () => {
  it("peeks every rule's counters without charging them", async () => {
    const { limiter } = build({
      rules: [{ path: "/a", name: "a", policies: "2/min" }],
      policies: "5/min",
    });
    await limiter.handle(req("/a"));
    const all = await limiter.getKey("192.0.2.1");
    expect(Object.keys(all)).toEqual(["a", "default"]);
    expect(all.a?.remaining).toBe(1);
    expect(all.default?.remaining).toBe(5);
    const again = await limiter.getKey("192.0.2.1", { rule: "a" });
    expect(again?.remaining).toBe(1);
    expect(await status(limiter.handle(req("/a")))).toBe(200);
  });

  it("peeks a group's policies with { group }", async () => {
    const { limiter } = build({
      identity: (r) => ({ key: r.remoteAddress!, group: r.header("x-group") }),
      policies: { default: "1/min", groups: { pro: "3/min" } },
    });
    await limiter.handle(req("/", "192.0.2.1", { "x-group": "pro" }));
    expect((await limiter.getKey("192.0.2.1", { rule: "default", group: "pro" }))?.remaining).toBe(
      2,
    );
    expect((await limiter.getKey("192.0.2.1", { rule: "default" }))?.remaining).toBe(1);
  });
});

describe("block and unblock", () => {
  it("block refuses with Retry-After until the duration ends; unblock lifts it", async () => {
    const { limiter, clock } = build({ policies: "100/min" });
    await limiter.block("192.0.2.1", "30s");
    const out = await limiter.handle(req());
    expect(out.action).toBe("respond");
    if (out.action !== "respond") return;
    expect(out.status).toBe(429);
    expect(out.reason).toBe("blocked");
    expect(out.headers?.["Retry-After"]).toBe("30");
    expect((await limiter.getKey("192.0.2.1", { rule: "default" }))?.reason).toBe("blocked");
    await limiter.unblock("192.0.2.1");
    expect(await status(limiter.handle(req()))).toBe(200);
    await limiter.block("192.0.2.1", "30s");
    clock.advance(30_001);
    expect(await status(limiter.handle(req()))).toBe(200);
  });

  it("blocks in one rule only with { rule }", async () => {
    const { limiter } = build({
      rules: [{ path: "/a", name: "a", policies: "9/min" }],
      policies: "9/min",
    });
    await limiter.block("192.0.2.1", "1m", { rule: "a" });
    expect(await status(limiter.handle(req("/a")))).toBe(429);
    expect(await status(limiter.handle(req("/b")))).toBe(200);
  });

  it("refuses a bad duration", async () => {
    const { limiter } = build({ policies: "9/min" });
    await expect(limiter.block("k", "soon")).rejects.toThrow(/block\(duration\)/);
    await expect(limiter.block("k", 0)).rejects.toBeInstanceOf(ConfigError);
  });

  it("leaves concurrency slots alone (they are no counters)", async () => {
    const { limiter } = build({ concurrency: 1 });
    const first = await limiter.handle(req());
    expect(first.action).toBe("continue");
    await limiter.resetKey("192.0.2.1");
    expect(await status(limiter.handle(req()))).toBe(429);
    if (first.action === "continue") first.after?.(200);
    expect(await status(limiter.handle(req()))).toBe(200);
    await limiter.close();
  });
});
