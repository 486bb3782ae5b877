/**
 * autoBlock fleet-wide: a detector writing to a real redis-server's lists, read back through
 * another connection's ListStore (what every other process of the fleet, and the HTTP layer's
 * deny list, reads), with the expiry and the abuse: reason; and a Redis outage that must not
 * reach analyze().
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createAbuseDetector } from "../../src/protect/abuse-detector.js";
import { ABUSE_REASON_PREFIX, type AbuseDetector } from "../../src/protect/types.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

let server: RedisNode;
const clients: Redis[] = [];

function io(): Redis {
  const client = new Redis(server.port, server.host, { maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  clients.push(client);
  return client;
}

beforeAll(async () => {
  server = await startRedis();
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

/** 30 failed logins over 10 s from `now`: suspicious after a few. */
function stuff(d: AbuseDetector, id: string, now: number) {
  let last = d.analyze(id, "/login", { status: 401, userAgent: undefined, time: now });
  for (let i = 1; i < 30; i++)
    last = d.analyze(id, "/login", { status: 401, userAgent: undefined, time: now + i * 333 });
  return last;
}

describe("autoBlock through Redis lists", () => {
  it("puts the client on the deny list every process reads, with its expiry", async () => {
    const now = Date.now();
    const detector = createAbuseDetector({
      autoBlock: true,
      blockDuration: "15m",
      lists: redisStore({ client: io(), timeout: "5s" }).lists!("fleet"),
      logger: false,
    });
    expect(stuff(detector, "203.0.113.9", now).blocked).toBe(true);

    // Another process: its own connection, its own store, the same namespace.
    const elsewhere = redisStore({ client: io(), timeout: "5s" }).lists!("fleet");
    const entry = await vi.waitFor(
      async () => {
        const [found] = await elsewhere.entries(now + 10_000);
        if (found === undefined) throw new Error("not written yet");
        return found;
      },
      { timeout: 5000, interval: 20 },
    );
    expect(entry).toMatchObject({ list: "deny", value: "203.0.113.9" });
    expect(entry.reason?.startsWith(ABUSE_REASON_PREFIX)).toBe(true);
    expect(entry.expiresAt).toBe(entry.addedAt + 15 * 60_000);
    // It is in Redis itself, not in anyone's memory.
    expect((await server.cli("HLEN", "fleet:lists")).trim()).toBe("1");
    expect(await elsewhere.entries(entry.addedAt + 15 * 60_000 - 1)).toHaveLength(1);
    expect(await elsewhere.entries(entry.addedAt + 15 * 60_000)).toHaveLength(0);
  });

  it("keeps analyzing, and blocking in the process, while Redis is down", async () => {
    const down = await startRedis();
    const client = new Redis(down.port, down.host, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    client.on("error", () => {});
    clients.push(client);
    const detector = createAbuseDetector({
      autoBlock: true,
      lists: redisStore({ client, timeout: "200ms", logger: false }).lists!("fleet"),
      logger: false,
    });
    await down.kill();
    const now = Date.now();
    expect(stuff(detector, "198.51.100.4", now).blocked).toBe(true);
    expect(detector.isBlocked("198.51.100.4", now + 10_000)).toBe(true);
    // The failed write settles in the background without an unhandled rejection.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await down.stop();
  });
});
