import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { createConcurrencyLimiter } from "./concurrency.js";
import { ConfigError } from "./errors/config-error.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";
import type { Store } from "./store.js";

describe("createConcurrencyLimiter options", () => {
  it("one ConfigError lists every problem", () => {
    let error: unknown;
    try {
      createConcurrencyLimiter({
        max: 0,
        leaseMs: "forever",
        prefix: "",
        clock: 5,
        nope: true,
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual(
      ["clock", "leaseMs", "max", "nope", "prefix"].sort(),
    );
  });

  it("refuses a fractional max and a lease beyond a timer's range", () => {
    expect(() => createConcurrencyLimiter({ max: 2.5, leaseMs: "30d" })).toThrow(
      /max[\s\S]*leaseMs/,
    );
  });

  it("a store without leases is refused at construction", () => {
    const store: Store = { name: "bare", bind: memoryStore().bind.bind(memoryStore()) };
    expect(() => createConcurrencyLimiter({ max: 1, leaseMs: 1000, store })).toThrow(
      /store[\s\S]*concurrency\(namespace\)/,
    );
  });

  it("a bad key or lease rejects with a ConfigError", async () => {
    const limiter = createConcurrencyLimiter({ max: 1, leaseMs: 1000 });
    await expect(limiter.acquire("x".repeat(1025))).rejects.toBeInstanceOf(ConfigError);
    await expect(limiter.release({} as never)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe("concurrency on the memory store", () => {
  it("a key counts as one towards maxKeys, and is forgotten once it holds no lease", async () => {
    const store = memoryStore({ maxKeys: 10 });
    const clock = manualClock();
    const limiter = createConcurrencyLimiter({ max: 5, leaseMs: 1000, store, clock: clock.now });
    const leases = [];
    for (let i = 0; i < 5; i++) leases.push((await limiter.acquire("k")).lease!);
    expect(store.size).toBe(1);
    for (const lease of leases) await limiter.release(lease);
    expect(store.size).toBe(0);
  });

  it("a full store never evicts a key with live leases; it evicts expired ones", async () => {
    const store = memoryStore({ maxKeys: 2, logger: false });
    const clock = manualClock();
    const limiter = createConcurrencyLimiter({ max: 1, leaseMs: 1000, store, clock: clock.now });
    expect((await limiter.acquire("a")).allowed).toBe(true);
    expect((await limiter.acquire("b")).allowed).toBe(true);
    const full = await limiter.acquire("c");
    expect(full.allowed).toBe(false);
    expect(full.decision.reason).toBe("degraded");
    expect(await limiter.inFlight("a")).toBe(1);
    expect(await limiter.inFlight("b")).toBe(1);
    clock.advance(1000);
    expect((await limiter.acquire("c")).allowed).toBe(true);
    expect(store.size).toBe(2);
  });

  it("counters evict before live leases: a key flood cannot free a held slot", async () => {
    const store = memoryStore({ maxKeys: 2, logger: false });
    const clock = manualClock();
    const slots = createConcurrencyLimiter({ max: 1, leaseMs: 60_000, store, clock: clock.now });
    const rate = createLimiter({ policies: "100/min", store, clock: clock.now });
    expect((await slots.acquire("held")).allowed).toBe(true);
    for (let i = 0; i < 50; i++) await rate.consume(`flood${i}`);
    expect(await slots.inFlight("held")).toBe(1);
    expect((await slots.acquire("held")).allowed).toBe(false);
  });

  it("an aborted acquire rejects and leaves no slot held", async () => {
    const limiter = createConcurrencyLimiter({ max: 1, leaseMs: 1000 });
    const controller = new AbortController();
    const pending = limiter.acquire("k", { signal: controller.signal });
    controller.abort(new Error("gone"));
    await expect(pending).rejects.toThrow("gone");
    await new Promise((resolve) => setImmediate(resolve));
    expect(await limiter.inFlight("k")).toBe(0);
    await expect(limiter.acquire("k", { signal: controller.signal })).rejects.toThrow("gone");
  });

  it("a refusal and a grant are plain Decisions with every field", async () => {
    const limiter = createConcurrencyLimiter({ max: 1, leaseMs: 1000, clock: () => 0 });
    const granted = await limiter.acquire("k");
    const refused = await limiter.acquire("k");
    for (const r of [granted, refused]) {
      expect(Object.keys(r.decision)).toEqual([
        "allowed",
        "limit",
        "remaining",
        "resetMs",
        "retryAfterMs",
        "reason",
        "policy",
        "policies",
        "delayMs",
      ]);
      expect(structuredClone(r)).toEqual(r);
    }
    expect(refused.decision).toMatchObject({
      allowed: false,
      reason: "limited",
      retryAfterMs: 1000,
    });
  });
});
