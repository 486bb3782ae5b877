/**
 * throttlekit/ws events (issue 17): a real ws server on 127.0.0.1 and real clients, on the
 * memory store and a real redis-server. Every decision the adapter makes (the upgrade's rate,
 * its maxConnections slot, each message per connection and per identity, bytes) is emitted once
 * through the `events` hub, under its rule, keyed by the client's identity, with ratethrottle's
 * violation payload for each refusal.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { type WsRateLimitOptions, wsRateLimit } from "../../src/adapters/ws/index.js";
import type { Decision } from "../../src/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { connect, open, type Served, serve } from "../ws/harness.js";
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

let served: Served | undefined;
let closeLimit: (() => Promise<void>) | undefined;
afterEach(async () => {
  await served?.close();
  await closeLimit?.();
  served = undefined;
  closeLimit = undefined;
});

const user = (name: string) => ({ "x-user": name });
let consume: (ws: WebSocket, kind: string) => Promise<Decision>;

describe.each(stores.cases)("ws events on $name", ({ store }) => {
  async function start(options: Partial<WsRateLimitOptions>): Promise<Recorder> {
    const rec = recorder();
    const limit = wsRateLimit({
      store: store(),
      prefix: uniquePrefix("ws"),
      clock: manualClock().now,
      identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
      logger: false,
      events: rec.hub,
      ...options,
    });
    closeLimit = () => limit.close();
    consume = (ws, kind) => limit.consume(ws, kind);
    served = await serve(limit);
    return rec;
  }

  it("upgrades: the connection rate and the maxConnections slot, one event each per upgrade", async () => {
    const rec = await start({ connections: "3/min", maxConnections: 2 });
    const port = served!.port;
    await open(port, user("alice"));
    await open(port, user("alice"));
    const third = await connect(port, user("alice"));
    expect(third.refused && third.status).toBe(429);
    const fourth = await connect(port, user("alice"));
    expect(fourth.refused && fourth.status).toBe(429);
    expect(rec.summary()).toEqual([
      "ws-connections user:alice 1 allowed ok",
      "ws:maxConnections user:alice 1 allowed ok",
      "ws-connections user:alice 1 allowed ok",
      "ws:maxConnections user:alice 1 allowed ok",
      "ws-connections user:alice 1 allowed ok",
      "ws:maxConnections user:alice 1 refused limited",
      // The rate refuses first: no slot is asked for.
      "ws-connections user:alice 1 refused limited",
    ]);
    expect(rec.violations().map((v) => [v.rule, v.identifier, v.requestsMade, v.limit])).toEqual([
      ["ws:maxConnections", "user:alice", 3, 2],
      ["ws-connections", "user:alice", 4, 3],
    ]);
    for (const v of rec.violations()) {
      expect(v.reason).toBe("limited");
      expect(v.retryAfter).toBeGreaterThan(0);
      expect(v.shadow).toBe(false);
    }
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("messages per connection: each message one event under the identity, refusals with violations", async () => {
    const rec = await start({ messages: "3/min", onLimited: "reply" });
    const bob = await open(served!.port, user("bob"));
    for (let i = 0; i < 5; i++) bob.send(`m${i}`);
    const frames = await bob.frameCount(5);
    expect(frames.filter((f) => f.startsWith("m"))).toHaveLength(3);
    expect(rec.summary("ws:messages")).toEqual([
      ...Array(3).fill("ws:messages user:bob 1 allowed ok"),
      ...Array(2).fill("ws:messages user:bob 1 refused limited"),
    ]);
    expect(
      rec.violations("ws:messages").map((v) => [v.identifier, v.requestsMade, v.limit]),
    ).toEqual([
      ["user:bob", 4, 3],
      ["user:bob", 4, 3],
    ]);
    // The upgrade itself: one decision of the identity-only rule, never refused.
    expect(rec.summary("ws-connections")).toEqual(["ws-connections user:bob 0 allowed ok"]);
    expect(rec.decisions()).toHaveLength(6);
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("messages per identity: every connection of the client counts, one event per message", async () => {
    const rec = await start({ messages: { perIdentity: "4/min" }, onLimited: "reply" });
    const c1 = await open(served!.port, user("carol"));
    const c2 = await open(served!.port, user("carol"));
    for (let i = 0; i < 3; i++) c1.send(`a${i}`);
    await c1.frameCount(3);
    for (let i = 0; i < 2; i++) c2.send(`b${i}`);
    const frames = await c2.frameCount(2);
    expect(frames[1]).toMatch(/rate_limited/);
    expect(rec.summary("ws:messages:identity")).toEqual([
      ...Array(4).fill("ws:messages:identity user:carol 1 allowed ok"),
      "ws:messages:identity user:carol 1 refused limited",
    ]);
    expect(rec.violations("ws:messages:identity")).toMatchObject([
      { identifier: "user:carol", requestsMade: 5, limit: 4, policy: "4/1m", reason: "limited" },
    ]);
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("a diagnostics channel subscriber sees each decision once, as the hub does", async () => {
    const published: unknown[] = [];
    const onDecision = (message: unknown) => published.push(message);
    subscribe("throttlekit:decision", onDecision);
    try {
      const rec = await start({
        maxConnections: 2,
        messages: { perConnection: "2/min", perIdentity: "10/min" },
        bytes: "1000/min",
        onLimited: "reply",
      });
      const erin = await open(served!.port, user("erin"));
      for (let i = 0; i < 3; i++) erin.send(`e${i}`);
      await erin.frameCount(3);
      // Upgrade rule, slot, and per message: connection messages, connection bytes, identity
      // messages (the third message stops at its per-connection refusal on the memory store;
      // on Redis every meter is asked).
      const decisions = rec.decisions();
      expect(decisions.length).toBeGreaterThanOrEqual(2 + 3 * 2 + 1);
      expect(published).toEqual(decisions);
      // Connection ids never reach events: every decision is keyed by the identity.
      expect(new Set(decisions.map((d) => d.key))).toEqual(new Set(["user:erin"]));
    } finally {
      unsubscribe("throttlekit:decision", onDecision);
    }
  });

  it("the explicit form: consume(ws, kind) is one event per call, the kind after the identity", async () => {
    const rec = await start({
      messages: { perConnection: "2/min", perIdentity: "5/min" },
      mode: "manual",
    });
    await open(served!.port, user("fay"));
    const ws = served!.sockets[0]!;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await consume(ws, "chat")).allowed);
    expect(answers).toEqual([true, true, false]);
    expect(rec.summary("ws:messages")).toEqual([
      "ws:messages user:fay:chat 1 allowed ok",
      "ws:messages user:fay:chat 1 allowed ok",
      "ws:messages user:fay:chat 1 refused limited",
    ]);
    // Both meters are asked at once; the refused message's identity charge is given back.
    expect(rec.summary("ws:messages:identity")).toEqual(
      Array(3).fill("ws:messages:identity user:fay:chat 1 allowed ok"),
    );
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("bytes: a message costs its size, and the violation counts bytes", async () => {
    const rec = await start({ bytes: "10/min", onLimited: "reply" });
    const dave = await open(served!.port, user("dave"));
    dave.send("aaaaaa");
    dave.send("bbbbbb");
    const frames = await dave.frameCount(2);
    expect(frames[0]).toBe("aaaaaa");
    expect(rec.summary("ws:bytes")).toEqual([
      "ws:bytes user:dave 6 allowed ok",
      "ws:bytes user:dave 6 refused limited",
    ]);
    expect(rec.violations("ws:bytes")).toMatchObject([
      { identifier: "user:dave", requestsMade: 12, limit: 10 },
    ]);
    expect(derivedAgree(rec)).toEqual([]);
  });
});
