/**
 * createConcurrencyLimiter on Redis (issue 14 item 1): the conformance suite on a single node
 * and a 3-master cluster, two clients ("two processes") sharing one max exactly, server time,
 * each onStoreError mode with Redis down, and a stalled Redis (SIGSTOP) that must not hand
 * slots to acquires that were answered as failed.
 */
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AcquireResult, createConcurrencyLimiter } from "../../src/core/concurrency.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { concurrencyConformance } from "../../src/testing/concurrency-conformance.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";
import { type NodeRedisConnection, nodeRedisMajors } from "./node-redis.js";

const TIMEOUT_MS = 200;
let server: RedisNode;
let cluster: RedisCluster;
const clients: { disconnect(): void }[] = [];
const nodeRedis: NodeRedisConnection[] = [];
const stores: Record<string, Store> = {};

function io(): Redis {
  const client = new Redis(server.port, server.host);
  clients.push(client);
  return client;
}

function ioCluster(): Cluster {
  const client = new Cluster([...cluster.seeds]);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startCluster()]);
  // Exactness is the point here, not outages: a timeout generous enough that a loaded CI
  // machine never answers a call degraded (fallback grants locally, on top of Redis's max).
  stores.single = redisStore({ client: io(), timeout: "5s" });
  for (const major of nodeRedisMajors) {
    const connection = await major.client(server);
    nodeRedis.push(connection);
    stores[`single, ${major.name}`] = redisStore({ client: connection.client, timeout: "5s" });
  }
  stores.cluster = redisStore({ client: ioCluster(), timeout: "5s" });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const c of nodeRedis) await c.close().catch(() => {});
  await Promise.all([server?.stop(), cluster?.stop()]);
});

concurrencyConformance({
  name: "redis single node (ioredis)",
  describe,
  it,
  store: () => stores.single!,
});
for (const { name } of nodeRedisMajors) {
  concurrencyConformance({
    name: `redis single node (${name})`,
    describe,
    it,
    store: () => stores[`single, ${name}`]!,
  });
}
concurrencyConformance({
  name: "redis 3-master cluster",
  describe,
  it,
  store: () => stores.cluster!,
});

describe("two processes on one Redis share one max exactly", () => {
  for (const where of ["single node", "cluster"] as const) {
    it(`${where}: 200 acquires over two clients, max 5 → 5 granted`, async () => {
      const make = () =>
        createConcurrencyLimiter({
          max: 5,
          leaseMs: "1m",
          prefix: `two-${where === "cluster" ? "c" : "s"}-${process.pid}`,
          store: redisStore({ client: where === "cluster" ? ioCluster() : io(), timeout: "5s" }),
        });
      const [a, b] = [make(), make()];
      const results: AcquireResult[] = await Promise.all(
        Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).acquire(`user:${where}`)),
      );
      const granted = results.filter((r) => r.allowed);
      expect(granted).toHaveLength(5);
      expect(await a.inFlight(`user:${where}`)).toBe(5);
      const refused = results.find((r) => !r.allowed)!;
      expect(refused.decision.reason).toBe("limited");
      // Server time: the earliest lease expires within a minute from now.
      expect(refused.decision.retryAfterMs).toBeGreaterThan(55_000);
      expect(refused.decision.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(await b.release(granted[0]!.lease!)).toBe(true);
      expect((await a.acquire(`user:${where}`)).allowed).toBe(true);
    });
  }
});

describe("server time", () => {
  it("leases are stamped with Redis TIME; the key lives until the latest lease expires", async () => {
    const prefix = `srv-${process.pid}`;
    const limiter = createConcurrencyLimiter({
      max: 2,
      leaseMs: 5000,
      prefix,
      store: stores.single!,
    });
    const [seconds, micros] = (await server.cli("TIME")).trim().split("\n").map(Number);
    const serverNow = seconds! * 1000 + Math.floor(micros! / 1000);
    const r = await limiter.acquire("k");
    expect(r.allowed).toBe(true);
    expect(Math.abs(r.lease!.expiresAt - (serverNow + 5000))).toBeLessThan(1000);
    const ttl = Number((await server.cli("PTTL", `${prefix}:{k}:cc`)).trim());
    expect(ttl).toBeGreaterThan(4000);
    expect(ttl).toBeLessThanOrEqual(5000);
    const renewed = await limiter.renew(r.lease!);
    expect(renewed).not.toBe(false);
    expect(await limiter.release(r.lease!)).toBe(true);
    expect(await limiter.release(r.lease!)).toBe(false);
    expect(await limiter.inFlight("k")).toBe(0);
  });
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Redis down: each onStoreError mode", () => {
  let down: RedisNode;
  beforeAll(async () => {
    down = await startRedis();
  });
  afterAll(async () => {
    await down?.stop();
  });

  for (const mode of ["fail-open", "fail-closed", "fallback"] as const) {
    it(mode, async () => {
      const client = new Redis(down.port, down.host, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
      });
      client.on("error", () => {});
      clients.push(client);
      await new Promise((resolve) => client.once("ready", resolve));
      const store = redisStore({ client, timeout: TIMEOUT_MS, onStoreError: mode, logger: false });
      const limiter = createConcurrencyLimiter({
        max: 2,
        leaseMs: "1m",
        prefix: `down-${mode}`,
        store,
      });
      const held = await limiter.acquire("k");
      expect(held.decision.reason).toBe("ok");
      await down.kill();
      try {
        const started = performance.now();
        const answers = [];
        for (let i = 0; i < 3; i++) answers.push(await limiter.acquire("k"));
        expect(performance.now() - started).toBeLessThan(3 * TIMEOUT_MS + 500);
        const reasons = answers.map((a) => [a.allowed, a.decision.reason]);
        if (mode === "fail-open") {
          expect(reasons).toEqual(Array(3).fill([true, "degraded"]));
        } else if (mode === "fail-closed") {
          expect(reasons).toEqual(Array(3).fill([false, "degraded"]));
          expect(answers[0]!.decision.retryAfterMs).toBeGreaterThan(0);
        } else {
          // The local limiter counts from zero in this process: max 2, then its own refusal.
          expect(reasons).toEqual([
            [true, "degraded"],
            [true, "degraded"],
            [false, "limited"],
          ]);
          expect(await limiter.release(answers[0]!.lease!)).toBe(true);
          expect((await limiter.acquire("k")).allowed).toBe(true);
        }
        // A lease Redis holds cannot be released now: false, never a rejection.
        expect(await limiter.release(held.lease!)).toBe(false);
        const renewed = await limiter.renew(held.lease!);
        expect(renewed === false).toBe(mode === "fail-closed");
      } finally {
        await down.restart();
      }
    }, 20_000);
  }
});

describe("a stalled Redis (SIGSTOP) leaves no slot to an acquire answered as failed", () => {
  let stalled: RedisNode;
  beforeAll(async () => {
    stalled = await startRedis();
  });
  afterAll(async () => {
    await stalled?.stop();
  });

  for (const mode of ["fail-closed", "fallback", "fail-open"] as const) {
    it(mode, async () => {
      const client = new Redis(stalled.port, stalled.host);
      client.on("error", () => {});
      clients.push(client);
      const store = redisStore({
        client,
        timeout: TIMEOUT_MS,
        onStoreError: mode,
        circuitBreaker: false,
        logger: false,
      });
      const limiter = createConcurrencyLimiter({
        max: 5,
        leaseMs: "1h",
        prefix: `stall-${mode}`,
        store,
      });
      // Healthy first, so the runner knows the server's clock, as in a running service.
      const warm = await limiter.acquire("warm");
      expect(warm.decision.reason).toBe("ok");
      const pid = stalled.pid()!;
      process.kill(pid, "SIGSTOP");
      let answers: AcquireResult[] = [];
      try {
        for (let wave = 0; wave < 4; wave++) {
          answers = answers.concat(
            await Promise.all(Array.from({ length: 5 }, () => limiter.acquire("k"))),
          );
        }
        await pause(Math.max(0, 1500 - 4 * TIMEOUT_MS));
      } finally {
        process.kill(pid, "SIGCONT");
      }
      expect(answers.every((a) => a.decision.reason !== "ok")).toBe(true);
      await limiter.release(warm.lease!);
      // Redis has now run (or refused) every queued acquire: none of them holds a slot.
      await pause(100);
      expect(await limiter.inFlight("k")).toBe(0);
      const after = await Promise.all(Array.from({ length: 8 }, () => limiter.acquire("k")));
      expect(after.filter((a) => a.allowed && a.decision.reason === "ok")).toHaveLength(5);
    }, 20_000);
  }
});
