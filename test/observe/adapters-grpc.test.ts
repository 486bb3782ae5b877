/**
 * throttlekit/grpc events (issue 17): a real grpc-js server on 127.0.0.1 and real clients, on
 * the memory store and a real redis-server. Each call's rule decision (the HTTP layer's), its
 * maxConcurrent slot and every streamed message are emitted once through the `events` hub,
 * under their rule, keyed by the caller's identity.
 */
import type { ClientDuplexStream, ClientWritableStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type GrpcRateLimit,
  type GrpcRateLimitOptions,
  grpcRateLimit,
} from "../../src/adapters/grpc.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  eventually,
  type GreeterClient,
  type Harness,
  meta,
  startGrpc,
  unary,
} from "../grpc/harness.js";
import {
  derivedAgree,
  type Recorder,
  recorder,
  storeCases,
  uniquePrefix,
} from "./adapter-events.js";

const stores = storeCases();
beforeAll(() => stores.start(), 30_000);
afterAll(() => stores.stop());

let running: { h: Harness; limit: GrpcRateLimit } | undefined;
afterEach(async () => {
  await running?.h.close();
  await running?.limit.close();
  running = undefined;
});

const USER = (name: string) => meta({ "x-user": name });

describe.each(stores.cases)("grpc events on $name", ({ store }) => {
  async function start(
    options: Partial<GrpcRateLimitOptions>,
  ): Promise<{ rec: Recorder; h: Harness; client: GreeterClient }> {
    const rec = recorder();
    const limit = grpcRateLimit({
      store: store(),
      prefix: uniquePrefix("grpc"),
      clock: manualClock().now,
      identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
      logger: false,
      events: rec.hub,
      ...options,
    });
    const h = await startGrpc([limit]);
    running = { h, limit };
    return { rec, h, client: h.client() };
  }

  it("calls: the method's rule and the maxConcurrent slot, one event each per call", async () => {
    const { rec, h, client } = await start({
      rules: [{ name: "hello", path: "/hello.Greeter/SayHello", policies: "2/min" }],
      maxConcurrent: 1,
    });
    for (let i = 0; i < 3; i++) await unary(client, "SayHello", String(i), USER("ann"));
    // Hold matches no rule: only its slot is decided.
    const held = unary(client, "Hold", "1", USER("bob"));
    expect(await eventually(async () => h.holds.waiting.length === 1)).toBe(true);
    const refused = await unary(client, "Hold", "2", USER("bob"));
    expect(refused.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    h.holds.releaseAll();
    expect((await held).error).toBeNull();
    expect(rec.summary()).toEqual([
      "hello user:ann 1 allowed ok",
      "grpc:maxConcurrent user:ann 1 allowed ok",
      "hello user:ann 1 allowed ok",
      "grpc:maxConcurrent user:ann 1 allowed ok",
      "hello user:ann 1 refused limited",
      "grpc:maxConcurrent user:bob 1 allowed ok",
      "grpc:maxConcurrent user:bob 1 refused limited",
    ]);
    expect(rec.violations().map((v) => [v.rule, v.identifier, v.requestsMade, v.limit])).toEqual([
      ["hello", "user:ann", 3, 2],
      ["grpc:maxConcurrent", "user:bob", 2, 1],
    ]);
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("messages per call: each streamed message one event under the caller's identity", async () => {
    const { rec, client } = await start({
      policies: "100/min",
      messages: { policies: "3/min" },
    });
    const result = await new Promise<number>((resolve) => {
      const call = (client.ClientStream as (...a: unknown[]) => ClientWritableStream<unknown>)(
        USER("cid"),
        (error: { code: number } | null) => resolve(error?.code ?? 0),
      );
      for (let i = 0; i < 4; i++) call.write({ name: String(i) });
      call.end();
    });
    expect(result).toBe(status.RESOURCE_EXHAUSTED);
    expect(rec.summary()).toEqual([
      "default user:cid 1 allowed ok",
      ...Array(3).fill("grpc:messages user:cid 1 allowed ok"),
      "grpc:messages user:cid 1 refused limited",
    ]);
    expect(rec.violations()).toMatchObject([
      { rule: "grpc:messages", identifier: "user:cid", requestsMade: 4, limit: 3 },
    ]);
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("messages per identity: two streams share the count, one event per message", async () => {
    const { rec, client } = await start({
      policies: "100/min",
      messages: { policies: "3/min", per: "identity" },
    });
    const chat = (names: string[]) =>
      new Promise<number>((resolve) => {
        const call = (
          client.Chat as (...a: unknown[]) => ClientDuplexStream<unknown, { message: string }>
        )(USER("dee"));
        call.on("data", () => {});
        call.on("error", (e: { code: number }) => resolve(e.code));
        call.on("end", () => resolve(0));
        for (const n of names) call.write({ name: n });
        call.end();
      });
    expect(await chat(["a", "b"])).toBe(0);
    expect(await chat(["c", "d"])).toBe(status.RESOURCE_EXHAUSTED);
    expect(rec.summary("grpc:messages")).toEqual([
      ...Array(3).fill("grpc:messages user:dee 1 allowed ok"),
      "grpc:messages user:dee 1 refused limited",
    ]);
    expect(rec.violations()).toMatchObject([
      { rule: "grpc:messages", identifier: "user:dee", requestsMade: 4, limit: 3 },
    ]);
    expect(derivedAgree(rec)).toEqual([]);
  });
});
