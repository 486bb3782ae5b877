/**
 * @nestjs/throttler's README examples (v6), written against throttlekit/nest: only the imports
 * change (ThrottlerModule → ThrottlekitModule, ThrottlerGuard → ThrottlekitGuard), and each
 * answers as @nestjs/throttler does, on Express and Fastify, on the memory store and on a
 * redis-server this file starts. Decorators are applied with test/nest/support/decorate.ts (the
 * repo compiles without experimentalDecorators), and constructor injection names its token
 * with @Inject (nothing here relies on emitted design metadata).
 */
import {
  Controller,
  type ExecutionContext,
  Get,
  Inject,
  Injectable,
  Module,
  Post,
  type Type,
  UseGuards,
} from "@nestjs/common";
import { APP_GUARD } from "@nestjs/core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  minutes,
  SkipThrottle,
  seconds,
  Throttle,
  ThrottlekitGuard,
  ThrottlekitModule,
  type ThrottlekitModuleInput,
  type ThrottlekitModuleOptions,
  type ThrottlerOptions,
  type ThrottlerOptionsFactory,
} from "../../src/adapters/nest/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";
import { get, PLATFORMS, type Platform, startApp, statuses } from "./support/app.js";
import { decorate } from "./support/decorate.js";

type StoreKind = "memory" | "redis";

let redis: RedisNode;
const clients: Redis[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

let apps = 0;
/**
 * The README's `forRoot([...])` on the memory store; on Redis its `forRoot({ throttlers,
 * storage })` form with throttlekit's store (a prefix per app: one redis-server serves all).
 */
function rootOptions(
  kind: StoreKind,
  throttlers: ThrottlerOptions[],
  extra: Omit<ThrottlekitModuleOptions, "throttlers"> = {},
): ThrottlekitModuleInput {
  if (kind === "memory")
    return Object.keys(extra).length === 0 ? throttlers : { throttlers, ...extra };
  const client = new Redis({ host: "127.0.0.1", port: redis.port });
  clients.push(client);
  return { throttlers, store: redisStore({ client }), prefix: `readme${++apps}`, ...extra };
}

type Req = { headers: Record<string, string | undefined> };

/** A controller at `path` with one GET handler per entry, each with its decorators. */
function controller(
  path: string,
  handlers: Record<string, MethodDecorator[]>,
  classDecorators: ClassDecorator[] = [],
): Type<unknown> {
  class C {}
  const proto = C.prototype as unknown as Record<string, () => string>;
  for (const name of Object.keys(handlers)) proto[name] = () => name;
  Object.defineProperty(C, "name", { value: `${path}Controller` });
  return decorate(C, [Controller(path), ...classDecorators], handlers);
}

function appModule(
  imports: NonNullable<Parameters<typeof Module>[0]["imports"]>,
  controllers: Type<unknown>[],
  guard: Type<unknown> = ThrottlekitGuard,
): Type<unknown> {
  class AppModule {}
  decorate(AppModule, [
    Module({ imports, controllers, providers: [{ provide: APP_GUARD, useClass: guard }] }),
  ]);
  return AppModule;
}

async function run(platform: Platform, root: Type<unknown>, body: (url: string) => Promise<void>) {
  const app = await startApp(platform, root);
  try {
    await body(app.url);
  } finally {
    await app.close();
  }
}

/** A config service as @nestjs/config's would give it. */
class ConfigService {
  private readonly values: Record<string, number> = { THROTTLE_TTL: 60_000, THROTTLE_LIMIT: 2 };
  get<T = number>(name: string): T {
    return this.values[name] as T;
  }
}
decorate(ConfigService, [Injectable()]);
class ConfigModule {}
decorate(ConfigModule, [Module({ providers: [ConfigService], exports: [ConfigService] })]);

const COMBOS = PLATFORMS.flatMap((p) => (["memory", "redis"] as const).map((s) => [p, s] as const));

describe.each(COMBOS)(
  "@nestjs/throttler's README on throttlekit/nest, %s, %s",
  (platform, kind) => {
    it("forRoot([{ ttl: 60000, limit: 10 }]) with APP_GUARD: 10 per minute, then 429", async () => {
      const root = appModule(
        [ThrottlekitModule.forRoot(rootOptions(kind, [{ ttl: 60000, limit: 10 }]))],
        [controller("basic", { hello: [Get()] })],
      );
      await run(platform, root, async (url) => {
        const first = await get(url, "/basic");
        expect(first.status).toBe(200);
        expect(first.headers.get("x-ratelimit-limit")).toBe("10");
        expect(first.headers.get("x-ratelimit-remaining")).toBe("9");
        expect(Number(first.headers.get("x-ratelimit-reset"))).toBe(60);
        expect(await statuses(url, "/basic", 10)).toEqual([...Array(9).fill(200), 429]);
        const limited = await get(url, "/basic");
        expect(limited.status).toBe(429);
        expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      });
    });

    it("multiple named throttlers: short, medium, long; suffixed headers", async () => {
      const root = appModule(
        [
          ThrottlekitModule.forRoot(
            rootOptions(kind, [
              { name: "short", ttl: 1000, limit: 3 },
              { name: "medium", ttl: 10000, limit: 20 },
              { name: "long", ttl: 60000, limit: 100 },
            ]),
          ),
        ],
        [controller("multi", { hello: [Get()] })],
      );
      await run(platform, root, async (url) => {
        const first = await get(url, "/multi");
        expect(first.headers.get("x-ratelimit-limit-short")).toBe("3");
        expect(first.headers.get("x-ratelimit-remaining-short")).toBe("2");
        expect(first.headers.get("x-ratelimit-limit-medium")).toBe("20");
        expect(first.headers.get("x-ratelimit-limit-long")).toBe("100");
        expect(first.headers.get("x-ratelimit-remaining-long")).toBe("99");
        expect(first.headers.get("x-ratelimit-limit")).toBeNull();
        expect(await statuses(url, "/multi", 2)).toEqual([200, 200]);
        const limited = await get(url, "/multi");
        expect(limited.status).toBe(429);
        expect(limited.headers.get("retry-after-short")).toBe("1");
      });
    });

    it("@SkipThrottle() or @SkipThrottle({ default: true }) on a class, @SkipThrottle({ default: false }) on a method; @Throttle({ default: { limit, ttl } })", async () => {
      const skipped = controller(
        "users",
        {
          dontSkip: [Get("dont-skip"), SkipThrottle({ default: false })],
          doSkip: [Get("do-skip")],
        },
        [SkipThrottle()],
      );
      const skippedByName = controller(
        "users-by-name",
        {
          dontSkip: [Get("dont-skip"), SkipThrottle({ default: false })],
          doSkip: [Get("do-skip")],
        },
        [SkipThrottle({ default: true })],
      );
      const overridden = controller("override", {
        findAll: [Get(), Throttle({ default: { limit: 3, ttl: 60000 } })],
      });
      const root = appModule(
        [ThrottlekitModule.forRoot(rootOptions(kind, [{ ttl: 60000, limit: 2 }]))],
        [skipped, skippedByName, overridden],
      );
      await run(platform, root, async (url) => {
        expect(await statuses(url, "/users/dont-skip", 3)).toEqual([200, 200, 429]);
        expect(await statuses(url, "/users/do-skip", 5)).toEqual([200, 200, 200, 200, 200]);
        expect(await statuses(url, "/users-by-name/dont-skip", 3)).toEqual([200, 200, 429]);
        expect(await statuses(url, "/users-by-name/do-skip", 5)).toEqual([200, 200, 200, 200, 200]);
        expect(await statuses(url, "/override", 4)).toEqual([200, 200, 200, 429]);
      });
    });

    it("named throttlers: @SkipThrottle({ short: true, medium: true }) on a class, @Throttle({ short, medium }) on a handler; @SkipThrottle() skips them all", async () => {
      const skipped = controller("users", { list: [Get()] }, [
        SkipThrottle({ short: true, medium: true }),
      ]);
      const overridden = controller("named", {
        findAll: [
          Get(),
          Throttle({ short: { limit: 5, ttl: 1000 }, medium: { limit: 30, ttl: 10000 } }),
        ],
      });
      // The README's "incorrect usage": @nestjs/throttler skips no named throttler here,
      // throttlekit skips them all (docs/migrate/nestjs-throttler.md, what differs on purpose).
      const all = controller("all", { hello: [Get()] }, [SkipThrottle()]);
      const root = appModule(
        [
          ThrottlekitModule.forRoot(
            rootOptions(kind, [
              { name: "short", ttl: 1000, limit: 1 },
              { name: "medium", ttl: 10000, limit: 2 },
              { name: "long", ttl: 60000, limit: 4 },
            ]),
          ),
        ],
        [skipped, overridden, all],
      );
      await run(platform, root, async (url) => {
        // Only long counts: short (1) and medium (2) would refuse the second and third.
        expect(await statuses(url, "/users", 5)).toEqual([200, 200, 200, 200, 429]);
        const first = await get(url, "/named");
        expect(first.headers.get("x-ratelimit-limit-short")).toBe("5");
        expect(first.headers.get("x-ratelimit-limit-medium")).toBe("30");
        expect(first.headers.get("x-ratelimit-limit-long")).toBe("4");
        expect(await statuses(url, "/named", 4)).toEqual([200, 200, 200, 429]);
        expect(await statuses(url, "/all", 6)).toEqual([200, 200, 200, 200, 200, 200]);
      });
    });

    it("@UseGuards(ThrottlekitGuard) on a controller and on a handler, no APP_GUARD; @SkipThrottle({ long: true }) on a guarded @Post", async () => {
      const reports = controller("reports", { list: [Get()] }, [UseGuards(ThrottlekitGuard)]);
      const search = controller("search", {
        search: [UseGuards(ThrottlekitGuard), Get()],
        open: [Get("open")],
      });
      const auth = controller("auth", {
        login: [SkipThrottle({ long: true }), UseGuards(ThrottlekitGuard), Post("login")],
      });
      class AppModule {}
      decorate(AppModule, [
        Module({
          imports: [
            ThrottlekitModule.forRoot(
              rootOptions(kind, [
                { name: "short", ttl: 60000, limit: 3 },
                { name: "long", ttl: 60000, limit: 1 },
              ]),
            ),
          ],
          controllers: [reports, search, auth],
        }),
      ]);
      await run(platform, AppModule, async (url) => {
        expect(await statuses(url, "/reports", 2)).toEqual([200, 429]);
        expect(await statuses(url, "/search", 2)).toEqual([200, 429]);
        // A handler without the guard carries no limit.
        expect(await statuses(url, "/search/open", 4)).toEqual([200, 200, 200, 200]);
        // long (1) left out: short (3) alone limits the login.
        const logins: number[] = [];
        for (let i = 0; i < 4; i++) {
          const res = await fetch(`${url}/auth/login`, { method: "POST" });
          await res.arrayBuffer();
          logins.push(res.status);
        }
        expect(logins).toEqual([201, 201, 201, 429]);
      });
    });

    it("@Throttle({ default: { limit: 1 } }) keeps the module's ttl; numeric strings from the environment", async () => {
      const partial = controller("partial", {
        one: [Get("one"), Throttle({ default: { limit: 1 } })],
        plain: [Get("plain")],
      });
      const root = appModule(
        [
          ThrottlekitModule.forRoot(
            rootOptions(kind, [{ ttl: "60000" as never, limit: " 3 " as never }]),
          ),
        ],
        [partial],
      );
      await run(platform, root, async (url) => {
        const first = await get(url, "/partial/one");
        expect(first.headers.get("x-ratelimit-limit")).toBe("1");
        expect(first.headers.get("x-ratelimit-reset")).toBe("60");
        const limited = await get(url, "/partial/one");
        expect(limited.status).toBe(429);
        // Blocked for the module's ttl from the refusal, as @nestjs/throttler.
        expect(Number(limited.headers.get("retry-after"))).toBe(60);
        expect(await statuses(url, "/partial/plain", 4)).toEqual([200, 200, 200, 429]);
      });
    });

    it("time helpers: ttl: seconds(60), minutes(1)", async () => {
      const root = appModule(
        [
          ThrottlekitModule.forRoot(
            rootOptions(kind, [
              { ttl: seconds(60), limit: 1 },
              { name: "hourly", ttl: minutes(60), limit: 5 },
            ]),
          ),
        ],
        [controller("helpers", { hello: [Get()] })],
      );
      await run(platform, root, async (url) => {
        const first = await get(url, "/helpers");
        expect(first.headers.get("x-ratelimit-reset")).toBe("60");
        expect(first.headers.get("x-ratelimit-reset-hourly")).toBe("3600");
        expect((await get(url, "/helpers")).status).toBe(429);
      });
    });

    it("behind a proxy: a guard subclass's getTracker", async () => {
      class ThrottlerBehindProxyGuard extends ThrottlekitGuard {
        protected override async getTracker(req: Record<string, unknown>): Promise<string> {
          const forwarded = (req as Req).headers["x-forwarded-for"];
          return forwarded?.split(",")[0]?.trim() ?? "unknown";
        }
      }
      const root = appModule(
        [ThrottlekitModule.forRoot(rootOptions(kind, [{ ttl: 60000, limit: 1 }]))],
        [controller("proxied", { hello: [Get()] })],
        ThrottlerBehindProxyGuard,
      );
      await run(platform, root, async (url) => {
        const a = { "x-forwarded-for": "203.0.113.1" };
        const b = { "x-forwarded-for": "203.0.113.2" };
        expect(await statuses(url, "/proxied", 2, a)).toEqual([200, 429]);
        expect(await statuses(url, "/proxied", 2, b)).toEqual([200, 429]);
      });
    });

    it("forRootAsync({ imports, inject, useFactory }) returning throttlers", async () => {
      const root = appModule(
        [
          ThrottlekitModule.forRootAsync({
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: (config: ConfigService) =>
              rootOptions(kind, [
                { ttl: config.get("THROTTLE_TTL"), limit: config.get("THROTTLE_LIMIT") },
              ]),
          }),
        ],
        [controller("factory", { hello: [Get()] })],
      );
      await run(platform, root, async (url) => {
        expect(await statuses(url, "/factory", 3)).toEqual([200, 200, 429]);
      });
    });

    it("forRootAsync({ useClass }) and forRootAsync({ useExisting }) with ThrottlerOptionsFactory", async () => {
      class ThrottlerConfigService implements ThrottlerOptionsFactory {
        constructor(private readonly config: ConfigService) {}
        createThrottlerOptions() {
          return rootOptions(kind, [{ ttl: 60000, limit: this.config.get("THROTTLE_LIMIT") }]);
        }
      }
      decorate(ThrottlerConfigService, [Injectable()]);
      Inject(ConfigService)(ThrottlerConfigService, undefined, 0);
      const viaClass = appModule(
        [
          ThrottlekitModule.forRootAsync({
            imports: [ConfigModule],
            useClass: ThrottlerConfigService,
          }),
        ],
        [controller("useclass", { hello: [Get()] })],
      );
      await run(platform, viaClass, async (url) => {
        expect(await statuses(url, "/useclass", 3)).toEqual([200, 200, 429]);
      });
      class OptionsModule {}
      decorate(OptionsModule, [
        Module({
          imports: [ConfigModule],
          providers: [ThrottlerConfigService],
          exports: [ThrottlerConfigService],
        }),
      ]);
      const viaExisting = appModule(
        [
          ThrottlekitModule.forRootAsync({
            imports: [OptionsModule],
            useExisting: ThrottlerConfigService,
          }),
        ],
        [controller("useexisting", { hello: [Get()] })],
      );
      await run(platform, viaExisting, async (url) => {
        expect(await statuses(url, "/useexisting", 3)).toEqual([200, 200, 429]);
      });
    });

    it("ignoreUserAgents, skipIf, errorMessage, getTracker and generateKey options", async () => {
      const options = rootOptions(kind, [{ ttl: 60000, limit: 1 }], {
        ignoreUserAgents: [/googlebot/gi],
        skipIf: (context) => context.switchToHttp().getRequest<Req>().headers["x-internal"] === "1",
        errorMessage: "Slow down!",
        getTracker: (req) => (req as Req).headers["x-user"] ?? "anonymous",
        // One budget per user across handlers.
        generateKey: (_context, tracker) => `user:${tracker}`,
      });
      const root = appModule(
        [ThrottlekitModule.forRoot(options)],
        [controller("custom", { a: [Get("a")], b: [Get("b")] })],
      );
      await run(platform, root, async (url) => {
        const bot = { "user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)" };
        expect(await statuses(url, "/custom/a", 3, bot)).toEqual([200, 200, 200]);
        expect(await statuses(url, "/custom/a", 3, { "x-internal": "1" })).toEqual([200, 200, 200]);
        expect((await get(url, "/custom/a", { "x-user": "ann" })).status).toBe(200);
        const limited = await get(url, "/custom/b", { "x-user": "ann" });
        expect(limited.status).toBe(429);
        expect((limited.json() as { detail: string }).detail).toBe("Slow down!");
        expect((await get(url, "/custom/b", { "x-user": "bob" })).status).toBe(200);
      });
    });

    it("function-valued limit and ttl, decided per request", async () => {
      const root = appModule(
        [
          ThrottlekitModule.forRoot(
            rootOptions(kind, [
              {
                ttl: () => 60000,
                limit: (context: ExecutionContext) =>
                  context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers[
                    "x-plan"
                  ] === "pro"
                    ? 3
                    : 1,
              },
            ]),
          ),
        ],
        [controller("dynamic", { hello: [Get()] })],
      );
      await run(platform, root, async (url) => {
        expect(await statuses(url, "/dynamic", 2)).toEqual([200, 429]);
        const pro = await get(url, "/dynamic", { "x-plan": "pro" });
        expect(pro.headers.get("x-ratelimit-limit")).toBe("3");
      });
    });
  },
);
