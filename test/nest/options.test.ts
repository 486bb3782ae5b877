import { ExecutionContextHost } from "@nestjs/core/helpers/execution-context-host.js";
import { describe, expect, it } from "vitest";
import { Throttle, ThrottlekitGuard } from "../../src/adapters/nest/index.js";
import { resolveOptions } from "../../src/adapters/nest/options.js";
import { ConfigError } from "../../src/core/errors/config-error.js";

describe("throttlekit/nest options", () => {
  it("lists every bad option in one ConfigError", () => {
    let error: unknown;
    try {
      resolveOptions({
        throttlers: { short: "ten/s" },
        headers: "draft-99" as never,
        trustProxy: -1,
        proxyHeader: "x-client-ip" as never,
        bogus: true,
      } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const options = (error as ConfigError).problems.map((p) => p.option).sort();
    expect(options).toEqual(["bogus", "headers", "proxyHeader", "throttlers.short", "trustProxy"]);
  });

  it("rejects bad @Throttle() policies when the class is defined", () => {
    expect(() => Throttle("5 per fortnight")).toThrow(ConfigError);
    expect(() => Throttle({ "bad name!": "5/s" })).toThrow(ConfigError);
  });

  it("reads @nestjs/throttler's numeric strings as numbers, and refuses other strings", () => {
    const { throttlers } = resolveOptions([
      { ttl: " 60000 " as never, limit: "10" as never, blockDuration: "0" as never },
    ]);
    expect(throttlers[0]).toMatchObject({ limit: 10, window: 60_000, algorithm: "sliding-log" });
    expect(throttlers[0]).not.toHaveProperty("blockFor");
    let error: unknown;
    try {
      resolveOptions([
        { ttl: "1m" as never, limit: "1.5" as never, blockDuration: "-1" as never },
        { name: "b", ttl: "" as never, limit: 3 },
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.option)).toEqual([
      "throttlers[0].limit",
      "throttlers[0].ttl",
      "throttlers[0].blockDuration",
      "throttlers[1].ttl",
    ]);
    expect(() => Throttle({ default: { limit: "five" as never } })).toThrow(
      /Throttle\(\)\.default\.limit/,
    );
  });

  it("blocks for ttl unless blockDuration says otherwise, as @nestjs/throttler", () => {
    const { throttlers } = resolveOptions([
      { name: "a", ttl: 1000, limit: 1 },
      { name: "b", ttl: 1000, limit: 1, blockDuration: 0 },
      { name: "c", ttl: 1000, limit: 1, blockDuration: 5000 },
    ]);
    expect(throttlers.map((t) => t.blockFor)).toEqual([1000, undefined, 5000]);
  });

  it("accepts a partial @Throttle() in @nestjs/throttler's shape, not a partial policy", () => {
    expect(() => Throttle({ default: { limit: 5 } })).not.toThrow();
    expect(() => Throttle({ default: { ttl: 1000 }, short: { blockDuration: 0 } })).not.toThrow();
    // throttlekit's shape still needs its window.
    expect(() => Throttle({ default: { limit: 5, algorithm: "gcra" } as never })).toThrow(
      /Throttle\(\)\.default\.window/,
    );
    expect(() => Throttle({ default: { limit: 0 } })).toThrow(/Throttle\(\)\.default\.limit/);
    expect(() => Throttle({ default: { limit: 5, getTracker: () => "x" } as never })).toThrow(
      /Throttle\(\)\.default\.getTracker/,
    );
  });

  it("lets contexts it does not limit (rpc) through instead of crashing", () => {
    const guard = new ThrottlekitGuard(resolveOptions({ throttlers: "1/min" }));
    class Service {
      handle() {}
    }
    for (let i = 0; i < 3; i++) {
      const context = new ExecutionContextHost([{}, {}], Service, Service.prototype.handle);
      context.setType("rpc");
      expect(guard.canActivate(context)).toBe(true);
    }
  });
});
