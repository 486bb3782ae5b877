import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import { type RedisNode, startRedis } from "../../test/support/redis-server.js";
import { redisStore } from "../stores/redis/index.js";
import { manualClock } from "../testing/manual-clock.js";
import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import { isThrottlekitError } from "./errors/throttlekit-error.js";
import { createLimiter, type Limiter } from "./limiter.js";
import type { PolicyInput } from "./policy.js";
import type { Store } from "./store.js";
import { DEFAULT_WRAP_KEY, type Returning, type Wrapped, wrapFunction } from "./wrap.js";

let server: RedisNode;
let client: Redis;
let redis: Store;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, server.host);
  redis = redisStore({ client });
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

let prefixes = 0;
type Setup = { limiter: Limiter; clock: ReturnType<typeof manualClock> };

const STORES: { name: string; sync: boolean; setup(policies: PolicyInput): Setup }[] = [
  {
    name: "memory",
    sync: true,
    setup(policies) {
      const clock = manualClock();
      const limiter = createLimiter({ policies, clock: clock.now, timers: clock.timers });
      return { limiter, clock };
    },
  },
  {
    name: "redis",
    sync: false,
    setup(policies) {
      const clock = manualClock();
      const limiter = createLimiter({
        policies,
        store: redis,
        prefix: `wrap-test-${++prefixes}`,
        clock: clock.now,
        timers: clock.timers,
      });
      return { limiter, clock };
    },
  },
];

function add(a: number, b: number): number {
  return a + b;
}

/** Calls `f` and returns what it returned, or the error it threw or rejected with. */
async function outcome(f: () => unknown): Promise<{ value?: unknown; error?: unknown }> {
  try {
    return { value: await f() };
  } catch (error) {
    return { error };
  }
}

describe("limiter.wrap on memory: a synchronous function stays synchronous", () => {
  it("returns fn's value itself, not a promise, and charges the limiter", () => {
    const { limiter } = STORES[0]!.setup("3/s");
    const limited = limiter.wrap(add);
    const result = limited(2, 3);
    expect(typeof result).not.toBe("object");
    expect(result).toBe(5);
    expect(limiter.consumeSync(DEFAULT_WRAP_KEY).remaining).toBe(1);
  });

  it('"throw": the call over the limit throws RateLimitedError synchronously, carrying the decision, and fn does not run', () => {
    const { limiter } = STORES[0]!.setup("2/s");
    let runs = 0;
    const limited = limiter.wrap(() => ++runs);
    limited();
    limited();
    let thrown: unknown;
    try {
      limited();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RateLimitedError);
    const e = thrown as RateLimitedError;
    expect(isThrottlekitError(e)).toBe(true);
    expect(e.code).toBe("ERR_TK_RATE_LIMITED");
    expect(e.decision).toMatchObject({ allowed: false, reason: "limited", limit: 2, remaining: 0 });
    expect(e.decision.retryAfterMs).toBeGreaterThan(0);
    expect(e.message).toContain(`retry after ${Math.ceil(e.decision.retryAfterMs)} ms`);
    expect(runs).toBe(2);
  });

  it("an async function returns a promise on every path: a refusal rejects, it never throws", async () => {
    const { limiter } = STORES[0]!.setup("1/s");
    const limited = limiter.wrap(async (x: number) => x * 2);
    expect(await limited(4)).toBe(8);
    let refusal: Promise<unknown> | undefined;
    expect(() => {
      refusal = limited(5) as Promise<unknown>;
    }).not.toThrow();
    await expect(refusal).rejects.toBeInstanceOf(RateLimitedError);
    const fallback = limiter.wrap(async (x: number) => x * 2, { onLimited: () => -1 });
    const r = fallback(1);
    expect(r).toBeInstanceOf(Promise);
    expect(await r).toBe(-1);
  });

  it('a leaky-bucket delay is not waited for outside onLimited "wait": the call runs at once', () => {
    const { limiter } = STORES[0]!.setup({
      limit: 10,
      window: "1s",
      algorithm: "leaky-bucket",
      burst: 5,
      mode: "delay",
    });
    const limited = limiter.wrap(() => "ran");
    expect(limited()).toBe("ran");
    expect(limited()).toBe("ran"); // admitted with delayMs 100: a synchronous call cannot wait
    expect(limiter.consumeSync(DEFAULT_WRAP_KEY).delayMs).toBe(200);
  });
});

for (const store of STORES) {
  describe(`limiter.wrap on ${store.name}`, () => {
    it(store.sync ? "returns fn's value" : "returns a promise of fn's value", async () => {
      const { limiter } = store.setup("5/s");
      const result = limiter.wrap(add)(1, 2);
      expect(result instanceof Promise).toBe(!store.sync);
      expect(await result).toBe(3);
    });

    it("passes `this` and the arguments to fn, the key and cost functions and the fallback", async () => {
      const { limiter } = store.setup("1/s");
      const seen: unknown[] = [];
      const account = {
        id: "acct-7",
        spend: limiter.wrap(
          function (this: { id: string }, amount: number) {
            seen.push(["fn", this.id, amount]);
            return this.id;
          },
          {
            key(amount) {
              seen.push(["key", this.id, amount]);
              return `spend:${this.id}`;
            },
            cost(amount) {
              seen.push(["cost", this.id, amount]);
              return 1;
            },
            onLimited(decision, amount) {
              seen.push(["fallback", this.id, amount, decision.allowed]);
              return "fallback";
            },
          },
        ),
      };
      expect(await account.spend(10)).toBe("acct-7");
      expect(await account.spend(20)).toBe("fallback");
      expect(seen).toEqual([
        ["key", "acct-7", 10],
        ["cost", "acct-7", 10],
        ["fn", "acct-7", 10],
        ["key", "acct-7", 20],
        ["cost", "acct-7", 20],
        ["fallback", "acct-7", 20, false],
      ]);
    });

    it('"throw" (the default) fails the call with RateLimitedError carrying the decision; fn does not run', async () => {
      const { limiter } = store.setup("2/s");
      let runs = 0;
      const limited = limiter.wrap(() => ++runs);
      await limited();
      await limited();
      const { error } = await outcome(() => limited());
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).code).toBe("ERR_TK_RATE_LIMITED");
      expect((error as RateLimitedError).decision).toMatchObject({
        allowed: false,
        reason: "limited",
        remaining: 0,
      });
      expect(runs).toBe(2);
    });

    it("an onLimited function's value is the refused call's result; it receives the decision", async () => {
      const { limiter } = store.setup("1/s");
      const decisions: Decision[] = [];
      const limited = limiter.wrap((x: number) => x, {
        onLimited: (d, x) => {
          decisions.push(d);
          return -x;
        },
      });
      expect(await limited(3)).toBe(3);
      expect(await limited(4)).toBe(-4);
      expect(decisions).toHaveLength(1);
      expect(decisions[0]).toMatchObject({ allowed: false, reason: "limited" });
    });

    it("counts each key apart; without a key every call (and every function) shares one budget", async () => {
      const { limiter } = store.setup("1/s");
      const perUser = limiter.wrap((user: string) => user, { key: (user) => `user:${user}` });
      expect(await perUser("ann")).toBe("ann");
      expect(await perUser("bob")).toBe("bob");
      expect((await outcome(() => perUser("ann"))).error).toBeInstanceOf(RateLimitedError);
      const one = limiter.wrap(() => 1);
      const two = limiter.wrap(() => 2);
      expect(await one()).toBe(1);
      expect((await outcome(() => two())).error).toBeInstanceOf(RateLimitedError);
    });

    it("charges a constant cost, or the cost function's value", async () => {
      const { limiter } = store.setup("10/s");
      const heavy = limiter.wrap(() => "ok", { cost: 4, key: () => "heavy" });
      await heavy();
      await heavy();
      expect((await outcome(() => heavy())).error).toBeInstanceOf(RateLimitedError); // 8 + 4 > 10
      const sized = limiter.wrap((n: number) => n, { cost: (n) => n, key: () => "sized" });
      expect(await sized(7)).toBe(7);
      expect(await sized(3)).toBe(3);
      const { error } = await outcome(() => sized(1));
      expect((error as RateLimitedError).decision.remaining).toBe(0);
    });

    it("the budget comes back as the clock moves", async () => {
      const { limiter, clock } = store.setup("1/s");
      const limited = limiter.wrap(() => "ok");
      await limited();
      const { error } = await outcome(() => limited());
      clock.advance((error as RateLimitedError).decision.retryAfterMs);
      expect(await limited()).toBe("ok");
    });

    it("a key function returning a non-string, or a cost function returning no whole number, fails the call with a ConfigError (nothing is charged, fn does not run)", async () => {
      const { limiter } = store.setup("5/s");
      let runs = 0;
      const badKey = limiter.wrap(() => ++runs, { key: () => 42 as unknown as string });
      const keyError = (await outcome(() => badKey())).error as ConfigError;
      expect(keyError).toBeInstanceOf(ConfigError);
      expect(keyError.problems[0]).toMatchObject({ option: "key", received: 42 });
      const badCost = limiter.wrap(() => ++runs, { cost: () => undefined as unknown as number });
      const costError = (await outcome(() => badCost())).error as ConfigError;
      expect(costError).toBeInstanceOf(ConfigError);
      expect(costError.problems[0]).toMatchObject({ option: "cost()", received: undefined });
      const tooLong = limiter.wrap(() => ++runs, { key: () => "k".repeat(1025) });
      expect((await outcome(() => tooLong())).error).toBeInstanceOf(ConfigError);
      expect(runs).toBe(0);
      expect((await limiter.peek(DEFAULT_WRAP_KEY)).remaining).toBe(5);
    });

    it("a key function that throws fails the call with its error", async () => {
      const { limiter } = store.setup("5/s");
      const boom = new Error("no user");
      const limited = limiter.wrap(() => 1, {
        key: () => {
          throw boom;
        },
      });
      expect((await outcome(() => limited())).error).toBe(boom);
    });

    it('"wait": the call waits for the limiter, then runs (always a promise)', async () => {
      const { limiter, clock } = store.setup({ limit: 1, window: "1s", algorithm: "fixed-window" });
      const limited = limiter.wrap((x: number) => x + 1, { onLimited: "wait" });
      const first = limited(1);
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBe(2);
      let second: number | undefined;
      const pending = (limited(2) as Promise<number>).then((v) => {
        second = v;
      });
      // Asleep on its refusal (on Redis, once the refusal has come back over the network).
      await vi.waitFor(() => expect(clock.pendingTimers()).toBe(1));
      await clock.advanceAsync(999);
      expect(second).toBeUndefined();
      // A remote store's re-check comes up to 25 ms late on purpose (waitFor's jitter).
      await clock.advanceAsync(store.sync ? 1 : 26);
      await pending;
      expect(second).toBe(3);
    });

    it('"wait" with maxWaitMs: a call that cannot get in within it fails with RateLimitedError at once', async () => {
      const { limiter } = store.setup("1/10s");
      const limited = limiter.wrap(() => "ok", { onLimited: "wait", maxWaitMs: "1s" });
      expect(await limited()).toBe("ok");
      const { error } = await outcome(() => limited());
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).decision.retryAfterMs).toBeGreaterThan(1000);
    });

    it('"wait" with a signal: aborting fails the waiting call with the signal\'s reason', async () => {
      const { limiter, clock } = store.setup("1/s");
      const controller = new AbortController();
      const limited = limiter.wrap(() => "ok", { onLimited: "wait", signal: controller.signal });
      await limited();
      const waiting = outcome(() => limited());
      await clock.advanceAsync(10);
      controller.abort(new Error("shutting down"));
      expect(((await waiting).error as Error).message).toBe("shutting down");
    });
  });
}

describe("limiter.wrap options are checked when wrapping", () => {
  it("every problem in one ConfigError", () => {
    const { limiter } = STORES[0]!.setup("5/s");
    let error: unknown;
    try {
      limiter.wrap(add, {
        key: "user" as never,
        cost: -1,
        onLimited: "retry" as never,
        maxWaitMs: "1s",
        colour: "red",
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual([
      "options.colour",
      "options.cost",
      "options.key",
      "options.maxWaitMs",
      "options.onLimited",
    ]);
  });

  it("fn must be a function; options must be an object (null included)", () => {
    const { limiter } = STORES[0]!.setup("5/s");
    expect(() => limiter.wrap(42 as never)).toThrow(ConfigError);
    expect(() => limiter.wrap(add, null as never)).toThrow(ConfigError);
    expect(() => limiter.wrap(add, { cost: 1.5 })).toThrow(ConfigError);
    expect(() => limiter.wrap(add, { onLimited: "wait", maxQueue: 0 })).toThrow(ConfigError);
    expect(() => limiter.wrap(add, { onLimited: "wait", signal: {} as never })).toThrow(
      ConfigError,
    );
  });

  it("keeps fn's name and length", () => {
    const { limiter } = STORES[0]!.setup("5/s");
    const limited = limiter.wrap(add);
    expect(limited.name).toBe("add");
    expect(limited.length).toBe(2);
  });
});

describe("wrap types", () => {
  async function fetchUser(id: string): Promise<{ id: string }> {
    return { id };
  }
  type Add = typeof add;

  it("a synchronous limiter (canConsumeSync: true) keeps a function's type; a fallback adds its value", () => {
    expectTypeOf<Wrapped<Add, "throw", never, true>>().toEqualTypeOf<Add>();
    expectTypeOf<Wrapped<Add, "throw", number, true>>().toEqualTypeOf<Add>();
    expectTypeOf<Wrapped<Add, "throw", null, true>>().toEqualTypeOf<
      Returning<Add, number | null>
    >();
    expectTypeOf<Wrapped<Add, "wait", never, true>>().toEqualTypeOf<
      Returning<Add, Promise<number>>
    >();
  });

  it("a limiter whose store may be remote: R | Promise<R> for a synchronous function, F for an async one", () => {
    const limiter = createLimiter({ policies: "1/s" }) as Limiter;
    expectTypeOf(wrapFunction(limiter, add)).toEqualTypeOf<
      Returning<Add, number | Promise<number>>
    >();
    expectTypeOf(wrapFunction(limiter, fetchUser)).toEqualTypeOf<typeof fetchUser>();
    expectTypeOf(wrapFunction(limiter, add, { onLimited: "wait" })).toEqualTypeOf<
      Returning<Add, Promise<number>>
    >();
    expectTypeOf(wrapFunction(limiter, add, { onLimited: () => null })).toEqualTypeOf<
      Returning<Add, number | null | Promise<number | null>>
    >();
    expectTypeOf(wrapFunction(limiter, fetchUser, { onLimited: () => null })).toEqualTypeOf<
      Returning<typeof fetchUser, Promise<{ id: string } | null>>
    >();
  });

  it("key, cost and onLimited are typed from fn: `this`, parameters, the decision", () => {
    const limiter = createLimiter({ policies: "1/s" }) as Limiter;
    function charge(this: { id: string }, amount: number): number {
      return amount;
    }
    wrapFunction(limiter, charge, {
      key(amount) {
        expectTypeOf(this).toEqualTypeOf<{ id: string }>();
        expectTypeOf(amount).toEqualTypeOf<number>();
        return this.id;
      },
      cost: (amount) => amount,
      onLimited(decision, amount) {
        expectTypeOf(decision).toEqualTypeOf<Decision>();
        return amount;
      },
    });
    // @ts-expect-error a key must be a string
    wrapFunction(limiter, add, { key: (a) => a });
    // @ts-expect-error onLimited is "throw", "wait" or a function
    expect(() => wrapFunction(limiter, add, { onLimited: "retry" })).toThrow(ConfigError);
  });
});
