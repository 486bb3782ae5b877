/** socketIoRateLimit's options (one ConfigError listing every problem) and event globs. */
import { describe, expect, it } from "vitest";
import { socketIoRateLimit } from "../../src/adapters/socket-io/index.js";
import { ConfigError } from "../../src/core/errors/config-error.js";
import { memoryStore } from "../../src/core/memory-store.js";
import { UNLIMITED } from "../../src/http/unlimited.js";

function problemsOf(options: unknown): string[] {
  try {
    socketIoRateLimit(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => p.option);
  }
  throw new Error("no ConfigError");
}

describe("socketIoRateLimit options", () => {
  it("lists every problem at once, the HTTP layer's included", () => {
    expect(
      problemsOf({
        connections: "lots",
        maxConnections: 0,
        leaseMs: -1,
        events: { "chat:*": "5 per banana", "": "1/s" },
        identityEvents: "1/s",
        closeAfter: { violations: 0, within: "soon" },
        trustProxy: "everyone",
        onLimited: () => {},
      }).sort(),
    ).toEqual(
      [
        "onLimited",
        "maxConnections",
        "leaseMs",
        'events["chat:*"]',
        'events[""]',
        "identityEvents",
        "closeAfter.violations",
        "closeAfter.within",
        "trustProxy",
        "connections",
      ].sort(),
    );
  });

  it("accepts an empty configuration (identity and lists only)", () => {
    const limit = socketIoRateLimit({});
    expect(limit.connections).toBeUndefined();
    void limit.close();
  });
});

describe("event globs, first match wins", () => {
  const clock = () => 0;
  const rules = {
    "admin:*:delete": "1/min",
    ping: UNLIMITED,
    "chat:*": "2/min",
    "*:typing": "3/min",
    "*": "4/min",
  } as const;

  async function allowedCount(event: string): Promise<number> {
    const { EventRules } = await import("../../src/adapters/socket-io/events.js");
    const { ProblemList } = await import("../../src/core/errors/config-error.js");
    const table = new EventRules("t", rules, memoryStore(), "t", clock, new ProblemList());
    const limiter = table.match(event);
    if (limiter === undefined) return Number.POSITIVE_INFINITY;
    let n = 0;
    while (n < 10 && limiter.consumeSync("k").allowed) n++;
    return n;
  }

  it.each([
    ["admin:user:delete", 1],
    ["admin::delete", 1],
    ["admin:user:deleted", 4],
    ["ping", Number.POSITIVE_INFINITY],
    ["chat:typing", 2],
    ["room:typing", 3],
    ["typing", 4],
    ["chat:", 2],
    ["x".repeat(5000), 4],
  ])("%s → %s", async (event, expected) => {
    expect(await allowedCount(event)).toBe(expected);
  });

  it("a hostile event name against many stars stays fast", async () => {
    const { EventRules } = await import("../../src/adapters/socket-io/events.js");
    const { ProblemList } = await import("../../src/core/errors/config-error.js");
    const table = new EventRules(
      "t",
      { "*a*a*a*a*a*a*a*b": "1/s" },
      memoryStore(),
      "t",
      clock,
      new ProblemList(),
    );
    const started = performance.now();
    expect(table.match("a".repeat(20_000))).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
