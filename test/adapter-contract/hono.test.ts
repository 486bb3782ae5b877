import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  type HonoRateLimitOptions,
  honoRateLimit,
  type RateLimitVariables,
} from "../../src/adapters/hono.js";
import { isThrottlekitError } from "../../src/core/errors/throttlekit-error.js";
import { infoBody } from "./cases-info.js";
import { type AdapterRunner, adapterContract } from "./contract.js";
import { served } from "./listen.js";
import { slow, slowMs } from "./slow.js";
import { storeFactories } from "./stores.js";

function serveApp(app: Pick<Hono, "fetch">, close: () => Promise<void>) {
  return served(serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server, close);
}

/** app.use(honoRateLimit(options)), served by @hono/node-server (address from env.incoming). */
const honoRunner: AdapterRunner = {
  name: "hono",
  // Hono routes on the decoded path of request.url (dot segments already resolved), strictly:
  // case and trailing slash count.
  loginRoutes: [
    "/login",
    "/%6cogin",
    "/log%69n",
    "/login#x",
    "/login?x=1",
    "/a/../login",
    "/a/%2e%2e/login",
    "http://127.0.0.1/login",
  ],
  async start(options) {
    const limit = honoRateLimit(options as HonoRateLimitOptions);
    const app = new Hono<{ Variables: RateLimitVariables }>();
    app.use(limit);
    app.post("/login", (c) => c.text("login"));
    app.all("/info", (c) => c.text(infoBody(c.get("rateLimit"))));
    app.all("/status/:code", (c) => c.body("ok", Number(c.req.param("code")) as 200));
    app.all("/status/:code/*", (c) => c.body("ok", Number(c.req.param("code")) as 200));
    app.all("/slow", async (c) => {
      await slow.hold(slowMs(c.req.url));
      return c.text("ok");
    });
    app.all("*", (c) => c.text("ok"));
    return { ...(await serveApp(app, () => limit.limiter.close())), limiter: limit.limiter };
  },
};

for (const store of storeFactories) adapterContract(honoRunner, store);

describe("hono adapter", () => {
  it('as route middleware, scope "route" counts per route template (c.req.routePath)', async () => {
    const limit = honoRateLimit({ policies: "1/min", scope: "route" });
    const app = new Hono();
    app.get("/items/:id", limit, (c) => c.text("ok"));
    app.get("/users/:id", limit, (c) => c.text("ok"));
    const s = await serveApp(app, () => limit.limiter.close());
    try {
      const status = async (path: string) => (await fetch(`${s.url}${path}`)).status;
      expect(await status("/items/1")).toBe(200);
      expect(await status("/items/2")).toBe(429);
      expect(await status("/users/1")).toBe(200);
      expect(await status("/users/2")).toBe(429);
    } finally {
      await s.close();
    }
  });

  it("merges the rate-limit headers into a Response the handler builds itself", async () => {
    const limit = honoRateLimit({ policies: "2/min" });
    const app = new Hono();
    app.use(limit);
    app.get("/", () => new Response("raw", { headers: { "x-app": "1" } }));
    const s = await serveApp(app, () => limit.limiter.close());
    try {
      const res = await fetch(`${s.url}/`);
      expect(await res.text()).toBe("raw");
      expect(res.headers.get("x-app")).toBe("1");
      expect(res.headers.get("ratelimit")).toMatch(/r=1/);
    } finally {
      await s.close();
    }
  });

  it("adds the headers to a Response whose headers are immutable (Response.redirect)", async () => {
    const limit = honoRateLimit({ policies: "2/min" });
    const app = new Hono();
    app.use(limit);
    app.get("/", () => Response.redirect("http://127.0.0.1/elsewhere", 302));
    const s = await serveApp(app, () => limit.limiter.close());
    try {
      const res = await fetch(`${s.url}/`, { redirect: "manual" });
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe("http://127.0.0.1/elsewhere");
      expect(res.headers.get("ratelimit")).toMatch(/r=1/);
    } finally {
      await s.close();
    }
  });

  it("uses a custom remoteAddress", async () => {
    const limit = honoRateLimit({
      policies: "1/min",
      remoteAddress: (c) => c.req.header("cf-connecting-ip"),
    });
    const app = new Hono();
    app.use(limit);
    app.get("/", (c) => c.text("ok"));
    const s = await serveApp(app, () => limit.limiter.close());
    try {
      const from = async (ip: string) =>
        (await fetch(`${s.url}/`, { headers: { "cf-connecting-ip": ip } })).status;
      expect(await from("192.0.2.1")).toBe(200);
      expect(await from("192.0.2.2")).toBe(200);
      expect(await from("192.0.2.1")).toBe(429);
    } finally {
      await s.close();
    }
  });

  it("a limiter fault reaches app.onError", async () => {
    const limit = honoRateLimit({
      policies: "1/min",
      // A bad identity result is a fault (ConfigError), like a store down: not a client's 401.
      identity: async () => 42 as never,
    });
    const app = new Hono();
    app.use(limit);
    app.get("/", (c) => c.text("ok"));
    app.onError((_e, c) => c.text("handled", 503));
    const res = await app.request("/");
    expect(res.status).toBe(503);
  });

  it("off Node (no env.outgoing), a streamed body holds its slot until read to the end", async () => {
    const limit = honoRateLimit({
      policies: "100/min",
      concurrency: 1,
      remoteAddress: () => "192.0.2.1",
    });
    const app = new Hono();
    app.use(limit);
    let push: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        push = c;
      },
    });
    app.get("/stream", () => new Response(body));
    app.get("/", (c) => c.text("ok"));
    const first = await app.request("/stream");
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit")).toMatch(/r=99/);
    expect((await app.request("/")).status).toBe(429);
    push!.enqueue(new TextEncoder().encode("data"));
    push!.close();
    expect(await first.text()).toBe("data");
    await new Promise((r) => setImmediate(r));
    expect((await app.request("/")).status).toBe(200);
    await limit.limiter.close();
  });

  it("reports a bad remoteAddress with the limiter's problems", () => {
    let error: unknown;
    try {
      honoRateLimit({ policies: "nope", remoteAddress: 1 } as never);
    } catch (e) {
      error = e;
    }
    expect(isThrottlekitError(error)).toBe(true);
    expect(String(error)).toMatch(/remoteAddress/);
    expect(String(error)).toMatch(/policies/);
  });
});
