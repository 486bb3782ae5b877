/**
 * Fleet metrics on a real 3-master Redis Cluster (issue 17, item 2): each second's hash is its
 * own key, so seconds land on different nodes and no script ever spans two of them; two
 * collectors record through ioredis and node-redis cluster clients and the read sums them.
 */
import { Cluster } from "ioredis";
import { createCluster } from "redis";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createEvents } from "../../src/core/events.js";
import { createLimiter } from "../../src/core/limiter.js";
import { createMetrics } from "../../src/core/metrics/collector.js";
import { readFleetMetrics } from "../../src/core/metrics/read-fleet.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type RedisCluster, startCluster } from "../support/redis-server.js";

let cluster: RedisCluster;
let io: Cluster;
let nodeRedis: ReturnType<typeof createCluster>;

beforeAll(async () => {
  cluster = await startCluster();
  io = new Cluster([...cluster.seeds]);
  nodeRedis = createCluster({
    rootNodes: cluster.seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })),
  });
  nodeRedis.on("error", () => {});
  await nodeRedis.connect();
}, 60_000);

afterAll(async () => {
  io?.disconnect();
  await nodeRedis?.close().catch(() => {});
  await cluster?.stop();
});

it("ten seconds from two collectors, spread over the masters, read back as one sum", async () => {
  const start = 1_800_000_000_000;
  const clock = manualClock(start);
  const members = [io, nodeRedis].map((client) => {
    const events = createEvents();
    const limiter = createLimiter({ policies: "2/h", name: "api", events, clock: clock.now });
    const metrics = createMetrics(events, {
      store: redisStore({ client }),
      prefix: "cl",
      clock: clock.now,
      timers: clock.timers,
    });
    return { limiter, metrics };
  });
  for (let s = 0; s < 10; s++) {
    for (const [i, m] of members.entries()) {
      await m.limiter.consume(`user:${i}:${s}`);
      await m.limiter.consume(`user:${i}:${s}`);
      await m.limiter.consume(`user:${i}:${s}`); // limited
    }
    await clock.advanceAsync("1s");
  }
  await Promise.all(members.map((m) => m.metrics.close()));
  let holding = 0;
  for (const n of cluster.nodes) {
    const keys = (await n.cli("--scan", "--pattern", "cl:metrics:*")).trim();
    if (keys !== "") holding++;
  }
  expect(holding).toBeGreaterThan(1);
  const fleet = await readFleetMetrics({
    store: redisStore({ client: io }),
    prefix: "cl",
    from: start,
    to: clock.now(),
  });
  expect(fleet.total).toMatchObject({ requests: 60, allowed: 40, limited: 20 });
  expect(fleet.seconds).toHaveLength(10);
  expect(fleet.topOffenders).toHaveLength(20);
}, 60_000);
