import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { createEvents, type ReloadedEvent, type ReloadRejectedEvent } from "../core/events.js";
import { memoryStore } from "../core/memory-store.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter, type HttpLimiter } from "./http-limiter.js";
import type { ContinueOutcome, HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";
import type { HttpRule } from "./rules.js";

type Respond = Extract<HttpOutcome, { action: "respond" }>;

function req(path = "/", user = "ann", method = "GET"): HttpRequest {
  const headers: Record<string, string> = { "x-user": user };
  return { method, path, remoteAddress: "192.0.2.1", raw: undefined, header: (n) => headers[n] };
}

const byUser = (r: HttpRequest) => `user:${r.header("x-user")}`;

function recorder() {
  const lines: string[] = [];
  return { logger: { warn: (m: string) => lines.push(m) }, lines };
}

/** Remaining of the binding policy after one more request to `path`. */
async function remaining(limiter: HttpLimiter, path: string, user = "ann"): Promise<number> {
  const o = await limiter.handle(req(path, user));
  return o.decision?.remaining ?? Number.NaN;
}

async function hit(limiter: HttpLimiter, path: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await limiter.handle(req(path));
}

const A: HttpRule = { name: "a", path: "/a", policies: "10/min" };
const B: HttpRule = { name: "b", path: "/b", policies: "10/min" };

function build(options: Partial<HttpLimiterOptions> = {}) {
  const clock = manualClock();
  const store = memoryStore();
  const events = createEvents();
  const base: HttpLimiterOptions = {
    clock: clock.now,
    store,
    events,
    identity: byUser,
    logger: false,
    rules: [A, B],
    ...options,
  };
  return { clock, store, events, base, limiter: createHttpLimiter(base) };
}

describe("reload: counters", () => {
  it("keeps every rule's counts when the rules are reordered", async () => {
    const { limiter } = build();
    await hit(limiter, "/a", 3);
    await hit(limiter, "/b", 5);
    limiter.reload({ identity: byUser, rules: [B, A] });
    expect(await remaining(limiter, "/a")).toBe(6);
    expect(await remaining(limiter, "/b")).toBe(4);
  });

  it("keeps the counts of unnamed rules when one is inserted before them (names from content)", async () => {
    const unnamed: HttpRule[] = [
      { path: "/a", policies: "10/min" },
      { path: "/b", methods: ["post", "GET"], policies: "10/min" },
    ];
    const { limiter } = build({ rules: unnamed });
    await hit(limiter, "/a", 2);
    const before = (await limiter.handle(req("/b"))) as ContinueOutcome;
    expect(before.decision?.remaining).toBe(9);
    limiter.reload({
      identity: byUser,
      rules: [
        { path: "/new", policies: "1/min" },
        // The same rule, spelled another way: same name, same counters.
        { path: ["/b"], methods: ["GET", "POST"], policies: "10/min" },
        { path: "/a", policies: "10/min" },
      ],
    });
    expect(await remaining(limiter, "/a")).toBe(7);
    expect(await remaining(limiter, "/b")).toBe(8);
  });

  it("starts a rule afresh when its policy changes, and keeps the others", async () => {
    const { limiter } = build();
    await hit(limiter, "/a", 3);
    await hit(limiter, "/b", 3);
    limiter.reload({ identity: byUser, rules: [{ ...A, policies: "20/min" }, B] });
    expect(await remaining(limiter, "/a")).toBe(19);
    expect(await remaining(limiter, "/b")).toBe(6);
  });

  it("starts a renamed rule afresh", async () => {
    const { limiter } = build();
    await hit(limiter, "/a", 3);
    limiter.reload({ identity: byUser, rules: [{ ...A, name: "a2" }, B] });
    expect(await remaining(limiter, "/a")).toBe(9);
    // Back to its old name: its old counters again (state is keyed by name and policy).
    limiter.reload({ identity: byUser, rules: [A, B] });
    expect(await remaining(limiter, "/a")).toBe(6);
  });

  it("keeps a block running through a reload", async () => {
    const { limiter } = build({ rules: [{ ...A, policies: "2/min", blockFor: "10m" }] });
    await hit(limiter, "/a", 3);
    limiter.reload({ identity: byUser, rules: [B, { ...A, policies: "2/min", blockFor: "10m" }] });
    const o = (await limiter.handle(req("/a"))) as Respond;
    expect(o.status).toBe(429);
    expect(o.reason).toBe("blocked");
  });
});

describe("reload: what changes live", () => {
  it("swaps rules, headers and callbacks, and emits reloaded with the rules now in force", async () => {
    const { limiter, events } = build();
    const seen: ReloadedEvent[] = [];
    events.on("reloaded", (e) => seen.push(e));
    limiter.reload({
      identity: byUser,
      headers: false,
      policies: "1/min",
      rules: [B],
      onLimited: () => ({ status: 418, body: "tea" }),
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ type: "reloaded", rules: ["b", "default"] });
    const first = (await limiter.handle(req("/a"))) as ContinueOutcome;
    expect(first.headers).toBeUndefined();
    const second = (await limiter.handle(req("/a"))) as Respond;
    expect(second.status).toBe(418);
  });

  it("applies changed static deny entries and keeps entries added through limiter.lists", async () => {
    const { limiter } = build({ deny: ["user:eve"] });
    await limiter.lists.deny("user:bob");
    expect(((await limiter.handle(req("/a", "eve"))) as Respond).status).toBe(403);
    limiter.reload({ identity: byUser, rules: [A, B], deny: ["user:mal"] });
    expect((await limiter.handle(req("/a", "eve"))).action).toBe("continue");
    expect(((await limiter.handle(req("/a", "mal"))) as Respond).status).toBe(403);
    expect(((await limiter.handle(req("/a", "bob"))) as Respond).status).toBe(403);
  });

  it("keeps the lists index when the lists options are unchanged", () => {
    const { limiter } = build({ deny: ["user:eve"] });
    const lists = limiter.lists;
    limiter.reload({ identity: byUser, rules: [B, A], deny: ["user:eve"] });
    expect(limiter.lists).toBe(lists);
  });

  it("finishes a request in flight on the configuration it started with", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = async (r: HttpRequest) => {
      if (r.header("x-user") === "slow") await gate;
      return "user:ann";
    };
    const { limiter } = build({ identity: slow, rules: [{ ...A, policies: "1/min" }] });
    await limiter.handle(req("/a"));
    const inFlight = limiter.handle(req("/a", "slow"));
    limiter.reload({ identity: slow, rules: [{ ...A, policies: "5/min" }] });
    release();
    // Decided by the old rule (1/min, already spent), not the new one.
    expect(((await inFlight) as Respond).status).toBe(429);
    expect(await remaining(limiter, "/a")).toBe(4);
  });
});

describe("reload: refused", () => {
  it("throws one ConfigError with every problem, emits reloadRejected, logs once, and keeps serving", async () => {
    const { logger, lines } = recorder();
    const { limiter, events, base } = build({ logger });
    await hit(limiter, "/a", 3);
    const rejected: ReloadRejectedEvent[] = [];
    const reloaded: unknown[] = [];
    events.on("reloadRejected", (e) => rejected.push(e));
    events.on("reloaded", (e) => reloaded.push(e));
    let thrown: unknown;
    try {
      limiter.reload(
        {
          ...base,
          rules: [
            { ...A, policies: "ten/min" },
            { ...B, path: 42 as never },
          ],
          headers: "x" as never,
        },
        { source: "limits.yaml" },
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const options = (thrown as ConfigError).problems.map((p) => p.option).sort();
    expect(options).toEqual(["headers", "rules[0].policies", "rules[1].path"]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ type: "reloadRejected", source: "limits.yaml" });
    expect(rejected[0]!.error).toBe(thrown);
    expect(reloaded).toHaveLength(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/WARN_TK_RELOAD_REJECTED.*limits\.yaml.*rules\[0\]\.policies/s);
    // The old configuration answers, its counts intact.
    expect(await remaining(limiter, "/a")).toBe(6);
    // A second bad reload logs again: once per refused reload.
    expect(() => limiter.reload({ ...base, rules: "no" as never })).toThrow(ConfigError);
    expect(lines).toHaveLength(2);
    expect(rejected[1]).not.toHaveProperty("source");
  });

  it("refuses a store, events, prefix or clock change (a restart is needed), and accepts them repeated or left out", async () => {
    const { limiter, store, events, clock, base } = build({
      prefix: "api",
      metrics: { recentViolations: 5 },
    });
    await hit(limiter, "/a", 2);
    let thrown: ConfigError | undefined;
    try {
      limiter.reload({
        ...base,
        store: memoryStore(),
        events: createEvents(),
        prefix: "other",
        clock: () => 0,
        metrics: true,
      });
    } catch (error) {
      thrown = error as ConfigError;
    }
    expect(thrown?.problems.map((p) => p.option).sort()).toEqual([
      "clock",
      "events",
      "metrics",
      "prefix",
      "store",
    ]);
    expect(thrown?.message).toMatch(/store change needs a restart/);
    // Repeated (the same instances, the same data in a new object) or left out: accepted.
    limiter.reload({
      ...base,
      store,
      events,
      prefix: "api",
      clock: clock.now,
      metrics: { recentViolations: 5 },
    });
    limiter.reload({ identity: byUser, rules: [B, A] });
    expect(await remaining(limiter, "/a")).toBe(7);
    expect(limiter.metrics().rules.a?.requests).toBe(3);
  });

  it("refuses a store when the limiter made its own", () => {
    const limiter = createHttpLimiter({ policies: "1/s", logger: false });
    expect(() => limiter.reload({ policies: "2/s", store: memoryStore() })).toThrow(/store/);
    limiter.reload({ policies: "2/s" });
  });

  it("refuses a reload after close", async () => {
    const { limiter, base } = build();
    await limiter.close();
    expect(() => limiter.reload(base)).toThrow(ConfigError);
  });
});

describe("reload: concurrency slots", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a slot held across a reload still counts, and is given back when its request ends", async () => {
    const rule: HttpRule = { name: "up", path: "/up", concurrency: 1 };
    const { limiter } = build({ rules: [rule] });
    const first = (await limiter.handle(req("/up"))) as ContinueOutcome;
    expect(first.holds).toBe(true);
    limiter.reload({ identity: byUser, rules: [B, rule] });
    expect(((await limiter.handle(req("/up"))) as Respond).status).toBe(429);
    first.after!(200);
    const third = (await limiter.handle(req("/up"))) as ContinueOutcome;
    expect(third.action).toBe("continue");
    third.after!(200);
  });

  it("keeps renewing old slots on the old timer until they end, then stops it; close() stops every timer", async () => {
    vi.useFakeTimers();
    const { limiter } = build({
      rules: [{ name: "up", path: "/up", concurrency: { max: 1, leaseMs: "3s" } }],
    });
    const held = (await limiter.handle(req("/up"))) as ContinueOutcome;
    expect(vi.getTimerCount()).toBe(1);
    // Another lease: another renewal interval, so a new timer; the old one drains.
    limiter.reload({
      identity: byUser,
      rules: [{ name: "up", path: "/up", concurrency: { max: 1, leaseMs: "30s" } }],
    });
    expect(vi.getTimerCount()).toBe(1);
    const other = (await limiter.handle(req("/up", "bob"))) as ContinueOutcome;
    expect(vi.getTimerCount()).toBe(2);
    held.after!(200);
    await vi.advanceTimersByTimeAsync(1000);
    expect(vi.getTimerCount()).toBe(1);
    await limiter.close();
    expect(vi.getTimerCount()).toBe(0);
    other.after!(200);
  });
});
