/**
 * The Redis store's own behaviour beyond the conformance suite: options, client detection, key
 * layout and TTLs, hash slots, script reloading (SCRIPT FLUSH mid-run, on one node and on every
 * cluster master), batching, and the local cache.
 */
import calculateSlot from "cluster-key-slot";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TIMER_DURATION_FORM } from "../../src/core/duration.js";
import { ConfigError } from "../../src/core/errors/config-error.js";
import { createLimiter } from "../../src/core/limiter.js";
import { LOGGER_FORM } from "../../src/core/logger.js";
import { hashSlot } from "../../src/stores/redis/hash-slot.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { SCRIPT_SHA } from "../../src/stores/redis/script.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";

let node: RedisNode;
let cluster: RedisCluster;
let io: Redis;
let ioCluster: Cluster;
let n = 0;
const prefix = () => `t${process.pid}-${n++}`;

beforeAll(async () => {
  [node, cluster] = await Promise.all([startRedis(), startCluster()]);
  io = new Redis(node.port, node.host);
  ioCluster = new Cluster([...cluster.seeds]);
});

afterAll(async () => {
  io?.disconnect();
  ioCluster?.disconnect();
  await Promise.all([node?.stop(), cluster?.stop()]);
});

describe("options", () => {
  it("reject bad input with one ConfigError naming every option, value and form", () => {
    let error: unknown;
    try {
      redisStore({
        client: { get: () => 1 } as never,
        timeout: "soon",
        onStoreError: "ignore" as never,
        circuitBreaker: { failures: 0, cooldown: -1, after: 2 } as never,
        localCache: { maxKeys: 1.5 },
        maxBatch: 0,
        ttlPadding: "x",
        prefix: "nope",
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.option);
    expect(problems.sort()).toEqual(
      [
        "redisStore.prefix",
        "redisStore.client",
        "redisStore.timeout",
        "redisStore.onStoreError",
        "redisStore.circuitBreaker.after",
        "redisStore.circuitBreaker.failures",
        "redisStore.circuitBreaker.cooldown",
        "redisStore.localCache.maxKeys",
        "redisStore.maxBatch",
        "redisStore.ttlPadding",
      ].sort(),
    );
    expect((error as ConfigError).message).toMatch(
      /redisStore\.timeout: received "soon"; expected/,
    );
  });

  it("refuse durations beyond a timer's range for timer-like options (issue 13, item 9)", () => {
    let error: unknown;
    try {
      // 30 days would overflow setTimeout (2^31 − 1 ms): every healthy call would time out.
      redisStore({
        client: io,
        timeout: "30d",
        circuitBreaker: { cooldown: 2_147_483_648 },
        logger: { log: () => {} } as never,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { option: "redisStore.timeout", received: "30d", expected: TIMER_DURATION_FORM },
      {
        option: "redisStore.circuitBreaker.cooldown",
        received: 2_147_483_648,
        expected: TIMER_DURATION_FORM,
      },
      { option: "redisStore.logger", received: expect.anything(), expected: LOGGER_FORM },
    ]);
    // The longest a timer can wait is accepted, as is `logger: false`.
    expect(
      redisStore({
        client: io,
        timeout: 2_147_483_647,
        circuitBreaker: { cooldown: "24d" },
        logger: false,
      }).name,
    ).toBe("redis");
  });

  it("accept every supported client shape", () => {
    expect(redisStore({ client: io }).name).toBe("redis");
    expect(redisStore({ client: ioCluster, timeout: "1s", onStoreError: "fail-closed" }).name).toBe(
      "redis",
    );
    expect(() => redisStore({ client: undefined as never })).toThrow(/redisStore\.client/);
  });
});

describe("hash slots", () => {
  it("match CLUSTER KEYSLOT of a real node, hash tags and UTF-8 included", async () => {
    const keys = ["a", "foo", "{user1000}.following", "tk:{ip:1.2.3.4}:blk", "{}x", "a{b}c{d}"];
    keys.push("ключ", "🔑{tag}", "x{}{y}", "{a", "}{b}", "{{c}}");
    for (let i = 0; i < 300; i++) keys.push(`k${i}:${(i * 7919).toString(36)}`);
    const seed = cluster.seeds[0]!;
    const direct = new Redis(seed.port, seed.host);
    try {
      const pipeline = direct.pipeline();
      for (const k of keys) pipeline.call("CLUSTER", "KEYSLOT", k);
      const slots = (await pipeline.exec())!.map(([, slot]) => slot);
      expect(keys.map(hashSlot)).toEqual(slots);
    } finally {
      direct.disconnect();
    }
  });
});

describe("key layout and TTLs", () => {
  it("keeps one record per limiter and user key, living as long as its latest state or block", async () => {
    const p = prefix();
    const store = redisStore({ client: io });
    const limiter = createLimiter({
      policies: [
        { limit: 5, window: "10s", algorithm: "fixed-window", blockFor: "1m" },
        { limit: 100, window: "1h", algorithm: "gcra", name: "hourly" },
      ],
      store,
      prefix: p,
    });
    const record = `${p}:{user:1}:fw:5:10000:5+hourly:gc:100:3600000:100`;
    await limiter.consume("user:1");
    expect(await io.keys(`${p}:*`)).toEqual([record]);
    // Server time: the TTL is the state's lifetime, here GCRA's (36 s per admitted request).
    let ttl = await io.pttl(record);
    expect(ttl).toBeGreaterThan(35_000);
    expect(ttl).toBeLessThanOrEqual(36_000);
    for (let i = 0; i < 4; i++) await limiter.consume("user:1");
    ttl = await io.pttl(record);
    expect(ttl).toBeGreaterThan(170_000);
    expect(ttl).toBeLessThanOrEqual(180_000);
    // The 6th request is limited by the 5/10s policy and starts a 1 min block: the record now
    // lives until the later of the block's end and the states' rest.
    expect((await limiter.consume("user:1")).reason).toBe("limited");
    expect((await limiter.consume("user:1")).reason).toBe("blocked");
    ttl = await io.pttl(record);
    expect(ttl).toBeGreaterThan(170_000);
    const blockOnly = createLimiter({
      policies: { limit: 1, window: "1s", algorithm: "token-bucket", blockFor: "1m" },
      store,
      prefix: p,
    });
    await blockOnly.consume("user:2");
    await blockOnly.consume("user:2");
    ttl = await io.pttl(`${p}:{user:2}:tb:1:1000:1`);
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(new Set((await io.keys(`${p}:*`)).map((k) => calculateSlot(k))).size).toBe(2);
    await limiter.reset("user:1");
    await blockOnly.reset("user:2");
    expect(await io.keys(`${p}:*`)).toEqual([]);
  });

  it("with a caller's clock, pads TTLs by ttlPadding and deletes state at rest", async () => {
    const p = prefix();
    const clock = manualClock();
    const store = redisStore({ client: io, ttlPadding: "5s" });
    const limiter = createLimiter({
      policies: { limit: 2, window: "1s", algorithm: "token-bucket" },
      store,
      prefix: p,
      clock: clock.now,
    });
    await limiter.consume("k");
    const key = `${p}:{k}:tb:2:1000:2`;
    const ttl = await io.pttl(key);
    // 500 ms until the bucket is full again, plus the 5 s padding.
    expect(ttl).toBeGreaterThan(5000);
    expect(ttl).toBeLessThanOrEqual(5500);
    clock.advance("600ms");
    await limiter.refund("k", 1);
    // Refunded to full: the state is at rest, so the key is gone rather than kept.
    expect(await io.exists(key)).toBe(0);
  });

  it("writes nothing for peeks, rejections and cost 0", async () => {
    const p = prefix();
    const limiter = createLimiter({
      policies: { limit: 1, window: "1m", algorithm: "sliding-log" },
      store: redisStore({ client: io, localCache: false }),
      prefix: p,
    });
    await limiter.peek("k");
    await limiter.consume("k", { cost: 0 });
    expect(await io.keys(`${p}:*`)).toEqual([]);
    await limiter.consume("k");
    const before = await io.getBuffer(`${p}:{k}:sl:1:60000:1`);
    await limiter.consume("k");
    await limiter.consume("k", { cost: 5 });
    expect(await io.getBuffer(`${p}:{k}:sl:1:60000:1`)).toEqual(before);
  });

  it("answers a cost above capacity with Infinity, through the text reply", async () => {
    const limiter = createLimiter({
      policies: ["3/s", { limit: 10, window: "1m", algorithm: "leaky-bucket", burst: 4 }],
      store: redisStore({ client: io }),
      prefix: prefix(),
    });
    const d = await limiter.consume("k", { cost: 5 });
    expect(d.reason).toBe("cost-exceeds-limit");
    expect(d.retryAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(d.policies.map((x) => x.retryAfterMs)).toEqual([
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
  });
});

describe("script loading", () => {
  it("reloads after SCRIPT FLUSH in the middle of a run, with no decision lost", async () => {
    const store = redisStore({ client: io, localCache: false });
    const limiter = createLimiter({
      policies: { limit: 1000, window: "1h", algorithm: "gcra" },
      store,
      prefix: prefix(),
    });
    let allowed = 0;
    let degraded = 0;
    for (let round = 0; round < 20; round++) {
      if (round % 5 === 2) await io.script("FLUSH");
      const ds = await Promise.all(Array.from({ length: 50 }, () => limiter.consume("hot")));
      for (const d of ds) {
        if (d.allowed) allowed++;
        if (d.reason === "degraded") degraded++;
      }
    }
    expect(degraded).toBe(0);
    expect(allowed).toBe(1000);
    expect((await limiter.peek("hot")).remaining).toBe(0);
  });

  it("loads the script on every cluster master, also after SCRIPT FLUSH on all of them", async () => {
    const store = redisStore({ client: ioCluster, localCache: false });
    const limiter = createLimiter({ policies: "3/h", store, prefix: prefix() });
    const keys = Array.from({ length: 60 }, (_, i) => `user-${i}`);
    for (let round = 0; round < 4; round++) {
      if (round === 2) await Promise.all(cluster.nodes.map((c) => c.cli("SCRIPT", "FLUSH")));
      const ds = await Promise.all(keys.map((k) => limiter.consume(k)));
      expect(ds.map((d) => d.allowed)).toEqual(keys.map(() => round < 3));
      expect(ds.every((d) => d.reason !== "degraded")).toBe(true);
    }
    // The keys spread over every master, and each master has the script cached now.
    for (const c of cluster.nodes) {
      expect(Number((await c.cli("DBSIZE")).trim())).toBeGreaterThan(0);
      const sha = (await c.cli("SCRIPT", "EXISTS", SCRIPT_SHA)).trim();
      expect(sha).toBe("1");
    }
  });
});

describe("batching", () => {
  it("carries many decisions per EVALSHA, each decided atomically", async () => {
    const store = redisStore({ client: io, localCache: false, maxBatch: 100 });
    const limiter = createLimiter({ policies: "10/h", store, prefix: prefix() });
    // The first call learns the server's clock (one probe, docs/redis.md "Late runs").
    await limiter.peek("warm-up");
    const before = store.stats.commands;
    const ds = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => limiter.consume(`k${i % 50}`)),
    );
    expect(store.stats.commands - before).toBe(10);
    expect(ds.filter((d) => d.allowed).length).toBe(500);
  });

  it("groups by hash slot on a cluster", async () => {
    const store = redisStore({ client: ioCluster, localCache: false });
    const limiter = createLimiter({ policies: "10/h", store, prefix: prefix() });
    await limiter.peek("warm-up");
    const before = store.stats.commands;
    // Two user keys, many requests each: two slots, hence two calls.
    const ds = await Promise.all(
      Array.from({ length: 40 }, (_, i) => limiter.consume(`u${i % 2}`)),
    );
    expect(store.stats.commands - before).toBe(2);
    expect(ds.filter((d) => d.allowed).length).toBe(20);
  });
});

describe("local cache", () => {
  it("answers a limited key locally, counting retryAfterMs down, exactly as Redis would", async () => {
    const clock = manualClock();
    const store = redisStore({ client: io });
    const uncached = redisStore({ client: io, localCache: false });
    const p = prefix();
    const policies = [
      { limit: 3, window: "10s", algorithm: "sliding-window" },
      { limit: 10, window: "1m", algorithm: "token-bucket" },
    ] as const;
    const limiter = createLimiter({ policies: [...policies], store, prefix: p, clock: clock.now });
    const truth = createLimiter({
      policies: [...policies],
      store: uncached,
      prefix: p,
      clock: clock.now,
    });
    for (let i = 0; i < 3; i++) await limiter.consume("a");
    const rejected = await limiter.consume("a");
    expect(rejected.reason).toBe("limited");
    const calls = store.stats.commands;
    clock.advance(1234);
    const local = await limiter.consume("a");
    expect(store.stats.commands).toBe(calls);
    expect(store.stats.localHits).toBe(1);
    expect(local.retryAfterMs).toBe(rejected.retryAfterMs - 1234);
    expect(local).toEqual(await truth.consume("a"));
    // A smaller cost might pass: it goes to Redis.
    await limiter.consume("a", { cost: 0 });
    expect(store.stats.commands).toBe(calls + 1);
    // Once the wait is over, Redis decides again (and admits).
    clock.advance(local.retryAfterMs);
    expect((await limiter.consume("a")).allowed).toBe(true);
    expect(store.stats.commands).toBe(calls + 2);
  });

  it("answers a blocked key locally until the block ends; reset and unblock forget it", async () => {
    const clock = manualClock();
    const store = redisStore({ client: io });
    const limiter = createLimiter({
      policies: { limit: 1, window: "1s", algorithm: "fixed-window", blockFor: "1m" },
      store,
      prefix: prefix(),
      clock: clock.now,
    });
    await limiter.consume("b");
    expect((await limiter.consume("b")).reason).toBe("limited");
    const calls = store.stats.commands;
    clock.advance("20s");
    const boxed = await limiter.consume("b", { cost: 1 });
    expect(boxed.reason).toBe("blocked");
    expect(boxed.retryAfterMs).toBe(40_000);
    expect(store.stats.commands).toBe(calls);
    await limiter.unblock("b");
    expect((await limiter.consume("b")).allowed).toBe(true);
    await limiter.block("b", "5s");
    expect((await limiter.consume("b")).reason).toBe("blocked"); // learned from Redis
    const after = store.stats.commands;
    expect((await limiter.consume("b")).retryAfterMs).toBe(5000);
    expect(store.stats.commands).toBe(after);
    await limiter.reset("b");
    expect((await limiter.consume("b")).allowed).toBe(true);
  });

  it("the rejection that starts a block tells the block's end, as the memory store does, and is cached until then (issue 13, item 5)", async () => {
    const clock = manualClock();
    const store = redisStore({ client: io });
    const policies = { limit: 1, window: "1s", algorithm: "fixed-window", blockFor: "5s" } as const;
    const limiter = createLimiter({ policies, store, prefix: prefix(), clock: clock.now });
    const memory = createLimiter({ policies, clock: clock.now });
    await limiter.consume("p");
    memory.consumeSync("p");
    const hit = await limiter.consume("p");
    // Not the window's 1000 ms: waiting that long meets "blocked, 4000 ms more".
    expect(hit).toMatchObject({ allowed: false, reason: "limited", retryAfterMs: 5000 });
    expect(hit.resetMs).toBe(5000);
    expect(hit.policies[0]).toMatchObject({ retryAfterMs: 5000, resetMs: 5000 });
    expect(hit).toEqual(memory.consumeSync("p"));
    const calls = store.stats.commands;
    clock.advance(1000);
    expect(await limiter.consume("p")).toMatchObject({ reason: "blocked", retryAfterMs: 4000 });
    clock.advance(3999);
    expect(await limiter.consume("p")).toMatchObject({ reason: "blocked", retryAfterMs: 1 });
    expect(store.stats.commands).toBe(calls); // both answered from the cache
    clock.advance(1);
    expect((await limiter.consume("p")).allowed).toBe(true);
    expect(store.stats.commands).toBe(calls + 1);
  });

  it("stays bounded by maxKeys", async () => {
    const store = redisStore({ client: io, localCache: { maxKeys: 10 } });
    const limiter = createLimiter({ policies: "1/h", store, prefix: prefix() });
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => limiter.consume(k)));
    await Promise.all(keys.map((k) => limiter.consume(k)));
    const calls = store.stats.commands;
    const ds = await Promise.all(keys.map((k) => limiter.consume(k)));
    expect(ds.every((d) => !d.allowed)).toBe(true);
    // Only the 10 most recent rejections are remembered; the 20 others went to Redis (1 call).
    expect(store.stats.localHits).toBe(10);
    expect(store.stats.commands).toBe(calls + 1);
  });
});
