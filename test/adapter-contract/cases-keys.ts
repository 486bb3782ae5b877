import { describe, expect, it } from "vitest";
import { createHttpLimiter, type HttpLimiter } from "../../src/http/http-limiter.js";
import type { HttpLimiterOptions } from "../../src/http/options.js";
import type { CaseKit, Harness } from "./contract.js";

/**
 * Key management, limits from the request and per-path counting (issue 19 items 2-4). Key
 * management runs on the limiter the adapter built (the runner's `limiter`), and again on a
 * second HttpLimiter over the case's store, prefix and clock with the same options, as an admin
 * process of the fleet would: counters and blocks live in the store, so its calls reach what
 * the adapter's limiter counts.
 */
export function keyCases({ setup, statusOf }: CaseKit): void {
  /** The key the adapter's default ip() identity gives fetch's requests. */
  const KEY = "127.0.0.1";

  async function withAdmin(
    options: HttpLimiterOptions,
  ): Promise<{ t: Harness; admin: HttpLimiter; done(): Promise<void> }> {
    const t = await setup(options);
    const admin = createHttpLimiter({
      ...options,
      store: t.store,
      prefix: t.prefix,
      clock: t.clock.now,
      logger: false,
    });
    return { t, admin, done: () => admin.close() };
  }

  describe("key management (resetKey, block, unblock)", () => {
    it("resetKey gives a limited client 200 again", async () => {
      const { t, admin, done } = await withAdmin({ policies: "2/min" });
      expect(await statusOf(t.get("/"))).toBe(200);
      expect(await statusOf(t.get("/"))).toBe(200);
      expect(await statusOf(t.get("/"))).toBe(429);
      expect((await admin.getKey(KEY, { rule: "default" }))?.allowed).toBe(false);
      await admin.resetKey(KEY);
      expect(await statusOf(t.get("/"))).toBe(200);
      await done();
    });

    it("block answers 429 with Retry-After; unblock lets the client in again", async () => {
      const { t, admin, done } = await withAdmin({ policies: "100/min" });
      expect(await statusOf(t.get("/"))).toBe(200);
      await admin.block(KEY, "90s");
      const res = await t.get("/");
      await res.arrayBuffer();
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(89);
      expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(90);
      await admin.unblock(KEY);
      expect(await statusOf(t.get("/"))).toBe(200);
      await done();
    });

    it("block with { rule } refuses on that rule only", async () => {
      const rules = [{ path: "/a", name: "a", policies: "9/min" }];
      const { t, admin, done } = await withAdmin({ rules, policies: "9/min" });
      await admin.block(KEY, "1m", { rule: "a" });
      expect(await statusOf(t.get("/a"))).toBe(429);
      expect(await statusOf(t.get("/b"))).toBe(200);
      await done();
    });
  });

  describe("key management on the adapter's own limiter", () => {
    // The limiter the adapter built (Express's limit.limiter, Fastify's app.throttlekit...): what
    // an app holding the middleware calls, with no second limiter beside it.
    it("resetKey gives a limited client 200 again", async () => {
      const t = await setup({ policies: "2/min" });
      expect(await statusOf(t.get("/"))).toBe(200);
      expect(await statusOf(t.get("/"))).toBe(200);
      expect(await statusOf(t.get("/"))).toBe(429);
      await t.limiter.resetKey(KEY);
      const res = await t.get("/");
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      // A fresh window: the request after the reset is the first of two.
      expect(res.headers.get("ratelimit")).toMatch(/;r=1\b/);
    });

    it("block answers 429 with Retry-After; unblock lets the client in again", async () => {
      const t = await setup({ policies: "100/min" });
      expect(await statusOf(t.get("/"))).toBe(200);
      await t.limiter.block(KEY, "1m");
      const res = await t.get("/");
      await res.arrayBuffer();
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("60");
      t.clock.advance("30s");
      const later = await t.get("/");
      await later.arrayBuffer();
      expect(later.status).toBe(429);
      expect(later.headers.get("retry-after")).toBe("30");
      await t.limiter.unblock(KEY);
      expect(await statusOf(t.get("/"))).toBe(200);
    });

    it("getKey reports what the client's requests left, as the headers do", async () => {
      const t = await setup({ policies: "5/min" });
      const peek = () => t.limiter.getKey(KEY, { rule: "default" });
      expect((await peek())?.remaining).toBe(5);
      const res = await t.get("/");
      await res.arrayBuffer();
      expect(res.headers.get("ratelimit")).toMatch(/;r=4\b/);
      expect((await peek())?.remaining).toBe(4);
      // Peeking charges nothing: the next request still sees 3 left after it.
      const next = await t.get("/");
      await next.arrayBuffer();
      expect(next.headers.get("ratelimit")).toMatch(/;r=3\b/);
      const all = await t.limiter.getKey(KEY);
      expect(all.default?.remaining).toBe(3);
      expect(all.default?.allowed).toBe(true);
    });
  });

  describe("limits from the request", () => {
    it("a policy function limits two plans differently", async () => {
      const t = await setup({
        policies: (req) => (req.header("x-plan") === "pro" ? "3/min" : "1/min"),
      });
      const as = (plan: string) => statusOf(t.get("/", { headers: { "x-plan": plan } }));
      expect(await as("free")).toBe(200);
      expect(await as("free")).toBe(429);
      expect(await as("pro")).toBe(200);
      expect(await as("pro")).toBe(200);
      expect(await as("pro")).toBe(200);
      expect(await as("pro")).toBe(429);
    });

    it("a value that is no policy fails the request (never a silent pass)", async () => {
      const t = await setup({ policies: (req) => req.header("x-plan") as never });
      expect(await statusOf(t.get("/", { headers: { "x-plan": "lots" } }))).toBe(500);
    });
  });

  describe("scope", () => {
    const paths = ["/a", "/b"];

    it('"path" counts /a and /b separately under one rule', async () => {
      const t = await setup({ rules: [{ path: paths, policies: "1/min", scope: "path" }] });
      expect(await statusOf(t.get("/a"))).toBe(200);
      expect(await statusOf(t.get("/b"))).toBe(200);
      expect(await statusOf(t.get("/a"))).toBe(429);
      expect(await statusOf(t.get("/b"))).toBe(429);
    });

    it('"rule" (the default) shares one counter between them', async () => {
      const t = await setup({ rules: [{ path: paths, policies: "1/min" }] });
      expect(await statusOf(t.get("/a"))).toBe(200);
      expect(await statusOf(t.get("/b"))).toBe(429);
    });

    it("a long path is counted under a bounded key, not failed", async () => {
      const t = await setup({ policies: "1/min", rules: [{ policies: "1/min", scope: "path" }] });
      const long = `/scan/${"x".repeat(3000)}`;
      expect(await statusOf(t.get(long))).toBe(200);
      expect(await statusOf(t.get(long))).toBe(429);
      expect(await statusOf(t.get(`${long}y`))).toBe(200);
    });
  });
}
