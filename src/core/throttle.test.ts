/**
 * @throttle under the real TypeScript compiler, in both decorator modes: the fixtures in
 * test/decorators/ are type-checked (what must compile does, what must not does not) and
 * compiled with and without experimentalDecorators, and the emitted classes are run here.
 */
import "reflect-metadata";
import { Controller, Get } from "@nestjs/common";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type DecoratorMode, load, MODES, typeCheck } from "../../test/decorators/compile.js";
import { type RedisNode, startRedis } from "../../test/support/redis-server.js";
import { redisStore } from "../stores/redis/index.js";
import { type ManualClock, manualClock } from "../testing/manual-clock.js";
import { ConfigError } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import { createLimiter, type Limiter } from "./limiter.js";
import { createLimiterRegistry, type SyncLimiterRegistry } from "./registry.js";
import { throttle } from "./throttle.js";
import type { SyncLimiter } from "./wrap.js";

type AccountClass = {
  new (
    id: string,
  ): {
    readonly id: string;
    calls: number;
    charge(amount: number): number;
    mail(to: string): "sent" | "queued";
    fetch(n: number): Promise<number>;
    slow(): Promise<string>;
    remoteCall(n: number): Promise<number>;
  };
  ping(): string;
};
type AccountsFixture = {
  define(
    t: typeof throttle,
    memory: SyncLimiter,
    remote: Limiter,
    registry: SyncLimiterRegistry,
  ): { Account: AccountClass; Greeter: new () => { hello(): string; maybe(): string } };
};
type NotAMethodFixture = {
  getter(t: typeof throttle, memory: SyncLimiter): unknown;
  field(t: typeof throttle, memory: SyncLimiter): new () => unknown;
};
type NestFixture = {
  define(
    t: typeof throttle,
    controller: typeof Controller,
    get: typeof Get,
    memory: SyncLimiter,
  ): { prototype: { above(): string; below(): string } };
};

let server: RedisNode;
let client: Redis;
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, server.host);
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

function limiters(): { memory: SyncLimiter; remote: Limiter; clock: ManualClock } {
  const clock = manualClock();
  const memory = createLimiter({
    policies: { limit: 2, window: "1s", algorithm: "fixed-window" },
    clock: clock.now,
    timers: clock.timers,
  }) as SyncLimiter;
  const remote = createLimiter({
    policies: { limit: 2, window: "1s", algorithm: "fixed-window" },
    store: redisStore({ client }),
    prefix: `throttle-test-${++prefixes}`,
    clock: clock.now,
  });
  return { memory, remote, clock };
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

for (const mode of MODES) {
  describe(`@throttle, ${mode} decorators (TypeScript compiler output)`, () => {
    it("type-checks: the fixtures compile, and each misuse is a type error", () => {
      const fixtures = ["accounts", "misuse", "not-a-method"];
      // Nest's decorators are legacy ones; its fixture is legacy only.
      expect(typeCheck(mode === "legacy" ? [...fixtures, "nest"] : fixtures, mode)).toEqual([]);
    });

    async function accounts() {
      const { memory, remote, clock } = limiters();
      const registry = createLimiterRegistry({
        policies: { hello_world: ["10/10s", "20/30s"] },
        clock: clock.now,
      });
      const fixture = await load<AccountsFixture>("accounts", mode);
      return { ...fixture.define(throttle, memory, remote, registry), memory, clock };
    }

    it("a synchronous method on the memory store stays synchronous; the key reads `this`, so each instance has its own budget", async () => {
      const { Account } = await accounts();
      const ann = new Account("ann");
      const bob = new Account("bob");
      const result = ann.charge(5);
      expect(typeof result).not.toBe("object");
      expect(result).toBe(5);
      expect(ann.charge(6)).toBe(6);
      const error = thrown(() => ann.charge(7));
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).decision).toMatchObject({
        allowed: false,
        reason: "limited",
      });
      expect(bob.charge(8)).toBe(8);
      expect(ann.calls).toBe(2); // `this` reached the method; the refused call did not run
    });

    it("the key reads the arguments too; onLimited's value answers a refused call", async () => {
      const { Account } = await accounts();
      const ann = new Account("ann");
      expect([ann.mail("x"), ann.mail("x"), ann.mail("x"), ann.mail("y")]).toEqual([
        "sent",
        "sent",
        "queued",
        "sent",
      ]);
      expect(ann.calls).toBe(3);
    });

    it("an async method returns a promise; a refusal rejects (cost from the arguments)", async () => {
      const { Account } = await accounts();
      const ann = new Account("ann");
      const first = ann.fetch(2);
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBe(2);
      let refused: Promise<number> | undefined;
      expect(() => {
        refused = ann.fetch(1);
      }).not.toThrow();
      await expect(refused).rejects.toBeInstanceOf(RateLimitedError);
    });

    it('onLimited "wait": a call over the limit waits for the window, then runs', async () => {
      const { Account, clock } = await accounts();
      const ann = new Account("ann");
      await ann.slow();
      await ann.slow();
      let third: string | undefined;
      const pending = ann.slow().then((v) => {
        third = v;
      });
      await clock.advanceAsync(999);
      expect(third).toBeUndefined();
      await clock.advanceAsync(1);
      await pending;
      expect(third).toBe("ann");
    });

    it("static methods: `this` is the class", async () => {
      const { Account } = await accounts();
      expect(Account.ping()).toBe("pong");
      expect(Account.ping()).toBe("pong");
      expect(thrown(() => Account.ping())).toBeInstanceOf(RateLimitedError);
    });

    it("on the Redis store: per-instance keys, a refusal rejects", async () => {
      const { Account } = await accounts();
      const ann = new Account("ann");
      const bob = new Account("bob");
      expect(await ann.remoteCall(1)).toBe(10);
      expect(await ann.remoteCall(2)).toBe(20);
      await expect(ann.remoteCall(3)).rejects.toBeInstanceOf(RateLimitedError);
      expect(await bob.remoteCall(4)).toBe(40);
      expect(ann.calls).toBe(2);
    });

    it("registry.throttle(id): token-throttler's decorator, on the identifier's buckets", async () => {
      const { Greeter } = await accounts();
      const greeter = new Greeter();
      for (let i = 0; i < 10; i++) expect(greeter.hello()).toBe("Hello World");
      const error = thrown(() => greeter.hello());
      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).decision.policy.name).toBe("10/10s");
      expect(greeter.maybe()).toBe("later");
    });

    it("on a getter or a field: a ConfigError when the class is defined", async () => {
      const { memory } = limiters();
      const fixture = await load<NotAMethodFixture>("not-a-method", mode);
      const getter = thrown(() => fixture.getter(throttle, memory)) as ConfigError;
      expect(getter).toBeInstanceOf(ConfigError);
      expect(getter.problems[0]).toMatchObject({ option: "@throttle on value" });
      expect(() => new (fixture.field(throttle, memory))()).toThrow(ConfigError);
    });
  });
}

describe("@throttle under NestJS's compiler settings (legacy, emitDecoratorMetadata)", () => {
  it("keeps the metadata of Nest's method decorators, written above or below @throttle", async () => {
    const { memory } = limiters();
    const fixture = await load<NestFixture>("nest", "legacy" satisfies DecoratorMode);
    const MailController = fixture.define(throttle, Controller, Get, memory);
    // What Nest's router reads to map a handler to its route (PATH_METADATA and METHOD_METADATA).
    for (const name of ["above", "below"] as const) {
      const handler = MailController.prototype[name];
      expect(Reflect.getMetadata("path", handler)).toBe(name);
      expect(Reflect.getMetadata("method", handler)).toBe(0); // RequestMethod.GET
      expect(handler.call(MailController.prototype)).toBe(name);
      expect(handler.call(MailController.prototype)).toBe(name);
      expect(thrown(() => handler.call(MailController.prototype))).toBeInstanceOf(RateLimitedError);
    }
  });
});

describe("throttle(limiter, options) checks its options when called", () => {
  it("one ConfigError for every problem, before any class uses it", () => {
    const { memory } = limiters();
    const error = thrown(() =>
      throttle(memory, { cost: -1, onLimited: "later", colour: 1 } as never),
    ) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.map((p) => p.option).sort()).toEqual([
      "options.colour",
      "options.cost",
      "options.onLimited",
    ]);
    expect(() => throttle({} as never)).toThrow(ConfigError);
  });

  it("decorating by hand: the standard call shape returns the limited method", () => {
    const { memory } = limiters();
    const method = vi.fn((x: number) => x);
    const decorate = throttle(memory) as unknown as (
      value: unknown,
      context: { kind: string; name: string },
    ) => (x: number) => number;
    const limited = decorate(method, { kind: "method", name: "m" });
    expect(limited(1)).toBe(1);
    expect(method).toHaveBeenCalledTimes(1);
  });
});
