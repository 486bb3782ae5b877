import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import { ConfigError } from "./errors/config-error.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";
import { type EscalatingBlockFor, type PolicyOptions, parsePolicies } from "./policy.js";

const MIN = 60_000;
const DAY = 86_400_000;

/** `{ limit: 1, window: 1s, fixed-window }` with the given blockFor. */
function onePerSecond(blockFor: PolicyOptions["blockFor"], name?: string): PolicyOptions {
  return {
    limit: 1,
    window: "1s",
    algorithm: "fixed-window",
    ...(blockFor !== undefined ? { blockFor } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/** One offence (a pass, then a refusal) on `key`; the refusal's wait, after which it is served. */
function offend(limiter: ReturnType<typeof createLimiter>, key = "k"): number {
  limiter.consumeSync(key);
  const d = limiter.consumeSync(key);
  expect(d).toMatchObject({ allowed: false, reason: "limited" });
  return d.retryAfterMs;
}

describe("escalating blockFor (fail2ban's bantime.increment)", () => {
  it("1m, 2m, 4m, ... capped at max; each block lasts what its rejection said", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: onePerSecond({ base: "1m", factor: 2, max: "10m" }),
      clock: clock.now,
    });
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      const wait = offend(limiter);
      waits.push(wait);
      clock.advance(wait - 1);
      expect(limiter.consumeSync("k")).toMatchObject({ reason: "blocked", retryAfterMs: 1 });
      clock.advance(1);
    }
    expect(waits.map((w) => w / MIN)).toEqual([1, 2, 4, 8, 10, 10, 10]);
  });

  it("forgets a key that stays clean forgetAfter past its last block's end, to the ms", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: onePerSecond({ base: "1m", forgetAfter: "1h" }),
      clock: clock.now,
    });
    clock.advance(offend(limiter)); // 1m, ends now
    clock.advance(3_600_000 - 1);
    const remembered = offend(limiter);
    expect(remembered).toBe(2 * MIN);
    clock.advance(remembered + 3_600_000);
    expect(offend(limiter)).toBe(MIN);
  });

  it("defaults: factor 2, max 1d, forgetAfter 1d", () => {
    const [p] = parsePolicies([onePerSecond({ base: "1h" })]);
    expect(p).toMatchObject({
      blockForMs: 3_600_000,
      escalation: { factor: 2, maxMs: DAY, forgetAfterMs: DAY },
    });
    const clock = manualClock();
    const limiter = createLimiter({ policies: onePerSecond({ base: "1h" }), clock: clock.now });
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      waits.push(offend(limiter));
      clock.advance(waits.at(-1)!);
    }
    expect(waits.map((w) => w / 3_600_000)).toEqual([1, 2, 4, 8, 16, 24, 24]);
    clock.advance(DAY);
    expect(offend(limiter)).toBe(3_600_000);
  });

  it("max defaults to base when base is above a day", () => {
    const [p] = parsePolicies([onePerSecond({ base: "2d" })]);
    expect(p!.escalation!.maxMs).toBe(2 * DAY);
  });

  it("a fractional factor grows by products rounded up to whole ms", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: onePerSecond({ base: 1000, factor: 1.5, max: "1h" }),
      clock: clock.now,
    });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      waits.push(offend(limiter));
      clock.advance(waits.at(-1)!);
    }
    // 1000, 1500, 2250, 3375, 5062.5 → 5063 (the row keeps the unrounded length)
    expect(waits).toEqual([1000, 1500, 2250, 3375, 5063]);
    expect(offend(limiter)).toBe(Math.ceil(1000 * 1.5 * 1.5 * 1.5 * 1.5 * 1.5));
  });

  it("keys escalate apart; reset forgets the row, unblock keeps it", async () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: onePerSecond({ base: "1m" }),
      clock: clock.now,
    });
    clock.advance(offend(limiter, "a"));
    expect(offend(limiter, "b")).toBe(MIN);
    expect(offend(limiter, "a")).toBe(2 * MIN);
    await limiter.unblock("a");
    clock.advance("1s"); // past the window of the pass before the 2m block
    expect(offend(limiter, "a")).toBe(4 * MIN);
    await limiter.reset("a");
    expect(offend(limiter, "a")).toBe(MIN);
  });

  it("composite: each escalating policy keeps its own row; the block is the longest", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: [
        onePerSecond({ base: "1m", factor: 3 }, "fast"),
        { limit: 1, window: "1s", algorithm: "gcra", blockFor: "5m", name: "fixed" },
      ],
      clock: clock.now,
    });
    const waits: number[][] = [];
    for (let i = 0; i < 3; i++) {
      limiter.consumeSync("k");
      const d = limiter.consumeSync("k");
      waits.push([d.retryAfterMs, ...d.policies.map((p) => p.retryAfterMs)]);
      clock.advance(d.retryAfterMs);
    }
    // fast: 1m, 3m, 9m; fixed: 5m every time; the key waits for the longer.
    expect(waits).toEqual([
      [5 * MIN, MIN, 5 * MIN],
      [5 * MIN, 3 * MIN, 5 * MIN],
      [9 * MIN, 9 * MIN, 5 * MIN],
    ]);
  });

  it("a cost that can never fit starts no block and no row", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: { limit: 2, window: "1s", blockFor: { base: "1m" } },
      clock: clock.now,
    });
    expect(limiter.consumeSync("k", { cost: 3 }).reason).toBe("cost-exceeds-limit");
    limiter.consumeSync("k", { cost: 2 });
    expect(limiter.consumeSync("k").retryAfterMs).toBe(MIN);
  });

  it("a plain duration keeps today's id and block; escalation parameters change the id", () => {
    const ids = parsePolicies(
      [
        onePerSecond(undefined, "a"),
        onePerSecond("1m", "b"),
        onePerSecond({ base: "1m" }, "c"),
        onePerSecond({ base: "1m", factor: 3 }, "d"),
        onePerSecond({ base: "1m", max: "2h" }, "e"),
        onePerSecond({ base: "1m", forgetAfter: "2h" }, "f"),
        onePerSecond({ base: "2m" }, "g"),
      ],
      "policies",
    ).map((p) => p.id.slice(2));
    expect(ids[0]).toBe(ids[1]); // a fixed block is not state: today's id
    expect(new Set(ids.slice(1)).size).toBe(6);
    expect(parsePolicies(onePerSecond("1m"))[0]!.escalation).toBeUndefined();
  });
});

describe("escalation state in the memory store", () => {
  it("counts towards maxKeys and goes once forgotten", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 1000, logger: false });
    const limiter = createLimiter({
      policies: onePerSecond({ base: "1s", forgetAfter: "10s" }),
      clock: clock.now,
      store,
    });
    offend(limiter);
    expect(store.size).toBe(3); // counter, block, row of blocks
    clock.advance("2s"); // the block and the window are over; the row is remembered
    expect(offend(limiter)).toBe(2000);
    clock.advance(2000 + 10_000);
    // The sweep (every 64 decisions) drops what every part has forgotten: only the 128 new
    // counters are left.
    for (let i = 0; i < 128; i++) limiter.consumeSync(`other-${i}`);
    expect(store.size).toBe(128);
  });

  it("under pressure, a blocked key keeps its row: a repeat offender still escalates", () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 8, logger: false });
    const limiter = createLimiter({
      policies: onePerSecond({ base: "1m", forgetAfter: "1d" }),
      clock: clock.now,
      store,
    });
    expect(offend(limiter, "attacker")).toBe(MIN);
    // A flood of newcomers, each limited too, fills the store over and over.
    for (let i = 0; i < 200; i++) {
      limiter.consumeSync(`flood-${i}`);
      limiter.consumeSync(`flood-${i}`);
    }
    expect(store.size).toBeLessThanOrEqual(8);
    expect(limiter.consumeSync("attacker").reason).toBe("blocked");
    clock.advance(MIN);
    expect(offend(limiter, "attacker")).toBe(2 * MIN);
  });

  it("the row of a key no longer blocked goes before any limited counter", async () => {
    const clock = manualClock();
    const store = memoryStore({ maxKeys: 4, logger: false });
    const limiter = createLimiter({
      policies: { limit: 1, window: "10s", algorithm: "fixed-window", blockFor: { base: "20s" } },
      clock: clock.now,
      store,
    });
    expect(offend(limiter, "old")).toBe(20_000); // counter, block, row
    clock.advance("25s"); // the block is over, the counter at rest; the row is remembered (1d)
    for (const key of ["x", "y", "z"]) limiter.consumeSync(key); // each now limited for 10 s
    expect(store.size).toBe(4); // x, y, z and the row: the ended block and rested counter went
    limiter.consumeSync("w"); // needs room: the row of "old" goes, not a limited counter
    for (const key of ["x", "y", "z", "w"]) {
      expect((await limiter.peek(key)).reason, key).toBe("limited");
    }
    clock.advance("10s");
    expect(offend(limiter, "old")).toBe(20_000); // its row was forgotten: base again, not 40 s
  });
});

describe("blockFor validation", () => {
  const problems = (blockFor: unknown): string[] => {
    try {
      parsePolicies({ limit: 1, window: "1s", blockFor } as PolicyOptions);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => p.option);
      throw error;
    }
    return [];
  };

  it("reports every bad field at once, by name", () => {
    expect(
      problems({ base: "soon", factor: 0.5, max: "11y", forgetAfter: -1, typo: 1 }).sort(),
    ).toEqual(
      [
        "policies.blockFor.base",
        "policies.blockFor.factor",
        "policies.blockFor.max",
        "policies.blockFor.forgetAfter",
        "policies.blockFor.typo",
      ].sort(),
    );
  });

  it.each<[string, unknown, string]>([
    ["base missing", {}, "policies.blockFor.base"],
    ["base 0", { base: 0 }, "policies.blockFor.base"],
    ["base above 10 years", { base: 3651 * DAY }, "policies.blockFor.base"],
    ["factor not a number", { base: "1m", factor: "2" }, "policies.blockFor.factor"],
    ["factor NaN", { base: "1m", factor: Number.NaN }, "policies.blockFor.factor"],
    [
      "factor Infinity",
      { base: "1m", factor: Number.POSITIVE_INFINITY },
      "policies.blockFor.factor",
    ],
    ["max below base", { base: "1h", max: "1m" }, "policies.blockFor.max"],
    ["forgetAfter 0", { base: "1m", forgetAfter: 0 }, "policies.blockFor.forgetAfter"],
    ["an array", ["1m"], "policies.blockFor"],
    ["a bare number string", "100", "policies.blockFor"],
  ])("%s", (_name, blockFor, option) => {
    expect(problems(blockFor)).toEqual([option]);
  });

  it("accepts factor 1 (a fixed length that is still remembered) and max equal to base", () => {
    const input: EscalatingBlockFor = { base: "1m", factor: 1, max: "1m" };
    expect(problems(input)).toEqual([]);
  });
});
