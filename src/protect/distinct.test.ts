import { describe, expect, it } from "vitest";
import { BoundedTable } from "./bounded-table.js";
import { hash32, linearCount, popcount32 } from "./distinct.js";

describe("distinct counters", () => {
  it("estimate small numbers of distinct values closely from 64 bits", () => {
    for (const n of [1, 5, 10, 20, 40]) {
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < n; i++) {
        const h = hash32(`/probe/${n}/${i}`);
        if ((h & 32) === 0) lo |= 1 << (h & 31);
        else hi |= 1 << (h & 31);
      }
      const estimate = linearCount(popcount32(lo) + popcount32(hi), 64);
      expect(estimate).toBeGreaterThan(n * 0.7);
      expect(estimate).toBeLessThan(n * 1.3 + 1);
    }
  });

  it("saturate instead of growing: a thousand paths fill 64 bits, no more", () => {
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 1000; i++) {
      const h = hash32(`/x/${i}`);
      if ((h & 32) === 0) lo |= 1 << (h & 31);
      else hi |= 1 << (h & 31);
    }
    const estimate = linearCount(popcount32(lo) + popcount32(hi), 64);
    expect(estimate).toBeGreaterThan(100);
    expect(Number.isFinite(estimate)).toBe(true);
  });

  it("count set bits of any 32-bit word", () => {
    expect(popcount32(0)).toBe(0);
    expect(popcount32(-1)).toBe(32);
    expect(popcount32(1 << 31)).toBe(1);
    expect(popcount32(0x0f0f0f0f)).toBe(16);
  });
});

describe("BoundedTable", () => {
  it("forgets the least recently used entry beyond its capacity", () => {
    const t = new BoundedTable<number>(3);
    t.set("a", 1);
    t.set("b", 2);
    t.set("c", 3);
    t.touch("a");
    t.set("d", 4);
    expect(t.size).toBe(3);
    expect(t.peek("b")).toBeUndefined();
    expect([t.peek("a"), t.peek("c"), t.peek("d")]).toEqual([1, 3, 4]);
    t.touch("c");
    t.touch("c");
    t.set("e", 5);
    expect(t.peek("a")).toBeUndefined();
    expect(t.peek("c")).toBe(3);
    expect(t.delete("c")).toBe(true);
    t.clear();
    expect(t.size).toBe(0);
  });
});
