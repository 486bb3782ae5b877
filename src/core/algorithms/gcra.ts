import type { Policy } from "../policy.js";
import { judgeDebt } from "./bucket-math.js";
import { pureStep } from "./step.js";
import type { RowAlgorithm } from "./types.js";

/**
 * GCRA: one theoretical arrival time (TAT) per key. With T = W/L, a request of cost c passes
 * when max(TAT, now) + c·T − now ≤ B·T, and then TAT becomes max(TAT, now) + c·T.
 *
 * T is rarely a whole number of ms, so TAT is kept exactly as [a, b] meaning a + b/L ms
 * (0 ≤ b < L). (TAT − now)·L is then the same integer debt the token bucket tracks, which is
 * why the two admit identically.
 */
export const gcra: RowAlgorithm = {
  name: "gcra",
  width: 2,
  evaluate(s, at, now, cost, p, out) {
    judgeDebt(debtAt(s, at, now, p), cost, p, out);
  },
  take(s, at, now, cost, p, out) {
    const debt = debtAt(s, at, now, p);
    judgeDebt(debt, cost, p, out);
    if (out.allowed && cost > 0) setTat(s, at, now, debt + cost * p.windowMs, p);
  },
  commit(s, at, now, cost, p) {
    setTat(s, at, now, debtAt(s, at, now, p) + cost * p.windowMs, p);
  },
  refund(s, at, now, amount, p) {
    setTat(s, at, now, Math.max(0, debtAt(s, at, now, p) - amount * p.windowMs), p);
  },
  restAt(s, at) {
    return s[at]! + (s[at + 1]! > 0 ? 1 : 0);
  },
};

/** (max(TAT, now) − now) × L: the debt in token-bucket units. */
function debtAt(s: Float64Array, at: number, now: number, p: Policy): number {
  const d = (s[at]! - now) * p.limit + s[at + 1]!;
  return Math.max(d, 0);
}

/** Stores TAT = now + debt/L as [whole ms, remainder in 1/L ms]. */
function setTat(s: Float64Array, at: number, now: number, debt: number, p: Policy): void {
  const whole = Math.floor(debt / p.limit);
  s[at] = now + whole;
  s[at + 1] = debt - whole * p.limit;
}

export function step(state: readonly number[] | undefined, now: number, cost: number, p: Policy) {
  return pureStep(gcra, state, now, cost, p);
}
