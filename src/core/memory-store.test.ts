import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { ConfigError } from "./errors/config-error.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";

describe("memoryStore", () => {
  it("rejects bad options with one ConfigError naming each", () => {
    const e = (() => {
      try {
        memoryStore({ maxKeys: 0, whenFull: "drop" as never, maxkeys: 5 } as never);
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

  it("evicts at-rest keys first, then keys that are not limited", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 3 });
    const limiter = createLimiter({ policies: "2/min", store, clock: clock.now });
    limiter.consumeSync("a"); // 1 of 2 used: not limited
    limiter.consumeSync("b");
    limiter.consumeSync("b"); // limited
    limiter.consumeSync("c");
    limiter.consumeSync("c"); // limited
    limiter.consumeSync("d"); // full: evicts "a", the only unlimited key
    limiter.consumeSync("d"); // now every key held is limited
    expect(store.size).toBe(3);
    expect(limiter.consumeSync("b").allowed).toBe(false);
    expect(limiter.consumeSync("c").allowed).toBe(false);
    expect(limiter.consumeSync("a").reason).toBe("degraded"); // a was forgotten; now nothing is evictable
  });

  it('when full of limited keys, answers new keys per whenFull ("reject" by default)', async () => {
    for (const whenFull of ["reject", "allow"] as const) {
      const clock = manualClock();
      const store = memoryStore({ maxKeys: 2, whenFull });
      const limiter = createLimiter({ policies: "1/min", store, clock: clock.now });
      limiter.consumeSync("x");
      limiter.consumeSync("y");
      const d = limiter.consumeSync("z");
      expect(d.reason).toBe("degraded");
      expect(d.allowed).toBe(whenFull === "allow");
      // The wait is until the first held key stops being limited.
      if (whenFull === "reject")
        expect(d.retryAfterMs).toBe((await limiter.peek("x")).retryAfterMs);
      clock.advance("2m");
      expect(limiter.consumeSync("z").reason).toBe("ok"); // the old keys are at rest now
    }
  });

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
