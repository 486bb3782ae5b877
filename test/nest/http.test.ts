import { Controller, Get, Injectable, Module, UseGuards } from "@nestjs/common";
import { APP_FILTER, APP_GUARD } from "@nestjs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SkipThrottle,
  Throttle,
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "../../src/adapters/nest/index.js";
import { manualClock } from "../../src/testing/manual-clock.js";
import { get, PLATFORMS, type RunningApp, startApp, statuses } from "./support/app.js";
import { decorate } from "./support/decorate.js";

const QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded";

// --- App 1: a global guard (APP_GUARD), forRoot, clients told apart by X-Forwarded-For from a
// trusted loopback proxy, so each test counts for its own client address.

class DefaultController {
  a() {
    return "a";
  }
  b() {
    return "b";
  }
}
decorate(DefaultController, [Controller("default")], { a: [Get("a")], b: [Get("b")] });

class LimitController {
  low() {
    return "low";
  }
  high() {
    return "high";
  }
}
decorate(LimitController, [Controller("limit"), Throttle({ default: "2/min" })], {
  low: [Get("low")],
  high: [Get("high"), Throttle({ default: "5/min" })],
});

class SkipController {
  skipped() {
    return "skipped";
  }
  counted() {
    return "counted";
  }
}
decorate(SkipController, [Controller("skip"), SkipThrottle()], {
  skipped: [Get("skipped")],
  counted: [Get("counted"), SkipThrottle(false)],
});

class NamedController {
  burst() {
    return "burst";
  }
  replaced() {
    return "replaced";
  }
  partial() {
    return "partial";
  }
}
decorate(NamedController, [Controller("named")], {
  burst: [Get("burst"), Throttle({ burst: { limit: 2, window: "1s" } })],
  replaced: [Get("replaced"), Throttle("1/min")],
  partial: [Get("partial"), Throttle({ burst: "1/s" }), SkipThrottle({ default: true })],
});

const clock = manualClock();

class GlobalAppModule {}
decorate(GlobalAppModule, [
  Module({
    imports: [
      ThrottlekitModule.forRoot({
        throttlers: { default: "3/min" },
        clock: clock.now,
        trustProxy: ["loopback"],
        skipIf: (context) =>
          context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[
            "x-skip"
          ] === "yes",
      }),
    ],
    controllers: [DefaultController, LimitController, SkipController, NamedController],
    providers: [
      { provide: APP_GUARD, useClass: ThrottlekitGuard },
      { provide: APP_FILTER, useClass: ThrottlekitExceptionFilter },
    ],
  }),
]);

// --- App 2: forRootAsync with an injected config service, @UseGuards per controller, no proxy
// trusted, and a guard subclass that counts by a user header.

class LimitsConfig {
  readonly perMinute = 2;
}
decorate(LimitsConfig, [Injectable()]);

class ConfigModule {}
decorate(ConfigModule, [Module({ providers: [LimitsConfig], exports: [LimitsConfig] })]);

class UserGuard extends ThrottlekitGuard {
  protected override getTracker(req: Record<string, unknown>) {
    const user = (req.headers as Record<string, string | undefined>)["x-user"];
    return user === undefined ? "anonymous" : `user:${user}`;
  }
}

class GuardedController {
  plain() {
    return "plain";
  }
}
decorate(GuardedController, [Controller("guarded"), UseGuards(ThrottlekitGuard)], {
  plain: [Get("plain")],
});

class UserController {
  me() {
    return "me";
  }
}
decorate(UserController, [Controller("user"), UseGuards(UserGuard)], { me: [Get("me")] });

class OpenController {
  open() {
    return "open";
  }
}
decorate(OpenController, [Controller("open")], { open: [Get()] });

const clock2 = manualClock();

class AsyncAppModule {}
decorate(AsyncAppModule, [
  Module({
    imports: [
      ThrottlekitModule.forRootAsync({
        imports: [ConfigModule],
        inject: [LimitsConfig],
        useFactory: (config: LimitsConfig) => ({
          throttlers: { limit: `${config.perMinute}/min` },
          clock: clock2.now,
          headers: "draft-7",
        }),
      }),
    ],
    controllers: [GuardedController, UserController, OpenController],
  }),
]);

// --- App 3: legacy X-RateLimit-* headers, whose reset is a Unix time read from the clock.

const clock3 = manualClock(1_900_000_000_000);

class LegacyAppModule {}
decorate(LegacyAppModule, [
  Module({
    imports: [
      ThrottlekitModule.forRoot({
        throttlers: { limit: "3/min" },
        clock: clock3.now,
        headers: "legacy",
      }),
    ],
    controllers: [GuardedController],
  }),
]);

describe.each(PLATFORMS)("throttlekit/nest over HTTP on %s", (platform) => {
  let app: RunningApp;
  let app2: RunningApp;
  let app3: RunningApp;
  let client = 0;
  /** A fresh client address per test: counters never leak between tests. */
  const fresh = () => ({ "x-forwarded-for": `203.0.113.${++client}` });

  beforeAll(async () => {
    app = await startApp(platform, GlobalAppModule);
    app2 = await startApp(platform, AsyncAppModule);
    app3 = await startApp(platform, LegacyAppModule);
  });
  afterAll(async () => {
    await app?.close();
    await app2?.close();
    await app3?.close();
  });

  it("counts each handler separately", async () => {
    const c = fresh();
    expect(await statuses(app.url, "/default/a", 4, c)).toEqual([200, 200, 200, 429]);
    expect(await statuses(app.url, "/default/b", 1, c)).toEqual([200]);
  });

  it("lets a method's limit (5) override its class's (2)", async () => {
    const c = fresh();
    expect(await statuses(app.url, "/limit/low", 3, c)).toEqual([200, 200, 429]);
    expect(await statuses(app.url, "/limit/high", 6, c)).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it("skips a skipped class, and limits a method that negates the skip", async () => {
    const c = fresh();
    expect(await statuses(app.url, "/skip/skipped", 6, c)).toEqual([200, 200, 200, 200, 200, 200]);
    const skipped = await get(app.url, "/skip/skipped", c);
    expect(skipped.headers.get("ratelimit")).toBeNull();
    expect(await statuses(app.url, "/skip/counted", 4, c)).toEqual([200, 200, 200, 429]);
  });

  it("leaves requests alone when skipIf says so", async () => {
    const c = fresh();
    expect(await statuses(app.url, "/default/a", 3, c)).toEqual([200, 200, 200]);
    const skipped = { ...c, "x-skip": "yes" };
    expect(await statuses(app.url, "/default/a", 3, skipped)).toEqual([200, 200, 200]);
    expect(await statuses(app.url, "/default/a", 1, c)).toEqual([429]);
  });

  it("keeps separate counters per client", async () => {
    const one = fresh();
    const two = fresh();
    expect(await statuses(app.url, "/default/a", 4, one)).toEqual([200, 200, 200, 429]);
    expect(await statuses(app.url, "/default/a", 1, two)).toEqual([200]);
  });

  it("sends rate-limit headers on success", async () => {
    const c = fresh();
    const r = await get(app.url, "/default/b", c);
    expect(r.status).toBe(200);
    expect(r.headers.get("ratelimit-policy")).toBe('"default";q=3;w=60');
    const t = Number(/^"default";r=2;t=(\d+)$/.exec(r.headers.get("ratelimit") ?? "")?.[1]);
    expect(t).toBeGreaterThan(0);
    expect(t).toBeLessThanOrEqual(120); // a sliding window is back to full within two windows
    expect(r.headers.get("retry-after")).toBeNull();
  });

  it("answers 429 with Retry-After, no-store and a problem body", async () => {
    const c = fresh();
    await statuses(app.url, "/default/b", 3, c);
    clock.advance("20s");
    const r = await get(app.url, "/default/b", c);
    expect(r.status).toBe(429);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.headers.get("cache-control")).toBe("no-store");
    const retry = Number(r.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(40);
    expect(r.headers.get("ratelimit")).toBe(`"default";r=0;t=${retry}`);
    expect(r.json()).toMatchObject({
      type: QUOTA_EXCEEDED,
      status: 429,
      "violated-policies": ["default"],
      retryAfter: retry,
    });
    clock.advance(`${retry}s`);
    expect((await get(app.url, "/default/b", c)).status).toBe(200);
  });

  it("checks named throttlers as one all-or-nothing decision", async () => {
    const c = fresh();
    const first = await get(app.url, "/named/burst", c);
    expect(first.headers.get("ratelimit-policy")).toBe('"default";q=3;w=60, "burst";q=2;w=1');
    expect(await statuses(app.url, "/named/burst", 2, c)).toEqual([200, 429]);
    clock.advance("2s"); // two sliding windows: "burst" is back to full
    // The request rejected by "burst" was not charged to "default": one default unit is left.
    const third = await get(app.url, "/named/burst", c);
    expect(third.status).toBe(200);
    expect(third.headers.get("ratelimit")).toMatch(/^"default";r=0;t=\d+, "burst";r=1;t=\d+$/);
    const limited = await get(app.url, "/named/burst", c);
    expect(limited.status).toBe(429);
    expect(limited.json()).toMatchObject({ "violated-policies": ["default"] });
  });

  it("replaces every throttler with @Throttle(policies), and drops named ones with @SkipThrottle({ name })", async () => {
    const c = fresh();
    const r = await get(app.url, "/named/replaced", c);
    expect(r.headers.get("ratelimit-policy")).toBe('"1/1m";q=1;w=60');
    expect((await get(app.url, "/named/replaced", c)).status).toBe(429);
    const p = await get(app.url, "/named/partial", c);
    expect(p.headers.get("ratelimit-policy")).toBe('"burst";q=1;w=1');
    expect((await get(app.url, "/named/partial", c)).status).toBe(429);
  });

  it("uses forRootAsync's injected config and @UseGuards on one controller only", async () => {
    const r = await get(app2.url, "/guarded/plain");
    expect(r.status).toBe(200);
    expect(r.headers.get("ratelimit")).toMatch(/^limit=2, remaining=1, reset=\d+$/);
    expect((await get(app2.url, "/guarded/plain")).status).toBe(200);
    const limited = await get(app2.url, "/guarded/plain");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Without ThrottlekitExceptionFilter, Nest's own filter sends the same problem as JSON.
    expect(limited.headers.get("content-type")).toMatch(/^application\/json/);
    expect(limited.json()).toMatchObject({ type: QUOTA_EXCEEDED, status: 429 });
    // Unguarded controller: no limit, no headers.
    const open = await get(app2.url, "/open");
    expect(open.status).toBe(200);
    expect(open.headers.get("ratelimit")).toBeNull();
    clock2.advance("2m"); // two sliding windows: every counter is back to full
  });

  it("sends legacy X-RateLimit-* headers with a reset in Unix seconds from its clock", async () => {
    const r = await get(app3.url, "/guarded/plain");
    expect(r.status).toBe(200);
    expect(r.headers.get("x-ratelimit-limit")).toBe("3");
    expect(r.headers.get("x-ratelimit-remaining")).toBe("2");
    const reset = Number(r.headers.get("x-ratelimit-reset"));
    const now = clock3.now() / 1000;
    expect(reset).toBeGreaterThan(now);
    expect(reset).toBeLessThanOrEqual(now + 120);
    expect(r.headers.get("ratelimit")).toBeNull();
    clock3.advance("2m");
  });

  it("trusts no proxy by default: a spoofed X-Forwarded-For buys no new budget", async () => {
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      seen.push(
        (await get(app2.url, "/guarded/plain", { "x-forwarded-for": `198.51.100.${i}` })).status,
      );
    }
    expect(seen).toEqual([200, 200, 429]);
    clock2.advance("2m"); // two sliding windows: every counter is back to full
  });

  it("lets a guard subclass pick the tracker", async () => {
    expect(await statuses(app2.url, "/user/me", 3, { "x-user": "ada" })).toEqual([200, 200, 429]);
    expect(await statuses(app2.url, "/user/me", 1, { "x-user": "bob" })).toEqual([200]);
  });
});
