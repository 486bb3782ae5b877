import { describe, expect, it } from "vitest";
import { SpaceSaving } from "./space-saving.js";

describe("SpaceSaving", () => {
  it("keeps its size at most k over 100,000 distinct keys and finds the real heavy hitter", () => {
    const sketch = new SpaceSaving(100);
    let heavy = 0;
    // A seeded stream: 100,000 distinct clients once each, and one attacker every 7th request.
    for (let i = 0; i < 100_000; i++) {
      sketch.add(`client:${i}`);
      if (i % 7 === 0) {
        sketch.add("attacker");
        heavy++;
      }
      if (i % 1000 === 0) expect(sketch.size).toBeLessThanOrEqual(100);
    }
    expect(sketch.size).toBe(100);
    const top = sketch.top();
    expect(top.length).toBe(100);
    expect(top[0]!.key).toBe("attacker");
    // Never an underestimate; overestimated by at most its error.
    expect(top[0]!.count).toBeGreaterThanOrEqual(heavy);
    expect(top[0]!.count - top[0]!.error).toBeLessThanOrEqual(heavy);
  });

  it("counts exactly while the keys fit, largest first, ties by key", () => {
    const sketch = new SpaceSaving(3);
    for (const k of ["b", "a", "b", "c", "b", "a"]) sketch.add(k);
    expect(sketch.top()).toEqual([
      { key: "b", count: 3, error: 0 },
      { key: "a", count: 2, error: 0 },
      { key: "c", count: 1, error: 0 },
    ]);
    expect(sketch.top(1)).toEqual([{ key: "b", count: 3, error: 0 }]);
  });

  it("a newcomer takes the smallest counter over and inherits its count as its error", () => {
    const sketch = new SpaceSaving(2);
    sketch.add("a", 5);
    sketch.add("b", 2);
    sketch.add("c");
    expect(sketch.top()).toEqual([
      { key: "a", count: 5, error: 0 },
      { key: "c", count: 3, error: 2 },
    ]);
  });

  it("holds nothing with capacity 0, and nothing after clear", () => {
    const none = new SpaceSaving(0);
    none.add("a");
    expect(none.top()).toEqual([]);
    const sketch = new SpaceSaving(2);
    sketch.add("a");
    sketch.clear();
    expect(sketch.size).toBe(0);
    sketch.add("b");
    expect(sketch.top()).toEqual([{ key: "b", count: 1, error: 0 }]);
  });
});
