import { parseDictionary, parseList } from "structured-headers";
import { describe, expect, it } from "vitest";
import { type Decision, verdictFree } from "../core/decision.js";
import { createLimiter } from "../core/limiter.js";
import { memoryStore } from "../core/memory-store.js";
import { parsePolicies } from "../core/policy.js";
import { manualClock } from "../testing/manual-clock.js";
import { headerRenderer, retryAfterSeconds, sfString } from "./headers.js";

const policies = parsePolicies([
  { limit: 3, window: "10s", name: "burst" },
  { limit: 1000, window: "1d", name: "daily" },
]);

/** Real decisions from a real limiter on a manual clock, off whole seconds. */
function decisions(n: number): Decision[] {
  const clock = manualClock(1_700_000_000_250);
  const limiter = createLimiter({
    policies: policies.map((p) => ({ limit: p.limit, window: p.windowMs, name: p.name })),
    store: memoryStore(),
    clock: clock.now,
  });
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) out.push(limiter.consumeSync("k"));
  return out;
}

type Item = [string, Map<string, unknown>];

describe("draft-10 headers", () => {
  const render = headerRenderer("draft-10", policies, Date.now)!;

  it("renders RFC 9651 Lists that parse back to the decision", () => {
    const [d] = decisions(1);
    const h = render(d!);
    const policy = parseList(h["RateLimit-Policy"]!) as Item[];
    expect(policy.map(([n, p]) => [n, Object.fromEntries(p)])).toEqual([
      ["burst", { q: 3, w: 10 }],
      ["daily", { q: 1000, w: 86400 }],
    ]);
    const items = parseList(h.RateLimit!) as Item[];
    expect(items.map(([n, p]) => [n, p.get("r")])).toEqual([
      ["burst", 2],
      ["daily", 999],
    ]);
    for (const [, p] of items) expect(Number.isInteger(p.get("t"))).toBe(true);
  });

  it("on a rejection: t only on violated policies, and never after Retry-After", () => {
    const d = decisions(4)[3]!;
    expect(d.allowed).toBe(false);
    const items = parseList(render(d).RateLimit!) as Item[];
    const retry = retryAfterSeconds(d)!;
    expect(items[0]![1].get("r")).toBe(0);
    expect(items[0]![1].get("t")).toBe(Math.ceil(d.policies[0]!.retryAfterMs / 1000));
    expect(Number(items[0]![1].get("t"))).toBeLessThanOrEqual(retry);
    expect(items[1]![1].has("t")).toBe(false); // the daily policy passed: its t would exceed Retry-After
    expect(retry).toBe(Math.ceil(d.retryAfterMs / 1000));
  });

  it("draft-8 sets each violated item's t to Retry-After", () => {
    const d = decisions(4)[3]!;
    const items = parseList(headerRenderer("draft-8", policies, Date.now)!(d).RateLimit!) as Item[];
    expect(items[0]![1].get("t")).toBe(retryAfterSeconds(d));
  });

  it("one policy: every allowed value matches its own decision, past the memo's bound", () => {
    // A single policy's allowed items are memoised by (r, t): no value may be served for
    // another pair, whether memoised, evicted or never cached (r of 2^36 and above).
    const [solo] = parsePolicies([{ limit: 2 ** 40, window: "1s", name: "solo" }]);
    const r = headerRenderer("draft-10", [solo!], Date.now)!;
    const d = (remaining: number, resetMs: number): Decision => ({
      ...verdictFree([solo!], "exempt", true, 0),
      remaining,
      resetMs,
    });
    const cases: [number, number][] = [];
    // 700 pairs, each r with several t while memoised; then a sweep past the bound; then
    // the edges of the memoised range; then the first pairs again.
    for (let i = 0; i < 2100; i++) cases.push([i % 100, 1000 * (1 + (i % 7))]);
    for (let i = 0; i < 2000; i++) cases.push([1000 + i, 60_000]);
    cases.push([2 ** 36, 5000], [2 ** 36 - 1, 5000], [7, 2 ** 16 * 1000], [7, 1000]);
    cases.push([2 ** 40, 1000], [2 ** 40, 2000], [2 ** 40, 1000]);
    for (const [remaining, resetMs] of [...cases, ...cases.slice(0, 700)]) {
      const [name, params] = (parseList(r(d(remaining, resetMs)).RateLimit!) as Item[])[0]!;
      expect([name, params.get("r"), params.get("t")]).toEqual([
        "solo",
        remaining,
        Math.ceil(resetMs / 1000),
      ]);
    }
  });

  it("names are sf-strings, escaped", () => {
    expect(sfString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(parseList(`${sfString('we"ird\\')};q=1`)[0]![0]).toBe('we"ird\\');
    expect(sfString("é")).toBe('"?"');
  });

  it("sub-second windows show as w=1 (the field is whole seconds, non-zero)", () => {
    const r = headerRenderer("draft-10", parsePolicies("5/500ms"), Date.now)!;
    const d = verdictFree(parsePolicies("5/500ms"), "exempt", true, 0);
    expect(r(d)["RateLimit-Policy"]).toBe('"5/500ms";q=5;w=1');
  });
});

describe("older forms", () => {
  it("draft-7: Integer list and a Dictionary", () => {
    const d = decisions(1)[0]!;
    const h = headerRenderer("draft-7", policies, Date.now)!(d);
    expect(parseList(h["RateLimit-Policy"]!).map(([v, p]) => [v, Object.fromEntries(p)])).toEqual([
      [3, { w: 10 }],
      [1000, { w: 86400 }],
    ]);
    const dict = parseDictionary(h.RateLimit!);
    expect([dict.get("limit")?.[0], dict.get("remaining")?.[0]]).toEqual([3, 2]);
  });

  it("draft-6 and legacy on a rejection report the retry", () => {
    const d = decisions(4)[3]!;
    const six = headerRenderer("draft-6", policies, Date.now)!(d);
    expect(six["RateLimit-Reset"]).toBe(String(retryAfterSeconds(d)));
    expect(six["RateLimit-Remaining"]).toBe("0");
    const legacy = headerRenderer("legacy", policies, () => 1_700_000_000_250)!(d);
    expect(Number(legacy["X-RateLimit-Reset"])).toBe(
      Math.ceil((1_700_000_000_250 + d.retryAfterMs) / 1000),
    );
  });

  it("false renders nothing", () => {
    expect(headerRenderer(false, policies, Date.now)).toBeUndefined();
  });
});

describe("Retry-After", () => {
  it("is absent when the request can never pass", () => {
    const p = parsePolicies("2/1m");
    const limiter = createLimiter({ policies: "2/1m" });
    const d = limiter.consumeSync("k", { cost: 3 });
    expect(d.reason).toBe("cost-exceeds-limit");
    expect(retryAfterSeconds(d)).toBeUndefined();
    const items = parseList(headerRenderer("draft-10", p, Date.now)!(d).RateLimit!) as Item[];
    expect(items[0]![1].has("t")).toBe(false);
  });

  it("is at least 1 second", () => {
    expect(retryAfterSeconds(verdictFree(parsePolicies("1/1s"), "blocked", false, 1))).toBe(1);
  });
});
