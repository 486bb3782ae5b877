import { describe, expect, it } from "vitest";
import { MAX_METRIC_FIELDS, memoryMetrics } from "./memory-metrics.js";

describe("memoryMetrics", () => {
  it("adds records of one second together and reads the seconds of a span, oldest first", async () => {
    let now = 0;
    const m = memoryMetrics(() => now);
    await m.record(12, new Map([["a", 2]]), 60_000);
    await m.record(10, new Map([["a", 1]]), 60_000);
    await m.record(
      12,
      new Map([
        ["a", 3],
        ["b", 1],
      ]),
      60_000,
    );
    await m.record(30, new Map([["a", 1]]), 60_000);
    expect(await m.read(10, 12)).toEqual([
      { second: 10, counts: new Map([["a", 1]]) },
      {
        second: 12,
        counts: new Map([
          ["a", 5],
          ["b", 1],
        ]),
      },
    ]);
    now = 60_000; // every bucket expires `retention` after its last record
    expect(await m.read(0, 100)).toEqual([]);
  });

  it("bounds the fields of a second", async () => {
    const m = memoryMetrics(() => 0);
    const many = new Map(
      Array.from({ length: MAX_METRIC_FIELDS + 50 }, (_, i) => [`f${i}`, 1] as const),
    );
    await m.record(1, many, 1000);
    expect((await m.read(1, 1))[0]!.counts.size).toBe(MAX_METRIC_FIELDS);
  });
});
