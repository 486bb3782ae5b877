import { Controller, Get, Module } from "@nestjs/common";
import { APP_FILTER, APP_GUARD } from "@nestjs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "../../src/adapters/nest/index.js";
import { verdictFree } from "../../src/core/decision.js";
import type { Policy } from "../../src/core/policy.js";
import type { Store, StoreBinding } from "../../src/core/store.js";
import { TEMPORARY_REDUCED_CAPACITY_TYPE } from "../../src/http/index.js";
import { get, PLATFORMS, type RunningApp, startApp } from "./support/app.js";
import { decorate } from "./support/decorate.js";

/** Every decision is what a fail-closed store answers during an outage. */
const failClosed: Store = {
  name: "fail-closed",
  bind(_namespace: string, policies: readonly Policy[]): StoreBinding {
    const refuse = async () => verdictFree(policies, "degraded", false, 1000);
    const fail = () => Promise.reject(new Error("down"));
    return { consume: refuse, peek: refuse, refund: fail, reset: fail, block: fail, unblock: fail };
  },
};

class PingController {
  ping() {
    return "pong";
  }
}
decorate(PingController, [Controller("ping")], { ping: [Get()] });

function appModule(withFilter: boolean) {
  class AppModule {}
  decorate(AppModule, [
    Module({
      imports: [ThrottlekitModule.forRoot({ throttlers: { default: "5/min" }, store: failClosed })],
      controllers: [PingController],
      providers: [
        { provide: APP_GUARD, useClass: ThrottlekitGuard },
        ...(withFilter ? [{ provide: APP_FILTER, useClass: ThrottlekitExceptionFilter }] : []),
      ],
    }),
  ]);
  return AppModule;
}

for (const platform of PLATFORMS) {
  for (const withFilter of [true, false]) {
    describe(`Nest guard on ${platform}${withFilter ? " with" : " without"} the exception filter: a store outage (issue 13, item 4)`, () => {
      let app: RunningApp;
      beforeAll(async () => {
        app = await startApp(platform, appModule(withFilter));
      });
      afterAll(() => app.close());

      it("answers 503 temporary-reduced-capacity with Retry-After and no-store, not 429", async () => {
        const r = await get(app.url, "/ping");
        expect(r.status).toBe(503);
        expect(r.headers.get("retry-after")).toBe("1");
        expect(r.headers.get("cache-control")).toBe("no-store");
        expect(r.headers.get("content-type")).toMatch(
          withFilter ? /^application\/problem\+json/ : /^application\/json/,
        );
        expect(r.json()).toMatchObject({
          type: TEMPORARY_REDUCED_CAPACITY_TYPE,
          status: 503,
          retryAfter: 1,
        });
      });
    });
  }
}
