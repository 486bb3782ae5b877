/**
 * The worked examples of docs/algorithms.md, number for number. If one of these changes, the
 * document is wrong: fix both together.
 */
import { describe, expect, it } from "vitest";
import { ALGORITHMS, type PolicyOptions, parsePolicies } from "../policy.js";
import { algorithms } from "./index.js";
import { pureStep } from "./step.js";

type Row = [
  t: number,
  cost: number,
  allowed: boolean,
  remaining: number,
  retryAfterMs: number,
  resetMs?: number | undefined,
  delayMs?: number | undefined,
];

function run(policy: PolicyOptions, rows: Row[]) {
  const p = parsePolicies(policy)[0]!;
  let state: number[] | undefined;
  for (const [t, cost, allowed, remaining, retryAfterMs, resetMs, delayMs] of rows) {
    const r = pureStep(algorithms[p.algorithm] as never, state, t, cost, p);
    state = r.state;
    const d = r.decision;
    const got = [
      t,
      cost,
      d.allowed,
      d.remaining,
      d.retryAfterMs,
      resetMs === undefined ? undefined : d.resetMs,
      delayMs === undefined ? undefined : d.delayMs,
    ];
    expect(got, `at t=${t}`).toEqual([t, cost, allowed, remaining, retryAfterMs, resetMs, delayMs]);
  }
}

describe("docs/algorithms.md worked examples", () => {
  it("fixed-window: 3 per 10 s, window opened by the first hit at t=1000", () => {
    run({ limit: 3, window: "10s", algorithm: "fixed-window" }, [
      [1000, 1, true, 2, 0, 10_000],
      [2000, 1, true, 1, 0, 9000],
      [3000, 1, true, 0, 0, 8000],
      [4000, 1, false, 0, 7000, 7000],
      [11_000, 1, true, 2, 0, 10_000],
    ]);
  });

  it("sliding-window: 10 per minute, 8 in the previous window", () => {
    const rows: Row[] = [];
    for (let i = 0; i < 8; i++) rows.push([30_000, 1, true, 9 - i, 0]);
    rows.push([70_000, 1, true, 2, 0], [70_000, 1, true, 1, 0], [70_000, 1, true, 0, 0]);
    rows.push(
      [75_000, 1, true, 0, 0, 105_000],
      [75_000, 1, false, 0, 7500],
      [82_500, 1, true, 0, 0],
    );
    run({ limit: 10, window: "1m", algorithm: "sliding-window" }, rows);
  });

  it("sliding-log: 3 per 10 s", () => {
    run({ limit: 3, window: "10s", algorithm: "sliding-log" }, [
      [0, 1, true, 2, 0],
      [4000, 1, true, 1, 0],
      [8000, 1, true, 0, 0, 10_000],
      [9000, 1, false, 0, 1000, 9000],
      [10_000, 1, true, 0, 0],
    ]);
  });

  for (const algorithm of ["token-bucket", "gcra"] as const) {
    it(`${algorithm}: 10/s with a burst of 20`, () => {
      const rows: Row[] = [];
      for (let i = 0; i < 20; i++) rows.push([0, 1, true, 19 - i, 0]);
      rows.push(
        [0, 1, false, 0, 100, 2000],
        [250, 1, true, 1, 0, 1850],
        [250, 1, true, 0, 0],
        [250, 1, false, 0, 50],
      );
      run({ limit: 10, window: "1s", algorithm, burst: 20 }, rows);
    });
  }

  it('leaky-bucket, mode "delay": 10/s, burst 5, smoothing to one per 100 ms', () => {
    run({ limit: 10, window: "1s", algorithm: "leaky-bucket", burst: 5, mode: "delay" }, [
      [0, 1, true, 4, 0, undefined, 0],
      [0, 1, true, 3, 0, undefined, 100],
      [0, 1, true, 2, 0, undefined, 200],
      [0, 1, true, 1, 0, undefined, 300],
      [0, 1, true, 0, 0, undefined, 400],
      [0, 1, false, 0, 100, undefined, 0],
    ]);
    run(
      {
        limit: 10,
        window: "1s",
        algorithm: "leaky-bucket",
        burst: 5,
        mode: "delay",
        maxDelay: 250,
      },
      [
        [0, 1, true, 4, 0, undefined, 0],
        [0, 1, true, 3, 0, undefined, 100],
        [0, 1, true, 2, 0, undefined, 200],
        [0, 1, false, 2, 50, undefined, 0],
        [50, 1, true, 1, 0, undefined, 250],
      ],
    );
  });

  it("every algorithm: a cost above capacity never passes and charges nothing", () => {
    for (const algorithm of ALGORITHMS) {
      run({ limit: 3, window: "1s", algorithm }, [
        [0, 4, false, 3, Number.POSITIVE_INFINITY],
        [0, 3, true, 0, 0],
      ]);
    }
  });
});
