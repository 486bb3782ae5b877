import { describe, expect, it } from "vitest";
import { createConcurrencyLimiter } from "../core/concurrency.js";
import { ConfigError } from "../core/errors/config-error.js";
import { memoryStore } from "../core/memory-store.js";
import type { ConcurrencyAnswer, Store } from "../core/store.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import type {
  ContinueOutcome,
  HttpLimiterOptions,
  HttpOutcome,
  LimitedContext,
} from "./options.js";
import { QUOTA_EXCEEDED_TYPE, TEMPORARY_REDUCED_CAPACITY_TYPE } from "./problem.js";
import type { HttpRequest } from "./request.js";
import { UNLIMITED } from "./unlimited.js";

type Respond = Extract<HttpOutcome, { action: "respond" }>;

function req(user = "ann", path = "/", group?: string): HttpRequest {
  const headers: Record<string, string> = {
    "x-user": user,
    ...(group ? { "x-group": group } : {}),
  };
  return {
    method: "GET",
    path,
    remoteAddress: "192.0.2.1",
    raw: undefined,
    header: (n) => headers[n],
  };
}

const byUser = (r: HttpRequest) => ({
  key: `user:${r.header("x-user")}`,
  group: r.header("x-group"),
});

function build(options: HttpLimiterOptions, store: Store = memoryStore()) {
  const clock = manualClock();
  const limiter = createHttpLimiter({ clock: clock.now, store, identity: byUser, ...options });
  return { clock, store, limiter };
}

/** A memory store that counts the concurrency acquires it answers. */
function countingStore(): Store & { acquires: number } {
  const inner = memoryStore();
  const store = {
    name: "counting",
    acquires: 0,
    bind: inner.bind.bind(inner),
    concurrency(namespace: string) {
      const b = inner.concurrency!(namespace);
      return {
        ...b,
        acquire: (...args: Parameters<typeof b.acquire>) => {
          store.acquires++;
          return b.acquire(...args);
        },
        release: b.release.bind(b),
        renew: b.renew.bind(b),
        inFlight: b.inFlight.bind(b),
      };
    },
  };
  return store;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.option);
    throw error;
  }
  throw new Error("no ConfigError");
}

describe("rule option concurrency", () => {
  it("admits `max` requests of one identity at once; the next gets 429, Retry-After 1", async () => {
    const { limiter } = build({ policies: "100/min", concurrency: 2 });
    const a = (await limiter.handle(req())) as ContinueOutcome;
    const b = (await limiter.handle(req())) as ContinueOutcome;
    expect([a.action, b.action]).toEqual(["continue", "continue"]);
    expect(a.holds).toBe(true);
    const refused = (await limiter.handle(req())) as Respond;
    expect(refused.status).toBe(429);
    expect(refused.reason).toBe("limited");
    expect(refused.headers["Retry-After"]).toBe("1");
    expect(refused.headers["Cache-Control"]).toBe("no-store");
    // No RateLimit fields on a slot refusal: the charge was refunded and t could exceed 1 s.
    expect(refused.headers.RateLimit).toBeUndefined();
    expect(JSON.parse(refused.body!)).toMatchObject({
      type: QUOTA_EXCEEDED_TYPE,
      status: 429,
      "violated-policies": ["concurrency"],
      retryAfter: 1,
    });
    // Another identity has slots of its own.
    expect((await limiter.handle(req("bob"))).action).toBe("continue");
    // A finished response frees its slot.
    a.after!(200);
    await new Promise((r) => setImmediate(r));
    expect((await limiter.handle(req())).action).toBe("continue");
  });

  it("rate first: a request the rate refuses never reaches the concurrency store", async () => {
    const store = countingStore();
    const { limiter } = build({ policies: "2/min", concurrency: 5 }, store);
    for (let i = 0; i < 2; i++) expect((await limiter.handle(req())).action).toBe("continue");
    expect(store.acquires).toBe(2);
    for (let i = 0; i < 5; i++) {
      const r = (await limiter.handle(req())) as Respond;
      expect(r.status).toBe(429);
      expect(r.headers.RateLimit).toMatch(/r=0/); // the rate's own refusal, with its fields
    }
    expect(store.acquires).toBe(2);
  });

  it("a slot refusal refunds the rate charge", async () => {
    const { limiter } = build({ policies: { limit: 10, window: "1m", name: "m" }, concurrency: 1 });
    const first = (await limiter.handle(req())) as ContinueOutcome;
    expect(first.headers!.RateLimit).toMatch(/^"m";r=9;/);
    for (let i = 0; i < 3; i++) expect(((await limiter.handle(req())) as Respond).status).toBe(429);
    first.after!(200);
    await new Promise((r) => setImmediate(r));
    const next = (await limiter.handle(req())) as ContinueOutcome;
    // 10 - 2 charged: the three refused by the slot cost nothing.
    expect(next.headers!.RateLimit).toMatch(/^"m";r=8;/);
  });

  it("onLimited gets the concurrency decision, reason limited, status 429, retryAfter 1", async () => {
    const seen: LimitedContext[] = [];
    const { limiter } = build({
      rules: [{ name: "upload", path: "/up", concurrency: 1 }],
      onLimited: (c) => {
        seen.push(c as LimitedContext);
        return { body: "busy" };
      },
    });
    await limiter.handle(req("ann", "/up"));
    const r = (await limiter.handle(req("ann", "/up"))) as Respond;
    expect(r.status).toBe(429);
    expect(r.body).toBe("busy");
    expect(r.headers["Retry-After"]).toBe("1");
    expect(seen).toHaveLength(1);
    const c = seen[0]!;
    expect(c.reason).toBe("limited");
    expect(c.status).toBe(429);
    expect(c.retryAfter).toBe(1);
    expect(c.rule).toBe("upload");
    expect(c.key).toBe("user:ann");
    expect(c.decision.policy.name).toBe("concurrency");
    expect(c.decision.limit).toBe(1);
  });

  it("concurrency alone (no policies): no rate headers, just the cap", async () => {
    const { limiter } = build({ rules: [{ path: "/slow", concurrency: 1 }] });
    const a = (await limiter.handle(req("ann", "/slow"))) as ContinueOutcome;
    expect(a.action).toBe("continue");
    expect(a.headers).toBeUndefined();
    expect(a.decision?.policy.name).toBe("concurrency");
    expect(((await limiter.handle(req("ann", "/slow"))) as Respond).status).toBe(429);
    expect((await limiter.handle(req("ann", "/other"))).reason).toBe("unmatched");
  });

  it("rules of one zone share the slots; a zone must declare one concurrency", async () => {
    const { limiter } = build({
      rules: [
        { path: "/a", zone: "ab", policies: "100/min", concurrency: 1 },
        { path: "/b", zone: "ab", policies: "100/min", concurrency: 1 },
      ],
    });
    expect((await limiter.handle(req("ann", "/a"))).action).toBe("continue");
    expect(((await limiter.handle(req("ann", "/b"))) as Respond).status).toBe(429);
    expect(
      problemsOf(() =>
        createHttpLimiter({
          rules: [
            { path: "/a", zone: "ab", policies: "1/s", concurrency: 1 },
            { path: "/b", zone: "ab", policies: "1/s", concurrency: 2 },
            { path: "/c", zone: "ab", policies: "1/s" },
          ],
        }),
      ),
    ).toEqual(["rules[1].concurrency", "rules[2].concurrency"]);
  });

  it("the same cap for every group; an UNLIMITED group is not capped", async () => {
    const { limiter } = build({
      rules: [
        {
          policies: { default: "100/min", groups: { pro: "1000/min", admin: UNLIMITED } },
          concurrency: 1,
        },
      ],
    });
    await limiter.handle(req("ann", "/", "pro"));
    expect(((await limiter.handle(req("ann", "/", "pro"))) as Respond).status).toBe(429);
    await limiter.handle(req("bob"));
    expect(((await limiter.handle(req("bob"))) as Respond).status).toBe(429);
    for (let i = 0; i < 3; i++)
      expect((await limiter.handle(req("root", "/", "admin"))).reason).toBe("exempt");
  });

  it("slots live under <prefix>:cc:<pool>, apart from the rate counters", async () => {
    const store = memoryStore();
    const { limiter, clock } = build(
      { prefix: "app", rules: [{ name: "up", path: "/up", policies: "9/min", concurrency: 3 }] },
      store,
    );
    await limiter.handle(req("ann", "/up"));
    await limiter.handle(req("ann", "/up"));
    const view = createConcurrencyLimiter({
      max: 3,
      leaseMs: "30s",
      store,
      prefix: "app:cc:r:up",
      clock: clock.now,
    });
    expect(await view.inFlight("user:ann")).toBe(2);
  });

  it("after() frees the slot once, however often an adapter calls it", async () => {
    const { limiter } = build({ policies: "100/min", concurrency: 2, countFailed: false });
    const a = (await limiter.handle(req())) as ContinueOutcome;
    const b = (await limiter.handle(req())) as ContinueOutcome;
    for (let i = 0; i < 3; i++) a.after!(499); // finish and close, and one more
    await new Promise((r) => setImmediate(r));
    expect((await limiter.handle(req())).action).toBe("continue");
    expect(((await limiter.handle(req())) as Respond).status).toBe(429);
    b.after!(200);
  });

  it("a store that fails closed on leases answers 503 temporary-reduced-capacity", async () => {
    const inner = memoryStore();
    const store: Store = {
      name: "leases-down",
      bind: inner.bind.bind(inner),
      concurrency: () => ({
        acquire: async (): Promise<ConcurrencyAnswer> => ({
          granted: false,
          reason: "degraded",
          id: "",
          expiresAt: 0,
          inFlight: 0,
          retryAfterMs: 2500,
          resetMs: 2500,
        }),
        release: async () => false,
        renew: async () => undefined,
        inFlight: async () => 0,
      }),
    };
    const { limiter } = build({ policies: "100/min", concurrency: 2 }, store);
    const r = (await limiter.handle(req())) as Respond;
    expect(r.status).toBe(503);
    expect(r.reason).toBe("degraded");
    expect(r.headers["Retry-After"]).toBe("3");
    expect(JSON.parse(r.body!).type).toBe(TEMPORARY_REDUCED_CAPACITY_TYPE);
  });

  it("validates concurrency with the other options, in one ConfigError", () => {
    const bad = {
      rules: [
        { path: "/a", concurrency: 0 },
        { path: "/b", concurrency: "5" },
        { path: "/c", concurrency: { max: 2, leaseMs: "soon", extra: 1 } },
        { path: "/d", concurrency: { max: 1.5 } },
        { path: "/e", exempt: true, concurrency: 1 },
        { path: "/f", policies: "1/s", priority: "urgent" },
      ],
    } as unknown as HttpLimiterOptions;
    expect(problemsOf(() => createHttpLimiter(bad))).toEqual([
      "rules[0].concurrency",
      "rules[1].concurrency",
      "rules[2].concurrency.extra",
      "rules[2].concurrency.leaseMs",
      "rules[3].concurrency.max",
      "rules[4].exempt",
      "rules[5].priority",
    ]);
    const noLeases: Store = { name: "no-leases", bind: memoryStore().bind };
    expect(problemsOf(() => createHttpLimiter({ concurrency: 2, store: noLeases }))).toEqual([
      "options.concurrency",
    ]);
  });

  it("leaves `after` undefined when neither concurrency nor refunds nor shed apply", async () => {
    const { limiter } = build({ policies: "100/min" });
    const o = (await limiter.handle(req())) as ContinueOutcome;
    expect(o.after).toBeUndefined();
    expect(o.holds).toBe(false);
    const { limiter: refunds } = build({ policies: "100/min", countFailed: false });
    const r = (await refunds.handle(req())) as ContinueOutcome;
    expect(typeof r.after).toBe("function");
    expect(r.holds).toBe(false);
  });
});
