import type { Policy } from "../policy.js";
import { type Algorithm, emptyVerdict, type Verdict } from "./types.js";

/**
 * Evaluates one policy, including the rule every algorithm shares: a cost above the policy's
 * capacity can never pass, so it is answered with retryAfterMs = Infinity and charges nothing.
 */
export function judge<S extends ArrayLike<number>>(
  alg: Algorithm<S>,
  s: S,
  at: number,
  now: number,
  cost: number,
  p: Policy,
  out: Verdict,
): void {
  if (cost > p.burst) {
    alg.evaluate(s, at, now, 0, p, out);
    out.allowed = false;
    out.retryAfterMs = Number.POSITIVE_INFINITY;
    out.delayMs = 0;
    return;
  }
  alg.evaluate(s, at, now, cost, p, out);
}

/** The result of one pure step: the next state, this policy's decision, and how long to keep it. */
export type StepResult = {
  readonly state: number[];
  readonly decision: Readonly<Verdict> & { readonly limit: number; readonly policy: Policy };
  /** How long the state matters; after it the key is back to fresh and may be dropped. */
  readonly ttlMs: number;
};

/**
 * The pure form of an algorithm: (state, now, cost, policy) → { state, decision, ttlMs }.
 * `state` undefined (or all zeros) is a fresh key. Stores run the in-place kernel this wraps;
 * tests and docs use this form.
 */
export function pureStep(
  alg: Algorithm<Float64Array> | Algorithm<number[]>,
  state: readonly number[] | undefined,
  now: number,
  cost: number,
  p: Policy,
): StepResult {
  const out = emptyVerdict();
  let next: number[];
  if (alg.width === 0) {
    const log = state === undefined ? [] : [...state];
    const a = alg as Algorithm<number[]>;
    judge(a, log, 0, now, cost, p, out);
    if (out.allowed && cost > 0) a.commit(log, 0, now, cost, p);
    next = log;
    return finish(a.restAt(log, 0, p));
  }
  const row = new Float64Array(alg.width);
  if (state !== undefined) row.set(state.slice(0, alg.width));
  const a = alg as Algorithm<Float64Array>;
  judge(a, row, 0, now, cost, p, out);
  if (out.allowed && cost > 0) a.commit(row, 0, now, cost, p);
  next = Array.from(row);
  return finish(a.restAt(row, 0, p));

  function finish(restAt: number): StepResult {
    return {
      state: next,
      decision: { ...out, limit: p.limit, policy: p },
      ttlMs: Math.max(0, restAt - now),
    };
  }
}
