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
