import { createRequire } from "node:module";
import Router from "@koa/router";
import Koa, { type Context, type Next } from "koa";
import { afterEach, describe, expect, it } from "vitest";
import { type KoaRateLimit, koaRateLimit } from "../../src/adapters/koa.js";
import type { HttpLimiterOptions } from "../../src/http/options.js";
import { infoBody } from "./cases-info.js";
import { type AdapterRunner, adapterContract, type RunningServer } from "./contract.js";
import { served } from "./listen.js";
import { slow, slowMs } from "./slow.js";
import { downStore, storeFactories } from "./stores.js";

/** The error path of the contract's servers: a fault shows as a 500 with its message. */
async function onError(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (error) {
    ctx.status = 500;
    ctx.body = `fault: ${error instanceof Error ? error.message : String(error)}`;
  }
}

async function ok(ctx: Context): Promise<void> {
  if (ctx.method === "POST" && ctx.path === "/login") {
    ctx.body = "login";
    return;
  }
  await answer(ctx);
}

function login(ctx: Context): void {
  ctx.body = "login";
}

/** Every path but /login, for the routed runner (it routes /login on its own). */
async function answer(ctx: Context): Promise<void> {
  if (ctx.path === "/info") {
    ctx.body = infoBody(ctx.state.rateLimit);
    return;
  }
  if (ctx.path === "/slow") await slow.hold(slowMs(ctx.url));
  const m = /^\/status\/(\d{3})/.exec(ctx.path);
  ctx.status = m === null ? 200 : Number(m[1]);
  ctx.body = "ok";
}

async function listen(app: Koa, limit: KoaRateLimit): Promise<RunningServer> {
  const server = await served(app.listen(0, "127.0.0.1"), () => limit.limiter.close());
  return { ...server, limiter: limit.limiter };
}

/**
 * One Koa major as the tests use it. Koa 2 is installed under the npm alias `koa2` (issue 19,
 * item 8: peerDependencies promise ^2.13 || ^3); it ships no types, and the API these tests touch
 * is the same in both, so it is cast to Koa 3's at this one place.
 */
type Major = {
  readonly major: 2 | 3;
  readonly Koa: typeof Koa;
  /** The installed package's version, so a drifted alias cannot run one major twice. */
  readonly version: string;
};

const require = createRequire(import.meta.url);
const MAJORS: readonly Major[] = [
  { major: 3, Koa, version: require("koa/package.json").version },
  { major: 2, Koa: require("koa2") as typeof Koa, version: require("koa2/package.json").version },
];

for (const m of MAJORS) koaSuite(m);

/** Everything below runs on the given major: `Koa` here is that major's. */
function koaSuite({ major, Koa, version }: Major): void {
  /** app.use(koaRateLimit(...)) */
  const koaRunner: AdapterRunner = {
    name: `koa ${major}`,
    // No router: the app compares ctx.path (parseurl's pathname: no fragment, absolute-form cut);
    // the same four on Koa 2 and 3, found by sending every LOGIN_FORMS spelling to each.
    loginRoutes: ["/login", "/login#x", "/login?x=1", "http://127.0.0.1/login"],
    async start(options) {
      const limit = koaRateLimit(options);
      const app = new Koa();
      app.use(onError);
      app.use(limit);
      app.use(ok);
      return listen(app, limit);
    },
  };

  /**
   * The limiter on each @koa/router route (`router.all(path, limit, handler)`): the router has
   * matched, so `ctx._matchedRoute` holds the template. The catch-all is a route too, whose
   * template ("{/*rest}") is no path: it counts under the rule.
   */
  const routedRunner: AdapterRunner = {
    name: `koa ${major} (@koa/router, per route)`,
    routeTemplates: true,
    // @koa/router 15 (path-to-regexp 8) matches ctx.path (undecoded) regardless of case and
    // with an optional trailing slash; found by sending every LOGIN_FORMS spelling.
    loginRoutes: [
      "/login",
      "/LOGIN",
      "/Login",
      "/login/",
      "/login#x",
      "/login?x=1",
      "http://127.0.0.1/login",
    ],
    async start(options) {
      const limit = koaRateLimit(options);
      const router = new Router();
      router.post("/login", limit, login);
      router.all("/status/:code", limit, answer);
      router.all("/status/:code/{*rest}", limit, answer);
      router.all("/items/:id", limit, answer);
      router.all("{/*rest}", limit, answer);
      const app = new Koa();
      app.use(onError);
      app.use(router.routes());
      return listen(app, limit);
    },
  };

  for (const store of storeFactories) {
    adapterContract(koaRunner, store);
    adapterContract(routedRunner, store);
  }

  describe(`koa ${major} adapter specifics`, () => {
    it(`runs on Koa ${major}`, () => {
      expect(version.split(".")[0]).toBe(String(major));
    });

    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of closers.splice(0)) await c();
    });
    async function start(
      options: HttpLimiterOptions,
      last: (ctx: Context) => void = ok,
      proxy = false,
    ) {
      const limit = koaRateLimit(options as never);
      const app = new Koa({ proxy });
      app.use(onError);
      app.use(limit);
      app.use(last);
      const server = await listen(app, limit);
      closers.push(() => server.close());
      return (path = "/") => fetch(`${server.url}${path}`);
    }

    it("limiter faults reject into Koa's error handling", async () => {
      const down = await start({ policies: "5/min", store: downStore() });
      const res = await down();
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("fault: store down");

      const badIdentity = await start({ policies: "5/min", identity: () => 42 as never });
      const r2 = await badIdentity();
      expect(r2.status).toBe(500);
      expect(await r2.text()).toMatch(/^fault: [\s\S]*identity/);
    });

    it("a custom response without a body is sent empty, with its own status", async () => {
      const get = await start({
        policies: "1/min",
        onLimited: () => ({ status: 503, headers: { "X-Why": "busy" } }),
      });
      await (await get()).arrayBuffer();
      const res = await get();
      expect(res.status).toBe(503);
      expect(res.headers.get("x-why")).toBe("busy");
      expect(res.headers.get("retry-after")).not.toBeNull();
      expect(await res.text()).toBe("");
    });

    it("callbacks get Koa's ctx on req.raw", async () => {
      let seen: unknown;
      const get = await start({
        policies: "5/min",
        identity: (req) => {
          const { ctx } = req.raw as { ctx: Context };
          seen = ctx.query.user;
          return `user:${String(ctx.query.user)}`;
        },
      });
      expect((await get("/?user=ann")).status).toBe(200);
      expect(seen).toBe("ann");
    });
    it('scope "route" reads the template @koa/router leaves in ctx._matchedRoute', async () => {
      const limit = koaRateLimit({ policies: "1/min", scope: "route" });
      // On the route: the router has matched, and the template carries the router's prefix.
      const routes = new Router();
      routes.get("/items/:id", limit, answer);
      routes.get("/users/:id", limit, answer);
      const v1 = new Router({ prefix: "/v1" });
      v1.get("/items/:id", limit, answer);
      // router.use(limit): that layer sets its own pattern, which is no template.
      const used = new Router();
      used.use(limit);
      used.get("/use/:id", answer);
      // Under a prefix, the layer's pattern is "/v2(?:\/|$)": a pattern, still no template.
      const usedV2 = new Router({ prefix: "/v2" });
      usedV2.use(limit);
      usedV2.get("/use/:id", answer);
      const app = new Koa();
      app.use(routes.routes());
      app.use(v1.routes());
      app.use(used.routes());
      app.use(usedV2.routes());
      // No route matched: app-wide, before any router, as app.use(limit) is.
      app.use(limit);
      app.use(answer);
      const server = await listen(app, limit);
      closers.push(() => server.close());
      const status = async (path: string) => {
        const res = await fetch(`${server.url}${path}`);
        const body = await res.text();
        // Through to the handler, or refused by the limiter: never a 404 from a missed route.
        if (res.status === 200) expect(body).toBe("ok");
        else expect(res.status).toBe(429);
        return res.status;
      };
      expect(await status("/items/1")).toBe(200);
      expect(await status("/items/2")).toBe(429);
      expect(await status("/users/1")).toBe(200);
      expect(await status("/users/2")).toBe(429);
      expect(await status("/v1/items/1")).toBe(200);
      expect(await status("/v1/items/2")).toBe(429);
      // No template (router.use, or no route matched): the rule's counter, one for both.
      expect(await status("/use/1")).toBe(200);
      expect(await status("/use/2")).toBe(429);
      expect(await status("/v2/use/1")).toBe(429);
      expect(await status("/elsewhere")).toBe(429);
    });

    it("warns once (WARN_TK_TRUST_PROXY_MISMATCH) when Koa's app.proxy differs", async () => {
      const warned: string[] = [];
      const logger = { warn: (m: string) => warned.push(m) };
      const get = await start({ policies: "5/min", logger }, ok, true);
      for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(/WARN_TK_TRUST_PROXY_MISMATCH: Koa's app.proxy is true/);

      const quiet: string[] = [];
      const same = await start({
        policies: "5/min",
        logger: { warn: (m: string) => quiet.push(m) },
      });
      expect((await same()).status).toBe(200);
      expect(quiet).toEqual([]);
    });
  });
}
