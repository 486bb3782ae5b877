import { parseDictionary, parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import { QUOTA_EXCEEDED_TYPE } from "../../src/http/problem.js";
import { UNLIMITED } from "../../src/http/unlimited.js";
import type { CaseKit } from "./contract.js";

/** Limits, headers and responses: rules, groups, zones, methods, exempt, block, skip. */
export function limitCases({ setup, statusOf }: CaseKit): void {
  describe("allowed requests carry the selected headers", () => {
    const policies = [
      { limit: 5, window: "1m", name: "burst" },
      { limit: 100, window: "1d", name: "daily" },
    ];

    it("draft-10 by default: RFC 9651 Lists, one item per policy", async () => {
      const t = await setup({ policies });
      const res = await t.get();
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
      const policy = res.headers.get("ratelimit-policy")!;
      expect(policy).toBe('"burst";q=5;w=60, "daily";q=100;w=86400');
      const items = parseList(res.headers.get("ratelimit")!);
      expect(items.map(([name]) => name)).toEqual(["burst", "daily"]);
      const [burst, daily] = items as [
        [string, Map<string, unknown>],
        [string, Map<string, unknown>],
      ];
      expect(burst[1].get("r")).toBe(4);
      expect(daily[1].get("r")).toBe(99);
      expect(Number(burst[1].get("t"))).toBeGreaterThanOrEqual(1);
      expect(Number(burst[1].get("t"))).toBeLessThanOrEqual(120);
      expect(res.headers.get("retry-after")).toBeNull();
    });

    it("draft-8: the same named items", async () => {
      const t = await setup({ policies, headers: "draft-8" });
      const res = await t.get();
      expect(parseList(res.headers.get("ratelimit-policy")!)).toHaveLength(2);
      const [first] = parseList(res.headers.get("ratelimit")!) as [[string, Map<string, unknown>]];
      expect(first[0]).toBe("burst");
      expect(first[1].get("r")).toBe(4);
    });

    it("draft-7: a policy list and a RateLimit dictionary for the binding policy", async () => {
      const t = await setup({ policies, headers: "draft-7" });
      const res = await t.get();
      expect(res.headers.get("ratelimit-policy")).toBe("5;w=60, 100;w=86400");
      const dict = parseDictionary(res.headers.get("ratelimit")!);
      expect(dict.get("limit")?.[0]).toBe(5);
      expect(dict.get("remaining")?.[0]).toBe(4);
      expect(typeof dict.get("reset")?.[0]).toBe("number");
    });

    it("draft-6: RateLimit-Limit, -Remaining, -Reset and -Policy", async () => {
      const t = await setup({ policies, headers: "draft-6" });
      const res = await t.get();
      expect(res.headers.get("ratelimit-limit")).toBe("5");
      expect(res.headers.get("ratelimit-remaining")).toBe("4");
      expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThanOrEqual(1);
      expect(res.headers.get("ratelimit-policy")).toBe("5;w=60, 100;w=86400");
    });

    it("legacy: X-RateLimit-* with a Unix-time reset", async () => {
      const t = await setup({ policies, headers: "legacy" });
      const res = await t.get();
      expect(res.headers.get("x-ratelimit-limit")).toBe("5");
      expect(res.headers.get("x-ratelimit-remaining")).toBe("4");
      const reset = Number(res.headers.get("x-ratelimit-reset"));
      expect(reset).toBeGreaterThan(t.clock.now() / 1000);
      expect(reset).toBeLessThanOrEqual(t.clock.now() / 1000 + 120);
      expect(res.headers.get("ratelimit")).toBeNull();
    });

    it("false: no rate-limit headers at all", async () => {
      const t = await setup({ policies, headers: false });
      const res = await t.get();
      expect(res.status).toBe(200);
      for (const h of ["ratelimit", "ratelimit-policy", "x-ratelimit-limit", "ratelimit-limit"]) {
        expect(res.headers.get(h)).toBeNull();
      }
    });
  });

  it("429 with Retry-After, no-store and a quota-exceeded problem body", async () => {
    const t = await setup({ policies: { limit: 2, window: "1m", name: "per-minute" } });
    t.clock.advance(1234); // off whole seconds, so rounding shows
    expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get())).toBe(200);
    const res = await t.get();
    expect(res.status).toBe(429);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    const [item] = parseList(res.headers.get("ratelimit")!) as [[string, Map<string, unknown>]];
    expect(item[1].get("r")).toBe(0);
    // draft-10 §6: Retry-After never points earlier than the t we send.
    expect(Number(item[1].get("t"))).toBeLessThanOrEqual(retryAfter);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: QUOTA_EXCEEDED_TYPE,
      status: 429,
      "violated-policies": ["per-minute"],
      retryAfter,
    });
    expect(typeof body.title).toBe("string");
    // Retry-After is rounded up: a second less is too early, exactly Retry-After is enough.
    t.clock.advance((retryAfter - 1) * 1000);
    expect(await statusOf(t.get())).toBe(429);
    t.clock.advance(1000);
    expect(await statusOf(t.get())).toBe(200);
  });

  it("counts per custom key, and UNLIMITED from an identity is never limited", async () => {
    const t = await setup({
      policies: "1/1m",
      identity: (req) =>
        req.header("x-user") === "robot" ? UNLIMITED : `user:${req.header("x-user")}`,
    });
    const as = (user: string) => statusOf(t.get("/", { headers: { "x-user": user } }));
    expect(await as("a")).toBe(200);
    expect(await as("a")).toBe(429);
    expect(await as("b")).toBe(200);
    for (let i = 0; i < 3; i++) expect(await as("robot")).toBe(200);
  });

  it("groups: an admin group is unlimited, the default group is not", async () => {
    const t = await setup({
      identity: (req) => ({ key: `user:${req.header("x-user")}`, group: req.header("x-group") }),
      policies: { default: "1/1m", groups: { admin: UNLIMITED, free: "2/1m" } },
    });
    const as = (user: string, group?: string) =>
      t.get("/", { headers: { "x-user": user, ...(group ? { "x-group": group } : {}) } });
    for (let i = 0; i < 5; i++) {
      const res = await as("root", "admin");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
      await res.arrayBuffer();
    }
    expect(await statusOf(as("joe"))).toBe(200);
    expect(await statusOf(as("joe"))).toBe(429);
    expect(await statusOf(as("ann", "free"))).toBe(200);
    expect(await statusOf(as("ann", "free"))).toBe(200);
    expect(await statusOf(as("ann", "free"))).toBe(429);
    // An unknown group gets the default policies.
    expect(await statusOf(as("max", "nobody"))).toBe(200);
    expect(await statusOf(as("max", "nobody"))).toBe(429);
  });

  it("a zone shares one pool across paths", async () => {
    const t = await setup({
      rules: [
        { path: "/a", zone: "shared", policies: "2/1m" },
        { path: "/b", zone: "shared", policies: "2/1m" },
      ],
    });
    expect(await statusOf(t.get("/a"))).toBe(200);
    expect(await statusOf(t.get("/b"))).toBe(200);
    expect(await statusOf(t.get("/a"))).toBe(429);
    expect(await statusOf(t.get("/b"))).toBe(429);
  });

  it("without a zone each rule counts on its own; unmatched paths are not limited", async () => {
    const t = await setup({
      rules: [
        { path: "/a", policies: "1/1m" },
        { path: "/users/:id", policies: "1/1m" },
      ],
    });
    expect(await statusOf(t.get("/a"))).toBe(200);
    expect(await statusOf(t.get("/users/1"))).toBe(200);
    expect(await statusOf(t.get("/a"))).toBe(429);
    expect(await statusOf(t.get("/users/2"))).toBe(429);
    const free = await t.get("/elsewhere");
    expect(free.status).toBe(200);
    expect(free.headers.get("ratelimit")).toBeNull();
  });

  it("method rules: first match wins", async () => {
    const t = await setup({
      rules: [
        { path: "/items", methods: "POST", policies: "1/1m" },
        { path: "/items/**", policies: "3/1m" },
      ],
    });
    expect(await statusOf(t.get("/items", { method: "POST" }))).toBe(200);
    expect(await statusOf(t.get("/items", { method: "POST" }))).toBe(429);
    expect(await statusOf(t.get("/items"))).toBe(200);
    expect(await statusOf(t.get("/items/7"))).toBe(200);
    expect(await statusOf(t.get("/items"))).toBe(200);
    expect(await statusOf(t.get("/items"))).toBe(429);
  });

  it("exempt rules are never limited and carry no headers", async () => {
    const t = await setup({ rules: [{ path: "/health", exempt: true }], policies: "1/1m" });
    for (let i = 0; i < 3; i++) {
      const res = await t.get("/health");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
      await res.arrayBuffer();
    }
    expect(await statusOf(t.get("/"))).toBe(200);
    expect(await statusOf(t.get("/"))).toBe(429);
  });

  it("block time outlasts the window", async () => {
    const t = await setup({ rules: [{ path: "/**", policies: "2/1s", blockFor: "10s" }] });
    expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get())).toBe(429);
    t.clock.advance("2s"); // the window is long over; the block is not
    const blocked = await t.get();
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBe(8);
    await blocked.arrayBuffer();
    t.clock.advance("8s");
    expect(await statusOf(t.get())).toBe(200);
  });

  it("skip: skipped requests pass untouched and are not counted", async () => {
    const t = await setup({ policies: "1/1m", skip: (req) => req.header("x-skip") === "1" });
    for (let i = 0; i < 3; i++) {
      const res = await t.get("/", { headers: { "x-skip": "1" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
      await res.arrayBuffer();
    }
    expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get())).toBe(429);
  });

  it("custom onLimited response keeps Retry-After", async () => {
    const t = await setup({
      policies: "1/1m",
      onLimited: ({ retryAfter, key }) => ({
        status: 429,
        headers: { "X-Custom": "yes" },
        body: { message: "slow down", retryAfter, key },
      }),
    });
    await statusOf(t.get());
    const res = await t.get();
    expect(res.status).toBe(429);
    expect(res.headers.get("x-custom")).toBe("yes");
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await res.json()).toMatchObject({ message: "slow down", key: "127.0.0.1" });
  });
}
