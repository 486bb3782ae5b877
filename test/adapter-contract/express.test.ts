import { createRequire } from "node:module";
import express, { type NextFunction, type Request, type Response } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { type ExpressRateLimit, expressRateLimit } from "../../src/adapters/express.js";
import type { HttpLimiterOptions } from "../../src/http/options.js";
import { infoBody } from "./cases-info.js";
import type { LoginForm } from "./cases-paths.js";
import { type AdapterRunner, adapterContract, type RunningServer } from "./contract.js";
import { served } from "./listen.js";
import { slow, slowMs } from "./slow.js";
import { downStore, storeFactories } from "./stores.js";

function status(req: Request, res: Response): void {
  res.status(Number(req.params.code)).send("ok");
}
function ok(_req: Request, res: Response): void {
  res.send("ok");
}
function info(req: Request, res: Response): void {
  res.type("text").send(infoBody(req.rateLimit));
}
function login(_req: Request, res: Response): void {
  res.send("login");
}
async function slowly(req: Request, res: Response): Promise<void> {
  await slow.hold(slowMs(req.originalUrl));
  res.send("ok");
}
/** The error path of the contract's servers: a fault shows as a 500 with its message. */
function onError(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  res.status(500).send(`fault: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * One Express major as the tests use it. Express 4 is installed under the npm alias `express4`
 * (issue 19, item 8: peerDependencies promise ^4.17 || ^5); it ships no types, and the API these
 * tests touch is the same in both, so it is cast to Express 5's at this one place.
 */
type Major = {
  readonly major: 4 | 5;
  readonly express: typeof express;
  /** The installed package's version, so a drifted alias cannot run one major twice. */
  readonly version: string;
  /** Any path, as the major's router spells it: path-to-regexp 0.1's `*`, or 8's named splat. */
  readonly anyPath: string;
  /** `/status/<code>/<anything>`, spelled the same way. */
  readonly statusRest: string;
  /**
   * The LOGIN_FORMS the major routes to `app.post("/login")`, found by sending each one: both
   * match regardless of case, allow one trailing slash, route on the raw (undecoded) path with
   * the #fragment and an absolute-form prefix cut by parseurl, and resolve no dot segments.
   */
  readonly loginRoutes: readonly LoginForm[];
};

const ROUTED_BY_BOTH: readonly LoginForm[] = [
  "/login",
  "/LOGIN",
  "/Login",
  "/login/",
  "/login#x",
  "/login?x=1",
  "http://127.0.0.1/login",
];

const require = createRequire(import.meta.url);
const MAJORS: readonly Major[] = [
  {
    major: 5,
    express,
    version: require("express/package.json").version,
    anyPath: "/{*rest}",
    statusRest: "/status/:code/{*rest}",
    loginRoutes: ROUTED_BY_BOTH,
  },
  {
    major: 4,
    express: require("express4") as typeof express,
    version: require("express4/package.json").version,
    anyPath: "*",
    statusRest: "/status/:code/*",
    loginRoutes: ROUTED_BY_BOTH,
  },
];

async function listen(app: express.Express, limit: ExpressRateLimit): Promise<RunningServer> {
  const server = await served(app.listen(0, "127.0.0.1"), () => limit.limiter.close());
  return { ...server, limiter: limit.limiter };
}

for (const m of MAJORS) expressSuite(m);

/** Everything below runs on the given major: `express` here is that major's, Router included. */
function expressSuite({ major, express, version, anyPath, statusRest, loginRoutes }: Major): void {
  /** app.use(expressRateLimit(...)) */
  const appWide: AdapterRunner = {
    name: `express ${major} (app.use)`,
    loginRoutes,
    async start(options) {
      const limit = expressRateLimit(options);
      const app = express();
      app.use(limit);
      app.post("/login", login);
      app.all("/status/:code", status);
      app.all(statusRest, status);
      app.all("/slow", slowly);
      app.all("/info", info);
      app.use(ok);
      app.use(onError);
      return listen(app, limit);
    },
  };

  /** app.all(path, expressRateLimit(...), handler): the middleware on each route */
  const perRoute: AdapterRunner = {
    name: `express ${major} (per route)`,
    loginRoutes,
    routeTemplates: true,
    async start(options) {
      const limit = expressRateLimit(options);
      const app = express();
      app.post("/login", limit, login);
      app.all("/status/:code", limit, status);
      app.all(statusRest, limit, status);
      app.all("/slow", limit, slowly);
      app.all("/info", limit, info);
      app.all("/items/:id", limit, ok);
      app.all(anyPath, limit, ok);
      app.use(onError);
      return listen(app, limit);
    },
  };

  for (const store of storeFactories) {
    adapterContract(appWide, store);
    adapterContract(perRoute, store);
  }

  describe(`express ${major} adapter specifics`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of closers.splice(0)) await c();
    });
    async function start(
      options: HttpLimiterOptions,
      mount: (app: express.Express, limit: ExpressRateLimit) => void,
    ) {
      const limit = expressRateLimit(options as never);
      const app = express();
      mount(app, limit);
      app.use(onError);
      const server = await listen(app, limit);
      closers.push(() => server.close());
      return (path = "/") => fetch(`${server.url}${path}`);
    }

    it(`runs on Express ${major}`, () => {
      expect(version.split(".")[0]).toBe(String(major));
    });

    it('scope "route" in a mounted router: the template relative to the router', async () => {
      const get = await start({ policies: "1/min", scope: "route" }, (app, limit) => {
        const router = express.Router();
        router.get("/items/:id", limit, ok);
        app.use("/a", router);
        app.use("/b", router);
        app.get("/items/:id", limit, ok);
        app.get("/users/:id", limit, ok);
      });
      expect((await get("/users/1")).status).toBe(200);
      expect((await get("/users/2")).status).toBe(429);
      expect((await get("/a/items/1")).status).toBe(200);
      expect((await get("/a/items/2")).status).toBe(429);
      // "/items/:id" under /b, and at the top, are the same template: one counter (documented).
      expect((await get("/b/items/3")).status).toBe(429);
      expect((await get("/items/4")).status).toBe(429);
    });

    it("a store fault goes to next(error)", async () => {
      const get = await start({ policies: "5/min", store: downStore() }, (app, limit) => {
        app.use(limit);
        app.use(ok);
      });
      const res = await get();
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("fault: store down");
    });

    it("identity faults go to next(error), sync and async", async () => {
      // An identity returning a non-key is a ConfigError: handle() rejects.
      const get = await start({ policies: "5/min", identity: () => 42 as never }, (app, limit) => {
        app.use(limit);
        app.use(ok);
      });
      const res = await get();
      expect(res.status).toBe(500);
      expect(await res.text()).toMatch(/^fault: [\s\S]*identity/);

      const getAsync = await start(
        { policies: "5/min", identity: async () => 42 as never },
        (app, limit) => {
          app.use(limit);
          app.use(ok);
        },
      );
      const r2 = await getAsync();
      expect(r2.status).toBe(500);
      expect(await r2.text()).toMatch(/^fault: [\s\S]*identity/);
    });

    it("rules match the full path inside a mounted router", async () => {
      const get = await start(
        { rules: [{ path: "/api/items", policies: "1/min" }] },
        (app, limit) => {
          const router = express.Router();
          router.use(limit);
          router.get("/items", ok);
          router.get("/other", ok);
          app.use("/api", router);
        },
      );
      expect((await get("/api/items?x=1")).status).toBe(200);
      expect((await get("/api/items")).status).toBe(429);
      const other = await get("/api/other");
      expect(other.status).toBe(200);
      expect(other.headers.get("ratelimit")).toBeNull();
    });

    it("callbacks get Express's req and res on req.raw", async () => {
      let seen: unknown;
      const get = await start(
        {
          policies: "5/min",
          identity: (req) => {
            const { req: r, res } = req.raw as { req: Request; res: Response };
            seen = [r.params, typeof res.status, r.query.user];
            return `user:${String(r.query.user)}`;
          },
        },
        (app, limit) => app.get("/u/:id", limit, ok),
      );
      expect((await get("/u/7?user=ann")).status).toBe(200);
      expect(seen).toEqual([{ id: "7" }, "function", "ann"]);
    });
    it("warns once (WARN_TK_TRUST_PROXY_MISMATCH) when Express's trust proxy differs", async () => {
      const warned: string[] = [];
      const logger = { warn: (m: string) => warned.push(m) };
      const get = await start({ policies: "5/min", logger }, (app, limit) => {
        app.set("trust proxy", 1);
        app.use(limit);
        app.use(ok);
      });
      for (let i = 0; i < 3; i++) expect((await get()).status).toBe(200);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(/WARN_TK_TRUST_PROXY_MISMATCH: Express's "trust proxy" is 1/);

      const quiet: string[] = [];
      const same = await start(
        { policies: "5/min", trustProxy: 1, logger: { warn: (m: string) => quiet.push(m) } },
        (app, limit) => {
          app.set("trust proxy", 1);
          app.use(limit);
          app.use(ok);
        },
      );
      expect((await same()).status).toBe(200);
      expect(quiet).toEqual([]);
    });
  });
}
