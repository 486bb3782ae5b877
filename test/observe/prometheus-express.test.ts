/**
 * throttlekit/prometheus behind a real Express app (throttlekit/express) on 127.0.0.1, on the
 * memory store and on a real redis-server: the answers the clients get (200, 429, 403, shadow
 * rules that never refuse) are what GET /metrics shows; a killed and restarted redis-server
 * shows as one outage with the degraded gauge up, then down.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { createEvents, type Store } from "throttlekit";
import { expressRateLimit } from "throttlekit/express";
import { prometheusMetrics } from "throttlekit/prometheus";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { parseExposition, sampleValue } from "./prometheus-exposition.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

let node: RedisNode;
let client: Redis;
beforeAll(async () => {
  node = await startRedis();
  client = new Redis({
    host: "127.0.0.1",
    port: node.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 50,
  });
  client.on("error", () => {});
  await new Promise<void>((resolve) => client.once("ready", () => resolve()));
});
afterAll(async () => {
  client?.disconnect();
  await node?.stop();
});

/** An Express app: /metrics (not limited), then the limiter, then the routes. */
async function app(store: Store | undefined, prefix: string) {
  const events = createEvents({ logger: false });
  const registry = new Registry();
  const metrics = prometheusMetrics({ events, registry });
  cleanups.push(() => metrics.close());
  const limit = expressRateLimit({
    events,
    prefix,
    logger: false,
    trustProxy: 1, // the test's clients are told apart by X-Forwarded-For
    deny: ["203.0.113.66"],
    rules: [
      { path: "/canary", name: "canary", policies: "1/min", mode: "shadow" },
      { name: "api", policies: "3/min" },
    ],
    ...(store !== undefined ? { store } : {}),
  });
  const a = express();
  a.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  a.use(limit);
  a.get("/", (_req, res) => {
    res.send("ok");
  });
  a.get("/canary", (_req, res) => {
    res.send("ok");
  });
  const server: Server = await new Promise((resolve) => {
    const s = a.listen(0, "127.0.0.1", () => resolve(s));
  });
  cleanups.push(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    async get(path: string, from: string): Promise<number> {
      const r = await fetch(base + path, { headers: { "x-forwarded-for": from } });
      await r.arrayBuffer();
      return r.status;
    },
    async scrape() {
      const r = await fetch(`${base}/metrics`);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await r.text();
      expect(text).not.toMatch(/198\.51\.100|203\.0\.113/); // never an address
      return parseExposition(text);
    },
  };
}

const R = "throttlekit_requests_total";

describe("prometheusMetrics behind throttlekit/express", () => {
  for (const kind of ["memory", "redis"] as const) {
    it(`the scrape shows what the clients were answered (${kind} store)`, async () => {
      const store = kind === "redis" ? redisStore({ client, logger: false }) : undefined;
      const s = await app(store, `prom-express-${kind}-${Date.now()}`);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push(await s.get("/", "198.51.100.1"));
      statuses.push(await s.get("/", "198.51.100.2"));
      for (let i = 0; i < 2; i++) statuses.push(await s.get("/", "203.0.113.66"));
      for (let i = 0; i < 3; i++) statuses.push(await s.get("/canary", "198.51.100.1"));
      expect(statuses).toEqual([200, 200, 200, 429, 429, 200, 403, 403, 200, 200, 200]);

      const e = await s.scrape();
      const api = { rule: "api", policy: "3/1m" };
      expect(sampleValue(e, R, { ...api, outcome: "allowed" })).toBe(4);
      expect(sampleValue(e, R, { ...api, outcome: "limited" })).toBe(2);
      expect(sampleValue(e, R, { rule: "api", policy: "deny-list", outcome: "denied" })).toBe(2);
      const canary = { rule: "canary", policy: "1/1m" };
      expect(sampleValue(e, R, { ...canary, outcome: "allowed" })).toBe(1);
      // Refused on paper, let through: counted as limited, and as shadowed.
      expect(sampleValue(e, R, { ...canary, outcome: "limited" })).toBe(2);
      expect(sampleValue(e, "throttlekit_shadowed_total", canary)).toBe(2);
      expect(sampleValue(e, "throttlekit_violations_total", api)).toBe(2);
      expect(sampleValue(e, "throttlekit_violations_total", canary)).toBe(2);
      // Every request the limiter decided was timed (denials never reach the store).
      const count = "throttlekit_store_duration_seconds_count";
      expect(sampleValue(e, count, { rule: "api" })).toBe(6);
      expect(sampleValue(e, count, { rule: "canary" })).toBe(3);
    });
  }

  it("a redis-server killed and restarted shows as one outage, the gauge up then down", async () => {
    const store = redisStore({
      client,
      logger: false,
      timeout: 100,
      onStoreError: "fail-open",
      circuitBreaker: { failures: 3, cooldown: "100ms" },
    });
    const s = await app(store, `prom-outage-${Date.now()}`);
    expect(await s.get("/", "198.51.100.1")).toBe(200);
    let e = await s.scrape();
    expect(sampleValue(e, "throttlekit_store_degraded", { store: "redis" })).toBe(0);

    await node.kill();
    // fail-open: every request passes, answered "degraded".
    for (let i = 0; i < 5; i++) expect(await s.get("/", "198.51.100.1")).toBe(200);
    e = await s.scrape();
    expect(sampleValue(e, "throttlekit_store_degraded", { store: "redis" })).toBe(1);
    expect(sampleValue(e, "throttlekit_store_outages_total", { store: "redis" })).toBe(1);
    expect(sampleValue(e, R, { rule: "api", outcome: "degraded" })).toBe(5);

    await node.restart();
    const deadline = Date.now() + 10_000;
    // Waits for the process to come back (bounded), not for a window.
    for (;;) {
      await s.get("/", "198.51.100.3");
      e = await s.scrape();
      if (sampleValue(e, "throttlekit_store_degraded", { store: "redis" }) === 0) break;
      if (Date.now() > deadline) throw new Error("no recovery within 10 s");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sampleValue(e, "throttlekit_store_outages_total", { store: "redis" })).toBe(1);
  });
});
