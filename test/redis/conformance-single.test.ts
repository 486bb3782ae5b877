import { Redis } from "ioredis";
import { Valkey } from "iovalkey";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { storeConformance } from "../../src/testing/store-conformance.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

let server: RedisNode;
let io: Redis;
let valkey: Valkey;
let nodeRedis: ReturnType<typeof createClient>;
const stores: Record<string, Store> = {};

beforeAll(async () => {
  server = await startRedis();
  io = new Redis(server.port, server.host);
  valkey = new Valkey(server.port, server.host);
  nodeRedis = createClient({ socket: { host: server.host, port: server.port } });
  nodeRedis.on("error", () => {});
  await nodeRedis.connect();
  stores.ioredis = redisStore({ client: io });
  stores.iovalkey = redisStore({ client: valkey });
  stores["node-redis"] = redisStore({ client: nodeRedis });
  stores["ioredis, no batching, no local cache"] = redisStore({
    client: io,
    maxBatch: 1,
    localCache: false,
  });
});

afterAll(async () => {
  io?.disconnect();
  valkey?.disconnect();
  await nodeRedis?.close().catch(() => {});
  await server?.stop();
});

for (const name of ["ioredis", "node-redis", "iovalkey", "ioredis, no batching, no local cache"]) {
  storeConformance({
    name: `redis single node (${name})`,
    describe,
    it,
    store: () => stores[name]!,
  });
}
