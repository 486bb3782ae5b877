/**
 * throttlekit/socket.io (issue 14 item 3) over a real Socket.IO server and socket.io-client on
 * 127.0.0.1, on the memory store, a Redis node and a 3-master Redis Cluster.
 */
import type { Socket } from "node:net";
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { authToken } from "../../src/adapters/socket-io/index.js";
import { jwt } from "../../src/http/identity/jwt.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import {
  ask,
  closeClients,
  connect,
  eventually,
  type Harness,
  refused,
  serve,
  storeCases,
  uniquePrefix,
} from "./harness.js";

const stores = storeCases();
beforeAll(() => stores.start(), 60_000);
afterAll(() => stores.stop());

let harness: Harness | undefined;
afterEach(async () => {
  closeClients();
  await harness?.close();
  harness = undefined;
});

const SECRET = "socket-io-test-secret-of-enough-length";
const sign = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .sign(new TextEncoder().encode(SECRET));

describe.each(stores.cases)("socket.io on $name", ({ store }) => {
  const base = () => ({ store: store(), prefix: uniquePrefix(), logger: false as const });

  it("refuses connections over the rate in io.use() with a connect_error carrying retryAfterMs", async () => {
    const clock = manualClock();
    harness = await serve({ ...base(), clock: clock.now, connections: "2/min" });
    await connect(harness.url);
    await connect(harness.url);
    const error = await refused(harness.url);
    expect(error.message).toMatch(/Too Many Requests: connections \(retry after \d+ ms\)/);
    expect(error.data).toMatchObject({ code: "RATE_LIMITED", limit: "connections" });
    const wait = error.data?.retryAfterMs as number;
    expect(wait).toBeGreaterThan(0);
    clock.advance(wait - 1);
    await refused(harness.url);
    clock.advance(1);
    await connect(harness.url);
  });

  it("refuses at the engine handshake (allowRequest) with a 429, Retry-After and a JSON body", async () => {
    const clock = manualClock();
    harness = await serve(
      { ...base(), clock: clock.now, connections: "1/min" },
      { handshake: true },
    );
    await connect(harness.url, { transports: ["polling"] });
    const error = await refused(harness.url, { transports: ["polling"] });
    expect(error.message).toBe("xhr poll error");
    expect(error.description).toBe(429);
    // What the polling client received, read with a plain HTTP client.
    const res = await fetch(`${harness.url}/socket.io/?EIO=4&transport=polling`);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await res.json()).toMatchObject({ status: 429 });
    // A WebSocket handshake is refused before the upgrade too.
    await refused(harness.url);
    // Counted once: the io.use() middleware does not count the same handshake again.
    clock.advance("2m");
    await connect(harness.url, { transports: ["polling"] });
  });

  it("caps connections open at once and frees the slot on disconnect", async () => {
    harness = await serve({ ...base(), maxConnections: 2 });
    const a = await connect(harness.url);
    await connect(harness.url);
    const error = await refused(harness.url);
    expect(error.data).toMatchObject({ code: "RATE_LIMITED", limit: "maxConnections" });
    expect(await harness.limit.connections!.inFlight("127.0.0.1")).toBe(2);
    a.disconnect();
    await eventually(async () => (await harness!.limit.connections!.inFlight("127.0.0.1")) === 1);
    await connect(harness.url);
    expect(harness.limit.stats()).toMatchObject({ connections: 2, leases: 2 });
  });

  it("renews the lease of a connection while it stays open (real time: the renewal timer)", async () => {
    harness = await serve({ ...base(), maxConnections: 1, leaseMs: 300 });
    await connect(harness.url);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await harness.limit.connections!.inFlight("127.0.0.1")).toBe(1);
    const error = await refused(harness.url);
    expect(error.data).toMatchObject({ code: "RATE_LIMITED", limit: "maxConnections" });
    expect(error.data?.retryAfterMs).toBeLessThanOrEqual(300);
  });

  it.each([
    ["with", 1],
    ["without", undefined],
  ])(
    "holds nothing for a client that leaves during a slow admission (%s maxConnections)",
    async (_, max) => {
      let entered!: () => void;
      const inIdentity = new Promise<void>((resolve) => {
        entered = resolve;
      });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let outcome!: (error: unknown) => void;
      const finished = new Promise<unknown>((resolve) => {
        outcome = resolve;
      });
      harness = await serve(
        {
          ...base(),
          ...(max === undefined ? {} : { maxConnections: max }),
          events: { "*": "5/s" },
          identity: async () => {
            entered();
            await gate;
            return "slow";
          },
        },
        { admitted: outcome },
      );
      // Never settles: the client closes before the server answers its CONNECT.
      void connect(harness.url).catch(() => undefined);
      await inIdentity;
      closeClients();
      await eventually(() => harness!.io.engine.clientsCount === 0);
      release();
      expect(String(await finished)).toMatch(/connection closed during admission/);
      expect(harness.limit.stats()).toEqual({ connections: 0, leases: 0, counters: 0 });
      if (max !== undefined) expect(await harness.limit.connections!.inFlight("slow")).toBe(0);
    },
  );

  it("frees the slot of a client that vanishes (engine ping timeout)", async () => {
    harness = await serve(
      { ...base(), maxConnections: 1 },
      { pingInterval: 100, pingTimeout: 100 },
    );
    const a = await connect(harness.url);
    const [serverSide] = harness.io.sockets.sockets.values();
    const disconnected = new Promise<string>((resolve) => serverSide!.once("disconnect", resolve));
    // The client stops reading: no pong, no close frame, no FIN.
    const raw = (a.io.engine.transport as unknown as { ws: { _socket: Socket } }).ws._socket;
    raw.pause();
    expect(await disconnected).toBe("ping timeout");
    await eventually(async () => (await harness!.limit.connections!.inFlight("127.0.0.1")) === 0);
    await connect(harness.url);
    // Else the server's graceful close waits out ws's 30 s closing handshake on this socket.
    raw.destroy();
  });

  it("limits events per connection by the first matching glob; acks get the error object", async () => {
    const clock = manualClock();
    harness = await serve({
      ...base(),
      clock: clock.now,
      events: { "chat:*": "2/s", "*": "3/s" },
    });
    const a = await connect(harness.url);
    expect(await ask(a, "chat:message", "hi")).toEqual({ ok: true });
    expect(await ask(a, "chat:typing")).toEqual({ ok: true });
    const limited = await ask(a, "chat:message", "hi");
    expect(limited).toMatchObject({ code: "RATE_LIMITED", event: "chat:message" });
    const wait = (limited as { retryAfterMs: number }).retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(harness.handled.get("chat:message")).toBe(1);
    // "other" falls to "*", counted apart from "chat:*".
    for (let i = 0; i < 3; i++) expect(await ask(a, "other")).toEqual({ ok: true });
    expect(await ask(a, "other")).toMatchObject({ code: "RATE_LIMITED" });
    // Another connection from the same client has its own counters.
    const b = await connect(harness.url);
    expect(await ask(b, "chat:message")).toEqual({ ok: true });
    clock.advance(wait);
    expect(await ask(a, "chat:message")).toEqual({ ok: true });
  });

  it("emits rate_limited to a socket whose limited event had no ack; the handler does not run", async () => {
    harness = await serve({ ...base(), events: { other: "1/min" } });
    const a = await connect(harness.url);
    const got = new Promise<unknown>((resolve) => a.once("rate_limited", resolve));
    a.emit("other");
    a.emit("other");
    expect(await got).toMatchObject({ code: "RATE_LIMITED", event: "other" });
    expect(harness.handled.get("other")).toBe(1);
  });

  it("limits events per identity across its connections", async () => {
    harness = await serve({ ...base(), identityEvents: { "chat:*": "3/min" } });
    const a = await connect(harness.url);
    const b = await connect(harness.url);
    const answers = [];
    for (const s of [a, b, a, b]) answers.push(await ask(s, "chat:message"));
    expect(answers.filter((x) => (x as { ok?: boolean }).ok === true)).toHaveLength(3);
    expect(answers[3]).toMatchObject({ code: "RATE_LIMITED" });
    expect(await ask(a, "other")).toEqual({ ok: true });
  });

  it("disconnects a client after closeAfter violations within the window", async () => {
    harness = await serve({
      ...base(),
      events: { "*": "1/min" },
      closeAfter: { violations: 2, within: "1m" },
      maxConnections: 1,
    });
    const a = await connect(harness.url);
    const gone = new Promise<string>((resolve) => a.once("disconnect", resolve));
    await ask(a, "other");
    expect(await ask(a, "other")).toMatchObject({ code: "RATE_LIMITED" });
    expect(a.connected).toBe(true);
    a.emit("other", () => {});
    expect(await gone).toBe("io server disconnect");
    // The server's disconnect freed the slot.
    await eventually(async () => (await harness!.limit.connections!.inFlight("127.0.0.1")) === 0);
    await connect(harness.url);
  });

  it("ignores a spoofed X-Forwarded-For without trustProxy, and believes it with trustProxy", async () => {
    harness = await serve({ ...base(), connections: "1/min" });
    await connect(harness.url, { extraHeaders: { "x-forwarded-for": "203.0.113.1" } });
    const error = await refused(harness.url, {
      extraHeaders: { "x-forwarded-for": "203.0.113.2" },
    });
    expect(error.data).toMatchObject({ code: "RATE_LIMITED" });
    await harness.close();
    harness = await serve({ ...base(), connections: "1/min", trustProxy: 1 });
    await connect(harness.url, { extraHeaders: { "x-forwarded-for": "203.0.113.1" } });
    await connect(harness.url, { extraHeaders: { "x-forwarded-for": "203.0.113.2" } });
  });

  it("identifies by a JWT in the auth payload, verified; a bad token is refused UNAUTHORIZED", async () => {
    harness = await serve({
      ...base(),
      identity: jwt({ secret: SECRET, token: authToken() }),
      maxConnections: 1,
    });
    await connect(harness.url, { auth: { token: await sign("alice") } });
    const again = await refused(harness.url, { auth: { token: await sign("alice") } });
    expect(again.data).toMatchObject({ code: "RATE_LIMITED", limit: "maxConnections" });
    await connect(harness.url, { auth: { token: await sign("bob") } });
    expect(await harness.limit.connections!.inFlight("user:alice")).toBe(1);
    const forged = `${(await sign("carol")).slice(0, -4)}AAAA`;
    const bad = await refused(harness.url, { auth: { token: forged } });
    expect(bad.data).toMatchObject({ code: "UNAUTHORIZED", limit: "identity" });
  });

  it("answers a deny-listed client FORBIDDEN", async () => {
    harness = await serve({ ...base(), deny: ["127.0.0.1"], connections: "10/min" });
    const error = await refused(harness.url);
    expect(error.data).toMatchObject({ code: "FORBIDDEN", retryAfterMs: null });
  });
});
