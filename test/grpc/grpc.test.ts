/**
 * throttlekit/grpc (issue 14 item 4) over a real grpc-js server and client on 127.0.0.1, the
 * service loaded from a .proto by @grpc/proto-loader: unary, server, client and bidi streaming;
 * RESOURCE_EXHAUSTED with its trailers; maxConcurrent released on finish, cancel and deadline;
 * a retrying client that honours grpc-retry-pushback-ms; a store outage answered UNAVAILABLE.
 * Every piece on the memory store, a Redis node and a 3-master Redis cluster.
 */
import {
  type ClientDuplexStream,
  type ClientWritableStream,
  type Metadata,
  status,
} from "@grpc/grpc-js";
import { Cluster, Redis } from "ioredis";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type GrpcRateLimit,
  type GrpcRateLimitOptions,
  grpcRateLimit,
} from "../../src/adapters/grpc.js";
import { jwt } from "../../src/http/index.js";
import { memoryStore, type Store } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  freePort,
  type RedisCluster,
  type RedisNode,
  startCluster,
  startRedis,
} from "../support/redis-server.js";
import { eventually, type GreeterClient, type Harness, meta, startGrpc, unary } from "./harness.js";

let redis: RedisNode;
let cluster: RedisCluster;
const redisClients: { disconnect(): void }[] = [];
const running: { h: Harness; limit: GrpcRateLimit }[] = [];
let seq = 0;

beforeAll(async () => {
  [redis, cluster] = await Promise.all([startRedis(), startCluster()]);
}, 60_000);

afterAll(async () => {
  for (const r of running) {
    await r.h.close();
    await r.limit.close();
  }
  for (const c of redisClients) c.disconnect();
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

const STORES: Record<string, () => Store> = {
  memory: () => memoryStore(),
  "redis single": () => {
    const c = new Redis(redis.port, redis.host);
    redisClients.push(c);
    return redisStore({ client: c });
  },
  "redis cluster": () => {
    const c = new Cluster([...cluster.seeds]);
    redisClients.push(c);
    return redisStore({ client: c });
  },
};

async function serve(
  options: GrpcRateLimitOptions,
): Promise<{ h: Harness; limit: GrpcRateLimit; client: GreeterClient }> {
  const limit = grpcRateLimit(options);
  const h = await startGrpc([limit]);
  running.push({ h, limit });
  return { h, limit, client: h.client() };
}

const USER = (name: string) => meta({ "x-user": name });
const byUser: GrpcRateLimitOptions["identity"] = (req) => `user:${req.header("x-user") ?? "anon"}`;

function trailer(md: Metadata | undefined, name: string): string | undefined {
  const v = md?.get(name)[0];
  return typeof v === "string" ? v : undefined;
}

for (const [storeName, makeStore] of Object.entries(STORES)) {
  describe(`throttlekit/grpc on ${storeName}`, () => {
    const base = () => ({ store: makeStore(), prefix: `g${++seq}`, identity: byUser });

    it("unary: limits per method pattern, first match, RESOURCE_EXHAUSTED with trailers", async () => {
      const clock = manualClock();
      const { client } = await serve({
        ...base(),
        clock: clock.now,
        rules: [
          { path: "/hello.Greeter/SayHello", policies: { limit: 2, window: "1m", name: "hello" } },
          { path: "/hello.Greeter/*", policies: "100/min" },
        ],
      });
      expect((await unary(client, "SayHello", "a", USER("ann"))).reply).toEqual({
        message: "hello a",
      });
      expect((await unary(client, "SayHello", "a", USER("ann"))).error).toBeNull();
      const refused = await unary(client, "SayHello", "a", USER("ann"));
      expect(refused.error?.code).toBe(status.RESOURCE_EXHAUSTED);
      const md = refused.error?.metadata;
      expect(Number(trailer(md, "retry-after"))).toBeGreaterThanOrEqual(1);
      // sliding-window: past the next window boundary, until the previous window weighs enough.
      expect(Number(trailer(md, "retry-after"))).toBeLessThanOrEqual(120);
      const pushback = Number(trailer(md, "grpc-retry-pushback-ms"));
      expect(pushback).toBeGreaterThan(0);
      expect(pushback).toBeLessThanOrEqual(120_000);
      expect(Math.ceil(pushback / 1000)).toBe(Number(trailer(md, "retry-after")));
      expect(trailer(md, "ratelimit-policy")).toBe('"hello";q=2;w=60');
      expect(trailer(md, "ratelimit")).toMatch(/^"hello";r=0;t=\d+$/);
      // Another identity, and another method of the service (the second rule), still pass.
      expect((await unary(client, "SayHello", "b", USER("bob"))).error).toBeNull();
      expect(
        (await unary(client, "Hold", "x", USER("ann"), { deadline: Date.now() + 50 })).error?.code,
      ).toBe(status.DEADLINE_EXCEEDED);
      // An allowed call carries the RateLimit fields in its response metadata.
      const headers = await new Promise<Metadata>((resolve) => {
        const call = (
          client.SayHello as (...a: unknown[]) => { on(e: string, f: (m: Metadata) => void): void }
        )({ name: "c" }, USER("cy"), () => {});
        call.on("metadata", resolve);
      });
      expect(trailer(headers, "ratelimit")).toMatch(/^"hello";r=1;t=\d+$/);
      clock.advance(Number(trailer(md, "retry-after")) * 1000);
      expect((await unary(client, "SayHello", "a", USER("ann"))).error).toBeNull();
    });

    it("server streaming: a limited call ends before any message", async () => {
      const { client } = await serve({
        ...base(),
        clock: manualClock().now,
        rules: [{ path: "/hello.Greeter/ServerStream", policies: "1/min" }],
      });
      const read = () =>
        new Promise<{ messages: string[]; code: number }>((resolve) => {
          const messages: string[] = [];
          const call = (client.ServerStream as (...a: unknown[]) => NodeJS.EventEmitter)(
            { name: "s" },
            USER("ann"),
          );
          call.on("data", (r: { message: string }) => messages.push(r.message));
          call.on("error", (e: { code: number }) => resolve({ messages, code: e.code }));
          call.on("end", () => resolve({ messages, code: 0 }));
        });
      expect(await read()).toEqual({ messages: ["hello s 0", "hello s 1", "hello s 2"], code: 0 });
      expect(await read()).toEqual({ messages: [], code: status.RESOURCE_EXHAUSTED });
    });

    it("client streaming: per-call message limit ends the call RESOURCE_EXHAUSTED", async () => {
      const { client } = await serve({
        ...base(),
        clock: manualClock().now,
        policies: "100/min",
        messages: { policies: "3/min" },
      });
      const send = (n: number) =>
        new Promise<{
          error: { code: number; metadata: Metadata } | null;
          reply?: { message: string };
        }>((resolve) => {
          const call = (client.ClientStream as (...a: unknown[]) => ClientWritableStream<unknown>)(
            USER("ann"),
            (error: { code: number; metadata: Metadata } | null, reply?: { message: string }) =>
              resolve({ error, ...(reply === undefined ? {} : { reply }) }),
          );
          for (let i = 0; i < n; i++) call.write({ name: String(i) });
          call.end();
        });
      expect((await send(3)).reply).toEqual({ message: "hello 0,1,2" });
      // Per call: a new stream starts with a fresh count.
      expect((await send(3)).reply).toEqual({ message: "hello 0,1,2" });
      const refused = await send(5);
      expect(refused.error?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(Number(trailer(refused.error?.metadata, "grpc-retry-pushback-ms"))).toBeGreaterThan(0);
      expect(Number(trailer(refused.error?.metadata, "retry-after"))).toBeGreaterThanOrEqual(1);
    });

    it("bidi: per-identity message limit shared by two streams", async () => {
      const { client } = await serve({
        ...base(),
        clock: manualClock().now,
        policies: "100/min",
        messages: { policies: "3/min", per: "identity" },
      });
      const chat = (names: string[]) =>
        new Promise<{ echoes: string[]; code: number }>((resolve) => {
          const echoes: string[] = [];
          const call = (
            client.Chat as (...a: unknown[]) => ClientDuplexStream<unknown, { message: string }>
          )(USER("ann"));
          call.on("data", (r: { message: string }) => echoes.push(r.message));
          call.on("error", (e: { code: number }) => resolve({ echoes, code: e.code }));
          call.on("end", () => resolve({ echoes, code: 0 }));
          for (const n of names) call.write({ name: n });
          call.end();
        });
      expect(await chat(["a", "b"])).toEqual({ echoes: ["hello a", "hello b"], code: 0 });
      expect(await chat(["c", "d"])).toEqual({
        echoes: ["hello c"],
        code: status.RESOURCE_EXHAUSTED,
      });
    });

    it("maxConcurrent: slots freed on finish, cancel and deadline", async () => {
      const { h, limit, client } = await serve({
        ...base(),
        clock: manualClock().now,
        policies: "1000/min",
        maxConcurrent: 2,
        leaseMs: "1m",
      });
      const slots = limit.concurrency!;
      const first = unary(client, "Hold", "1", USER("ann"));
      const second = unary(client, "Hold", "2", USER("ann"));
      expect(await eventually(async () => h.holds.waiting.length === 2)).toBe(true);
      const refused = await unary(client, "SayHello", "3", USER("ann"));
      expect(refused.error?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(Number(trailer(refused.error?.metadata, "grpc-retry-pushback-ms"))).toBeGreaterThan(0);
      expect(trailer(refused.error?.metadata, "ratelimit-policy")).toBe('"concurrency";q=2;w=60');
      expect((await unary(client, "SayHello", "b", USER("bob"))).error).toBeNull();
      // Finish.
      h.holds.releaseAll();
      expect((await first).error).toBeNull();
      expect((await second).error).toBeNull();
      expect(await eventually(async () => (await slots.inFlight("user:ann")) === 0)).toBe(true);
      // Cancel.
      const call = (client.Hold as (...a: unknown[]) => { cancel(): void })(
        { name: "c" },
        USER("ann"),
        () => {},
      );
      expect(await eventually(async () => (await slots.inFlight("user:ann")) === 1)).toBe(true);
      call.cancel();
      expect(await eventually(async () => (await slots.inFlight("user:ann")) === 0)).toBe(true);
      // Deadline.
      const late = await unary(client, "Hold", "d", USER("ann"), { deadline: Date.now() + 150 });
      expect(late.error?.code).toBe(status.DEADLINE_EXCEEDED);
      expect(await eventually(async () => (await slots.inFlight("user:ann")) === 0)).toBe(true);
      // Streams hold a slot too, until they end.
      const stream = (client.Chat as (...a: unknown[]) => ClientDuplexStream<unknown, unknown>)(
        USER("ann"),
      );
      stream.write({ name: "x" });
      await new Promise((r) => stream.once("data", r));
      expect(await slots.inFlight("user:ann")).toBe(1);
      stream.end();
      await new Promise((r) => stream.on("end", r).resume());
      expect(await eventually(async () => (await slots.inFlight("user:ann")) === 0)).toBe(true);
      h.holds.releaseAll();
    });

    it("a retrying client waits grpc-retry-pushback-ms before its retry", async () => {
      const { h } = await serve({
        ...base(),
        rules: [
          {
            path: "/hello.Greeter/SayHello",
            policies: { limit: 1, window: "1s", algorithm: "fixed-window" },
          },
        ],
      });
      const serviceConfig = {
        methodConfig: [
          {
            name: [{ service: "hello.Greeter" }],
            retryPolicy: {
              maxAttempts: 5,
              initialBackoff: "0.01s",
              maxBackoff: "0.05s",
              backoffMultiplier: 2,
              retryableStatusCodes: ["RESOURCE_EXHAUSTED"],
            },
          },
        ],
      };
      const client = h.client({
        "grpc.enable_retries": 1,
        "grpc.service_config": JSON.stringify(serviceConfig),
      });
      const t0 = Date.now();
      expect((await unary(client, "SayHello", "1", USER("ann"))).error).toBeNull();
      // Refused at once; without the pushback, four retries 10-50 ms apart would all be refused.
      const second = await unary(client, "SayHello", "2", USER("ann"));
      const elapsed = Date.now() - t0;
      expect(second.error).toBeNull();
      expect(second.reply).toEqual({ message: "hello 2" });
      expect(elapsed).toBeGreaterThanOrEqual(900);
    });
  });
}

describe("throttlekit/grpc identities and outages", () => {
  it("identity from a bearer JWT in the authorization metadata", async () => {
    const secret = "s".repeat(32);
    const token = (sub: string) =>
      new SignJWT({ sub })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new TextEncoder().encode(secret));
    const { client } = await serve({
      identity: jwt({ secret }),
      clock: Date.now,
      policies: "1/min",
    });
    const as = async (sub: string) => meta({ authorization: `Bearer ${await token(sub)}` });
    expect((await unary(client, "SayHello", "a", await as("ann"))).error).toBeNull();
    expect((await unary(client, "SayHello", "a", await as("ann"))).error?.code).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    expect((await unary(client, "SayHello", "b", await as("bob"))).error).toBeNull();
    // A bad token is an identity error: UNAUTHENTICATED, not a quota refusal.
    expect(
      (await unary(client, "SayHello", "x", meta({ authorization: "Bearer nope" }))).error?.code,
    ).toBe(status.UNAUTHENTICATED);
  });

  it("identity from the peer address by default; allow and deny lists", async () => {
    const { client, limit } = await serve({ policies: "1/min", deny: ["10.0.0.0/8"] });
    expect((await unary(client, "SayHello", "a")).error).toBeNull();
    expect((await unary(client, "SayHello", "a")).error?.code).toBe(status.RESOURCE_EXHAUSTED);
    await limit.limiter.lists.deny("127.0.0.1");
    expect((await unary(client, "SayHello", "a")).error?.code).toBe(status.PERMISSION_DENIED);
  });

  it("cost: a rule's cost function reads the call's metadata", async () => {
    const { client } = await serve({
      identity: byUser,
      clock: manualClock().now,
      rules: [
        {
          path: "/hello.Greeter/*",
          policies: "5/min",
          cost: (req) => Number(req.header("x-weight") ?? "1"),
        },
      ],
    });
    const heavy = meta({ "x-user": "ann", "x-weight": "2" });
    expect((await unary(client, "SayHello", "a", heavy)).error).toBeNull();
    expect((await unary(client, "SayHello", "a", heavy)).error).toBeNull();
    expect((await unary(client, "SayHello", "a", heavy)).error?.code).toBe(
      status.RESOURCE_EXHAUSTED,
    );
    // One unit is left: a call of weight 1 still passes.
    expect((await unary(client, "SayHello", "a", USER("ann"))).error).toBeNull();
  });

  it("an allow-listed identity bypasses maxConcurrent too", async () => {
    const { h, client, limit } = await serve({
      identity: byUser,
      policies: "100/min",
      maxConcurrent: 1,
      leaseMs: "1m",
      allow: ["user:vip"],
    });
    const held = [unary(client, "Hold", "1", USER("vip")), unary(client, "Hold", "2", USER("vip"))];
    expect(await eventually(async () => h.holds.waiting.length === 2)).toBe(true);
    expect(await limit.concurrency!.inFlight("user:vip")).toBe(0);
    h.holds.releaseAll();
    expect((await Promise.all(held)).map((r) => r.error)).toEqual([null, null]);
  });

  it("fail-closed store outage: UNAVAILABLE for calls and for concurrency, never RESOURCE_EXHAUSTED", async () => {
    const dead = await freePort();
    const c = new Redis(dead, "127.0.0.1", {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    c.on("error", () => {});
    redisClients.push(c);
    const store = redisStore({
      client: c,
      onStoreError: "fail-closed",
      timeout: 100,
      logger: false,
    });
    const calls = await serve({ store, prefix: "down", policies: "100/min", logger: false });
    const a = await unary(calls.client, "SayHello", "a");
    expect(a.error?.code).toBe(status.UNAVAILABLE);
    expect(trailer(a.error?.metadata, "grpc-retry-pushback-ms")).toBeUndefined();
    const slots = await serve({
      store,
      prefix: "down2",
      maxConcurrent: 1,
      logger: false,
    });
    expect((await unary(slots.client, "SayHello", "a")).error?.code).toBe(status.UNAVAILABLE);
  });

  it("fallback store outage: the local limiter's refusals are quota refusals (RESOURCE_EXHAUSTED)", async () => {
    const dead = await freePort();
    const c = new Redis(dead, "127.0.0.1", {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    c.on("error", () => {});
    redisClients.push(c);
    const store = redisStore({ client: c, onStoreError: "fallback", timeout: 100, logger: false });
    const { client } = await serve({ store, prefix: "fb", policies: "1/min", logger: false });
    expect((await unary(client, "SayHello", "a")).error).toBeNull();
    const second = await unary(client, "SayHello", "a");
    expect(second.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(Number(trailer(second.error?.metadata, "grpc-retry-pushback-ms"))).toBeGreaterThan(0);
  });

  it("bad options: one ConfigError naming each", () => {
    expect(() =>
      grpcRateLimit({
        policies: "10/s",
        maxConcurrent: 0,
        leaseMs: "forever",
        messages: { policies: "nonsense", per: "stream" as "call" },
        onLimited: () => ({}),
      } as GrpcRateLimitOptions),
    ).toThrowError(/onLimited[\s\S]*maxConcurrent[\s\S]*messages.per/);
  });

  it("refuses the HTTP layer's in-flight options, which would hold slots no gRPC call frees", () => {
    // The HTTP layer releases concurrency and shed slots when an HTTP response ends; a gRPC call
    // has no such hook, so these options would leak: gRPC's own cap is maxConcurrent.
    expect(() =>
      grpcRateLimit({
        policies: "10/s",
        shed: { maxInFlight: 10 },
        rules: [{ path: "/pkg.S/M", policies: "1/s", concurrency: 2 }],
      } as unknown as GrpcRateLimitOptions),
    ).toThrowError(/shed[\s\S]*maxConcurrent[\s\S]*rules\[0\]\.concurrency/);
  });
});
