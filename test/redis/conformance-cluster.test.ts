import { Cluster } from "ioredis";
import { Cluster as ValkeyCluster } from "iovalkey";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { storeConformance } from "../../src/testing/store-conformance.js";
import { type RedisCluster, startCluster } from "../support/redis-server.js";
import { type NodeRedisConnection, nodeRedisMajors } from "./node-redis.js";

let cluster: RedisCluster;
let io: Cluster;
let valkey: ValkeyCluster;
const nodeRedis: NodeRedisConnection[] = [];
const stores: Record<string, Store> = {};

beforeAll(async () => {
  cluster = await startCluster();
  io = new Cluster([...cluster.seeds]);
  valkey = new ValkeyCluster([...cluster.seeds]);
  stores.ioredis = redisStore({ client: io });
  stores.iovalkey = redisStore({ client: valkey });
  for (const major of nodeRedisMajors) {
    const connection = await major.cluster(cluster.seeds);
    nodeRedis.push(connection);
    stores[major.name] = redisStore({ client: connection.client });
  }
});

afterAll(async () => {
  io?.disconnect();
  valkey?.disconnect();
  for (const c of nodeRedis) await c.close().catch(() => {});
  await cluster?.stop();
});

for (const name of ["ioredis", ...nodeRedisMajors.map((m) => m.name), "iovalkey"]) {
  storeConformance({
    name: `redis 3-master cluster (${name})`,
    describe,
    it,
    store: () => stores[name]!,
  });
}
