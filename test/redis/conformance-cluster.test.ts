import { Cluster } from "ioredis";
import { Cluster as ValkeyCluster } from "iovalkey";
import { createCluster } from "redis";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { storeConformance } from "../../src/testing/store-conformance.js";
import { type RedisCluster, startCluster } from "../support/redis-server.js";

let cluster: RedisCluster;
let io: Cluster;
let valkey: ValkeyCluster;
let nodeRedis: ReturnType<typeof createCluster>;
const stores: Record<string, Store> = {};

beforeAll(async () => {
  cluster = await startCluster();
  io = new Cluster([...cluster.seeds]);
  valkey = new ValkeyCluster([...cluster.seeds]);
  nodeRedis = createCluster({
    rootNodes: cluster.seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })),
  });
  nodeRedis.on("error", () => {});
  await nodeRedis.connect();
  stores.ioredis = redisStore({ client: io });
  stores.iovalkey = redisStore({ client: valkey });
  stores["node-redis"] = redisStore({ client: nodeRedis });
});

afterAll(async () => {
  io?.disconnect();
  valkey?.disconnect();
  await nodeRedis?.close().catch(() => {});
  await cluster?.stop();
});

for (const name of ["ioredis", "node-redis", "iovalkey"]) {
  storeConformance({
    name: `redis 3-master cluster (${name})`,
    describe,
    it,
    store: () => stores[name]!,
  });
}
