import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from "vitest";
import { type RedisNode, startRedis } from "../../test/support/redis-server.js";
import { redisStore } from "../stores/redis/index.js";
import { type ManualClock, manualClock } from "../testing/manual-clock.js";
import type { Decision } from "./decision.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import { SyncUnsupportedError } from "./errors/sync-unsupported-error.js";
import { memoryStore } from "./memory-store.js";
import {
  createLimiterRegistry,
  type LimiterRegistry,
  type LimiterRegistryOptions,
  MAX_BUCKETS,
} from "./registry.js";
import type { Store } from "./store.js";

let server: RedisNode;
let client: Redis;
let redis: Store;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, server.host);
  redis = redisStore({ client });
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

type Setup = { registry: LimiterRegistry; clock: ManualClock };

const STORES: {
  name: string;
  sync: boolean;
  setup(options?: LimiterRegistryOptions): Setup;
}[] = [
  {
    name: "memory",
    sync: true,
    setup(options = {}) {
      const clock = manualClock();
      return {
        registry: createLimiterRegistry({ ...options, clock: clock.now, timers: clock.timers }),
        clock,
      };
    },
  },
  {
    name: "redis",
    sync: false,
    setup(options = {}) {
      const clock = manualClock();
      const registry = createLimiterRegistry({
        ...options,
        store: redis,
        prefix: `registry-test-${++prefixes}`,
        clock: clock.now,
        timers: clock.timers,
      });
      return { registry, clock };
    },
  },
];

/** token-throttler's README: two buckets on one identifier, 10 per 10 s and 20 per 30 s. */
const HELLO = { hello_world: ["10/10s", "20/30s"] };

/** Each bucket's remaining units, by bucket name. */
function remaining(d: Decision): Record<string, number> {
  return Object.fromEntries(d.policies.map((p) => [p.policy.name, p.remaining]));
}

for (const store of STORES) {
  describe(`createLimiterRegistry on ${store.name}`, () => {
    it("token-throttler's README: ten calls pass, the eleventh is refused by the 10/10s bucket and charges nothing", async () => {
      const { registry } = store.setup({ policies: HELLO });
      for (let i = 0; i < 10; i++)
        expect((await registry.consume("hello_world")).allowed).toBe(true);
      const refused = await registry.consume("hello_world");
      expect(refused).toMatchObject({ allowed: false, reason: "limited", limit: 10 });
      expect(refused.policy.name).toBe("10/10s");
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(remaining(refused)).toEqual({ "10/10s": 0, "20/30s": 10 });
      // All-or-nothing: the refused call left the 20/30s bucket as it was.
      expect(remaining(await registry.peek("hello_world"))).toEqual({ "10/10s": 0, "20/30s": 10 });
    });

    it("token-throttler's dict shape loads as it is: { replenish_time, max_tokens } buckets", async () => {
      const { registry, clock } = store.setup({
        policies: {
          hello_world: [
            { replenish_time: 10, max_tokens: 10 },
            { replenish_time: 30, max_tokens: 20 },
          ],
        },
      });
      expect(registry.policies("hello_world").map((p) => [p.name, p.algorithm])).toEqual([
        ["10/10s", "fixed-window"],
        ["20/30s", "fixed-window"],
      ]);
      for (let i = 0; i < 10; i++) await registry.consume("hello_world");
      const refused = await registry.consume("hello_world");
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterMs).toBe(10_000); // refilled all at once, 10 s after the first call
      clock.advance(10_000);
      for (let i = 0; i < 10; i++)
        expect((await registry.consume("hello_world")).allowed).toBe(true);
      // 20 in 30 s: now the second bucket binds.
      const second = await registry.consume("hello_world");
      expect(second).toMatchObject({ allowed: false, limit: 20, retryAfterMs: 20_000 });
    });

    it("add and remove keep the other buckets' counters", async () => {
      const { registry } = store.setup({ policies: HELLO });
      for (let i = 0; i < 3; i++) await registry.consume("hello_world");
      registry.add("hello_world", { limit: 5, window: "1m", name: "burst" });
      expect(remaining(await registry.peek("hello_world"))).toEqual({
        "10/10s": 7,
        "20/30s": 17,
        burst: 5,
      });
      expect(registry.remove("hello_world", "10/10s")).toBe(true);
      expect(registry.remove("hello_world", "10/10s")).toBe(false);
      await registry.consume("hello_world", { cost: 2 });
      expect(remaining(await registry.peek("hello_world"))).toEqual({ "20/30s": 15, burst: 3 });
      // Re-adding a bucket within its window finds its counter: remove + add is no reset.
      registry.add("hello_world", "10/10s");
      expect(remaining(await registry.peek("hello_world"))["10/10s"]).toBe(7);
    });

    it("adding a bucket under a name the identifier has replaces it", async () => {
      const { registry } = store.setup({
        policies: { api: { limit: 5, window: "1m", name: "m" } },
      });
      registry.add("api", { limit: 2, window: "1m", name: "m" });
      expect(registry.policies("api").map((p) => p.limit)).toEqual([2]);
      await registry.consume("api");
      await registry.consume("api");
      expect((await registry.consume("api")).allowed).toBe(false);
    });

    it("remove(id) drops every bucket; has, ids and size follow", async () => {
      const { registry } = store.setup({ policies: { ...HELLO, other: "1/s" } });
      expect(registry.ids().sort()).toEqual(["hello_world", "other"]);
      expect(registry.remove("hello_world")).toBe(true);
      expect(registry.has("hello_world")).toBe(false);
      expect(registry.size).toBe(1);
      expect(registry.remove("hello_world")).toBe(false);
      expect(registry.remove("other", "1/1s")).toBe(true); // "1/s" is named canonically
      expect(registry.size).toBe(0);
    });

    it('unknown "throw" (the default): an identifier with no buckets is a ConfigError', async () => {
      const { registry } = store.setup({ policies: HELLO });
      const error = await registry.consume("nobody").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems[0]).toMatchObject({
        option: "id",
        received: "nobody",
      });
    });

    it('unknown "unlimited": allowed, reason "exempt", and nothing is kept for it', async () => {
      const { registry } = store.setup({ policies: HELLO, unknown: "unlimited" });
      for (let i = 0; i < 100; i++) {
        const d = await registry.consume(`attacker-${i}`, { cost: 5 });
        expect(d).toMatchObject({ allowed: true, reason: "exempt" });
      }
      expect(registry.size).toBe(1);
    });

    it("registry.wrap(fn, { id }): token-throttler's enable(id) on a function", async () => {
      const { registry } = store.setup({ policies: HELLO });
      const hello = registry.wrap(() => "Hello World", { id: "hello_world" });
      for (let i = 0; i < 10; i++) expect(await hello()).toBe("Hello World");
      const error = await (async () => hello())().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).decision.policy.name).toBe("10/10s");
      const byKey = registry.wrap((user: string) => user, { key: (user) => `user:${user}` });
      registry.add("user:ann", "1/s");
      expect(await byKey("ann")).toBe("ann");
      await expect((async () => byKey("ann"))()).rejects.toBeInstanceOf(RateLimitedError);
    });

    it('registry.wrap with onLimited "wait" waits for the identifier\'s buckets', async () => {
      const { registry, clock } = store.setup({
        policies: { vendor: { limit: 1, window: "1s", algorithm: "fixed-window" } },
      });
      const call = registry.wrap((n: number) => n, { id: "vendor", onLimited: "wait" });
      expect(await call(1)).toBe(1);
      let second: number | undefined;
      const pending = (call(2) as Promise<number>).then((v) => {
        second = v;
      });
      await vi.waitFor(() => expect(clock.pendingTimers()).toBe(1)); // asleep on its refusal
      await clock.advanceAsync(999);
      expect(second).toBeUndefined();
      await clock.advanceAsync(store.sync ? 1 : 26); // a remote store's re-check is jittered
      await pending;
      expect(second).toBe(2);
    });

    it(
      store.sync ? "consumeSync answers in process" : "consumeSync throws SyncUnsupportedError",
      () => {
        const { registry } = store.setup({ policies: HELLO });
        expect(registry.canConsumeSync).toBe(store.sync);
        if (store.sync) expect(registry.consumeSync("hello_world").allowed).toBe(true);
        else expect(() => registry.consumeSync("hello_world")).toThrow(SyncUnsupportedError);
      },
    );

    it("reset forgets every bucket's counter; refund gives units back to each", async () => {
      const { registry } = store.setup({ policies: HELLO });
      await registry.consume("hello_world", { cost: 4 });
      await registry.refund("hello_world", 1);
      expect(remaining(await registry.peek("hello_world"))).toEqual({ "10/10s": 7, "20/30s": 17 });
      await registry.reset("hello_world");
      expect(remaining(await registry.peek("hello_world"))).toEqual({ "10/10s": 10, "20/30s": 20 });
    });
  });
}

describe("createLimiterRegistry on Redis: concurrent calls", () => {
  it("admit exactly what the tightest bucket allows, and the refusals leave the other bucket uncharged", async () => {
    const { registry } = STORES[1]!.setup({ policies: HELLO });
    const decisions = await Promise.all(
      Array.from({ length: 30 }, () => registry.consume("hello_world")),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(remaining(await registry.peek("hello_world"))).toEqual({ "10/10s": 0, "20/30s": 10 });
  });
});

describe("createLimiterRegistry on memory: bounds", () => {
  it('"unlimited" consumes of unknown identifiers store nothing', () => {
    const store = memoryStore();
    const registry = createLimiterRegistry({ policies: HELLO, unknown: "unlimited", store });
    const before = store.size;
    for (let i = 0; i < 1000; i++) registry.consumeSync(`user-input-${i}`);
    expect(store.size).toBe(before);
  });

  it("maxIds bounds the identifiers; MAX_BUCKETS the buckets of one", () => {
    const registry = createLimiterRegistry({ maxIds: 2 });
    registry.add("a", "1/s");
    registry.add("b", "1/s");
    expect(() => registry.add("c", "1/s")).toThrow(ConfigError);
    registry.add("a", "2/s"); // an identifier it holds can still change
    const many = Array.from({ length: MAX_BUCKETS + 1 }, (_, i) => `${i + 1}/h`);
    expect(() => registry.add("b", many)).toThrow(ConfigError);
    expect(() => createLimiterRegistry({ policies: { a: "1/s", b: "1/s" }, maxIds: 1 })).toThrow(
      ConfigError,
    );
  });
});

describe("createLimiterRegistry checks its options at once", () => {
  it("one ConfigError for every problem, the dict's included", () => {
    let error: unknown;
    try {
      createLimiterRegistry({
        policies: {
          hello: ["ten/s", { replenish_time: 0, max_tokens: 10 }],
          other: { replenish_time: 10, max_tokens: 5, refill: true } as never,
        },
        unknown: "allow" as never,
        colour: "red",
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option).sort()).toEqual([
      "colour",
      "policies.hello[1].replenish_time",
      "policies.other.refill",
      "unknown",
    ]);
  });

  it("policy errors name the identifier and the bucket; duplicate names in one list are refused", () => {
    const problems = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as ConfigError).problems.map((p) => p.option);
      }
      return [];
    };
    expect(
      problems(() => createLimiterRegistry({ policies: { hello: ["ten/s", "1/s"] } })),
    ).toEqual(["policies.hello[0]"]);
    expect(
      problems(() =>
        createLimiterRegistry({
          policies: { x: ["10/10s", { limit: 10, window: "10s", algorithm: "gcra" }] },
        }),
      ),
    ).toEqual(["policies.x"]);
    const registry = createLimiterRegistry();
    expect(problems(() => registry.add("x".repeat(1025), "1/s"))).toEqual(["add(id)"]);
    expect(problems(() => registry.wrap(() => 1, {} as never))).toEqual(["options.id"]);
  });
});

describe("registry types", () => {
  it("on the memory store a registry is synchronous, and its wrap keeps a function's type", () => {
    const registry = createLimiterRegistry({ policies: HELLO });
    expectTypeOf(registry.canConsumeSync).toEqualTypeOf<true>();
    const hello = (name: string) => `hello ${name}`;
    expectTypeOf(registry.wrap(hello, { id: "hello_world" })).toEqualTypeOf<typeof hello>();
    const remote = createLimiterRegistry({ policies: HELLO, store: redis });
    expectTypeOf(remote.canConsumeSync).toEqualTypeOf<boolean>();
    expectTypeOf(remote.wrap(hello, { id: "hello_world" })).returns.toEqualTypeOf<
      string | Promise<string>
    >();
  });
});
