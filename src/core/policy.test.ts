import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.js";
import { ConfigError } from "./errors/config-error.js";
import { parsePolicies } from "./policy.js";

function problemsOf(input: unknown) {
  try {
    parsePolicies(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("durations", () => {
  it.each([
    [250, 250],
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["1h 30m 15s", 5_415_000],
    ["1.5s", 1500],
    ["2 minutes", 120_000],
  ])("%s is %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ["100"],
    ["0.5ms"],
    ["5 fortnights"],
    ["-1s"],
    [""],
    [Number.NaN],
    [-5],
    [1.5],
    ["1h-30m"],
    [null],
  ])("%s is not a duration", (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe("policies", () => {
  it.each([
    ["100/min", 100, 60_000],
    ["100/minute", 100, 60_000],
    ["5/10s", 5, 10_000],
    ["1000 per hour", 1000, 3_600_000],
    ["5/second", 5, 1000],
    ["1500/h", 1500, 3_600_000],
    ["20000/d", 20_000, 86_400_000],
    ["10 / 1h30m", 10, 5_400_000],
  ])("%s is %d per %d ms, sliding-window", (text, limit, windowMs) => {
    const [p] = parsePolicies(text);
    expect(p).toMatchObject({
      limit,
      windowMs,
      algorithm: "sliding-window",
      burst: limit,
      blockForMs: 0,
    });
  });

  it("takes objects with every option", () => {
    const [p] = parsePolicies({
      limit: 10,
      window: "1m",
      algorithm: "gcra",
      burst: 20,
      blockFor: "5m",
      name: "burst",
    });
    expect(p).toMatchObject({
      name: "burst",
      limit: 10,
      windowMs: 60_000,
      algorithm: "gcra",
      burst: 20,
      blockForMs: 300_000,
    });
  });

  it("lists every problem at once, each with option, value and expected form", () => {
    const problems = problemsOf([
      "0/minute",
      "5/fortnight",
      "100",
      { limit: Number.NaN, window: -1 },
      { limit: 2.5, window: "1m" },
      { limit: 1, window: "1m", algorithm: "fixed-window", burst: 5, limt: 3 },
    ]);
    expect(problems.map((p) => [p.option, p.received])).toEqual([
      ["policies[0]", "0/minute"],
      ["policies[1]", "5/fortnight"],
      ["policies[2]", "100"],
      ["policies[3].limit", Number.NaN],
      ["policies[3].window", -1],
      ["policies[4].limit", 2.5],
      ["policies[5].limt", 3],
      ["policies[5].burst", 5],
    ]);
    for (const p of problems) expect(p.expected.length).toBeGreaterThan(5);
  });

  it("rejects options that do not apply instead of ignoring them", () => {
    const options = problemsOf({ limit: 1, window: "1s", mode: "delay", maxDelay: "1s" }).map(
      (p) => p.option,
    );
    expect(options).toEqual(["policies.mode"]);
    const reject = problemsOf({
      limit: 1,
      window: "1s",
      algorithm: "leaky-bucket",
      maxDelay: "1s",
    });
    expect(reject.map((p) => p.option)).toEqual(["policies.maxDelay"]);
    expect(problemsOf({ limit: 1, window: "1s", algorithm: "leaky" }).map((p) => p.option)).toEqual(
      ["policies.algorithm"],
    );
  });

  it("refuses two policies that would share state", () => {
    expect(problemsOf(["10/s", "10/second"]).map((p) => p.option)).toEqual(["policies[1]"]);
    expect(
      parsePolicies([
        { limit: 10, window: "1s", name: "a" },
        { limit: 10, window: "1s", name: "b" },
      ]),
    ).toHaveLength(2);
  });

  it("refuses an empty list and limits beyond exact arithmetic", () => {
    expect(problemsOf([]).map((p) => p.option)).toEqual(["policies"]);
    expect(problemsOf({ limit: 2 ** 40, window: "1d", algorithm: "gcra" })).toHaveLength(1);
  });

  it("gives each policy a stable storage id that changes with its parameters", () => {
    const [a] = parsePolicies("100/min");
    const [b] = parsePolicies({ limit: 100, window: "1m", algorithm: "gcra" });
    expect(a!.id).toBe(parsePolicies("100 per minute")[0]!.id);
    expect(a!.id).not.toBe(b!.id);
  });

  it.each([
    ["1e3/s"],
    ["0x10/s"],
    ["1_000/s"],
    ["+5/s"],
    ["5.0/s"],
    ["Infinity/s"],
    [" 1e1 per minute"],
  ])("refuses %s: a shorthand limit is decimal digits only (issue 13 item 10)", (text) => {
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.expected).toMatch(/decimal digits/);
  });

  it("refuses limits and bursts beyond RFC 9651's 15-digit integers, which q= must carry", () => {
    expect(parsePolicies({ limit: 999_999_999_999_999, window: 1 })[0]!.limit).toBe(
      999_999_999_999_999,
    );
    expect(problemsOf({ limit: 1e15, window: 1 }).map((p) => p.option)).toEqual(["policies.limit"]);
    expect(problemsOf("1000000000000000/ms")).toHaveLength(1);
    expect(
      problemsOf({ limit: 1, window: 1, algorithm: "gcra", burst: 1e15 }).map((p) => p.option),
    ).toEqual(["policies.burst"]);
    for (const limit of [Number.POSITIVE_INFINITY, Number.NaN, 1.5, "5"]) {
      expect(problemsOf({ limit, window: "1s" }).map((p) => p.option)).toEqual(["policies.limit"]);
    }
  });

  it("refuses windows and blockFor beyond 10 years, so time + duration stays exact", () => {
    const tenYears = 3650 * 86_400_000;
    expect(parsePolicies({ limit: 1, window: tenYears, blockFor: tenYears })[0]!.blockForMs).toBe(
      tenYears,
    );
    expect(
      problemsOf({ limit: 1, window: tenYears + 1, blockFor: 2 ** 53 - 1 }).map((p) => p.option),
    ).toEqual(["policies.window", "policies.blockFor"]);
    expect(problemsOf("1/3651d")).toHaveLength(1);
  });

  it("refuses a maxDelay a timer cannot wait, and a default one beyond it", () => {
    const base = { limit: 1, window: "1s", algorithm: "leaky-bucket", mode: "delay" } as const;
    expect(problemsOf({ ...base, maxDelay: "30d" }).map((p) => p.option)).toEqual([
      "policies.maxDelay",
    ]);
    expect(problemsOf({ ...base, maxDelay: 0 }).map((p) => p.option)).toEqual([
      "policies.maxDelay",
    ]);
    expect(problemsOf({ ...base, window: "30d" }).map((p) => p.option)).toEqual([
      "policies.maxDelay",
    ]);
    expect(parsePolicies({ ...base, window: "30d", maxDelay: "1d" })[0]!.maxDelayMs).toBe(
      86_400_000,
    );
  });
});
