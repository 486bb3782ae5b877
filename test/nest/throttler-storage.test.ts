/**
 * A @nestjs/throttler ThrottlerStorage plugged into throttlekit/nest (`storage`): its own
 * ThrottlerStorageService counts, on Express and Fastify; throttlers in @nestjs/throttler's
 * shape (the module's and @Throttle()'s) count in fixed windows there, throttlekit policies of
 * another algorithm are refused at bootstrap, operations a ThrottlerStorage lacks throw.
 */
import { Controller, Get, Module, type Type } from "@nestjs/common";
import { APP_GUARD } from "@nestjs/core";
import { ThrottlerStorageService } from "@nestjs/throttler";
import { afterAll, describe, expect, it } from "vitest";
import {
  Throttle,
  ThrottlekitGuard,
  ThrottlekitModule,
  type ThrottlerStorage,
  throttlerStorageStore,
} from "../../src/adapters/nest/index.js";
import { resolveOptions } from "../../src/adapters/nest/options.js";
import { ConfigError } from "../../src/core/errors/config-error.js";
import { createLimiter } from "../../src/index.js";
import { get, PLATFORMS, startApp, statuses } from "./support/app.js";
import { decorate } from "./support/decorate.js";

const storages: ThrottlerStorageService[] = [];
afterAll(() => {
  for (const s of storages) s.onApplicationShutdown();
});

function appWith(storage: ThrottlerStorage): Type<unknown> {
  class HelloController {
    hello() {
      return "hello";
    }
  }
  decorate(HelloController, [Controller("hello")], { hello: [Get()] });
  class OverrideController {
    partial() {
      return "partial";
    }
    added() {
      return "added";
    }
  }
  decorate(OverrideController, [Controller("override")], {
    // The module's short ttl, a limit of its own.
    partial: [Get("partial"), Throttle({ short: { limit: 1 } })],
    // A throttler the module lacks, for this route only.
    added: [Get("added"), Throttle({ burst: { ttl: 5000, limit: 1 } })],
  });
  class AppModule {}
  decorate(AppModule, [
    Module({
      imports: [
        ThrottlekitModule.forRoot({
          throttlers: [
            { name: "short", ttl: 1000, limit: 2 },
            { name: "long", ttl: 60_000, limit: 100 },
          ],
          storage,
        }),
      ],
      controllers: [HelloController, OverrideController],
      providers: [{ provide: APP_GUARD, useClass: ThrottlekitGuard }],
    }),
  ]);
  return AppModule;
}

describe.each(PLATFORMS)("a ThrottlerStorage as throttlekit/nest's storage, %s", (platform) => {
  it("counts in @nestjs/throttler's ThrottlerStorageService, per throttler", async () => {
    const storage = new ThrottlerStorageService();
    storages.push(storage);
    const app = await startApp(platform, appWith(storage));
    try {
      const first = await get(app.url, "/hello");
      expect(first.headers.get("x-ratelimit-remaining-short")).toBe("1");
      expect(first.headers.get("x-ratelimit-remaining-long")).toBe("99");
      expect(await statuses(app.url, "/hello", 2)).toEqual([200, 429]);
      const limited = await get(app.url, "/hello");
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBe(1);
      // The storage holds the counters: one record per throttler.
      expect(storage.storage.size).toBe(2);
    } finally {
      await app.close();
    }
  });

  it("counts @Throttle() overrides in @nestjs/throttler's shape there too", async () => {
    const storage = new ThrottlerStorageService();
    storages.push(storage);
    const app = await startApp(platform, appWith(storage));
    try {
      expect(await statuses(app.url, "/override/partial", 2)).toEqual([200, 429]);
      expect(await statuses(app.url, "/override/added", 2)).toEqual([200, 429]);
      // partial: short and long; added: short, long and burst.
      expect(storage.storage.size).toBe(5);
    } finally {
      await app.close();
    }
  });
});

describe("throttlerStorageStore", () => {
  it("counts throttlers in @nestjs/throttler's shape in fixed windows", () => {
    const storage = new ThrottlerStorageService();
    storages.push(storage);
    const config = resolveOptions({
      throttlers: [
        { name: "a", ttl: 1000, limit: 2 },
        { name: "b", ttl: () => 1000, limit: 2, blockDuration: 0 },
      ],
      storage,
    });
    expect(config.throttlers.map((t) => [t.algorithm, t.blockFor])).toEqual([
      ["fixed-window", 1000],
      ["fixed-window", undefined],
    ]);
    // Without a storage, the same throttlers are sliding logs, as @nestjs/throttler counts.
    const plain = resolveOptions([{ ttl: 1000, limit: 2 }]);
    expect(plain.throttlers[0]?.algorithm).toBe("sliding-log");
    void config.root.close();
    void plain.root.close();
  });

  it("refuses policies other than fixed windows, at bootstrap and at bind", () => {
    const storage = new ThrottlerStorageService();
    storages.push(storage);
    expect(() => resolveOptions({ throttlers: { default: "5/min" }, storage })).toThrow(
      ConfigError,
    );
    expect(() =>
      resolveOptions({
        throttlers: { default: { limit: 5, window: "1m", algorithm: "sliding-log" } },
        storage,
      }),
    ).toThrow(/throttlers\.default/);
    expect(() =>
      createLimiter({ policies: "5/min", store: throttlerStorageStore(storage) }),
    ).toThrow(ConfigError);
    expect(() => throttlerStorageStore({} as never)).toThrow(ConfigError);
  });

  it("maps increment's record to a decision and throws for what a storage lacks", async () => {
    const calls: unknown[][] = [];
    const storage: ThrottlerStorage = {
      async increment(...args) {
        calls.push(args);
        return { totalHits: 4, timeToExpire: 7, isBlocked: true, timeToBlockExpire: 9 };
      },
    };
    const limiter = createLimiter({
      policies: {
        limit: 3,
        window: 10_000,
        algorithm: "fixed-window",
        blockFor: 20_000,
        name: "x",
      },
      store: throttlerStorageStore(storage),
      prefix: "p",
    });
    const d = await limiter.consume("k");
    expect(d).toMatchObject({ allowed: false, remaining: 0, resetMs: 7000, retryAfterMs: 9000 });
    expect(calls[0]).toEqual([expect.stringMatching(/^p.*:k$/), 10_000, 3, 20_000, "x"]);
    await expect(limiter.reset("k")).rejects.toThrow(ConfigError);
  });

  it("passes no block for a throttler without one (blockDuration: 0), as @nestjs/throttler does", async () => {
    const blocks: unknown[] = [];
    const storage: ThrottlerStorage = {
      async increment(_key, _ttl, _limit, blockDuration) {
        blocks.push(blockDuration);
        return { totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 };
      },
    };
    const limiter = createLimiter({
      policies: { limit: 3, window: 10_000, algorithm: "fixed-window", name: "x" },
      store: throttlerStorageStore(storage),
      prefix: "p",
    });
    expect((await limiter.consume("k")).allowed).toBe(true);
    expect(blocks).toEqual([0]);
  });
});
