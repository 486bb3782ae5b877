/**
 * throttlekit/socket.io with Redis down: fail-closed answers "UNAVAILABLE" (never a quota
 * refusal, never a closeAfter violation); fallback's local refusals are quota refusals.
 */
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import {
  ask,
  closeClients,
  connect,
  type Harness,
  refused,
  serve,
  uniquePrefix,
} from "./harness.js";

let node: RedisNode;
const clients: Redis[] = [];
let harness: Harness | undefined;

beforeAll(async () => {
  node = await startRedis();
}, 30_000);
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await node?.stop();
});
afterEach(async () => {
  closeClients();
  await harness?.close();
  harness = undefined;
});

async function storeFor(mode: "fail-closed" | "fallback") {
  const client = new Redis(node.port, node.host, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  client.on("error", () => {});
  clients.push(client);
  await new Promise((resolve) => client.once("ready", resolve));
  return redisStore({ client, timeout: 200, onStoreError: mode, logger: false });
}

describe("socket.io with the store out", () => {
  it("fail-closed: events get UNAVAILABLE, new connections a connect_error UNAVAILABLE, nobody is closed", async () => {
    harness = await serve({
      store: await storeFor("fail-closed"),
      prefix: uniquePrefix(),
      logger: false,
      maxConnections: 5,
      identityEvents: { "*": "100/min" },
      closeAfter: { violations: 1, within: "1m" },
    });
    const a = await connect(harness.url);
    expect(await ask(a, "other")).toEqual({ ok: true });
    await node.kill();
    try {
      const answer = await ask(a, "other");
      expect(answer).toMatchObject({ code: "UNAVAILABLE", event: "other" });
      expect(await ask(a, "other")).toMatchObject({ code: "UNAVAILABLE" });
      expect(a.connected).toBe(true);
      const error = await refused(harness.url);
      expect(error.data).toMatchObject({ code: "UNAVAILABLE" });
      expect(harness.handled.get("other")).toBe(1);
    } finally {
      await node.restart();
    }
  }, 20_000);

  it("fallback: the local limiter's refusals are RATE_LIMITED", async () => {
    harness = await serve({
      store: await storeFor("fallback"),
      prefix: uniquePrefix(),
      logger: false,
      identityEvents: { "*": "2/min" },
    });
    const a = await connect(harness.url);
    await node.kill();
    try {
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await ask(a, "other"));
      expect(answers.slice(0, 2)).toEqual([{ ok: true }, { ok: true }]);
      expect(answers[2]).toMatchObject({ code: "RATE_LIMITED" });
    } finally {
      await node.restart();
    }
  }, 20_000);
});
