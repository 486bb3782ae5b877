/**
 * throttlekit/ws on Redis: the whole suite on a single node and on a 3-master cluster, and a
 * store outage answered as "unavailable" (upgrade 503, close 1013), never as a quota refusal.
 */
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wsRateLimit } from "../../src/adapters/ws/index.js";
import type { Store } from "../../src/core/store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import {
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";
import { connect, open, serve } from "./harness.js";
import { wsSuite } from "./suite.js";

let server: RedisNode;
let cluster: RedisCluster;
const clients: { disconnect(): void }[] = [];
const stores: Record<string, Store> = {};

beforeAll(async () => {
  [server, cluster] = await Promise.all([startRedis(), startCluster()]);
  const single = new Redis(server.port, server.host);
  const multi = new Cluster([...cluster.seeds]);
  clients.push(single, multi);
  stores.single = redisStore({ client: single });
  stores.cluster = redisStore({ client: multi });
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await Promise.all([server?.stop(), cluster?.stop()]);
});

wsSuite("Redis (single node)", () => stores.single!);
wsSuite("Redis (3-master cluster)", () => stores.cluster!);

describe("throttlekit/ws with Redis down and onStoreError fail-closed", () => {
  it("answers an upgrade 503 (not 429) and closes a connection 1013 (not 1008)", async () => {
    const node = await startRedis();
    const client = new Redis(node.port, node.host, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    client.on("error", () => {});
    await new Promise((resolve) => client.once("ready", resolve));
    try {
      const store = redisStore({
        client,
        timeout: "100ms",
        onStoreError: "fail-closed",
        logger: false,
      });
      const limit = wsRateLimit({
        store,
        connections: "100/min",
        messages: { perIdentity: "100/min" },
        onLimited: "close",
        logger: false,
      });
      const srv = await serve(limit);
      try {
        const a = await open(srv.port);
        a.send("before");
        expect(await a.frameCount(1)).toEqual(["before"]);
        await node.kill();
        a.send("during");
        expect(await a.closed).toEqual({ code: 1013, reason: "try again later" });
        const refused = await connect(srv.port);
        expect(refused.refused && refused.status).toBe(503);
      } finally {
        await srv.close();
        await limit.close();
      }
    } finally {
      client.disconnect();
      await node.stop();
    }
  }, 20_000);
});
