import { describe, expect, it, vi } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { ConfigError } from "./errors/config-error.js";
import { isThrottlekitError } from "./errors/throttlekit-error.js";
import { createLimiter } from "./limiter.js";
import type { Store } from "./store.js";

describe("createLimiter", () => {
  it("collects every bad option into one ConfigError", () => {
    try {
      createLimiter({
        policies: "ten/s",
        prefix: "",
        clock: 5,
        store: {},
        polices: "1/s",
      } as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const options = (error as ConfigError).problems.map((p) => p.option);
      expect(options).toEqual(["polices", "policies", "prefix", "clock", "store"]);
      expect((error as ConfigError).code).toBe("ERR_TK_CONFIG");
      expect((error as Error).message).toContain('received "ten/s"');
    }
  });

  it("rejects a bad cost or key at the call, as a rejected promise", async () => {
    const limiter = createLimiter({ policies: "1/s" });
    await expect(limiter.consume("k", { cost: -1 })).rejects.toThrow(ConfigError);
    await expect(limiter.consume("k", { cost: 1.5 })).rejects.toThrow(/cost: received 1.5/);
    await expect(limiter.consume(42 as never)).rejects.toThrow(/key/);
    await expect(limiter.refund("k", Number.NaN)).rejects.toThrow(/amount/);
    await expect(limiter.block("k", "soon")).rejects.toThrow(/duration/);
    expect(() => limiter.consumeSync("k", { cost: -2 })).toThrow(ConfigError);
  });

  it("takes only an absent store as the default: store null is refused (issue 13 item 10)", () => {
    expect(() => createLimiter({ policies: "1/s", store: null as never })).toThrow(
      /store: received null/,
    );
    expect(() => createLimiter({ policies: "1/s", store: undefined } as never)).not.toThrow();
  });

  it("refuses keys longer than 1024 characters at every call (issue 13 item 9)", async () => {
    const limiter = createLimiter({ policies: "1/s" });
    const long = "k".repeat(1025);
    expect(limiter.consumeSync("k".repeat(1024)).allowed).toBe(true);
    expect(() => limiter.consumeSync(long)).toThrow(ConfigError);
    expect(() => limiter.consumeSync(long)).toThrow(/key: received "a string of 1025 characters"/);
    await expect(limiter.consume(long)).rejects.toThrow(ConfigError);
    await expect(limiter.consume(long, { cost: 1 })).rejects.toThrow(ConfigError);
    await expect(limiter.peek(long)).rejects.toThrow(ConfigError);
    await expect(limiter.refund(long)).rejects.toThrow(ConfigError);
    await expect(limiter.reset(long)).rejects.toThrow(ConfigError);
    await expect(limiter.block(long, "1s")).rejects.toThrow(ConfigError);
    await expect(limiter.unblock(long)).rejects.toThrow(ConfigError);
  });

  it("refuses a block longer than 10 years", async () => {
    const limiter = createLimiter({ policies: "1/s" });
    await expect(limiter.block("k", 2 ** 53 - 1)).rejects.toThrow(/block\(duration\)/);
    await expect(limiter.block("k", "3650d")).resolves.toBeUndefined();
  });

  it("answers synchronously from the memory store and explains when a store cannot", () => {
    const limiter = createLimiter({ policies: "2/s" });
    expect(limiter.consumeSync("k").remaining).toBe(1);
    const asyncOnly: Store = {
      name: "remote",
      bind: () => ({
        consume: () => Promise.reject(new Error("unused")),
        peek: () => Promise.reject(new Error("unused")),
        refund: async () => {},
        reset: async () => {},
        block: async () => {},
        unblock: async () => {},
      }),
    };
    const remote = createLimiter({ policies: "2/s", store: asyncOnly });
    expect(() => remote.consumeSync("k")).toThrow(/remote store has no synchronous path/);
  });

  it("passes the injected clock to the store, and undefined without one", async () => {
    const seen: (number | undefined)[] = [];
    const spy: Store = {
      name: "spy",
      bind: () => ({
        consume: async (_k, _c, now) => {
          seen.push(now);
          return createLimiter({ policies: "1/s" }).consume("x");
        },
        peek: () => Promise.reject(new Error("unused")),
        refund: async () => {},
        reset: async () => {},
        block: async () => {},
        unblock: async () => {},
      }),
    };
    const clock = manualClock(1234);
    await createLimiter({ policies: "1/s", store: spy, clock: clock.now }).consume("k");
    await createLimiter({ policies: "1/s", store: spy }).consume("k");
    expect(seen).toEqual([1234, undefined]);
  });

  it("serialises a decision with its policies", () => {
    const d = createLimiter({ policies: { limit: 3, window: "1s", name: "burst" } }).consumeSync(
      "k",
    );
    expect(d.policies).toHaveLength(1);
    expect(d.policies[0]).toMatchObject({ allowed: true, limit: 3, remaining: 2 });
    const json = JSON.parse(JSON.stringify(d));
    expect(json).toMatchObject({ allowed: true, limit: 3, remaining: 2, reason: "ok", delayMs: 0 });
    expect(json.policies[0]).toMatchObject({ limit: 3, remaining: 2, policy: { name: "burst" } });
  });

  it("sees wall-clock time move inside a synchronous loop", () => {
    // The wall clock is read once per burst of work; a busy loop must still make progress.
    const limiter = createLimiter({
      policies: { limit: 1, window: "20ms", algorithm: "fixed-window" },
    });
    limiter.consumeSync("spin");
    const start = Date.now();
    let spins = 0;
    while (!limiter.consumeSync("spin").allowed && Date.now() - start < 5000) spins++;
    expect(Date.now() - start).toBeLessThan(5000);
    expect(spins).toBeGreaterThan(0);
  });

  it("decides with the wall clock by default", async () => {
    const limiter = createLimiter({
      policies: { limit: 1, window: "1h", algorithm: "fixed-window" },
    });
    await limiter.consume("k");
    const d = await limiter.consume("k");
    expect(d.retryAfterMs).toBeGreaterThan(3_590_000);
    expect(d.retryAfterMs).toBeLessThanOrEqual(3_600_000);
  });
});

describe("isThrottlekitError", () => {
  it("recognises errors from another loaded copy of throttlekit", async () => {
    vi.resetModules();
    const other = await import("./errors/config-error.js");
    const foreign = new other.ConfigError([{ option: "x", received: 1, expected: "y" }]);
    expect(foreign instanceof ConfigError).toBe(false); // truly a second copy
    expect(isThrottlekitError(foreign)).toBe(true);
    expect(isThrottlekitError(new Error("plain"))).toBe(false);
    expect(isThrottlekitError({ code: "ERR_TK_CONFIG" })).toBe(false);
  });
});
