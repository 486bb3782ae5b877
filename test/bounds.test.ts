/**
 * The worst cases docs/algorithms.md ("Bounds: how far above L") states, reached by an
 * adversarial client (issue 13): only sliding-log keeps every span of W at or under L; the others
 * admit nearly 2L (B + L for the buckets, with the default burst B = L) in some span.
 */
import { describe, expect, it } from "vitest";
import { ALGORITHMS, type AlgorithmName, createLimiter } from "../src/index.js";
import { manualClock } from "../src/testing/manual-clock.js";

const L = 100;
const W = 60_000;

/**
 * One request at the first ms of an aligned window, then, from that window's last ms on, as many
 * requests as pass at every ms for 2 W. Returns the most admitted in any span (t − W, t].
 */
function worstSpan(algorithm: AlgorithmName): number {
  const s = 1_000 * W - 1; // the last ms of an aligned window
  const clock = manualClock(s - W + 1);
  const limiter = createLimiter({ policies: { limit: L, window: W, algorithm }, clock: clock.now });
  const admitted: number[] = [];
  if (limiter.consumeSync("k").allowed) admitted.push(clock.now());
  for (let t = s; t < s + 2 * W; t++) {
    clock.set(t);
    for (let n = 0; n <= L && limiter.consumeSync("k").allowed; n++) admitted.push(t);
  }
  let max = 0;
  for (let head = 0, i = 0; i < admitted.length; i++) {
    while (admitted[head]! <= admitted[i]! - W) head++;
    max = Math.max(max, i - head + 1);
  }
  return max;
}

describe("the most admitted in any span of W, against an adversarial client", () => {
  it("sliding-log: never above L", () => {
    expect(worstSpan("sliding-log")).toBe(L);
  });
  it.each(ALGORITHMS.filter((a) => a !== "sliding-log"))(
    "%s: nearly 2L (never above 2L = B + L with the default burst)",
    (algorithm) => {
      const max = worstSpan(algorithm);
      expect(max).toBeGreaterThanOrEqual(1.95 * L);
      expect(max).toBeLessThanOrEqual(2 * L);
    },
  );
});
