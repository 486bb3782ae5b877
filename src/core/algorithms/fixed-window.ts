import type { Policy } from "../policy.js";
import { pureStep } from "./step.js";
import type { RowAlgorithm, Verdict } from "./types.js";

/**
 * Fixed window: state [count, start]. The window opens at the key's first admitted hit and
 * lasts W; allowed when count + cost ≤ L; resetMs = start + W − now.
 */
export const fixedWindow: RowAlgorithm = {
  name: "fixed-window",
  width: 2,
  evaluate(s, at, now, cost, p, out) {
    decide(s, at, now, cost, p, out, false);
  },
  take(s, at, now, cost, p, out) {
    decide(s, at, now, cost, p, out, true);
  },
  commit(s, at, now, cost, p) {
    if (s[at]! <= 0 || now >= s[at + 1]! + p.windowMs) {
      s[at] = 0;
      s[at + 1] = now;
    }
    s[at] = s[at]! + cost;
  },
  refund(s, at, now, amount, p) {
    if (s[at]! > 0 && now < s[at + 1]! + p.windowMs) s[at] = Math.max(0, s[at]! - amount);
  },
  restAt(s, at, p) {
    return s[at]! > 0 ? s[at + 1]! + p.windowMs : 0;
  },
};

/** evaluate, and with `charge` commit too when allowed: one reading of the row for both. */
function decide(
  s: Float64Array,
  at: number,
  now: number,
  cost: number,
  p: Policy,
  out: Verdict,
  charge: boolean,
): void {
  let count = s[at]!;
  let start = s[at + 1]!;
  if (count <= 0 || now >= start + p.windowMs) {
    count = 0;
    start = now;
  }
  const after = count + cost;
  out.delayMs = 0;
  if (after <= p.limit) {
    out.allowed = true;
    out.remaining = p.limit - after;
    out.resetMs = after > 0 ? start + p.windowMs - now : 0;
    out.retryAfterMs = 0;
    if (charge && cost > 0) {
      s[at] = after;
      s[at + 1] = start;
    }
  } else {
    out.allowed = false;
    out.remaining = p.limit - count;
    out.resetMs = count > 0 ? start + p.windowMs - now : 0;
    // c ≤ L is checked before any algorithm runs, so the next window always fits it.
    out.retryAfterMs = start + p.windowMs - now;
  }
}

/** Pure form: (state, now, cost, policy) → { state, decision, ttlMs }. */
export function step(state: readonly number[] | undefined, now: number, cost: number, p: Policy) {
  return pureStep(fixedWindow, state, now, cost, p);
}
