import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { memoryStore } from "../../src/core/memory-store.js";
import type { Store, StoreBinding } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import type { StoreFactory } from "./contract.js";

/** The memory store (its allow and deny lists included). */
export const memory: StoreFactory = {
  name: "memory",
  create(): Store {
    return memoryStore();
  },
};

/**
 * The Redis store against a redis-server this test file starts on a free port (on first use)
 * and stops when the file is done. Cases share it; each passes its own prefix.
 */
let server: Promise<{ node: RedisNode; client: Redis }> | undefined;
afterAll(async () => {
  if (server === undefined) return;
  const { node, client } = await server;
  client.disconnect();
  await node.stop();
});

export const redis: StoreFactory = {
  name: "redis",
  async create(): Promise<Store> {
    server ??= startRedis().then((node) => ({
      node,
      client: new Redis({ host: "127.0.0.1", port: node.port, lazyConnect: false }),
    }));
    const { client } = await server;
    return redisStore({ client });
  },
};

/** Every store the contract runs on: each adapter must pass the whole table on each. */
export const storeFactories: readonly StoreFactory[] = [memory, redis];

/** A store whose server is down: every call rejects (the adapters' fault path). */
export function downStore(): Store {
  const fail = () => Promise.reject(new Error("store down"));
  const binding: StoreBinding = {
    consume: fail,
    peek: fail,
    refund: fail,
    reset: fail,
    block: fail,
    unblock: fail,
  };
  return { name: "down", bind: () => binding };
}
