import { describe, expect, it, vi } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { ConfigError } from "./errors/config-error.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";

describe("memoryStore", () => {
  it("rejects bad options with one ConfigError naming each", () => {
    const e = (() => {
      try {
        memoryStore({ maxKeys: 0, whenFull: "drop" as never, maxkeys: 5, logger: true } as never);
      } catch (error) {
        return error as ConfigError;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect(e!.problems.map((p) => p.option)).toEqual([
      "memoryStore.maxkeys",
      "memoryStore.maxKeys",
      "memoryStore.whenFull",
      "memoryStore.logger",
    ]);
  });

  it("forgets keys at rest through the incremental sweep, with no timer", () => {
    const clock = manualClock();
    const store = memoryStore();
    const limiter = createLimiter({ policies: "5/s", store, clock: clock.now });
    for (let i = 0; i < 1000; i++) limiter.consumeSync(`k${i}`);
    expect(store.size).toBe(1000);
    clock.advance("3s"); // at rest after 2 s, reclaimed after one more window
    // Each 64th decision sweeps 32 keys: 2500 decisions on one key visit the whole table.
    for (let i = 0; i < 2500; i++) limiter.consumeSync("busy", { cost: 0 });
    expect(store.size).toBe(0);
  });

  it("never evicts a limited key, however many new keys flood in", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 100 });
    const limiter = createLimiter({ policies: "3/min", store, clock: clock.now });
    for (let i = 0; i < 4; i++) limiter.consumeSync("attacker");
    expect(limiter.consumeSync("attacker").allowed).toBe(false);
    for (let i = 0; i < 10_000; i++) limiter.consumeSync(`flood-${i}`);
    expect(store.size).toBeLessThanOrEqual(100);
    const d = limiter.consumeSync("attacker");
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe("limited");
  });

  it("evicts at-rest keys first, then keys that are not limited, then the limited key that frees soonest", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 3, logger: false });
    const limiter = createLimiter({
      policies: { limit: 2, window: "1m", algorithm: "fixed-window" },
      store,
      clock: clock.now,
    });
    limiter.consumeSync("a"); // 1 of 2 used: not limited
    limiter.consumeSync("b");
    limiter.consumeSync("b"); // limited until t + 60 s
    clock.advance("10s");
    limiter.consumeSync("c");
    limiter.consumeSync("c"); // limited until t + 70 s
    limiter.consumeSync("d"); // full: evicts "a", the only key not limited
    limiter.consumeSync("d"); // now every key held is limited
    expect(store.size).toBe(3);
    expect(limiter.consumeSync("b").reason).toBe("limited");
    expect(limiter.consumeSync("c").reason).toBe("limited");
    // An innocent newcomer is admitted: "b", the offender that frees soonest, is forgotten.
    const a = limiter.consumeSync("a");
    expect(a.reason).toBe("ok");
    expect(store.size).toBe(3);
    expect(limiter.consumeSync("c").reason).toBe("limited");
    expect(limiter.consumeSync("d").reason).toBe("limited");
    expect(limiter.consumeSync("b").reason).toBe("ok"); // b was forgotten (evicting another)
  });

  it("admits new keys into a store full of limited counters (no lockout an attacker can arrange)", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 50, logger: false });
    const limiter = createLimiter({ policies: "1/min", store, clock: clock.now });
    for (let i = 0; i < 50; i++) limiter.consumeSync(`attacker-${i}`);
    for (let i = 0; i < 200; i++) {
      expect(limiter.consumeSync(`newcomer-${i}`).reason).toBe("ok");
    }
    expect(store.size).toBe(50);
  });

  it('answers new keys per whenFull ("reject" by default) only when the store holds nothing but blocks', async () => {
    for (const whenFull of ["reject", "allow"] as const) {
      const clock = manualClock();
      const store = memoryStore({ maxKeys: 2, whenFull, logger: false });
      const limiter = createLimiter({ policies: "1/min", store, clock: clock.now });
      await limiter.block("x", "30s");
      await limiter.block("y", "2m");
      const d = limiter.consumeSync("z");
      expect(d.reason).toBe("degraded");
      expect(d.allowed).toBe(whenFull === "allow");
      // The wait is until the soonest block held ends.
      if (whenFull === "reject") expect(d.retryAfterMs).toBe(30_000);
      expect(store.size).toBe(2);
      clock.advance("31s");
      expect(limiter.consumeSync("z").reason).toBe("ok"); // x's block has ended
    }
  });

  it("never drops a blockFor penalty for lack of room: it evicts a counter, else the block that ends soonest", async () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 3, logger: false });
    const limiter = createLimiter({
      policies: { limit: 1, window: "1m", algorithm: "fixed-window", blockFor: "10m" },
      store,
      clock: clock.now,
    });
    for (const key of ["a", "b", "c"]) {
      limiter.consumeSync(key); // three limited counters, a's frees first: full
      clock.advance("1s");
    }
    // Each rejection starts a block, which needs room: the counter that frees soonest goes.
    for (const key of ["a", "b", "c"]) {
      expect(limiter.consumeSync(key).retryAfterMs).toBe(600_000);
      expect(store.size).toBe(3);
      clock.advance("1s");
    }
    for (const key of ["a", "b", "c"]) expect(limiter.consumeSync(key).reason).toBe("blocked");
    // Full of blocks: a newcomer is refused per whenFull...
    expect(limiter.consumeSync("d").reason).toBe("degraded");
    // ...but a penalty that starts takes the place of the block that ends soonest (a's).
    await limiter.block("d", "1h");
    expect(store.size).toBe(3);
    expect(limiter.consumeSync("d").reason).toBe("blocked");
    expect(limiter.consumeSync("b").reason).toBe("blocked");
    expect(limiter.consumeSync("c").reason).toBe("blocked");
    expect(limiter.consumeSync("a").reason).toBe("degraded"); // unblocked, but no room
  });

  it("says once, through its logger, that it is full of limited or blocked keys", () => {
    const messages: string[] = [];
    const logger = { warn: (m: string) => messages.push(m) };
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 2, logger });
    const limiter = createLimiter({ policies: "1/min", store, clock: clock.now });
    limiter.consumeSync("a");
    limiter.consumeSync("b");
    limiter.consumeSync("c"); // not limited yet: "a" and "b" are limited after one hit
    expect(messages).toHaveLength(1);
    for (let i = 0; i < 100; i++) limiter.consumeSync(`k${i}`);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/^\[throttlekit\] WARN_TK_MEMORY_STORE_FULL: .*maxKeys 2/);
  });

  it.each([
    ["NODE_UNIQUE_ID", "1"],
    ["NODE_APP_INSTANCE", "0"],
  ])(
    "warns once that it counts per process when %s is set (cluster worker, pm2)",
    (name, value) => {
      const messages: string[] = [];
      const logger = { warn: (m: string) => messages.push(m) };
      memoryStore({ logger });
      expect(messages).toEqual([]);
      vi.stubEnv(name, value);
      try {
        memoryStore({ logger });
        memoryStore({ logger });
      } finally {
        vi.unstubAllEnvs();
      }
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain("WARN_TK_MEMORY_STORE_PER_PROCESS");
    },
  );

  it("bounds blocks by maxKeys too, and expires them", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 50 });
    const limiter = createLimiter({
      policies: { limit: 1, window: "1s", blockFor: "1h" },
      store,
      clock: clock.now,
    });
    for (let i = 0; i < 200; i++) {
      limiter.consumeSync(`k${i}`);
      limiter.consumeSync(`k${i}`);
    }
    expect(store.size).toBeLessThanOrEqual(50);
    clock.advance("2h");
    for (let i = 0; i < 64 * 4; i++) limiter.consumeSync("tick", { cost: 0 });
    expect(store.size).toBe(0);
  });

  it("shares state between limiters with the same prefix and policies, as Redis would", () => {
    const store = memoryStore();
    const a = createLimiter({ policies: "2/min", store });
    const b = createLimiter({ policies: "2/min", store });
    const c = createLimiter({ policies: "2/min", store, prefix: "other" });
    a.consumeSync("k");
    b.consumeSync("k");
    expect(a.consumeSync("k").allowed).toBe(false);
    expect(c.consumeSync("k").allowed).toBe(true);
  });

  it("keeps many keys with exact, independent counts", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: { limit: 3, window: "1m", algorithm: "gcra" },
      clock: clock.now,
    });
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5000; i++) {
        expect(limiter.consumeSync(`u${i}`).allowed).toBe(round < 3);
      }
    }
  });
});
