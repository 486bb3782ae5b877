/**
 * throttlekit/nest events (issue 17): a real Nest application (Express and Fastify platforms)
 * on 127.0.0.1, on the memory store and a real redis-server. Every guarded request is one
 * decision event, under `nest.<Controller>.<handler>`, keyed by the tracker (not the store key),
 * with ratethrottle's violation payload for each refusal; the hub and the metrics collector are
 * injectable.
 */
import { Controller, Get, Module } from "@nestjs/common";
import { APP_GUARD } from "@nestjs/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  THROTTLEKIT_EVENTS,
  THROTTLEKIT_METRICS,
  Throttle,
  ThrottlekitGuard,
  ThrottlekitModule,
  type ThrottlekitModuleOptions,
} from "../../src/adapters/nest/index.js";
import type { Metrics } from "../../src/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { PLATFORMS, type RunningApp, startApp, statuses } from "../nest/support/app.js";
import { decorate } from "../nest/support/decorate.js";
import { derivedAgree, recorder, storeCases, uniquePrefix } from "./adapter-events.js";

const stores = storeCases();
beforeAll(() => stores.start(), 30_000);
afterAll(() => stores.stop());

let running: RunningApp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

class ItemsController {
  list() {
    return "list";
  }
  create() {
    return "create";
  }
}
decorate(ItemsController, [Controller("items")], {
  list: [Get("list")],
  create: [Get("create"), Throttle({ default: "1/min" })],
});

function appWith(options: ThrottlekitModuleOptions): new () => unknown {
  class AppModule {}
  Module({
    imports: [ThrottlekitModule.forRoot(options)],
    controllers: [ItemsController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlekitGuard }],
  })(AppModule);
  return AppModule;
}

describe.each(stores.cases.flatMap((s) => PLATFORMS.map((platform) => ({ ...s, platform }))))(
  "Nest events on $name ($platform)",
  ({ store, platform }) => {
    it("one event per guarded request, under the handler's rule and the tracker; metrics injectable", async () => {
      const rec = recorder();
      running = await startApp(
        platform,
        appWith({
          throttlers: { default: "2/min" },
          store: store(),
          prefix: uniquePrefix("nest"),
          clock: manualClock().now,
          identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
          events: rec.hub,
          metrics: true,
        }),
      );
      const ann = { "x-user": "ann" };
      expect(await statuses(running.url, "/items/list", 3, ann)).toEqual([200, 200, 429]);
      expect(await statuses(running.url, "/items/create", 2, ann)).toEqual([200, 429]);
      expect(rec.summary()).toEqual([
        "nest.ItemsController.list user:ann 1 allowed ok",
        "nest.ItemsController.list user:ann 1 allowed ok",
        "nest.ItemsController.list user:ann 1 refused limited",
        "nest.ItemsController.create user:ann 1 allowed ok",
        "nest.ItemsController.create user:ann 1 refused limited",
      ]);
      expect(
        rec.violations().map((v) => [v.rule, v.identifier, v.policy, v.requestsMade, v.limit]),
      ).toEqual([
        ["nest.ItemsController.list", "user:ann", "default", 3, 2],
        ["nest.ItemsController.create", "user:ann", "default", 2, 1],
      ]);
      expect(derivedAgree(rec)).toEqual([]);

      expect(running.app.get(THROTTLEKIT_EVENTS)).toBe(rec.hub);
      const metrics = running.app.get<Metrics>(THROTTLEKIT_METRICS);
      const snapshot = metrics.snapshot();
      expect(snapshot.total).toMatchObject({ requests: 5, allowed: 3, limited: 2 });
      expect(snapshot.rules["nest.ItemsController.list"]).toMatchObject({
        requests: 3,
        limited: 1,
      });
    });
  },
);

describe("Nest module options", () => {
  it("without events the module has a hub of its own, injectable; metrics off is null", async () => {
    running = await startApp("express", appWith({ throttlers: "5/min" }));
    const hub = running.app.get(THROTTLEKIT_EVENTS);
    const seen: string[] = [];
    hub.on("decision", (e: { rule: string }) => seen.push(e.rule));
    expect(await statuses(running.url, "/items/list", 1)).toEqual([200]);
    expect(seen).toEqual(["nest.ItemsController.list"]);
    expect(running.app.get(THROTTLEKIT_METRICS)).toBeNull();
  });

  it("bad events and metrics are reported together at bootstrap", async () => {
    await expect(
      startApp(
        "express",
        appWith({ throttlers: "5/min", events: {} as never, metrics: 3 as never }),
      ),
    ).rejects.toThrowError(/events[\s\S]*metrics/);
  });
});
