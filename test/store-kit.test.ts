/**
 * throttlekit/store is enough to write a store: the example store built only on it
 * (examples/custom-store/map-store.ts) passes the conformance suite every store must pass,
 * escalating blockFor included, and its decisions match the memory store's on a random sequence.
 */
import { describe, expect, it } from "vitest";
import { mapStore } from "../examples/custom-store/map-store.js";
import { ALGORITHMS } from "../src/core/policy.js";
import { createLimiter, memoryStore } from "../src/index.js";
import { manualClock } from "../src/testing/manual-clock.js";
import { storeConformance } from "../src/testing/store-conformance.js";

storeConformance({ name: "example map store (throttlekit/store)", describe, it, store: mapStore });

describe("example map store", () => {
  it("decides exactly as the memory store on a seeded random sequence, fixed and escalating blockFor included", async () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (const algorithm of ALGORITHMS) {
      const policies = [
        { limit: 5, window: "10s", algorithm, blockFor: "3s" },
        // A factor of 1.5 from an odd base: blocks are rounded up, the row compounds unrounded.
        // A short forgetAfter puts offences near its edge, where `until` must count from the
        // key's block end (the 3s one may be longer), not this policy's own.
        {
          limit: 12,
          window: "1m",
          algorithm,
          name: "minute",
          blockFor: { base: 1001, factor: 1.5, max: "20s", forgetAfter: "5s" },
        },
      ] as const;
      const clock = manualClock();
      const ours = createLimiter({ policies: [...policies], store: mapStore(), clock: clock.now });
      const memory = createLimiter({
        policies: [...policies],
        store: memoryStore(),
        clock: clock.now,
      });
      for (let i = 0; i < 300; i++) {
        const key = `k${Math.floor(random() * 3)}`;
        const cost = Math.floor(random() * 3);
        const [a, b] = [await ours.consume(key, { cost }), await memory.consume(key, { cost })];
        expect({ ...a, step: i }).toEqual({ ...b, step: i });
        clock.advance(Math.floor(random() * 1500));
      }
    }
  });
});
