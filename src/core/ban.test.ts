import { describe, expect, it } from "vitest";
import { manualClock } from "../testing/manual-clock.js";
import type { BanOptions } from "./ban.js";
import { ConfigError } from "./errors/config-error.js";
import type { AutoBlockEvent } from "./events.js";
import { createLimiter } from "./limiter.js";
import { memoryStore } from "./memory-store.js";
import type { PolicyOptions } from "./policy.js";

const DAY = 86_400_000;

const ONE_PER_MINUTE = { limit: 1, window: "1m", algorithm: "fixed-window" } as const;
const TWO_PER_SECOND = { limit: 2, window: "1s", algorithm: "fixed-window" } as const;

function setup(ban: BanOptions, policies: PolicyOptions = ONE_PER_MINUTE) {
  const clock = manualClock();
  const logs: string[] = [];
  const store = memoryStore({ logger: false });
  const limiter = createLimiter({
    policies,
    ban,
    clock: clock.now,
    store,
    logger: { warn: (m) => logs.push(m) },
  });
  const bans: AutoBlockEvent[] = [];
  limiter.on("autoBlock", (e) => bans.push(e));
  return { clock, limiter, logs, bans, store };
}

describe("ban: after N refusals within a span, the key is blocked", () => {
  it("the N-th refusal starts the ban, once, and tells the ban's wait (consumeSync)", () => {
    const { clock, limiter, logs, bans } = setup({ after: 3, within: "1h", duration: "1d" });
    expect(limiter.consumeSync("k").allowed).toBe(true);
    const reasons = [];
    for (let i = 0; i < 6; i++) {
      const d = limiter.consumeSync("k");
      reasons.push([d.reason, d.retryAfterMs]);
    }
    expect(reasons).toEqual([
      ["limited", 60_000],
      ["limited", 60_000],
      ["limited", DAY], // the third refusal: banned, and told so
      ["blocked", DAY],
      ["blocked", DAY],
      ["blocked", DAY],
    ]);
    expect(bans).toEqual([
      {
        type: "autoBlock",
        time: clock.now(),
        identifier: "k",
        by: "ban",
        reasons: ["violations"],
        score: 1,
        durationMs: DAY,
        until: clock.now() + DAY,
      },
    ]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain("WARN_TK_AUTO_BLOCKED");
    expect(logs[0]).toContain('"k" blocked for 1d after 3 refusals within 1h');
    clock.advance(DAY - 1);
    expect(limiter.consumeSync("k").reason).toBe("blocked");
    clock.advance(1);
    expect(limiter.consumeSync("k").allowed).toBe(true);
  });

  it("the same through consume (async), in the same order of events", async () => {
    const { limiter, bans } = setup({ after: 2, within: "1h", duration: "10m" });
    const order: string[] = [];
    limiter.on("violation", (v) => order.push(`violation:${v.retryAfterMs}`));
    limiter.on("autoBlock", () => order.push("autoBlock"));
    await limiter.consume("k");
    const first = await limiter.consume("k");
    const second = await limiter.consume("k");
    expect([first.retryAfterMs, second.retryAfterMs]).toEqual([60_000, 600_000]);
    expect((await limiter.consume("k")).reason).toBe("blocked");
    expect(bans).toHaveLength(1);
    expect(order).toEqual([
      "violation:60000",
      "violation:600000",
      "autoBlock",
      "violation:600000", // the blocked refusal is a violation, and starts no second ban
    ]);
  });

  it("each ban needs N fresh refusals: the count starts over when a ban starts", () => {
    const { clock, limiter, bans } = setup({ after: 2, within: "1d", duration: "10m" });
    limiter.consumeSync("k");
    limiter.consumeSync("k");
    expect(limiter.consumeSync("k").retryAfterMs).toBe(600_000); // banned
    clock.advance("10m");
    expect(limiter.consumeSync("k").allowed).toBe(true);
    expect(limiter.consumeSync("k").retryAfterMs).toBe(60_000); // 1 fresh refusal: no ban
    expect(bans).toHaveLength(1);
    expect(limiter.consumeSync("k").retryAfterMs).toBe(600_000); // the 2nd: banned again
    expect(bans).toHaveLength(2);
  });

  it("refusals spread wider than `within` never ban (a sliding span, to the ms)", () => {
    const { clock, limiter, bans } = setup(
      { after: 3, within: "3m", duration: "1d" },
      TWO_PER_SECOND,
    );
    const refuse = () => {
      limiter.consumeSync("k");
      limiter.consumeSync("k");
      expect(limiter.consumeSync("k").reason).toBe("limited");
    };
    refuse(); // t = 0
    clock.advance("2m");
    refuse(); // t = 2m
    clock.advance("1m");
    refuse(); // t = 3m: the first has left the span (now − 3m, now]
    expect(bans).toHaveLength(0);
    clock.advance(60_000 - 1);
    refuse(); // t = 4m − 1 ms: the 2m, 3m and this one are within 3 minutes
    expect(bans).toHaveLength(1);
    expect(limiter.consumeSync("k").reason).toBe("blocked");
  });

  it("counts cost-exceeds-limit refusals, never blocked ones", () => {
    const { limiter, bans } = setup({ after: 2, within: "1h", duration: "1h" }, TWO_PER_SECOND);
    expect(limiter.consumeSync("k", { cost: 3 }).reason).toBe("cost-exceeds-limit");
    const second = limiter.consumeSync("k", { cost: 3 });
    expect(second).toMatchObject({
      reason: "cost-exceeds-limit",
      retryAfterMs: Number.POSITIVE_INFINITY,
    });
    expect(bans).toHaveLength(1);
    expect(limiter.consumeSync("k").reason).toBe("blocked");
  });

  it("a key blocked by hand is not counted", async () => {
    const { clock, limiter, bans } = setup({ after: 1, within: "1h", duration: "1d" });
    await limiter.block("k", "1m");
    for (let i = 0; i < 5; i++) expect(limiter.consumeSync("k").reason).toBe("blocked");
    expect(bans).toHaveLength(0);
    clock.advance("1m");
    limiter.consumeSync("k");
    expect(limiter.consumeSync("k").retryAfterMs).toBe(DAY); // after: 1 bans at once
    expect(bans).toHaveLength(1);
  });

  it("costs allowed requests nothing: no count is kept until a key is refused", () => {
    const { limiter, store } = setup({ after: 3, within: "1h", duration: "1d" });
    for (let i = 0; i < 100; i++) limiter.consumeSync(`user-${i}`);
    expect(store.size).toBe(100); // the counters, and nothing for the ban
    limiter.consumeSync("user-0");
    expect(store.size).toBe(101); // a refusal: its count
  });

  it("unblock lifts a ban and lets refusals count again; reset forgets the count", async () => {
    const { limiter, bans, clock } = setup({ after: 2, within: "1h", duration: "1d" });
    limiter.consumeSync("k");
    limiter.consumeSync("k");
    expect(limiter.consumeSync("k").retryAfterMs).toBe(DAY);
    await limiter.unblock("k");
    expect(limiter.consumeSync("k").reason).toBe("limited"); // refusal 1 of a new count
    expect(limiter.consumeSync("k").retryAfterMs).toBe(DAY); // refusal 2: banned again
    expect(bans).toHaveLength(2);
    await limiter.reset("k");
    clock.advance("1m");
    limiter.consumeSync("k");
    expect(limiter.consumeSync("k").retryAfterMs).toBeLessThan(DAY); // 1 refusal after reset
    await limiter.reset("k");
    limiter.consumeSync("k");
    expect(limiter.consumeSync("k").retryAfterMs).toBeLessThan(DAY); // the count was forgotten
    expect(bans).toHaveLength(2);
  });

  it("keys are banned apart", () => {
    const { limiter, bans } = setup({ after: 2, within: "1h", duration: "1d" });
    for (const key of ["a", "b", "a"]) {
      limiter.consumeSync(key);
      limiter.consumeSync(key);
    }
    expect(bans.map((b) => b.identifier)).toEqual(["a"]);
    expect(limiter.consumeSync("b").reason).toBe("limited");
  });

  it("logger: false silences the warning, the event still fires", () => {
    const clock = manualClock();
    const limiter = createLimiter({
      policies: ONE_PER_MINUTE,
      ban: { after: 1, within: "1h", duration: "1h" },
      clock: clock.now,
      logger: false,
    });
    const bans: AutoBlockEvent[] = [];
    limiter.on("autoBlock", (e) => bans.push(e));
    limiter.consumeSync("k");
    limiter.consumeSync("k");
    expect(bans).toHaveLength(1);
  });
});

describe("ban validation", () => {
  const problems = (options: Record<string, unknown>): string[] => {
    try {
      createLimiter({ policies: "1/s", ...options } as never);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => p.option);
      throw error;
    }
    return [];
  };

  it("reports every bad field at once, by name", () => {
    expect(
      problems({ ban: { after: 0, within: "soon", duration: -5, typo: 1 }, logger: "yes" }).sort(),
    ).toEqual(["ban.after", "ban.duration", "ban.typo", "ban.within", "logger"]);
  });

  it.each<[string, unknown, string]>([
    ["not an object", "5 per hour", "ban"],
    ["after fractional", { after: 1.5, within: "1h", duration: "1h" }, "ban.after"],
    ["after above 1000", { after: 1001, within: "1h", duration: "1h" }, "ban.after"],
    ["within missing", { after: 3, duration: "1h" }, "ban.within"],
    ["within 0", { after: 3, within: 0, duration: "1h" }, "ban.within"],
    ["duration above 10 years", { after: 3, within: "1h", duration: 3651 * DAY }, "ban.duration"],
  ])("%s", (_name, ban, option) => {
    expect(problems({ ban })).toEqual([option]);
  });
});
