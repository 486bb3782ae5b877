/**
 * @RateLimit(): the handler gets the guard's decision as throttlekit/http's RateLimitInfo, on
 * Express and Fastify; undefined when the guard decided nothing (@SkipThrottle()).
 */
import { Controller, Get, Module } from "@nestjs/common";
import { APP_GUARD } from "@nestjs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  RateLimit,
  type RateLimitInfo,
  SkipThrottle,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "../../src/adapters/nest/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { get, PLATFORMS, type RunningApp, startApp } from "./support/app.js";
import { decorate } from "./support/decorate.js";

class InfoController {
  info(info: RateLimitInfo | undefined) {
    return info === undefined
      ? { decided: false }
      : {
          decided: true,
          limit: info.limit,
          used: info.used,
          remaining: info.remaining,
          resetTime: info.resetTime?.getTime(),
          key: info.key,
          allowed: info.decision.allowed,
        };
  }
  skipped(info: RateLimitInfo | undefined) {
    return { decided: info !== undefined };
  }
}
decorate(InfoController, [Controller("info")], {
  info: [Get()],
  skipped: [Get("skipped"), SkipThrottle()],
});
RateLimit()(InfoController.prototype, "info", 0);
RateLimit()(InfoController.prototype, "skipped", 0);

const clock = manualClock();

class AppModule {}
decorate(AppModule, [
  Module({
    imports: [ThrottlekitModule.forRoot({ throttlers: { default: "3/min" }, clock: clock.now })],
    controllers: [InfoController],
    providers: [{ provide: APP_GUARD, useClass: ThrottlekitGuard }],
  }),
]);

describe.each(PLATFORMS)("@RateLimit() on %s", (platform) => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startApp(platform, AppModule);
  });
  afterAll(() => app.close());

  it("hands the handler the decision: limit, used, remaining, resetTime, key", async () => {
    const first = (await get(app.url, "/info")).json();
    expect(first).toEqual({
      decided: true,
      limit: 3,
      used: 1,
      remaining: 2,
      resetTime: expect.any(Number),
      key: expect.stringMatching(/127\.0\.0\.1/),
      allowed: true,
    });
    const resetIn = (first as { resetTime: number }).resetTime - clock.now();
    expect(resetIn).toBeGreaterThan(0);
    // sliding-window (the default) is back to full once both windows it weighs have passed.
    expect(resetIn).toBeLessThanOrEqual(120_000);
    expect((await get(app.url, "/info")).json()).toMatchObject({ used: 2, remaining: 1 });
  });

  it("is undefined where the guard decided nothing", async () => {
    expect((await get(app.url, "/info/skipped")).json()).toEqual({ decided: false });
  });
});
