import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { describe, expect, it } from "vitest";
import { verdictFree } from "../core/decision.js";
import { ConfigError } from "../core/errors/config-error.js";
import { createEvents, type ThrottleEvent, type ThrottleEventType } from "../core/events.js";
import type { Policy } from "../core/policy.js";
import type { Store, StoreBinding } from "../core/store.js";
import type { AbuseDetector, TrafficInfo, TrafficVerdict } from "../protect/types.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import type {
  ContinueOutcome,
  HttpLimiterOptions,
  HttpOutcome,
  RespondOutcome,
} from "./options.js";
import { ABNORMAL_USAGE_DETECTED_TYPE } from "./problem.js";
import type { HttpRequest } from "./request.js";
import { UNLIMITED } from "./unlimited.js";

function req(path = "/", headers: Record<string, string> = {}, address = "192.0.2.1"): HttpRequest {
  return { method: "GET", path, remoteAddress: address, raw: undefined, header: (n) => headers[n] };
}

/** A limiter on a manual clock, with every event it emits recorded in order. */
function watched(options: HttpLimiterOptions) {
  const clock = manualClock();
  const events = createEvents();
  const seen: ThrottleEvent[] = [];
  for (const type of [
    "decision",
    "limited",
    "blocked",
    "denied",
    "violation",
    "autoBlock",
  ] as const)
    events.on(type, (e) => seen.push(e));
  const limiter = createHttpLimiter({ clock: clock.now, events, ...options });
  const types = () => seen.map((e) => e.type);
  return { clock, events, seen, types, limiter };
}

async function handle(limiter: { handle(r: HttpRequest): unknown }, r = req()) {
  return (await limiter.handle(r)) as HttpOutcome;
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

/** A store whose every decision is what fail-closed answers during an outage. */
function failClosedStore(): Store {
  return {
    name: "fail-closed",
    bind(_namespace: string, policies: readonly Policy[]): StoreBinding {
      const refuse = async () => verdictFree(policies, "degraded", false, 1000);
      const fail = () => Promise.reject(new Error("down"));
      return {
        consume: refuse,
        peek: refuse,
        refund: fail,
        reset: fail,
        block: fail,
        unblock: fail,
      };
    },
  };
}

describe("options", () => {
  it("reports bad events, metrics, mode and protect at once", () => {
    const options = {
      policies: "1/s",
      events: {},
      metrics: "yes",
      mode: "dry-run",
      protect: 3,
      rules: [{ path: "/a", policies: "1/s", mode: "off" }],
    } as unknown as HttpLimiterOptions;
    expect(problemsOf(() => createHttpLimiter(options))).toEqual(
      expect.arrayContaining(["events", "metrics", "mode", "protect", "rules[0].mode"]),
    );
  });

  it("protect options name what is wrong under protect, and refuse lists and events", () => {
    const options = {
      policies: "1/s",
      protect: { threshold: -1, lists: {}, events: {} },
    } as unknown as HttpLimiterOptions;
    expect(problemsOf(() => createHttpLimiter(options))).toEqual(
      expect.arrayContaining(["protect.lists", "protect.events"]),
    );
    expect(
      problemsOf(() =>
        createHttpLimiter({ policies: "1/s", protect: { threshold: -1 } } as HttpLimiterOptions),
      ),
    ).toEqual(["protect.threshold"]);
  });

  it("metrics() without the option is a ConfigError naming it", () => {
    const limiter = createHttpLimiter({ policies: "1/s" });
    expect(problemsOf(() => limiter.metrics())).toEqual(["metrics"]);
    expect(problemsOf(() => limiter.resetMetrics())).toEqual(["metrics"]);
  });

  it("on() listens to the limiter's own hub when none is given", async () => {
    const limiter = createHttpLimiter({ policies: "1/min" });
    const rules: string[] = [];
    const off = limiter.on("decision", (e) => rules.push(e.rule));
    await handle(limiter);
    off();
    await handle(limiter);
    expect(rules).toEqual(["default"]);
  });
});

describe("decision events", () => {
  it("one per request, named by the rule, with key, cost and the decision", async () => {
    const { seen, types, limiter } = watched({
      rules: [{ name: "search", path: "/search", policies: "2/min", cost: 2 }],
      policies: "1/min",
    });
    await handle(limiter, req("/search"));
    await handle(limiter);
    expect(types()).toEqual(["decision", "decision"]);
    const [search, other] = seen as [ThrottleEvent & { type: "decision" }, ThrottleEvent];
    expect(search).toMatchObject({
      rule: "search",
      key: "192.0.2.1",
      cost: 2,
      shadow: false,
      durationMs: undefined,
    });
    expect(search.decision.allowed).toBe(true);
    expect(other).toMatchObject({ type: "decision", rule: "default", cost: 1 });
  });

  it("a refusal: decision, limited and ratethrottle's violation", async () => {
    const { seen, types, limiter } = watched({ policies: "1/min" });
    await handle(limiter);
    seen.length = 0;
    const out = await handle(limiter);
    expect(out.action).toBe("respond");
    expect(types()).toEqual(["decision", "limited", "violation"]);
    expect(seen[2]).toMatchObject({
      identifier: "192.0.2.1",
      rule: "default",
      policy: "1/1m",
      requestsMade: 2,
      limit: 1,
      reason: "limited",
      shadow: false,
    });
    const v = seen[2] as { retryAfter: number; retryAfterMs: number };
    expect(v.retryAfter).toBe(Math.ceil(v.retryAfterMs / 1000));
    expect(v.retryAfter).toBeGreaterThan(0);
  });

  it("a penalty box refuses with blocked", async () => {
    const { types, limiter, seen } = watched({
      rules: [{ name: "login", policies: "1/min", blockFor: "15m" }],
    });
    await handle(limiter);
    await handle(limiter);
    seen.length = 0;
    await handle(limiter);
    expect(types()).toEqual(["decision", "blocked", "violation"]);
  });

  it("none for skipped, exempt, unlimited, allowed-listed and unmatched requests", async () => {
    const { seen, limiter } = watched({
      skip: (r) => r.path === "/skip",
      allow: ["192.0.2.9"],
      rules: [
        { path: "/static/**", exempt: true },
        { path: "/free", policies: UNLIMITED },
        { path: "/api/**", policies: "5/min" },
      ],
    });
    await handle(limiter, req("/skip"));
    await handle(limiter, req("/static/a.css"));
    await handle(limiter, req("/free"));
    await handle(limiter, req("/api/x", {}, "192.0.2.9"));
    await handle(limiter, req("/elsewhere"));
    expect(seen).toEqual([]);
  });

  it("durationMs is measured only while someone wants timings", async () => {
    const { seen, events, limiter } = watched({ policies: "5/min" });
    const stop = events.wantTimings();
    await handle(limiter);
    stop();
    await handle(limiter);
    const [timed, plain] = seen as unknown as [{ durationMs: unknown }, { durationMs: unknown }];
    expect(typeof timed.durationMs).toBe("number");
    expect(timed.durationMs as number).toBeGreaterThanOrEqual(0);
    expect(plain.durationMs).toBeUndefined();
  });

  it("a store outage's answer is reported once, as degraded", async () => {
    const { seen, types, limiter } = watched({ policies: "5/min", store: failClosedStore() });
    const out = await handle(limiter);
    expect(out).toMatchObject({ action: "respond", status: 503 });
    expect(types()).toEqual(["decision"]);
    expect((seen[0] as { decision: { reason: string } }).decision.reason).toBe("degraded");
  });

  it("a concurrency refusal reports the slot's decision, once", async () => {
    const { seen, types, limiter } = watched({ policies: "10/min", concurrency: 1 });
    const first = (await handle(limiter)) as ContinueOutcome;
    const second = await handle(limiter);
    expect(second.action).toBe("respond");
    expect(types()).toEqual(["decision", "decision", "limited", "violation"]);
    expect(seen[1]).toMatchObject({ rule: "default", cost: 1 });
    expect((seen[1] as { decision: { policy: { name: string } } }).decision.policy.name).toBe(
      "concurrency",
    );
    first.after?.(200);
  });

  it("identity failures are reported under their own rule", async () => {
    const { seen, limiter } = watched({
      policies: "5/min",
      identity: () => {
        throw new Error("bad token");
      },
      identityFailures: "1/min",
    });
    await handle(limiter);
    await handle(limiter);
    expect(seen.map((e) => [e.type, (e as { rule: string }).rule])).toEqual([
      ["decision", "identity-failures"],
      ["decision", "identity-failures"],
      ["limited", "identity-failures"],
      ["violation", "identity-failures"],
    ]);
  });

  it("diagnostics channels see each request once (the rules' own limiters stay silent)", async () => {
    const limiter = createHttpLimiter({
      rules: [{ name: "api", path: "/api/**", policies: ["5/min", "100/day"] }],
    });
    const rules: string[] = [];
    const listener = (message: unknown) => rules.push((message as { rule: string }).rule);
    subscribe("throttlekit:decision", listener);
    try {
      await handle(limiter, req("/api/a"));
      await handle(limiter, req("/api/b"));
    } finally {
      unsubscribe("throttlekit:decision", listener);
    }
    expect(rules).toEqual(["api", "api"]);
  });
});

describe("denied events", () => {
  it("carry the rule, the key or the address, and the entry's reason", async () => {
    const { seen, types, limiter } = watched({
      policies: "5/min",
      identity: (r) => `user:${r.header("x-user") ?? "anon"}`,
      deny: ["198.51.100.0/24"],
    });
    await limiter.lists.deny("user:anon", { reason: "chargeback" });
    expect(await handle(limiter)).toMatchObject({ action: "respond", status: 403 });
    await handle(limiter, req("/", {}, "198.51.100.7"));
    expect(types()).toEqual(["denied", "denied"]);
    expect(seen[0]).toMatchObject({
      rule: "default",
      key: "user:anon",
      address: "192.0.2.1",
      reason: "chargeback",
    });
    expect(seen[1]).toMatchObject({ key: undefined, address: "198.51.100.7", reason: undefined });
  });

  it("an automatic block (reason abuse:) is a 429 abnormal-usage-detected until it expires", async () => {
    const { clock, limiter } = watched({ policies: "5/min" });
    await limiter.lists.deny("192.0.2.1", { reason: "abuse: scanning", for: "10m" });
    clock.advance(60_000);
    const out = (await handle(limiter)) as RespondOutcome;
    expect(out.status).toBe(429);
    expect(out.headers["Retry-After"]).toBe("540");
    expect(out.headers["Cache-Control"]).toBe("no-store");
    const body = JSON.parse(out.body!);
    expect(body).toMatchObject({
      type: ABNORMAL_USAGE_DETECTED_TYPE,
      status: 429,
      retryAfter: 540,
    });
    expect(out.body).not.toMatch(/scanning/);
    clock.advance(540_000);
    expect((await handle(limiter)).action).toBe("continue");
  });

  it("onDenied learns the reason, the status the default would have, and the wait", async () => {
    const contexts: unknown[] = [];
    const limiter = createHttpLimiter({
      policies: "5/min",
      onDenied: ({ reason, status, retryAfter, key }) => {
        contexts.push({ reason, status, retryAfter, key });
        return { body: "go away" };
      },
    });
    await limiter.lists.deny("192.0.2.1", { reason: "abuse: errors", for: "1h" });
    expect(await handle(limiter)).toMatchObject({
      status: 429,
      headers: { "Retry-After": "3600" },
    });
    await limiter.lists.deny("192.0.2.1", { reason: "manual" });
    expect(await handle(limiter)).toMatchObject({ status: 403 });
    expect(contexts).toEqual([
      { reason: "abuse: errors", status: 429, retryAfter: 3600, key: undefined },
      { reason: "manual", status: 403, retryAfter: undefined, key: undefined },
    ]);
  });
});

describe("shadow mode", () => {
  it("decides and reports refusals but never refuses, and sends no headers", async () => {
    const { seen, types, limiter } = watched({
      rules: [{ name: "new-limit", path: "/api/**", policies: "1/min", mode: "shadow" }],
    });
    const outs = [await handle(limiter, req("/api/a")), await handle(limiter, req("/api/a"))];
    for (const o of outs) expect(o).toMatchObject({ action: "continue", headers: undefined });
    expect(outs[1]!.reason).toBe("limited");
    expect(types()).toEqual(["decision", "decision", "limited", "violation"]);
    expect(seen.map((e) => (e as { shadow: boolean }).shadow)).toEqual([false, true, true, true]);
  });

  it("charges as enforce does: the counters read what enforcing would have left", async () => {
    const clock = manualClock();
    const store = (await import("../core/memory-store.js")).memoryStore();
    const shadow = createHttpLimiter({
      store,
      clock: clock.now,
      policies: "2/min",
      mode: "shadow",
    });
    for (let i = 0; i < 3; i++) expect((await handle(shadow)).action).toBe("continue");
    // The same counters, enforced: the budget is spent.
    const enforce = createHttpLimiter({ store, clock: clock.now, policies: "2/min" });
    expect(await handle(enforce)).toMatchObject({ action: "respond", status: 429 });
  });

  it("never refuses a concurrency overflow nor a fail-closed outage", async () => {
    const c = watched({ policies: "10/min", concurrency: 1, mode: "shadow" });
    const first = (await handle(c.limiter)) as ContinueOutcome;
    const second = (await handle(c.limiter)) as ContinueOutcome;
    expect(second).toMatchObject({ action: "continue", holds: false, headers: undefined });
    expect(c.types()).toEqual(["decision", "decision", "limited", "violation"]);
    expect((c.seen[2] as { shadow: boolean }).shadow).toBe(true);
    first.after?.(200);

    const d = watched({ policies: "5/min", store: failClosedStore(), mode: "shadow" });
    expect((await handle(d.limiter)).action).toBe("continue");
    expect(d.seen[0]).toMatchObject({ type: "decision", shadow: true });
  });

  it("enforce rules beside a shadow rule still refuse", async () => {
    const { limiter } = watched({
      rules: [
        { path: "/a", policies: "1/min", mode: "shadow" },
        { path: "/b", policies: "1/min", mode: "enforce" },
      ],
    });
    await handle(limiter, req("/a"));
    await handle(limiter, req("/b"));
    expect((await handle(limiter, req("/a"))).action).toBe("continue");
    expect(await handle(limiter, req("/b"))).toMatchObject({ action: "respond", status: 429 });
  });
});

/** A detector that records what it is told and blocks nobody. */
function recorder(): AbuseDetector & { calls: [string, string, TrafficInfo | undefined][] } {
  const calls: [string, string, TrafficInfo | undefined][] = [];
  const verdict: TrafficVerdict = {
    requestRate: 0,
    suspicionScore: 0,
    isSuspicious: false,
    reasons: [],
    blocked: false,
  };
  return {
    calls,
    analyze(identifier, endpoint, info) {
      calls.push([identifier, endpoint, info]);
      return verdict;
    },
    isBlocked: () => false,
    size: 0,
    reset() {},
  };
}

describe("protect", () => {
  it("analyzes each request once: refusals at once with 429, the rest with their final status", async () => {
    const detector = recorder();
    const { limiter } = watched({ policies: "1/min", protect: detector });
    expect(limiter.protect).toBe(detector);
    const ok = (await handle(limiter, req("/a", { "user-agent": "curl/8" }))) as ContinueOutcome;
    expect(detector.calls).toEqual([]);
    ok.after!(404);
    ok.after!(404);
    await handle(limiter, req("/b"));
    expect(detector.calls).toEqual([
      ["192.0.2.1", "/a", { userAgent: "curl/8", status: 404 }],
      ["192.0.2.1", "/b", { userAgent: undefined, status: 429 }],
    ]);
  });

  it("keeps the slot release and the refund of an after", async () => {
    const detector = recorder();
    const { limiter } = watched({
      policies: "1/min",
      concurrency: 1,
      countFailed: false,
      protect: detector,
    });
    const first = (await handle(limiter)) as ContinueOutcome;
    expect(first.holds).toBe(true);
    first.after!(500);
    // The slot is back and the failed request refunded: the next one passes.
    expect((await handle(limiter)).action).toBe("continue");
    expect(detector.calls.map((c) => c[2]?.status)).toEqual([500]);
  });

  it("a detector that throws never fails the request; it is reported once", async () => {
    const warnings: string[] = [];
    const detector = {
      ...recorder(),
      analyze(): TrafficVerdict {
        throw new Error("boom");
      },
    };
    const limiter = createHttpLimiter({
      policies: "1/min",
      protect: detector,
      logger: { warn: (m) => warnings.push(m) },
    });
    const out = (await handle(limiter)) as ContinueOutcome;
    out.after!(200);
    expect((await handle(limiter)).action).toBe("respond");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/abuse detector/);
  });

  it("options build a detector on the store's lists: a scanner is answered 429 abnormal-usage-detected", async () => {
    const { clock, limiter, seen } = watched({
      policies: "1000/min",
      protect: { autoBlock: true, window: "10s", blockDuration: "5m" },
    });
    const autoBlocks: ThrottleEventType[] = [];
    limiter.on("autoBlock", (e) => autoBlocks.push(e.type));
    let blockedAt = -1;
    for (let i = 0; i < 200 && blockedAt < 0; i++) {
      clock.advance(50);
      const out = await handle(limiter, req(`/wp-admin/${i}.php`));
      if (out.action === "continue") out.after?.(404);
      else blockedAt = i;
    }
    expect(blockedAt).toBeGreaterThan(0);
    const out = (await handle(limiter, req("/"))) as RespondOutcome;
    expect(out.status).toBe(429);
    expect(JSON.parse(out.body!).type).toBe(ABNORMAL_USAGE_DETECTED_TYPE);
    expect(Number(out.headers["Retry-After"])).toBeGreaterThan(200);
    expect(autoBlocks).toEqual(["autoBlock"]);
    expect(seen.at(-1)).toMatchObject({ type: "denied", reason: expect.stringMatching(/^abuse:/) });
    // An ordinary client of the same limiter is untouched.
    const other = req("/", { "user-agent": "Mozilla/5.0" }, "192.0.2.50");
    for (let i = 0; i < 20; i++) {
      clock.advance(500);
      const o = await handle(limiter, other);
      expect(o.action).toBe("continue");
      if (o.action === "continue") o.after?.(200);
    }
  });
});

describe("metrics", () => {
  it("counts each request once per rule: allowed, limited, denied, shadowed", async () => {
    const clock = manualClock();
    const limiter = createHttpLimiter({
      clock: clock.now,
      metrics: true,
      identity: (r) => `user:${r.header("x-user") ?? "anon"}`,
      deny: ["user:bad"],
      rules: [
        { name: "api", path: "/api/**", policies: "1/min" },
        { name: "beta", path: "/beta/**", policies: "1/min", mode: "shadow" },
      ],
    });
    for (const path of ["/api/a", "/api/a", "/beta/a", "/beta/a"]) await handle(limiter, req(path));
    await handle(limiter, req("/api/a", { "x-user": "bad" }));
    const { total, rules } = limiter.metrics();
    expect(rules.api).toMatchObject({ requests: 3, allowed: 1, limited: 1, denied: 1 });
    expect(rules.beta).toMatchObject({ requests: 2, allowed: 1, limited: 1, shadowed: 1 });
    expect(total.requests).toBe(5);
    limiter.resetMetrics();
    expect(limiter.metrics().total.requests).toBe(0);
    await limiter.close();
  });
});

describe("a rule's ban", () => {
  it("announces its autoBlock on the limiter's hub; the banned client's refusals are blocked events", async () => {
    const { seen, types, limiter } = watched({
      rules: [
        { name: "login", policies: "1/min", ban: { after: 2, within: "10m", duration: "1h" } },
      ],
      logger: false,
    });
    for (let i = 0; i < 4; i++) await handle(limiter);
    expect(seen.filter((e) => e.type === "autoBlock")).toEqual([
      expect.objectContaining({ identifier: "192.0.2.1", by: "ban" }),
    ]);
    expect(types().at(-2)).toBe("blocked");
  });
});
