/**
 * Properties every algorithm must hold on any sequence (fast-check). The oracles here are
 * written from the definitions in docs/algorithms.md against the full request history, not
 * against the compact state the algorithms keep, so a bug in the state handling shows up.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../testing/manual-clock.js";
import { createLimiter } from "../limiter.js";
import { ALGORITHMS, type AlgorithmName, type Policy, parsePolicies } from "../policy.js";
import { algorithms } from "./index.js";
import { pureStep, type StepResult } from "./step.js";
import { emptyVerdict, type RowAlgorithm } from "./types.js";

type Event = { dt: number; cost: number };
const RUNS = { numRuns: 300 };

const windowMs = fc.constantFrom(1000, 7, 60_000, 999);
const events = (maxCost: number, maxDt: number) =>
  fc.array(
    fc.record({
      dt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: maxDt })),
      cost: fc.integer({ min: 0, max: maxCost }),
    }),
    { minLength: 1, maxLength: 60 },
  );

function policyOf(algorithm: AlgorithmName, limit: number, w: number, burst?: number): Policy {
  const bucket =
    algorithm === "token-bucket" || algorithm === "gcra" || algorithm === "leaky-bucket";
  return parsePolicies({
    limit,
    window: w,
    algorithm,
    ...(bucket && burst !== undefined ? { burst } : {}),
  })[0]!;
}

/** Runs events through the pure step from `start`; returns each result with its time. */
function drive(p: Policy, evs: Event[], start = 5_000_000) {
  let state: number[] | undefined;
  let t = start;
  const out: { t: number; cost: number; r: StepResult; before: number[] | undefined }[] = [];
  for (const e of evs) {
    t += e.dt;
    const before = state;
    const r = pureStep(algorithms[p.algorithm] as never, state, t, e.cost, p);
    state = r.state;
    out.push({ t, cost: e.cost, r, before });
  }
  return out;
}

describe("algorithm properties", () => {
  it("sliding-log never has more than L in any (t − W, t]", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), windowMs, events(9, 1500), (limit, w, evs) => {
        const p = policyOf("sliding-log", limit, w);
        const admitted = drive(p, evs).filter((x) => x.r.decision.allowed && x.cost > 0);
        for (const a of admitted) {
          const inWindow = admitted
            .filter((b) => b.t > a.t - w && b.t <= a.t)
            .reduce((s, b) => s + b.cost, 0);
          expect(inWindow).toBeLessThanOrEqual(limit);
        }
      }),
      RUNS,
    );
  });

  it("fixed-window admits exactly what a history-based fixed window admits", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), windowMs, events(9, 1500), (limit, w, evs) => {
        const p = policyOf("fixed-window", limit, w);
        let start = Number.NEGATIVE_INFINITY;
        const history: { t: number; cost: number }[] = [];
        for (const x of drive(p, evs)) {
          const live = x.t < start + w;
          const count = live
            ? history.filter((h) => h.t >= start).reduce((s, h) => s + h.cost, 0)
            : 0;
          const allowed = x.cost <= limit && count + x.cost <= limit;
          expect(x.r.decision.allowed).toBe(allowed);
          if (allowed && x.cost > 0) {
            if (!live || count === 0) start = x.t;
            history.push({ t: x.t, cost: x.cost });
          }
        }
      }),
      RUNS,
    );
  });

  it("sliding-window admits exactly what the weighted estimate over the history allows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), windowMs, events(9, 1500), (limit, w, evs) => {
        const p = policyOf("sliding-window", limit, w);
        const history: { t: number; cost: number }[] = [];
        for (const x of drive(p, evs)) {
          const index = Math.floor(x.t / w);
          const sumIn = (i: number) =>
            history.filter((h) => Math.floor(h.t / w) === i).reduce((s, h) => s + h.cost, 0);
          const estimate = (sumIn(index - 1) * (w - (x.t - index * w))) / w + sumIn(index);
          const allowed = x.cost <= limit && estimate + x.cost <= limit;
          expect(x.r.decision.allowed).toBe(allowed);
          if (allowed && x.cost > 0) history.push({ t: x.t, cost: x.cost });
          // Never above L within an aligned window; never above 2L in any span of W.
          expect(sumIn(index)).toBeLessThanOrEqual(limit);
        }
      }),
      RUNS,
    );
  });

  for (const algorithm of ["token-bucket", "gcra", "leaky-bucket"] as const) {
    it(`${algorithm} never passes more than B + elapsed·L/W between any two admissions`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 12 }),
          windowMs,
          events(13, 1500),
          (limit, burst, w, evs) => {
            const p = policyOf(algorithm, limit, w, burst);
            const admitted = drive(p, evs).filter((x) => x.r.decision.allowed && x.cost > 0);
            for (let i = 0; i < admitted.length; i++) {
              let sum = 0;
              for (let j = i; j < admitted.length; j++) {
                sum += admitted[j]!.cost;
                // Exact integers: sum·W ≤ B·W + elapsed·L.
                expect(sum * w).toBeLessThanOrEqual(
                  burst * w + (admitted[j]!.t - admitted[i]!.t) * limit,
                );
              }
            }
          },
        ),
        RUNS,
      );
    });
  }

  it("token-bucket, gcra and leaky-bucket (reject mode) decide identically, field for field", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 30 }),
        windowMs,
        events(31, 3000),
        (limit, burst, w, evs) => {
          const [tb, gc, lb] = (["token-bucket", "gcra", "leaky-bucket"] as const).map((a) =>
            drive(policyOf(a, limit, w, burst), evs).map((x) => {
              const { policy: _p, ...d } = x.r.decision;
              return d;
            }),
          );
          expect(gc).toEqual(tb);
          expect(lb).toEqual(tb);
        },
      ),
      RUNS,
    );
  });

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: retryAfterMs is exact and remaining stays within [0, capacity]`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 10 }),
          windowMs,
          events(11, 2000),
          (limit, burst, w, evs) => {
            const p = policyOf(algorithm, limit, w, burst);
            for (const x of drive(p, evs)) {
              const d = x.r.decision;
              expect(d.remaining).toBeGreaterThanOrEqual(0);
              expect(d.remaining).toBeLessThanOrEqual(p.burst);
              expect(Number.isInteger(d.remaining)).toBe(true);
              if (d.allowed || d.retryAfterMs === Number.POSITIVE_INFINITY) continue;
              const at = (t: number) =>
                pureStep(algorithms[algorithm] as never, x.before, t, x.cost, p).decision.allowed;
              expect(at(x.t + d.retryAfterMs)).toBe(true);
              if (d.retryAfterMs > 1) expect(at(x.t + d.retryAfterMs - 1)).toBe(false);
            }
          },
        ),
        RUNS,
      );
    });
  }

  it("refund never lifts a key above capacity", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ALGORITHMS),
        fc.array(
          fc.record({
            op: fc.constantFrom("consume", "refund"),
            n: fc.integer({ min: 0, max: 12 }),
            dt: fc.integer({ min: 0, max: 700 }),
          }),
          { maxLength: 40 },
        ),
        async (algorithm, ops) => {
          const clock = manualClock();
          const limiter = createLimiter({
            policies: { limit: 5, window: "1s", algorithm },
            clock: clock.now,
          });
          for (const o of ops) {
            clock.advance(o.dt);
            if (o.op === "consume") await limiter.consume("k", { cost: o.n });
            else await limiter.refund("k", o.n);
            const d = await limiter.peek("k");
            expect(d.remaining).toBeLessThanOrEqual(5);
            expect(d.remaining).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("a rejected composite charges no policy", async () => {
    const algo = fc.constantFrom(...ALGORITHMS);
    await fc.assert(
      fc.asyncProperty(algo, algo, events(4, 900), async (a1, a2, evs) => {
        const policies = [
          { limit: 3, window: "1s", algorithm: a1 },
          { limit: 5, window: "3s", algorithm: a2 },
        ];
        const clockA = manualClock();
        const clockB = manualClock();
        const seen = createLimiter({ policies, clock: clockA.now });
        const clean = createLimiter({ policies, clock: clockB.now });
        for (const e of evs) {
          clockA.advance(e.dt);
          clockB.advance(e.dt);
          const d = await seen.consume("k", { cost: e.cost });
          if (!d.allowed) continue;
          // The same request against a limiter that never saw the rejected ones.
          const twin = await clean.consume("k", { cost: e.cost });
          expect(twin.allowed).toBe(true);
          expect(twin.policies.map((x) => x.remaining)).toEqual(d.policies.map((x) => x.remaining));
        }
        const [x, y] = [await seen.peek("k"), await clean.peek("k")];
        expect(x.policies.map((q) => q.remaining)).toEqual(y.policies.map((q) => q.remaining));
      }),
      { numRuns: 200 },
    );
  });
  const ROW_ALGORITHMS = ALGORITHMS.filter((a) => a !== "sliding-log");
  for (const algorithm of ROW_ALGORITHMS) {
    it(`${algorithm}: take decides and charges exactly as evaluate then commit`, () => {
      const mode = fc.constantFrom<"reject" | "delay">("reject", "delay");
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          windowMs,
          mode,
          events(9, 1500),
          (limit, w, m, evs) => {
            const delay = algorithm === "leaky-bucket" && m === "delay";
            const [p] = parsePolicies({
              limit,
              window: w,
              algorithm,
              ...(delay ? { mode: "delay", maxDelay: w } : {}),
            });
            const alg = algorithms[algorithm] as RowAlgorithm;
            const fused = new Float64Array(alg.width);
            const split = new Float64Array(alg.width);
            const a = emptyVerdict();
            const b = emptyVerdict();
            let t = 5_000_000;
            for (const e of evs) {
              t += e.dt;
              if (e.cost > p!.burst) continue; // take's precondition: judge answers these
              alg.take(fused, 0, t, e.cost, p!, a);
              alg.evaluate(split, 0, t, e.cost, p!, b);
              if (b.allowed && e.cost > 0) alg.commit(split, 0, t, e.cost, p!);
              expect(a).toEqual(b);
              expect(Array.from(fused)).toEqual(Array.from(split));
            }
          },
        ),
        RUNS,
      );
    });
  }
});
