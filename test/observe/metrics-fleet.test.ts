/**
 * Fleet-wide metrics (issue 17, item 2): collectors in different limiters (or processes) add the
 * counts of each finished second to per-second buckets in a shared store, and readFleetMetrics
 * sums them. Memory store, and a real redis-server through ioredis and node-redis; a store that
 * goes down keeps the counts and delivers them once it is back, never throwing at a request.
 */
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEvents } from "../../src/core/events.js";
import { createLimiter } from "../../src/core/limiter.js";
import { memoryStore } from "../../src/core/memory-store.js";
import { createMetrics } from "../../src/core/metrics/collector.js";
import { readFleetMetrics } from "../../src/core/metrics/read-fleet.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const START = 1_800_000_000_000;

/** One "process": its own hub, limiter and collector on `store`, on the shared manual clock. */
function member(store: Store, clock: ReturnType<typeof manualClock>, prefix: string) {
  const events = createEvents();
  const limiter = createLimiter({
    policies: { limit: 3, window: "1h", name: "3/h" },
    name: "api",
    events,
    clock: clock.now,
    prefix: `${prefix}-limits`,
    store: memoryStore({ logger: false }),
  });
  const metrics = createMetrics(events, {
    store,
    prefix,
    clock: clock.now,
    timers: clock.timers,
  });
  return { limiter, metrics };
}

describe("fleet metrics on the memory store", () => {
  it("two collectors sharing a store: the fleet sees the sum, per second and in total", async () => {
    const clock = manualClock(START);
    const store = memoryStore({ logger: false });
    const a = member(store, clock, "fleet");
    const b = member(store, clock, "fleet");
    for (let i = 0; i < 5; i++) await a.limiter.consume("alice"); // 3 allowed, 2 limited
    await b.limiter.consume("bob"); // 1 allowed
    await clock.advanceAsync("1s"); // second 1 ends: both flush it on their timer
    for (let i = 0; i < 4; i++) await b.limiter.consume("carol"); // 3 allowed, 1 limited
    await clock.advanceAsync("1s");
    const fleet = await readFleetMetrics({ store, prefix: "fleet", from: START, to: clock.now() });
    expect(fleet.total).toMatchObject({ requests: 10, allowed: 7, limited: 3, blockRate: 0.3 });
    expect(fleet.rules.api!.policies["3/h"]).toMatchObject({ requests: 10, limited: 3 });
    expect(fleet.seconds.map((s) => [s.second, s.total.requests])).toEqual([
      [START / 1000, 6],
      [START / 1000 + 1, 4],
    ]);
    expect(fleet.topOffenders).toEqual([
      { key: "alice", count: 2, error: 0 },
      { key: "carol", count: 1, error: 0 },
    ]);
    // Another prefix is another fleet.
    const other = await readFleetMetrics({ store, prefix: "other", from: START, to: clock.now() });
    expect(other.total.requests).toBe(0);
    await Promise.all([a.metrics.close(), b.metrics.close()]);
  });

  it("close sends the second in progress; reset never takes counts back from the fleet", async () => {
    const clock = manualClock(START);
    const store = memoryStore({ logger: false });
    const a = member(store, clock, "closing");
    await a.limiter.consume("k");
    a.metrics.reset();
    await a.limiter.consume("k");
    expect(a.metrics.snapshot().total.requests).toBe(1);
    await a.metrics.close();
    const fleet = await readFleetMetrics({ store, prefix: "closing", from: START, to: START });
    expect(fleet.total.requests).toBe(2);
  });

  it("refuses bad readFleetMetrics options with one ConfigError", async () => {
    await expect(
      readFleetMetrics({ store: {} as Store, prefix: "", window: "2d", to: -1 }),
    ).rejects.toThrow(/readFleetMetrics\.store[\s\S]*readFleetMetrics\.prefix/);
    await expect(
      readFleetMetrics({ store: memoryStore({ logger: false }), from: 0, to: 200_000_000 }),
    ).rejects.toThrow(/at most a day/);
  });
});

describe("fleet metrics on a real redis-server", () => {
  let node: RedisNode;
  let io: Redis;
  let io2: Redis;
  let nodeRedis: ReturnType<typeof createClient>;

  beforeAll(async () => {
    node = await startRedis();
    const options = {
      host: node.host,
      port: node.port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 50,
    };
    io = new Redis(options);
    io2 = new Redis(options);
    for (const c of [io, io2]) c.on("error", () => {});
    nodeRedis = createClient({ url: `redis://${node.host}:${node.port}` });
    nodeRedis.on("error", () => {});
    await nodeRedis.connect();
    await Promise.all(
      [io, io2].map((c) => new Promise<void>((resolve) => c.once("ready", () => resolve()))),
    );
  });

  afterAll(async () => {
    io?.disconnect();
    io2?.disconnect();
    await nodeRedis?.close().catch(() => {});
    await node?.stop();
  });

  it("two collectors on two clients (ioredis, node-redis): one hash per second, summed", async () => {
    const clock = manualClock(START);
    const a = member(redisStore({ client: io, logger: false }), clock, "r1");
    const b = member(redisStore({ client: nodeRedis, logger: false }), clock, "r1");
    for (let i = 0; i < 4; i++) await a.limiter.consume("mallory");
    for (let i = 0; i < 2; i++) await b.limiter.consume("bob");
    await clock.advanceAsync("2s");
    await Promise.all([a.metrics.close(), b.metrics.close()]);
    const keys = (await io.keys("r1:metrics:*")).sort();
    expect(keys).toEqual([`r1:metrics:${START / 1000}`]);
    const ttl = await io.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(3_500_000); // retention: 1h by default
    const fleet = await readFleetMetrics({
      store: redisStore({ client: io }),
      prefix: "r1",
      from: START,
      to: clock.now(),
    });
    expect(fleet.total).toMatchObject({ requests: 6, allowed: 5, limited: 1 });
    expect(fleet.topOffenders).toEqual([{ key: "mallory", count: 1, error: 0 }]);
    // node-redis reads the same (RESP maps or arrays alike).
    const viaNodeRedis = await readFleetMetrics({
      store: redisStore({ client: nodeRedis }),
      prefix: "r1",
      from: START,
      to: clock.now(),
    });
    expect(viaNodeRedis.total).toEqual(fleet.total);
  });

  it("store latency: every Redis decision timed into the histogram", async () => {
    const limiter = createLimiter({
      policies: "100/s",
      prefix: "lat",
      store: redisStore({ client: io, logger: false }),
      metrics: true,
    });
    for (let i = 0; i < 20; i++) await limiter.consume(`k${i % 3}`);
    const latency = limiter.metrics().storeLatency;
    expect(latency.count).toBe(20);
    expect(latency.p50Ms).toBeGreaterThan(0);
    expect(latency.p50Ms).toBeLessThanOrEqual(latency.p99Ms);
    expect(latency.p99Ms).toBeLessThanOrEqual(latency.maxMs);
    expect(latency.buckets.at(-1)!.count).toBe(20);
  });

  it("counts survive a Redis outage: kept while it is down, delivered once it is back", async () => {
    const clock = manualClock(START);
    const store = redisStore({ client: io2, logger: false, timeout: 200 });
    const a = member(store, clock, "r2");
    for (let i = 0; i < 5; i++) await a.limiter.consume("k"); // decided in memory: 3 + 2
    await node.kill();
    await clock.advanceAsync("1s"); // the flush fails: nothing thrown, counts kept
    await pause(300); // the failed record settles (its timeout is real time)
    await a.limiter.consume("k2");
    await node.restart();
    await until("io2 reconnected", async () => (await io2.ping().catch(() => "")) === "PONG");
    await a.metrics.close(); // sends the kept second and the one in progress
    const fleet = await readFleetMetrics({ store, prefix: "r2", from: START, to: clock.now() });
    expect(fleet.total).toMatchObject({ requests: 6, allowed: 4, limited: 2 });
  });
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await pause(50);
  }
}
