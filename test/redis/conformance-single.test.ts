import { Redis } from "ioredis";
import { Valkey } from "iovalkey";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { storeConformance } from "../../src/testing/store-conformance.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { type NodeRedisConnection, nodeRedis4Legacy, nodeRedisMajors } from "./node-redis.js";

let server: RedisNode;
let io: Redis;
let valkey: Valkey;
const nodeRedis: NodeRedisConnection[] = [];
const stores: Record<string, Store> = {};

beforeAll(async () => {
  server = await startRedis();
  io = new Redis(server.port, server.host);
  valkey = new Valkey(server.port, server.host);
  stores.ioredis = redisStore({ client: io });
  stores.iovalkey = redisStore({ client: valkey });
  for (const major of nodeRedisMajors) {
    const connection = await major.client(server);
    nodeRedis.push(connection);
    stores[major.name] = redisStore({ client: connection.client });
  }
  const legacy = await nodeRedis4Legacy(server);
  nodeRedis.push(legacy);
  stores["node-redis 4, legacyMode"] = redisStore({ client: legacy.client });
  stores["ioredis, no batching, no local cache"] = redisStore({
    client: io,
    maxBatch: 1,
    localCache: false,
  });
});

afterAll(async () => {
  io?.disconnect();
  valkey?.disconnect();
  for (const c of nodeRedis) await c.close().catch(() => {});
  await server?.stop();
});

for (const name of [
  "ioredis",
  ...nodeRedisMajors.map((m) => m.name),
  "node-redis 4, legacyMode",
  "iovalkey",
  "ioredis, no batching, no local cache",
]) {
  storeConformance({
    name: `redis single node (${name})`,
    describe,
    it,
    store: () => stores[name]!,
  });
}

describe("node-redis majors", () => {
  for (const m of nodeRedisMajors) {
    it(`${m.name} is the installed ${m.major}.x`, () => {
      expect(m.version.split(".")[0]).toBe(String(m.major));
    });
  }
});
