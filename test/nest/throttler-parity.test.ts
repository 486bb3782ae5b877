/**
 * Parity with @nestjs/throttler 6.7: the same application, once with its ThrottlerModule and
 * ThrottlerGuard, once with throttlekit/nest's ThrottlekitModule and ThrottlekitGuard (the
 * imports are all that differ), gets the same requests at the same moments and must answer
 * the same statuses, for the four behaviours a migration would otherwise change: the block
 * after a refusal (blockDuration defaults to ttl), per-hit expiry (a sliding log, not a fixed
 * window), a partial @Throttle() (the module's other fields kept) and numeric strings.
 *
 * Time: @nestjs/throttler reads Date.now() and takes no clock, so both sides run under a faked
 * Date (timers stay real), set before each step: the timelines are exact, whatever the load.
 * Each timeline also asserts its statuses, so a change on both sides at once fails too.
 */
import { Controller, Get, Module, type Type } from "@nestjs/common";
import { APP_GUARD } from "@nestjs/core";
import {
  Throttle as NestThrottle,
  ThrottlerGuard,
  ThrottlerModule,
  type ThrottlerModuleOptions,
} from "@nestjs/throttler";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  Throttle as KitThrottle,
  ThrottlekitGuard,
  ThrottlekitModule,
  type ThrottlekitModuleInput,
} from "../../src/adapters/nest/index.js";
import { startApp, statuses } from "./support/app.js";
import { decorate } from "./support/decorate.js";

const T0 = Date.UTC(2030, 0, 1);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

type Side = "@nestjs/throttler" | "throttlekit";
/** @Throttle() of either side: both take `{ name: { limit?, ttl?, blockDuration? } }`. */
type ThrottleOf = (
  options: Record<string, Record<string, unknown>>,
) => ClassDecorator & MethodDecorator;
/** The controllers of a scenario, built with the side's own @Throttle(). */
type Controllers = (throttle: ThrottleOf) => Type<unknown>[];

/** A controller at `path` with one GET handler, its decorators and its class's. */
function route(
  path: string,
  method: MethodDecorator[] = [],
  classDecorators: ClassDecorator[] = [],
): Type<unknown> {
  class C {
    hit() {
      return "ok";
    }
  }
  Object.defineProperty(C, "name", { value: `${path}Controller` });
  return decorate(C, [Controller(path), ...classDecorators], { hit: [Get(), ...method] });
}

function appOf(side: Side, throttlers: unknown[], controllers: Controllers): Type<unknown> {
  const imports =
    side === "@nestjs/throttler"
      ? [ThrottlerModule.forRoot(throttlers as ThrottlerModuleOptions)]
      : [ThrottlekitModule.forRoot(throttlers as ThrottlekitModuleInput)];
  const guard = side === "@nestjs/throttler" ? ThrottlerGuard : ThrottlekitGuard;
  const throttle = (side === "@nestjs/throttler" ? NestThrottle : KitThrottle) as ThrottleOf;
  class AppModule {}
  decorate(AppModule, [
    Module({
      imports,
      controllers: controllers(throttle),
      providers: [{ provide: APP_GUARD, useClass: guard }],
    }),
  ]);
  return AppModule;
}

/** `[ms after T0, path, how many requests]`, in order. */
type Step = readonly [at: number, path: string, count: number];

/** Runs the timeline against one side's app: the statuses, step by step, flattened. */
async function play(
  side: Side,
  throttlers: unknown[],
  controllers: Controllers,
  steps: readonly Step[],
): Promise<number[]> {
  vi.setSystemTime(T0);
  const app = await startApp("express", appOf(side, throttlers, controllers));
  try {
    const out: number[] = [];
    for (const [at, path, count] of steps) {
      vi.setSystemTime(T0 + at);
      out.push(...(await statuses(app.url, path, count)));
    }
    return out;
  } finally {
    await app.close();
  }
}

/** Both sides' statuses for one timeline: equal, and equal to `expected`. */
async function expectParity(
  throttlers: unknown[],
  controllers: Controllers,
  steps: readonly Step[],
  expected: readonly number[],
): Promise<void> {
  const nest = await play("@nestjs/throttler", throttlers, controllers, steps);
  const kit = await play("throttlekit", throttlers, controllers, steps);
  expect(nest).toEqual(expected);
  expect(kit).toEqual(nest);
}

const plain: Controllers = () => [route("a")];

/**
 * Limit 2 per 10 s, refused 8 s into the first window: blocked for 10 s from the refusal, so
 * still refused at 11 s (a fixed window would have reopened at 10 s) and at 17 s, admitted at
 * 19 s, refused again at the third request.
 */
const BLOCK_TIMELINE: Step[] = [
  [0, "/a", 2],
  [8_000, "/a", 1],
  [11_000, "/a", 1],
  [17_000, "/a", 1],
  [19_000, "/a", 3],
];
const BLOCKED = [200, 200, 429, 429, 429, 200, 200, 429];

describe("throttlekit/nest answers as @nestjs/throttler 6.7 (Express, memory)", () => {
  describe("blockDuration defaults to ttl", () => {
    it("unset: a refused client waits ttl from the refusal", async () => {
      await expectParity([{ ttl: 10_000, limit: 2 }], plain, BLOCK_TIMELINE, BLOCKED);
    });

    it("a function-valued ttl: the block lasts the resolved ttl", async () => {
      await expectParity(
        [{ ttl: async () => 10_000, limit: () => 2 }],
        plain,
        BLOCK_TIMELINE,
        BLOCKED,
      );
    });

    it("blockDuration: 0 blocks nobody: admitted again once a request expires", async () => {
      await expectParity(
        [{ ttl: 10_000, limit: 2, blockDuration: 0 }],
        plain,
        [
          [0, "/a", 2],
          [8_000, "/a", 1],
          [10_500, "/a", 2],
          [11_000, "/a", 1],
        ],
        [200, 200, 429, 200, 200, 429],
      );
    });

    it("an explicit blockDuration longer than ttl", async () => {
      await expectParity(
        [{ ttl: 10_000, limit: 1, blockDuration: 30_000 }],
        plain,
        [
          [0, "/a", 2],
          [20_000, "/a", 1],
          [30_500, "/a", 1],
        ],
        [200, 429, 429, 200],
      );
    });
  });

  describe("each request expires ttl after it was made (a sliding log)", () => {
    it("no block: a request at 6 s still counts at 12 s, across the first window's end", async () => {
      await expectParity(
        [{ ttl: 10_000, limit: 2, blockDuration: 0 }],
        plain,
        [
          [0, "/a", 1],
          [6_000, "/a", 1],
          [11_000, "/a", 1],
          [12_000, "/a", 1],
          [16_500, "/a", 1],
        ],
        // A fixed window opened at 0 would admit 12 s (its second window holds one request).
        [200, 200, 200, 429, 200],
      );
    });

    it("with the default block", async () => {
      await expectParity(
        [{ ttl: 10_000, limit: 2 }],
        plain,
        [
          [0, "/a", 1],
          [6_000, "/a", 1],
          [11_000, "/a", 1],
          [12_000, "/a", 1],
          [21_500, "/a", 1],
          [22_500, "/a", 1],
        ],
        [200, 200, 200, 429, 429, 200],
      );
    });
  });

  describe("a partial @Throttle() keeps the module's other fields", () => {
    const module = [{ ttl: 10_000, limit: 5 }];

    it("@Throttle({ default: { limit: 2 } }): the module's ttl, and its block", async () => {
      await expectParity(
        module,
        (throttle) => [route("limit", [throttle({ default: { limit: 2 } })])],
        [
          [0, "/limit", 3],
          [5_000, "/limit", 1],
          [10_500, "/limit", 1],
        ],
        [200, 200, 429, 429, 200],
      );
    });

    it("a class's ttl and a method's limit, per field", async () => {
      await expectParity(
        module,
        (throttle) => [
          route(
            "fields",
            [throttle({ default: { limit: 1 } })],
            [throttle({ default: { ttl: 2_000 } })],
          ),
        ],
        [
          [0, "/fields", 2],
          [1_500, "/fields", 1],
          [2_500, "/fields", 1],
        ],
        [200, 429, 429, 200],
      );
    });

    it("@Throttle({ default: { blockDuration } }) alone", async () => {
      await expectParity(
        module,
        (throttle) => [route("block", [throttle({ default: { blockDuration: 20_000 } })])],
        [
          [0, "/block", 6],
          [10_500, "/block", 1],
          [20_500, "/block", 1],
        ],
        [200, 200, 200, 200, 200, 429, 429, 200],
      );
    });

    it("a partial override of a name the module lacks changes nothing", async () => {
      await expectParity(
        module,
        (throttle) => [route("other", [throttle({ other: { limit: 1 } })])],
        [[0, "/other", 6]],
        [200, 200, 200, 200, 200, 429],
      );
    });
  });

  describe("numeric strings (options read from the environment)", () => {
    it('ttl " 10000 " and limit "2", blockDuration unset', async () => {
      await expectParity([{ ttl: " 10000 ", limit: "2" }], plain, BLOCK_TIMELINE, BLOCKED);
    });

    it('blockDuration "0", and @Throttle({ default: { limit: "1" } })', async () => {
      await expectParity(
        [{ ttl: "10000", limit: "5", blockDuration: "0" }],
        (throttle) => [route("a"), route("one", [throttle({ default: { limit: "1" } })])],
        [
          [0, "/one", 2],
          [0, "/a", 6],
          [10_500, "/one", 1],
          [10_500, "/a", 1],
        ],
        [200, 429, 200, 200, 200, 200, 200, 429, 200, 200],
      );
    });

    it("functions returning strings", async () => {
      await expectParity(
        [{ ttl: () => "10000", limit: async () => "2" }],
        plain,
        BLOCK_TIMELINE,
        BLOCKED,
      );
    });
  });
});
