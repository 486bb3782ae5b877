/**
 * Fastify routes with their own `config.rateLimit` are compiled into limiters of their own; they
 * must report to the plugin's hub, count once in its metrics, share its abuse detector, and take
 * the penalties and shadow mode a rule takes (issue 17 on the per-route path).
 */
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type FastifyRateLimitOptions,
  type FastifyRouteRateLimit,
  fastifyRateLimit,
} from "../../src/adapters/fastify.js";
import type { DecisionEvent } from "../../src/core/events.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { storeFactories } from "./stores.js";

function route(rateLimit: FastifyRouteRateLimit | false) {
  return { config: { rateLimit } };
}

for (const store of storeFactories) {
  describe(`fastify route config, events and penalties (${store.name})`, () => {
    const apps: FastifyInstance[] = [];
    afterEach(async () => {
      for (const app of apps.splice(0)) await app.close();
    });

    let n = 0;
    async function start(
      plugin: Omit<FastifyRateLimitOptions, "store">,
      define: (app: FastifyInstance) => void,
    ) {
      const app = Fastify({ forceCloseConnections: true });
      apps.push(app);
      // A prefix per app: the Redis cases share one server.
      const prefix = `frw${process.pid}-${n++}-${Date.now()}`;
      await app.register(fastifyRateLimit, {
        ...plugin,
        store: await store.create(),
        prefix,
        logger: false,
      } as FastifyRateLimitOptions);
      define(app);
      await app.listen({ host: "127.0.0.1", port: 0 });
      const { port } = app.server.address() as { port: number };
      const get = async (path: string, init?: RequestInit) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
        await res.arrayBuffer();
        return res;
      };
      return { app, get };
    }

    it("a route's decisions reach app.throttlekit's hub and metrics, once each", async () => {
      const { app, get } = await start({ policies: "5/min", metrics: true }, (a) => {
        a.get("/own", route({ policies: "1/min", name: "own" }), async () => "ok");
        a.get("/plain", async () => "ok");
      });
      const seen: DecisionEvent[] = [];
      app.throttlekit.on("decision", (e) => seen.push(e));
      expect((await get("/own")).status).toBe(200);
      expect((await get("/own")).status).toBe(429);
      expect((await get("/plain")).status).toBe(200);
      expect(seen.map((e) => [e.rule, e.decision.allowed])).toEqual([
        ["own", true],
        ["own", false],
        ["default", true],
      ]);
      const { rules, total } = app.throttlekit.metrics();
      expect(rules.own?.requests).toBe(2);
      expect(rules.own?.limited).toBe(1);
      expect(total.requests).toBe(3);
    });

    it("mode: shadow on a route never refuses and sends no headers; the plugin's mode is inherited", async () => {
      const { app, get } = await start({ policies: "1/min", mode: "shadow" }, (a) => {
        a.get("/shadow", route({ policies: "1/min", name: "shadow" }), async () => "ok");
        a.get(
          "/live",
          route({ policies: "1/min", name: "live", mode: "enforce" }),
          async () => "ok",
        );
      });
      const refusals: boolean[] = [];
      app.throttlekit.on("limited", (e) => refusals.push(e.shadow === true));
      for (let i = 0; i < 3; i++) {
        const res = await get("/shadow");
        expect(res.status).toBe(200);
        expect(res.headers.get("ratelimit")).toBeNull();
        expect(res.headers.get("retry-after")).toBeNull();
      }
      expect((await get("/live")).status).toBe(200);
      expect((await get("/live")).status).toBe(429);
      expect(refusals).toEqual([true, true, false]);
    });

    it("an escalating blockFor and a ban on a route answer as on a rule", async () => {
      const clock = manualClock();
      const oneAMinute = { limit: 1, window: "1m", algorithm: "fixed-window" } as const;
      const { app, get } = await start({ policies: "100/min", clock: clock.now }, (a) => {
        a.post(
          "/login",
          route({ policies: oneAMinute, name: "login", blockFor: { base: "1m", factor: 2 } }),
          async () => "ok",
        );
        a.get(
          "/api",
          route({
            policies: oneAMinute,
            name: "api",
            ban: { after: 3, within: "1h", duration: "1d" },
          }),
          async () => "ok",
        );
      });
      const bans: string[] = [];
      app.throttlekit.on("autoBlock", (e) => bans.push(`${e.by} ${e.identifier}`));
      const answer = async (path: string, method = "GET") => {
        const res = await get(path, { method });
        return [res.status, res.headers.get("retry-after")];
      };
      expect((await answer("/login", "POST"))[0]).toBe(200);
      expect(await answer("/login", "POST")).toEqual([429, "60"]);
      clock.advance("1m");
      expect((await answer("/login", "POST"))[0]).toBe(200);
      expect(await answer("/login", "POST")).toEqual([429, "120"]);

      expect((await answer("/api"))[0]).toBe(200);
      expect(await answer("/api")).toEqual([429, "60"]);
      expect(await answer("/api")).toEqual([429, "60"]);
      expect(await answer("/api")).toEqual([429, "86400"]);
      expect(bans).toHaveLength(1);
      expect(bans[0]).toMatch(/^ban /);
    });

    it("protect: one detector for the plugin and its routes, so a client's traffic is counted whole", async () => {
      let ended = 0;
      // A clock that stands still: the detector's decayed counts are plain counts.
      const { app, get } = await start(
        { policies: "1000/min", clock: () => 1_800_000_000_000, protect: { autoBlock: false } },
        (a) => {
          a.addHook("onResponse", async () => {
            ended++;
          });
          a.get("/api/*", route({ policies: "1000/min", name: "api" }), async () => "ok");
          a.get("/other/*", async () => "ok");
        },
      );
      const detector = app.throttlekit.protect!;
      expect(detector).toBeDefined();
      let key = "";
      app.throttlekit.on("decision", (e) => {
        key = e.key;
      });
      for (let i = 0; i < 5; i++) await get(`/api/${i}`);
      for (let i = 0; i < 5; i++) await get(`/other/${i}`);
      // The detector analyzes a request when its response has ended, as onResponse runs.
      await vi.waitFor(() => expect(ended).toBe(10));
      await new Promise((resolve) => setImmediate(resolve));
      const one = detector.analyze("someone-else", "/").requestRate;
      // Ten requests through the plugin and the route, and this one.
      expect(detector.analyze(key, "/probe").requestRate / one).toBeCloseTo(11, 6);
    });

    it("a route config with an unknown key still fails registration naming it", async () => {
      const app = Fastify();
      apps.push(app);
      await app.register(fastifyRateLimit, { policies: "1/s", store: await store.create() });
      expect(() =>
        app.get("/x", route({ policies: "1/s", shadow: true } as never), async () => "ok"),
      ).toThrow(/shadow/);
    });
  });
}
