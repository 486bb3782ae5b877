import { describe, expect, it } from "vitest";
import { manualClock } from "../../testing/manual-clock.js";
import { createEvents } from "../events.js";
import { createLimiter } from "../limiter.js";
import { memoryStore } from "../memory-store.js";
import type { Store } from "../store.js";
import { createMetrics } from "./collector.js";
import { CountTable } from "./counts.js";
import { FleetRecorder, MAX_PENDING_SECONDS } from "./fleet.js";
import type { MetricsBinding } from "./types.js";

describe("FleetRecorder", () => {
  it("keeps at most MAX_PENDING_SECONDS seconds while the store fails, the oldest dropped", async () => {
    const clock = manualClock(1_000_000);
    const table = new CountTable();
    let calls = 0;
    const failing: MetricsBinding = {
      record: () => {
        calls++;
        return Promise.reject(new Error("store down"));
      },
      read: async () => [],
    };
    const fleet = new FleetRecorder(table, failing, 3_600_000, 1000, clock.now, clock.timers);
    const pair = table.pair("api", "10/s");
    for (let s = 0; s < MAX_PENDING_SECONDS + 50; s++) {
      pair.n[0]!++;
      await clock.advanceAsync("1s");
    }
    expect(calls).toBeGreaterThan(MAX_PENDING_SECONDS);
    expect(fleet.waiting).toBeLessThanOrEqual(MAX_PENDING_SECONDS);
    expect(fleet.dropped).toBeGreaterThan(0);
    await fleet.close();
  });

  it("a binding that throws (not rejects) is a failed record: requests never see it", async () => {
    const clock = manualClock(1_000_000);
    const throwing = {
      name: "bad",
      bind: () => memoryStore().bind("x", []),
      metrics: () => ({
        record: () => {
          throw new Error("sync failure");
        },
        read: async () => [],
      }),
    } as unknown as Store;
    const events = createEvents();
    const metrics = createMetrics(events, {
      store: throwing,
      clock: clock.now,
      timers: clock.timers,
    });
    const limiter = createLimiter({ policies: "5/s", events, clock: clock.now });
    for (let s = 0; s < 3; s++) {
      expect(limiter.consumeSync("k").allowed).toBe(true);
      await clock.advanceAsync("1s");
    }
    expect(metrics.snapshot().total.requests).toBe(3);
    await expect(metrics.close()).resolves.toBeUndefined();
  });
});
