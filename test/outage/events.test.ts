/**
 * Store outage events (issue 17, item 1): a real redis-server killed (SIGKILL) and restarted,
 * twice. Every hub observing the store sees exactly one `degraded` when the outage begins and
 * one `recovered` when it ends, however many decisions are made meanwhile; the log keeps its
 * two lines per outage; a listener that throws never breaks a decision.
 */

import { buildSchema, parse } from "graphql";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcRateLimit } from "../../src/adapters/grpc.js";
import { resolveOptions as nestOptions } from "../../src/adapters/nest/options.js";
import { socketIoRateLimit } from "../../src/adapters/socket-io/index.js";
import { wsRateLimit } from "../../src/adapters/ws/index.js";
import type { Decision } from "../../src/core/decision.js";
import { createEvents, type StoreEvent } from "../../src/core/events.js";
import { createLimiter } from "../../src/core/limiter.js";
import { createGraphQLLimiter } from "../../src/graphql/limiter.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const TIMEOUT_MS = 100;
/** Concurrent decisions per round while Redis is down, and rounds per outage. */
const BURST = 40;
const ROUNDS = 3;

let node: RedisNode;
let redis: Redis;
let unhandled = 0;
const onUnhandled = () => {
  unhandled++;
};

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  node = await startRedis();
  redis = new Redis({
    host: node.host,
    port: node.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  });
  redis.on("error", () => {});
  await new Promise<void>((resolve) => redis.once("ready", () => resolve()));
});

afterAll(async () => {
  process.off("unhandledRejection", onUnhandled);
  redis?.disconnect();
  await node?.stop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls (bounded) until `ok` holds: waiting for a process to come back, not for a window. */
async function until(what: string, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await pause(50);
  }
}

describe("degraded and recovered: once per outage, on every observing hub", () => {
  it("two outages in a row, many decisions during each; two limiters on one hub, a second hub, a throwing listener", async () => {
    const lines: string[] = [];
    const store = redisStore({
      client: redis,
      timeout: TIMEOUT_MS,
      onStoreError: "fallback",
      circuitBreaker: { failures: 3, cooldown: "100ms" },
      logger: { warn: (line) => lines.push(line) },
    });
    const shared = createEvents({ logger: false });
    const prefix = `outage-events-${process.pid}`;
    // Two limiters on one hub: the store keeps the hub once, so it hears each transition once.
    const a = createLimiter({ policies: "1000/min", store, prefix: `${prefix}-a`, events: shared });
    const b = createLimiter({ policies: "1000/min", store, prefix: `${prefix}-b`, events: shared });
    // A limiter with a hub of its own hears the same transitions.
    const c = createLimiter({ policies: "1000/min", store, prefix: `${prefix}-c` });
    const seen: StoreEvent[] = [];
    const own: StoreEvent[] = [];
    shared.on("degraded", (e) => seen.push(e));
    shared.on("recovered", (e) => seen.push(e));
    // Listeners that throw, before and after the others: nothing reaches the decisions.
    shared.on("degraded", () => {
      throw new Error("listener failure");
    });
    shared.on("recovered", () => {
      throw new Error("listener failure");
    });
    c.on("degraded", (e) => own.push(e));
    c.on("recovered", (e) => own.push(e));
    // Decisions are observed too: the throwing listener is on the hot path's hub.
    let decisions = 0;
    shared.on("decision", () => {
      decisions++;
      throw new Error("decision listener failure");
    });

    await until("ready", async () => (await a.consume("warm")).reason === "ok");
    expect(seen).toEqual([]);

    for (let outage = 1; outage <= 2; outage++) {
      await node.kill();
      let degraded = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const answers: Decision[] = await Promise.all(
          Array.from({ length: BURST }, (_, i) =>
            (i % 3 === 0 ? a : i % 3 === 1 ? b : c).consume(`user-${outage}-${i}`),
          ),
        );
        for (const d of answers) {
          // fallback: the local limiter decides, far under its limit here.
          expect(d.allowed).toBe(true);
          expect(d.reason).toBe("degraded");
          degraded++;
        }
      }
      expect(degraded).toBe(BURST * ROUNDS);
      expect(seen.map((e) => e.type)).toEqual([
        ...Array(2 * (outage - 1))
          .fill(null)
          .map((_, i) => (i % 2 === 0 ? "degraded" : "recovered")),
        "degraded",
      ]);
      const down = seen.at(-1)!;
      expect(down).toMatchObject({
        type: "degraded",
        store: "redis",
        mode: "fallback",
        outageMs: undefined,
        degradedDecisions: undefined,
      });
      expect(typeof down.error).toBe("string");
      expect(down.error!.length).toBeGreaterThan(0);

      await node.restart();
      await until("recovery", async () => (await a.consume("probe")).reason === "ok");
      // More traffic after recovery (and late replies to calls sent during the outage):
      // nothing more is emitted.
      const after = await Promise.all(
        Array.from({ length: BURST }, (_, i) => (i % 2 === 0 ? b : c).consume(`after-${i}`)),
      );
      expect(after.every((d) => d.reason === "ok")).toBe(true);

      expect(seen.map((e) => e.type)).toEqual(
        Array(2 * outage)
          .fill(null)
          .map((_, i) => (i % 2 === 0 ? "degraded" : "recovered")),
      );
      const up = seen.at(-1)!;
      expect(up).toMatchObject({
        type: "recovered",
        store: "redis",
        mode: "fallback",
        error: undefined,
      });
      expect(up.outageMs).toBeGreaterThanOrEqual(0);
      expect(up.time - down.time).toBe(up.outageMs);
      // Every decision answered during the outage is counted, and the probes that failed.
      expect(up.degradedDecisions).toBeGreaterThanOrEqual(BURST * ROUNDS);
      // The other hub heard exactly the same events, the same objects.
      expect(own).toEqual(seen);
    }
    expect(decisions).toBeGreaterThan(2 * BURST * ROUNDS * (2 / 3));
    // The log keeps its two lines per outage.
    expect(lines.map((l) => l.match(/WARN_TK_\w+/)?.[0])).toEqual([
      "WARN_TK_STORE_OUTAGE",
      "WARN_TK_STORE_RECOVERED",
      "WARN_TK_STORE_OUTAGE",
      "WARN_TK_STORE_RECOVERED",
    ]);
    expect(unhandled).toBe(0);
  }, 60_000);

  it("a hub added twice (by hand and by a limiter) hears each transition once", async () => {
    const store = redisStore({
      client: redis,
      timeout: TIMEOUT_MS,
      circuitBreaker: false,
      logger: false,
    });
    const hub = createEvents({ logger: false });
    const types: string[] = [];
    hub.on("degraded", (e) => types.push(e.type));
    hub.on("recovered", (e) => types.push(e.type));
    store.observe(hub);
    store.observe(hub);
    const limiter = createLimiter({
      policies: "10/s",
      store,
      prefix: `twice-${process.pid}`,
      events: hub,
    });
    await until("ready", async () => (await limiter.consume("k")).reason === "ok");
    await node.kill();
    for (let i = 0; i < 5; i++) expect((await limiter.consume("k")).reason).toBe("degraded");
    await node.restart();
    await until("recovery", async () => (await limiter.consume("k")).reason === "ok");
    expect(types).toEqual(["degraded", "recovered"]);
  }, 30_000);

  it("adapters sharing one hub and one store: one degraded and one recovered per outage", async () => {
    const store = redisStore({ client: redis, timeout: TIMEOUT_MS, logger: false });
    const hub = createEvents({ logger: false });
    const types: string[] = [];
    hub.on("degraded", (e) => types.push(e.type));
    hub.on("recovered", (e) => types.push(e.type));
    const prefix = `adapters-${process.pid}`;
    const closers: { close(): Promise<void> }[] = [
      wsRateLimit({ store, prefix: `${prefix}-ws`, messages: { perIdentity: "9/s" }, events: hub }),
      socketIoRateLimit({ store, prefix: `${prefix}-sio`, maxConnections: 2, eventHub: hub }),
      grpcRateLimit({ store, prefix: `${prefix}-grpc`, policies: "9/s", events: hub }),
    ];
    const nest = nestOptions({ throttlers: "9/s", store, prefix: `${prefix}-nest`, events: hub });
    closers.push(nest.root);
    const graphql = createGraphQLLimiter({
      store,
      prefix: `${prefix}-gql`,
      points: "100/s",
      events: hub,
    });
    const schema = buildSchema("type Query { hello: String }");
    const document = parse("{ hello }");
    const check = () => graphql.check({ schema, document, key: "k" });
    try {
      await until("ready", async () => (await check()).allowed && types.length === 0);
      await node.kill();
      for (let i = 0; i < 5; i++) await check();
      await node.restart();
      await until("recovery", async () => {
        await check();
        return types.length === 2;
      });
      for (let i = 0; i < 5; i++) await check();
      expect(types).toEqual(["degraded", "recovered"]);
    } finally {
      for (const c of closers) await c.close();
    }
  }, 30_000);
});
