import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "./histogram.js";
import { Ring } from "./ring.js";

describe("LatencyHistogram", () => {
  it("summarises count, sum, max, cumulative buckets and interpolated percentiles", () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 90; i++) h.observe(0.3); // (0.25, 0.5]
    for (let i = 0; i < 9; i++) h.observe(3); // (2.5, 5]
    h.observe(40); // (25, 50]
    const s = h.summary();
    expect(s.count).toBe(100);
    expect(s.sumMs).toBeCloseTo(90 * 0.3 + 27 + 40);
    expect(s.maxMs).toBe(40);
    expect(s.p50Ms).toBeGreaterThan(0.25);
    expect(s.p50Ms).toBeLessThanOrEqual(0.5);
    expect(s.p90Ms).toBeLessThanOrEqual(0.5);
    expect(s.p99Ms).toBeGreaterThan(2.5);
    expect(s.p99Ms).toBeLessThanOrEqual(5);
    const le = (ms: number) => s.buckets.find((b) => b.leMs === ms)!.count;
    expect(le(0.25)).toBe(0);
    expect(le(0.5)).toBe(90);
    expect(le(5)).toBe(99);
    expect(le(50)).toBe(100);
    expect(s.buckets.at(-1)).toEqual({ leMs: Number.POSITIVE_INFINITY, count: 100 });
  });

  it("answers the largest value seen for the last bucket, and zeros when empty or cleared", () => {
    const h = new LatencyHistogram();
    expect(h.summary().p99Ms).toBe(0);
    h.observe(9000);
    expect(h.quantile(0.5)).toBe(9000);
    h.observe(Number.NaN);
    h.observe(-1);
    expect(h.summary().count).toBe(1);
    h.clear();
    expect(h.summary()).toMatchObject({ count: 0, sumMs: 0, maxMs: 0, p50Ms: 0 });
  });
});

describe("Ring", () => {
  it("keeps the latest items, oldest first", () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
    r.clear();
    r.push(9);
    expect(r.toArray()).toEqual([9]);
    const none = new Ring<number>(0);
    none.push(1);
    expect(none.toArray()).toEqual([]);
  });
});
