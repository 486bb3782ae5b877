/**
 * The guard runs through throttlekit/http's engine (issue 19, item 6): what every HTTP adapter
 * offers reaches Nest handlers too. Lists (static and store-kept), `cost`, identities and their
 * failure budget, `onLimited`, shadow mode, refunds by status, concurrency, and key management
 * through ThrottlekitService, load shedding and abuse detection, on Express and Fastify, on the memory store and on a real
 * redis-server this file starts.
 */
import {
  BadRequestException,
  Controller,
  Get,
  Module,
  NotFoundException,
  type Type,
} from "@nestjs/common";
import { APP_FILTER, APP_GUARD } from "@nestjs/core";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  executionContext,
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
  type ThrottlekitModuleOptions,
  ThrottlekitService,
} from "../../src/adapters/nest/index.js";
import { ABNORMAL_USAGE_DETECTED_TYPE, IdentityError } from "../../src/http/index.js";
import { createEvents, type DecisionEvent, memoryStore, type Store } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { manualClock } from "../../src/testing/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { get, PLATFORMS, type RunningApp, startApp, statuses } from "./support/app.js";
import { decorate } from "./support/decorate.js";

/** Requests to /items/slow wait for this gate, so two can be in flight at once. */
let release: () => void = () => {};
let gate = Promise.resolve();

class ItemsController {
  hello() {
    return "hello";
  }
  heavy() {
    return "heavy";
  }
  fail(): never {
    throw new BadRequestException("bad");
  }
  item() {
    return "item";
  }
  missing(): never {
    throw new NotFoundException("no such item");
  }
  async slow() {
    await gate;
    return "slow";
  }
}
decorate(ItemsController, [Controller("items")], {
  hello: [Get("hello")],
  heavy: [Get("heavy")],
  fail: [Get("fail")],
  item: [Get("item/:id")],
  missing: [Get("missing/:id")],
  slow: [Get("slow")],
});

function appModule(options: ThrottlekitModuleOptions): Type<unknown> {
  class AppModule {}
  decorate(AppModule, [
    Module({
      imports: [ThrottlekitModule.forRoot(options)],
      controllers: [ItemsController],
      providers: [
        { provide: APP_GUARD, useClass: ThrottlekitGuard },
        { provide: APP_FILTER, useClass: ThrottlekitExceptionFilter },
      ],
    }),
  ]);
  return AppModule;
}

let redis: RedisNode;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis({ host: "127.0.0.1", port: redis.port });
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const STORES: readonly { name: string; create(): Store }[] = [
  { name: "memory", create: () => memoryStore() },
  { name: "redis", create: () => redisStore({ client }) },
];
let prefixes = 0;

describe.each(STORES.flatMap((s) => PLATFORMS.map((p) => [s, p] as const)))(
  "the Nest guard through throttlekit/http's engine, %o on %s",
  (store, platform) => {
    let running: RunningApp | undefined;
    afterEach(async () => {
      await running?.close();
      running = undefined;
    });

    async function start(options: Partial<ThrottlekitModuleOptions>): Promise<RunningApp> {
      running = await startApp(
        platform,
        appModule({
          throttlers: { default: "3/min" },
          store: store.create(),
          prefix: `nest-engine-${process.pid}-${++prefixes}`,
          logger: false,
          ...options,
        }),
      );
      return running;
    }

    it("deny list: a static entry and a store entry answer 403; allow bypasses the limit", async () => {
      const app = await start({ deny: ["198.51.100.0/24"], allow: ["user:ops"] });
      const service = app.app.get(ThrottlekitService);
      expect(await statuses(app.url, "/items/hello", 1)).toEqual([200]);
      await service.lists.deny("127.0.0.1", { for: "1h", reason: "test" });
      const denied = await get(app.url, "/items/hello");
      expect(denied.status).toBe(403);
      expect(denied.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect(denied.json()).toMatchObject({ status: 403 });
      expect(await service.lists.remove("deny", "127.0.0.1")).toBe(true);
      expect(await statuses(app.url, "/items/hello", 3)).toEqual([200, 200, 429]);
    });

    it("allow list: an allowed identity key passes every limit", async () => {
      const app = await start({
        allow: ["user:ops"],
        getTracker: (req) => String(req.headers["x-user"] ?? "anonymous"),
      });
      const ops = { "x-user": "user:ops" };
      expect(await statuses(app.url, "/items/hello", 5, ops)).toEqual([200, 200, 200, 200, 200]);
      expect(await statuses(app.url, "/items/hello", 4)).toEqual([200, 200, 200, 429]);
    });

    it("cost: a handler priced from its execution context spends the budget faster", async () => {
      const app = await start({
        cost: (req) => (executionContext(req)?.getHandler().name === "heavy" ? 3 : 1),
      });
      expect(await statuses(app.url, "/items/heavy", 2)).toEqual([200, 429]);
      // Another handler counts apart.
      expect(await statuses(app.url, "/items/hello", 3)).toEqual([200, 200, 200]);
    });

    it("identity: a failed identification is 401, and past the failure budget 429", async () => {
      const app = await start({
        identity: (req) => {
          const key = req.header("x-api-key");
          if (key !== "good") throw new IdentityError("unknown API key");
          return `key:${key}`;
        },
        identityFailures: "2/min",
      });
      expect(await statuses(app.url, "/items/hello", 1, { "x-api-key": "good" })).toEqual([200]);
      const bad = { "x-api-key": "guess" };
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await get(app.url, "/items/hello", bad));
      expect(answers.map((a) => a.status)).toEqual([401, 401, 429]);
      expect(answers[0]!.json()).toMatchObject({ status: 401 });
      expect(Number(answers[2]!.headers.get("retry-after"))).toBeGreaterThan(0);
    });

    it("onLimited: the application's own answer, sent as produced", async () => {
      const app = await start({
        onLimited: ({ retryAfter, rule }) => ({
          status: 429,
          headers: { "X-Rule": rule },
          body: { error: "slow down", retryAfter },
        }),
      });
      await statuses(app.url, "/items/hello", 3);
      const limited = await get(app.url, "/items/hello");
      expect(limited.status).toBe(429);
      expect(limited.headers.get("content-type")).toMatch(/application\/json/);
      expect(limited.headers.get("x-rule")).toBe("nest.ItemsController.hello");
      expect(limited.json()).toEqual({ error: "slow down", retryAfter: expect.any(Number) });
    });

    it("onLimited and errorMessage together are refused at bootstrap", async () => {
      await expect(
        start({ onLimited: () => ({ body: "no" }), errorMessage: "Slow down" }),
      ).rejects.toThrow(/errorMessage.*either errorMessage or onLimited/s);
    });

    it('mode "shadow": refusals are reported, never answered', async () => {
      const events = createEvents();
      const seen: string[] = [];
      events.on("decision", (e: DecisionEvent) =>
        seen.push(`${e.decision.allowed ? "allowed" : "refused"}${e.shadow ? " shadow" : ""}`),
      );
      const app = await start({ mode: "shadow", events });
      expect(await statuses(app.url, "/items/hello", 4)).toEqual([200, 200, 200, 200]);
      expect(seen).toEqual(["allowed", "allowed", "allowed", "refused shadow"]);
    });

    it("countFailed: false refunds requests the handler answered ≥ 400", async () => {
      const app = await start({ countFailed: false });
      // Refunds land once each response finished: the next request may race one, so wait.
      for (let i = 0; i < 5; i++) {
        expect((await get(app.url, "/items/fail")).status).toBe(400);
        await new Promise((r) => setTimeout(r, 20));
      }
    });

    it("concurrency: one request in flight per client; the slot is given back at the response's end", async () => {
      const app = await start({ throttlers: { default: "100/min" }, concurrency: 1 });
      gate = new Promise((r) => {
        release = r;
      });
      const first = get(app.url, "/items/slow");
      // The first holds the slot until the gate opens.
      await new Promise((r) => setTimeout(r, 100));
      const second = await get(app.url, "/items/slow");
      expect(second.status).toBe(429);
      release();
      expect((await first).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect((await get(app.url, "/items/slow")).status).toBe(200);
    });

    it("shed: one load shedder for every handler; past maxInFlight a request is answered 503", async () => {
      const app = await start({
        throttlers: { default: "100/min" },
        shed: { maxInFlight: 1, reserve: { critical: 0, normal: 0 } },
      });
      gate = new Promise((r) => {
        release = r;
      });
      const first = get(app.url, "/items/slow");
      await new Promise((r) => setTimeout(r, 100));
      // Another handler: the count is the application's, not the handler's.
      const shed = await get(app.url, "/items/hello");
      expect(shed.status).toBe(503);
      expect(shed.headers.get("retry-after")).toBe("1");
      expect(shed.json()).toMatchObject({ status: 503 });
      release();
      expect((await first).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
      expect((await get(app.url, "/items/hello")).status).toBe(200);
    });

    it("protect: a prober of missing items is put on the deny list and answered 429 abnormal-usage-detected", async () => {
      const clock = manualClock();
      const app = await start({
        throttlers: { default: "1000/min" },
        clock: clock.now,
        getTracker: (req) => String(req.headers["x-client"] ?? "anonymous"),
        protect: { autoBlock: true, window: "10s", blockDuration: "5m" },
      });
      const scan = { "x-client": "scanner", "user-agent": "zgrab/0.x" };
      let refused: Awaited<ReturnType<typeof get>> | undefined;
      for (let i = 0; i < 40 && refused === undefined; i++) {
        clock.advance(100);
        const res = await get(app.url, `/items/missing/wp-${i}`, scan);
        // The detector hears each final status once the response has ended.
        await new Promise((r) => setTimeout(r, 5));
        if (res.status !== 404) refused = res;
      }
      expect(refused?.status).toBe(429);
      expect(refused!.json()).toMatchObject({ type: ABNORMAL_USAGE_DETECTED_TYPE });
      // Blocked on every handler: one detector, one deny list for the application.
      const elsewhere = await get(app.url, "/items/hello", scan);
      expect(elsewhere.status).toBe(429);
      // An ordinary client is not.
      expect((await get(app.url, "/items/hello", { "x-client": "ann" })).status).toBe(200);
    });

    it('scope "path": one handler counts each concrete path apart (/items/item/1, /items/item/2)', async () => {
      const app = await start({ throttlers: { default: "1/min" }, scope: "path" });
      expect(await statuses(app.url, "/items/item/1", 2)).toEqual([200, 429]);
      expect(await statuses(app.url, "/items/item/2", 2)).toEqual([200, 429]);
      // Other spellings of a path are that path's counter: a 429 (or a 404 where the platform
      // routes them nowhere), never a fresh budget.
      for (const spelling of ["/items/item/1/", "/ITEMS/item/1", "/items/item/%31"]) {
        expect([spelling, (await get(app.url, spelling)).status]).not.toEqual([spelling, 200]);
      }
      // Key management names the path whose counter is meant.
      const service = app.app.get(ThrottlekitService);
      const route = [ItemsController, "item"] as const;
      expect(await service.getKey("127.0.0.1", { route })).toBeUndefined();
      expect(await service.getKey("127.0.0.1", { route, path: "/items/item/2" })).toMatchObject({
        remaining: 0,
      });
      await service.resetKey("127.0.0.1", { route, path: "/items/item/2" });
      expect(await statuses(app.url, "/items/item/2", 1)).toEqual([200]);
      expect(await statuses(app.url, "/items/item/1", 1)).toEqual([429]);
      // Without it, the handler is one counter whatever the path.
      await running?.close();
      const whole = await start({ throttlers: { default: "1/min" } });
      expect(await statuses(whole.url, "/items/item/1", 1)).toEqual([200]);
      expect(await statuses(whole.url, "/items/item/2", 1)).toEqual([429]);
    });

    it("ThrottlekitService: resetKey, block, unblock and getKey on a handler's counters", async () => {
      const app = await start({});
      const service = app.app.get(ThrottlekitService);
      const route = [ItemsController, "hello"] as const;
      expect(await statuses(app.url, "/items/hello", 4)).toEqual([200, 200, 200, 429]);
      expect(await service.getKey("127.0.0.1", { route })).toMatchObject({ remaining: 0 });
      await service.resetKey("127.0.0.1", { route });
      expect(
        await service.getKey("127.0.0.1", { route: "nest.ItemsController.hello" }),
      ).toMatchObject({
        remaining: 3,
      });
      expect(await statuses(app.url, "/items/hello", 1)).toEqual([200]);
      await service.block("127.0.0.1", "1m");
      const blocked = await get(app.url, "/items/hello");
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(50);
      await service.unblock("127.0.0.1");
      expect(await statuses(app.url, "/items/hello", 1)).toEqual([200]);
      // Another handler's counters were not touched by the route-scoped calls.
      expect(await service.getKey("127.0.0.1")).toMatchObject({
        "nest.ItemsController.hello": { remaining: 1 },
      });
      await expect(service.resetKey("127.0.0.1", { route: "nest.Nope.nothing" })).rejects.toThrow(
        /a handler this process has guarded/,
      );
    });
  },
);
