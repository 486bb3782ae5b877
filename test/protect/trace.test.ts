import { describe, expect, it } from "vitest";
import { replay, totals } from "../../bench/protect/score.js";
import { createTrace } from "../../bench/protect/trace.js";
import { createAbuseDetector } from "../../src/protect/abuse-detector.js";

/**
 * The detector with its defaults on a smaller seeded trace (bench/protect/trace.ts): 2,000
 * legitimate clients and 20 attackers of each kind. Seeded, so deterministic; no timing.
 * `npm run bench:protect` runs the full trace (10,000 clients) and reports the figures.
 */
const trace = createTrace({
  seed: 17,
  legitimate: 2000,
  attackers: { flood: 20, scanner: 20, stuffer: 20, "low-and-slow": 20, trickle: 10 },
});

describe("the synthetic trace", () => {
  it("is the same on every run: same seed, same requests", () => {
    const first = (n: number) => {
      const out = [];
      for (const e of createTrace({ seed: 5, legitimate: 200 }).events()) {
        out.push(e);
        if (out.length === n) break;
      }
      return out;
    };
    expect(first(2000)).toEqual(first(2000));
    const times = first(2000).map((e) => e.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("flags attackers within 10 s and almost no legitimate client", () => {
    const score = replay(trace, createAbuseDetector({ logger: false }));
    const row = (kind: string) => score.attackers.find((r) => r.kind === kind)!;
    // Floods, scanners and stuffers: every one, within 10 s of its first request.
    for (const kind of ["flood", "scanner", "stuffer"]) {
      expect(row(kind).clients).toBe(20);
      expect(row(kind).flaggedWithin10s).toBe(20);
    }
    // Low-and-slow probers (1 to 3 requests a second, a third of them ordinary pages) have sent
    // about ten requests after 10 s: most are flagged by then, a few seconds later the rest.
    // The 99% target is not met on this kind (bench/results/protect.md gives the figure).
    expect(row("low-and-slow").flaggedWithin10s).toBeGreaterThanOrEqual(17);
    expect(row("low-and-slow").flagged).toBe(20);
    expect(row("low-and-slow").p99Ms).toBeLessThan(30_000);
    // ≤ 0.1% of legitimate clients ever flagged; heavy API users never.
    const t = totals(score, ["flood", "scanner", "stuffer", "low-and-slow"]);
    expect(t.legitimate).toBeGreaterThan(1990);
    expect(t.flaggedLegitimateShare).toBeLessThanOrEqual(0.001);
    expect(score.legitimate.find((r) => r.kind === "heavy")).toMatchObject({ flagged: 0 });
  });
});
