/**
 * throttlekit/socket.io events (issue 17): a real Socket.IO server on 127.0.0.1 and
 * socket.io-client, on the memory store and a real redis-server. The handshake's rate, the
 * maxConnections slot and every limited event (per connection and per identity) are emitted once
 * through `eventHub`, under their rule, keyed by the client's identity.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type SocketIoRateLimitOptions,
  socketIoRateLimit,
} from "../../src/adapters/socket-io/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { ask, closeClients, connect, type Harness, refused, serve } from "../socket-io/harness.js";
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

let harness: Harness | undefined;
afterEach(async () => {
  closeClients();
  await harness?.close();
  harness = undefined;
});

const as = (name: string) => ({ extraHeaders: { "x-user": name } });

describe.each(stores.cases)("socket.io events on $name", ({ store }) => {
  async function start(options: Partial<SocketIoRateLimitOptions>): Promise<Recorder> {
    const rec = recorder();
    harness = await serve({
      store: store(),
      prefix: uniquePrefix("sio"),
      clock: manualClock().now,
      identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
      logger: false,
      eventHub: rec.hub,
      ...options,
    });
    return rec;
  }

  it("admission: the connection rate and the maxConnections slot, one event each", async () => {
    const rec = await start({ connections: "2/min", maxConnections: 1 });
    await connect(harness!.url, as("alice"));
    expect((await refused(harness!.url, as("alice"))).data).toMatchObject({
      limit: "maxConnections",
    });
    expect((await refused(harness!.url, as("alice"))).data).toMatchObject({ limit: "connections" });
    expect(rec.summary()).toEqual([
      "socket.io-connections user:alice 1 allowed ok",
      "socket.io:maxConnections user:alice 1 allowed ok",
      "socket.io-connections user:alice 1 allowed ok",
      "socket.io:maxConnections user:alice 1 refused limited",
      "socket.io-connections user:alice 1 refused limited",
    ]);
    expect(rec.violations().map((v) => [v.rule, v.identifier, v.requestsMade, v.limit])).toEqual([
      ["socket.io:maxConnections", "user:alice", 2, 1],
      ["socket.io-connections", "user:alice", 3, 2],
    ]);
    expect(derivedAgree(rec)).toEqual([]);
  });

  it("events per connection and per identity: one event per limited event, under the rule's glob", async () => {
    const rec = await start({
      events: { "chat:mess*": "2/min" },
      identityEvents: { other: "3/min" },
    });
    const a = await connect(harness!.url, as("bob"));
    const b = await connect(harness!.url, as("bob"));
    const chat = [];
    for (let i = 0; i < 3; i++) chat.push(await ask(a, "chat:message", i));
    expect(chat[2]).toMatchObject({ code: "RATE_LIMITED", event: "chat:message" });
    const other = [];
    for (let i = 0; i < 2; i++) other.push(await ask(a, "other", i));
    for (let i = 0; i < 2; i++) other.push(await ask(b, "other", i));
    expect(other.map((o) => (o as { code?: string }).code ?? "ok")).toEqual([
      "ok",
      "ok",
      "ok",
      "RATE_LIMITED",
    ]);
    // An event no rule matches is not a decision.
    expect(await ask(a, "chat:typing")).toEqual({ ok: true });
    expect(rec.summary("socket.io:events:chat:mess*")).toEqual([
      "socket.io:events:chat:mess* user:bob 1 allowed ok",
      "socket.io:events:chat:mess* user:bob 1 allowed ok",
      "socket.io:events:chat:mess* user:bob 1 refused limited",
    ]);
    expect(rec.summary("socket.io:identityEvents:other")).toEqual([
      ...Array(3).fill("socket.io:identityEvents:other user:bob 1 allowed ok"),
      "socket.io:identityEvents:other user:bob 1 refused limited",
    ]);
    expect(rec.violations().map((v) => [v.rule, v.identifier, v.requestsMade, v.limit])).toEqual([
      ["socket.io:events:chat:mess*", "user:bob", 3, 2],
      ["socket.io:identityEvents:other", "user:bob", 4, 3],
    ]);
    // Two handshakes (the identity-only rule) and seven limited events: nothing else.
    expect(rec.decisions()).toHaveLength(2 + 3 + 4);
    expect(derivedAgree(rec)).toEqual([]);
  });
});

describe("socket.io eventHub option", () => {
  it("a bad hub is reported as eventHub, with the other problems", () => {
    expect(() => socketIoRateLimit({ eventHub: "hub" as never, maxConnections: 0 })).toThrowError(
      /eventHub[\s\S]*maxConnections|maxConnections[\s\S]*eventHub/,
    );
  });
});
