import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import {
  type FastifyRateLimitOptions,
  type FastifyRouteRateLimit,
  fastifyRateLimit,
} from "../../src/adapters/fastify.js";
import { isThrottlekitError } from "../../src/core/errors/throttlekit-error.js";
import { infoBody } from "./cases-info.js";
import { LOGIN_FORMS, rawRequest } from "./cases-paths.js";
import { type AdapterRunner, adapterContract } from "./contract.js";
import { slow, slowMs } from "./slow.js";
import { storeFactories } from "./stores.js";

function routes(app: FastifyInstance): void {
  app.post("/login", async () => "login");
  const status = async (req: { params: unknown }, reply: { code(n: number): unknown }) => {
    reply.code(Number((req.params as { code: string }).code));
    return "ok";
  };
  app.all("/status/:code", status);
  app.all("/status/:code/*", status);
  app.all("/slow", async (req) => {
    await slow.hold(slowMs(req.url));
    return "ok";
  });
  app.all("/info", async (req) => infoBody(req.rateLimit));
  app.all("/items/:id", async () => "ok");
  app.all("/*", async () => "ok");
  app.all("/", async () => "ok");
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (typeof address !== "object" || address === null) throw new Error("not listening");
  return `http://127.0.0.1:${address.port}`;
}

/** app.register(fastifyRateLimit, options), every route after it. */
const fastifyRunner: AdapterRunner = {
  name: "fastify",
  routeTemplates: true,
  // find-my-way decodes the path and stops at "#"; by default it is case- and slash-sensitive.
  loginRoutes: [
    "/login",
    "/%6cogin",
    "/log%69n",
    "/login#x",
    "/login?x=1",
    "http://127.0.0.1/login",
  ],
  async start(options) {
    const app = Fastify({ forceCloseConnections: true });
    await app.register(fastifyRateLimit, options as FastifyRateLimitOptions);
    routes(app);
    const url = await listen(app);
    return { url, limiter: app.throttlekit, close: () => app.close() };
  },
};

for (const store of storeFactories) adapterContract(fastifyRunner, store);

describe("fastify per-route config", () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  async function start(
    plugin: FastifyRateLimitOptions,
    define: (app: FastifyInstance) => void,
  ): Promise<(path: string, init?: RequestInit) => Promise<Response>> {
    const app = Fastify({ forceCloseConnections: true });
    apps.push(app);
    await app.register(fastifyRateLimit, plugin);
    define(app);
    const url = await listen(app);
    return async (path, init) => {
      const res = await fetch(`${url}${path}`, init);
      await res.clone().arrayBuffer();
      return res;
    };
  }

  const route = (rateLimit: FastifyRouteRateLimit | false) => ({ config: { rateLimit } });

  it("a route's own policies replace the plugin's, on counters of its own", async () => {
    const get = await start({ policies: "3/min" }, (app) => {
      app.post("/login", route({ policies: "1/min" }), async () => "ok");
      app.get("/", async () => "ok");
    });
    expect((await get("/login", { method: "POST" })).status).toBe(200);
    expect((await get("/login", { method: "POST" })).status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await get("/")).status).toBe(200);
    expect((await get("/")).status).toBe(429);
  });

  it('scope "route": one counter per route URL (prefix included); 404s have none', async () => {
    const get = await start({ policies: "1/min", scope: "route" }, (app) => {
      app.register(
        async (v1) => {
          v1.get("/items/:id", async () => "ok");
        },
        { prefix: "/v1" },
      );
      app.get("/items/:id", async () => "ok");
    });
    expect((await get("/v1/items/1")).status).toBe(200);
    expect((await get("/v1/items/2")).status).toBe(429);
    expect((await get("/items/1")).status).toBe(200);
    expect((await get("/items/2")).status).toBe(429);
    // No route: the catch-all has no path either, so 404s share one counter (as scope "rule").
    expect((await get("/nope/1")).status).toBe(404);
    expect((await get("/nope/2")).status).toBe(429);
  });

  it("a path no route matches is limited by the plugin: a scanner's 404s count", async () => {
    const get = await start({ policies: "2/min" }, (app) => {
      app.get("/", async () => "ok");
    });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(`/probe-${i}`)).status);
    expect(statuses).toEqual([404, 404, 429, 429]);
    // The same counter as the routes': the scan used it up.
    expect((await get("/")).status).toBe(429);
  });

  it("rateLimit: false leaves the route alone (no headers, no limit)", async () => {
    const get = await start({ policies: "1/min" }, (app) => {
      app.get("/health", route(false), async () => "ok");
    });
    for (let i = 0; i < 3; i++) {
      const res = await get("/health");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
  });

  it("exempt: true sends no headers and never limits", async () => {
    const get = await start({ policies: "1/min" }, (app) => {
      app.get("/static", route({ exempt: true }), async () => "ok");
    });
    for (let i = 0; i < 3; i++) {
      const res = await get("/static");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
    }
  });

  it("cost alone inherits the plugin's policies, charged per request", async () => {
    const get = await start({ policies: "5/min" }, (app) => {
      app.get("/export", route({ cost: 3 }), async () => "ok");
    });
    const first = await get("/export");
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit")).toMatch(/r=2/);
    expect((await get("/export")).status).toBe(429);
  });

  it("a zone shares one pool between two routes", async () => {
    const get = await start({ policies: "100/min" }, (app) => {
      app.get("/a", route({ zone: "ab", policies: "2/min" }), async () => "ok");
      app.get("/b", route({ zone: "ab", policies: "2/min" }), async () => "ok");
    });
    expect((await get("/a")).status).toBe(200);
    expect((await get("/b")).status).toBe(200);
    expect((await get("/a")).status).toBe(429);
  });

  it("HEAD counts with its GET route", async () => {
    const get = await start({ policies: "100/min" }, (app) => {
      app.get("/h", route({ policies: "2/min" }), async () => "ok");
    });
    expect((await get("/h", { method: "HEAD" })).status).toBe(200);
    expect((await get("/h")).status).toBe(200);
    expect((await get("/h", { method: "HEAD" })).status).toBe(429);
  });

  it("routes in child plugins registered after it are limited too", async () => {
    const get = await start({ policies: "1/min" }, (app) => {
      app.register(async (child) => {
        child.get("/child", async () => "ok");
      });
    });
    expect((await get("/child")).status).toBe(200);
    expect((await get("/child")).status).toBe(429);
  });

  it("the route limiter is compiled when the route is registered, not per request", async () => {
    let calls = 0;
    const get = await start({ policies: "100/min" }, (app) => {
      app.get(
        "/c",
        route({
          get policies() {
            calls++;
            return "10/min";
          },
        }),
        async () => "ok",
      );
    });
    const before = calls;
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 3; i++) expect((await get("/c")).status).toBe(200);
    expect(calls).toBe(before);
  });

  it("a route's concurrency, and one load shedder for the plugin and every route", async () => {
    const app = Fastify({ forceCloseConnections: true });
    apps.push(app);
    await app.register(fastifyRateLimit, {
      policies: "100/min",
      shed: { maxInFlight: 2, reserve: { critical: 0, normal: 0 } },
    });
    const held = async () => {
      await slow.hold(15_000);
      return "ok";
    };
    app.get("/one", route({ concurrency: 1 }), held);
    app.get("/two", route({ policies: "5/min" }), held);
    app.get("/", async () => "ok");
    const url = await listen(app);
    slow.reset();
    const one = fetch(`${url}/one`);
    await slow.reached(1);
    const second = await fetch(`${url}/one`);
    expect(second.status).toBe(429); // the route's own cap
    expect(second.headers.get("retry-after")).toBe("1");
    await second.arrayBuffer();
    const two = fetch(`${url}/two`);
    await slow.reached(2);
    // Two in flight across two route limiters: the plugin's shedder counts them together.
    const shed = await fetch(`${url}/`);
    expect(shed.status).toBe(503);
    await shed.arrayBuffer();
    slow.releaseAll();
    expect((await one).status).toBe(200);
    expect((await two).status).toBe(200);
    expect(app.throttlekit.shed?.inFlight).toBe(0);
  });

  it("a bad route config fails registration with a ConfigError naming the route", async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(fastifyRateLimit, { policies: "1/min" });
    let error: unknown;
    try {
      app.get("/x", route({ polices: "1/min" } as never), async () => "ok");
      await app.ready();
    } catch (e) {
      error = e;
    }
    expect(isThrottlekitError(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/\/x config\.rateLimit\.polices/);
  });

  it("a route config without policies needs the plugin's", async () => {
    const app = Fastify();
    apps.push(app);
    await app.register(fastifyRateLimit, { rules: [{ path: "/y", policies: "1/min" }] });
    expect(() => app.get("/z", route({ cost: 2 }), async () => "ok")).toThrow(/policies/);
  });

  it('hook: "preHandler" runs after body parsing: cost reads the parsed body', async () => {
    const get = await start({ policies: "10/min", hook: "preHandler" }, (app) => {
      app.post(
        "/batch",
        route({
          cost: (req) => {
            const body = req.raw.request.body as { items?: unknown[] } | undefined;
            return body?.items?.length ?? 1;
          },
        }),
        async (request) => request.rateLimit,
      );
    });
    const post = (items: number[]) =>
      get("/batch", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ items }),
      });
    const first = await post([1, 2, 3, 4]);
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ limit: 10, used: 4, remaining: 6 });
    expect((await post([1, 2, 3, 4, 5, 6])).status).toBe(200);
    expect((await post([1])).status).toBe(429);
  });

  it('hook: "preHandler" limits 404s too, and a bad hook is a ConfigError', async () => {
    const get = await start({ policies: "1/min", hook: "preHandler" }, () => {});
    expect((await get("/nope")).status).toBe(404);
    expect((await get("/nope")).status).toBe(429);
    const app = Fastify();
    apps.push(app);
    await expect(
      app.register(fastifyRateLimit, { policies: "1/min", hook: "onSend" } as never),
    ).rejects.toThrow(/hook/);
  });

  it("global: false limits only routes that opt in; other routes and 404s are not", async () => {
    const get = await start({ policies: "1/min", global: false }, (app) => {
      app.get("/open", async (request) => ({ info: request.rateLimit ?? null }));
      app.get("/limited", route({}), async () => "ok");
      app.get("/own", route({ policies: "2/min" }), async () => "ok");
    });
    for (let i = 0; i < 3; i++) {
      const res = await get("/open");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
      expect(await res.json()).toEqual({ info: null });
      expect((await get(`/missing-${i}`)).status).toBe(404);
    }
    expect((await get("/limited")).status).toBe(200);
    expect((await get("/limited")).status).toBe(429);
    expect((await get("/own")).status).toBe(200);
    expect((await get("/own")).status).toBe(200);
    expect((await get("/own")).status).toBe(429);
  });

  it("onExceeding per admitted request, onExceeded per refused one, with the key", async () => {
    const calls: string[] = [];
    const get = await start(
      {
        policies: "2/min",
        onExceeding: (request, key) => calls.push(`ing ${request.url} ${key}`),
        onExceeded: (request, key) => calls.push(`ed ${request.url} ${key}`),
      },
      (app) => {
        app.get("/", async () => "ok");
        app.get("/free", route({ exempt: true }), async () => "ok");
      },
    );
    for (let i = 0; i < 4; i++) await get("/");
    await get("/free");
    expect(calls).toEqual([
      "ing / 127.0.0.1",
      "ing / 127.0.0.1",
      "ed / 127.0.0.1",
      "ed / 127.0.0.1",
    ]);
  });

  it("a throwing onExceeding goes to Fastify's error handler", async () => {
    const get = await start(
      {
        policies: "2/min",
        onExceeding: () => {
          throw new Error("callback failed");
        },
      },
      (app) => app.get("/", async () => "ok"),
    );
    expect((await get("/")).status).toBe(500);
  });

  it("bad plugin options reject register with a ConfigError", async () => {
    const app = Fastify();
    apps.push(app);
    await expect(app.register(fastifyRateLimit, { policies: "nope" } as never)).rejects.toSatisfy(
      isThrottlekitError,
    );
  });
});

describe("fastify router options: rules read paths as find-my-way does", () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  const variants: { routerOptions: Record<string, boolean>; routed: readonly string[] }[] = [
    {
      routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: true },
      routed: LOGIN_FORMS.filter((f) => !f.startsWith("/a/") && !f.startsWith("/login/")),
    },
    {
      routerOptions: {
        caseSensitive: false,
        ignoreDuplicateSlashes: true,
        ignoreTrailingSlash: true,
        useSemicolonDelimiter: true,
      },
      routed: [...LOGIN_FORMS.filter((f) => !f.startsWith("/a/")), "/login;x", "/LOGIN;x"],
    },
  ];
  for (const { routerOptions, routed } of variants) {
    it(`${JSON.stringify(routerOptions)}: every spelling routed to /login is limited`, async () => {
      const forms = [...LOGIN_FORMS, "/login;x", "/LOGIN;x"];
      for (const form of forms) {
        const app = Fastify({ forceCloseConnections: true, routerOptions });
        apps.push(app);
        await app.register(fastifyRateLimit, {
          rules: [{ path: "/login", methods: "POST", policies: "1/min" }],
        });
        routes(app);
        const url = await listen(app);
        const first = await rawRequest(url, "POST", form);
        expect(first.body === "login", `fastify routes ${form} to /login`).toBe(
          routed.includes(form),
        );
        if (routed.includes(form)) {
          expect((await rawRequest(url, "POST", form)).status, form).toBe(429);
        }
      }
    });
  }
});

describe("fastify trustProxy", () => {
  it("warns once (WARN_TK_TRUST_PROXY_MISMATCH) when Fastify's trustProxy differs", async () => {
    const warned: string[] = [];
    const app = Fastify({ trustProxy: "10.0.0.0/8" });
    await app.register(fastifyRateLimit, {
      policies: "5/min",
      trustProxy: 1,
      logger: { warn: (m: string) => warned.push(m) },
    });
    app.get("/", async () => "ok");
    expect((await app.inject("/")).statusCode).toBe(200);
    expect((await app.inject("/")).statusCode).toBe(200);
    await app.close();
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(
      /WARN_TK_TRUST_PROXY_MISMATCH: Fastify's trustProxy is \["10\.0\.0\.0\/8"\] but throttlekit's trustProxy is 1/,
    );

    const quiet: string[] = [];
    const same = Fastify({ trustProxy: "10.0.0.0/8, loopback" });
    await same.register(fastifyRateLimit, {
      policies: "5/min",
      trustProxy: ["loopback", "10.0.0.0/8"],
      logger: { warn: (m: string) => quiet.push(m) },
    });
    await same.close();
    expect(quiet).toEqual([]);
  });
});
