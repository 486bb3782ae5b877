/**
 * The behaviour of throttlekit/ws a user relies on, over a real ws server and real clients on
 * 127.0.0.1, run once per store (memory, Redis single node, Redis cluster).
 */
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { type WsRateLimit, wsRateLimit } from "../../src/adapters/ws/index.js";
import type { WsRateLimitOptions } from "../../src/adapters/ws/options.js";
import type { Store } from "../../src/core/store.js";
import { jwt } from "../../src/http/identity/jwt.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { type Client, connect, open, type Served, serve, until } from "./harness.js";

let run = 0;

/**
 * Resolves once the server has read every frame sent before: a ping is answered in order, after
 * the frames before it were parsed (and their decisions asked, reading the clock).
 */
function flush(c: Client): Promise<void> {
  return new Promise((resolve) => {
    c.once("pong", () => resolve());
    c.ping();
  });
}

export function wsSuite(name: string, store: () => Store): void {
  describe(`throttlekit/ws on ${name}`, () => {
    const cleanup: (() => Promise<void> | void)[] = [];
    const clients: Client[] = [];
    afterEach(async () => {
      for (const c of clients.splice(0)) c.terminate();
      for (const c of cleanup.splice(0).reverse()) await c();
    });

    async function setup(
      options: WsRateLimitOptions,
      how?: "handleUpgrade" | "verifyClient",
    ): Promise<{ limit: WsRateLimit; srv: Served; clock: ReturnType<typeof manualClock> }> {
      const clock = manualClock();
      const limit = wsRateLimit({
        store: store(),
        prefix: `t${process.pid}x${run++}`,
        clock: clock.now,
        logger: false,
        ...options,
      });
      const srv = await serve(limit, how);
      cleanup.push(() => limit.close());
      cleanup.push(() => srv.close());
      return { limit, srv, clock };
    }
    const client = async (port: number, headers?: Record<string, string>) => {
      const c = await open(port, headers);
      clients.push(c);
      return c;
    };

    it("refuses new connections past `connections` with 429, Retry-After and the rate-limit headers", async () => {
      const { srv, clock } = await setup({ connections: "2/min" });
      await client(srv.port);
      await client(srv.port);
      const third = await connect(srv.port);
      expect(third.refused).toBe(true);
      if (!third.refused) return;
      expect(third.status).toBe(429);
      expect(Number(third.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(third.headers.ratelimit).toMatch(/r=0/);
      expect(third.headers["ratelimit-policy"]).toBeDefined();
      expect(JSON.parse(third.body).status).toBe(429);
      clock.advance("2m"); // two windows: nothing of the first is left in a sliding estimate
      await client(srv.port);
    });

    it("works through ws's verifyClient too", async () => {
      const { srv } = await setup({ connections: "1/min", messages: "1/min" }, "verifyClient");
      const a = await client(srv.port);
      const refused = await connect(srv.port);
      expect(refused.refused && refused.status).toBe(429);
      a.send("one");
      a.send("two");
      await a.frameCount(1);
      await new Promise((r) => setTimeout(r, 50));
      expect(a.frames).toEqual(["one"]);
    });

    for (const how of ["close", "terminate", "vanish"] as const) {
      it(`frees a maxConnections slot when a connection ends by ${how}`, async () => {
        const { limit, srv } = await setup({ maxConnections: 2 });
        const a = await client(srv.port);
        await client(srv.port);
        const third = await connect(srv.port);
        expect(third.refused && third.status).toBe(429);
        if (third.refused) expect(third.headers["retry-after"]).toBeDefined();
        expect(await limit.slots!.inFlight("127.0.0.1")).toBe(2);
        if (how === "close") a.close();
        else if (how === "terminate") srv.sockets[0]!.terminate();
        // A client that disappears without a close frame: its TCP socket just goes.
        else (a as unknown as { _socket: { destroy(): void } })._socket.destroy();
        await until(async () => (await limit.slots!.inFlight("127.0.0.1")) === 1);
        await client(srv.port);
        expect(limit.stats().open).toBe(2);
      });
    }

    it("frees the slot on a heartbeat timeout", async () => {
      const { limit, srv } = await setup({ maxConnections: 1, heartbeat: 40 });
      const a = await client(srv.port);
      // A client that stops answering pings (a frozen peer): ws answers pings automatically,
      // so stop reading from the socket altogether.
      (a as unknown as { _socket: { pause(): void } })._socket.pause();
      a.pong = () => {};
      await until(async () => (await limit.slots!.inFlight("127.0.0.1")) === 0, 3000);
      await client(srv.port);
    });

    it("limits messages per connection; 'reply' sends a JSON error frame with retryAfterMs", async () => {
      const { srv } = await setup({ messages: "3/s", onLimited: "reply" });
      const a = await client(srv.port);
      for (let i = 0; i < 5; i++) a.send(`m${i}`);
      const frames = await a.frameCount(5);
      expect(frames.slice(0, 3)).toEqual(["m0", "m1", "m2"]);
      for (const f of frames.slice(3)) {
        const e = JSON.parse(f);
        expect(e).toMatchObject({ error: "rate_limited", reason: "limited" });
        expect(e.retryAfterMs).toBeGreaterThan(0);
      }
      // Another connection has its own count.
      const b = await client(srv.port);
      b.send("b0");
      expect(await b.frameCount(1)).toEqual(["b0"]);
    });

    it("limits messages per identity across connections", async () => {
      const { srv, clock } = await setup({ messages: { perIdentity: "3/s" }, onLimited: "reply" });
      const a = await client(srv.port);
      const b = await client(srv.port);
      a.send("a0");
      a.send("a1");
      await a.frameCount(2);
      b.send("b0");
      b.send("b1");
      const frames = await b.frameCount(2);
      expect(frames[0]).toBe("b0");
      expect(JSON.parse(frames[1]!).error).toBe("rate_limited");
      clock.advance("2s");
      b.send("b2");
      await b.frameCount(3);
      expect(b.frames[2]).toBe("b2");
    });

    it("delivers a burst in order, past the pause threshold, with nothing lost", async () => {
      const { srv } = await setup({ messages: { perConnection: "1000/s", perIdentity: "1000/s" } });
      const a = await client(srv.port);
      const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
      for (const m of sent) a.send(m);
      expect(await a.frameCount(200)).toEqual(sent);
    });

    it("limits bytes by payload size", async () => {
      const { srv } = await setup({ bytes: { limit: 10, window: "1s" }, onLimited: "reply" });
      const a = await client(srv.port);
      a.send("12345");
      a.send(Buffer.from("abcde"));
      a.send("x");
      const frames = await a.frameCount(3);
      expect(frames.slice(0, 2)).toEqual(["12345", "abcde"]);
      expect(JSON.parse(frames[2]!).error).toBe("rate_limited");
    });

    it("charges cost(data) against messages", async () => {
      const { srv } = await setup({
        messages: "4/s",
        cost: (data) => (data.toString().startsWith("big") ? 3 : 1),
        onLimited: "reply",
      });
      const a = await client(srv.port);
      a.send("big");
      a.send("big");
      a.send("s");
      const frames = await a.frameCount(3);
      expect(frames[0]).toBe("big");
      expect(JSON.parse(frames[1]!).error).toBe("rate_limited");
      expect(frames[2]).toBe("s");
    });

    it("'drop' delivers nothing for a refused message and keeps the connection", async () => {
      const { srv, clock } = await setup({ messages: "1/s" });
      const a = await client(srv.port);
      a.send("one");
      a.send("two");
      await flush(a);
      clock.advance("2s");
      a.send("three");
      expect(await a.frameCount(2)).toEqual(["one", "three"]);
    });

    it("'close' closes with 1008", async () => {
      const { srv } = await setup({ messages: "1/s", onLimited: "close" });
      const a = await client(srv.port);
      a.send("one");
      a.send("two");
      const closed = await a.closed;
      expect(closed).toEqual({ code: 1008, reason: "rate limited" });
      expect(a.frames).toEqual(["one"]);
    });

    it("a function gets the context, and the message is not delivered", async () => {
      const seen: unknown[] = [];
      const { srv } = await setup({
        messages: "1/min",
        onLimited: (c) => {
          seen.push({ data: c.data.toString(), reason: c.reason, key: c.key, v: c.violations });
          c.ws.send("custom");
        },
      });
      const a = await client(srv.port);
      a.send("one");
      a.send("two");
      expect(await a.frameCount(2)).toEqual(["one", "custom"]);
      expect(seen).toEqual([{ data: "two", reason: "limited", key: "127.0.0.1", v: 1 }]);
    });

    it("closeAfter closes an abuser with 1008 after N refusals within the window", async () => {
      const { srv, clock } = await setup({
        messages: "1/min",
        closeAfter: { violations: 3, within: "10s" },
      });
      const a = await client(srv.port);
      a.send("ok");
      await a.frameCount(1);
      a.send("x1");
      a.send("x2");
      await flush(a);
      clock.advance("11s"); // the first two refusals fall out of the window
      a.send("x3");
      a.send("x4");
      await flush(a);
      expect(a.readyState).toBe(a.OPEN);
      a.send("x5");
      expect(await a.closed).toEqual({ code: 1008, reason: "too many rate-limited messages" });
    });

    it("ignores a spoofed X-Forwarded-For without trustProxy, and believes it with one", async () => {
      const { srv } = await setup({ connections: "1/min" });
      await client(srv.port, { "x-forwarded-for": "203.0.113.1" });
      const spoofed = await connect(srv.port, { "x-forwarded-for": "203.0.113.2" });
      expect(spoofed.refused && spoofed.status).toBe(429);
      const trusted = await setup({ connections: "1/min", trustProxy: 1 });
      await client(trusted.srv.port, { "x-forwarded-for": "203.0.113.1" });
      await client(trusted.srv.port, { "x-forwarded-for": "203.0.113.2" });
    });

    it("identifies clients by JWT: per-user maxConnections, 401 for a bad token", async () => {
      const secret = "a-test-secret-of-at-least-32-bytes!!";
      const token = (sub: string) =>
        new SignJWT({})
          .setProtectedHeader({ alg: "HS256" })
          .setSubject(sub)
          .setExpirationTime("1h")
          .sign(new TextEncoder().encode(secret));
      const { srv, limit } = await setup({ identity: jwt({ secret }), maxConnections: 1 });
      const alice = { authorization: `Bearer ${await token("alice")}` };
      await client(srv.port, alice);
      const again = await connect(srv.port, alice);
      expect(again.refused && again.status).toBe(429);
      await client(srv.port, { authorization: `Bearer ${await token("bob")}` });
      const bad = await connect(srv.port, { authorization: "Bearer not.a.jwt" });
      expect(bad.refused && bad.status).toBe(401);
      expect(await limit.slots!.inFlight("user:alice")).toBe(1);
    });

    it("allow-listed clients bypass connection and message limits", async () => {
      const { srv } = await setup({
        maxConnections: 1,
        messages: "1/min",
        allow: ["127.0.0.1"],
        onLimited: "reply",
      });
      const a = await client(srv.port);
      await client(srv.port);
      a.send("1");
      a.send("2");
      expect(await a.frameCount(2)).toEqual(["1", "2"]);
    });

    it("check/consume: the explicit form, with separate counters per key", async () => {
      const { limit, srv } = await setup({ messages: "2/min", mode: "manual" });
      await client(srv.port);
      await until(() => srv.sockets.length === 1);
      const ws = srv.sockets[0]!;
      expect(await limit.check(ws)).toBe(true);
      expect(await limit.check(ws)).toBe(true);
      expect(await limit.check(ws)).toBe(false);
      const d = await limit.consume(ws, "chat");
      expect(d.allowed).toBe(true);
      expect(d.remaining).toBe(1);
    });

    it("rejects bad options with one ConfigError listing each", () => {
      expect(() =>
        wsRateLimit({
          maxConnections: 0,
          messages: "often",
          onLimited: "explode" as never,
          closeAfter: { violations: 0, within: "1m" },
          nope: 1,
        } as never),
      ).toThrow(/maxConnections[\s\S]*messages[\s\S]*onLimited[\s\S]*closeAfter\.violations/);
    });
  });
}
