import type { Policy } from "../policy.js";
import { drained, judgeDebt, setDebt } from "./bucket-math.js";
import { pureStep } from "./step.js";
import type { RowAlgorithm } from "./types.js";

/**
 * Token bucket: B tokens, refilled at r = L/W, a request takes c tokens when it has them;
 * remaining = floor(tokens). State [debt, last] with debt = (B − tokens) × W (see
 * bucket-math.ts for why the scaled form); zeros are a full bucket.
 */
export const tokenBucket: RowAlgorithm = {
  name: "token-bucket",
  width: 2,
  evaluate(s, at, now, cost, p, out) {
    judgeDebt(drained(s[at]!, s[at + 1]!, now, p), cost, p, out);
  },
  take(s, at, now, cost, p, out) {
    const debt = drained(s[at]!, s[at + 1]!, now, p);
    judgeDebt(debt, cost, p, out);
    if (out.allowed && cost > 0) setDebt(s, at, now, debt + cost * p.windowMs);
  },
  commit(s, at, now, cost, p) {
    setDebt(s, at, now, drained(s[at]!, s[at + 1]!, now, p) + cost * p.windowMs);
  },
  refund(s, at, now, amount, p) {
    setDebt(s, at, now, Math.max(0, drained(s[at]!, s[at + 1]!, now, p) - amount * p.windowMs));
  },
  restAt(s, at, p) {
    return s[at]! > 0 ? s[at + 1]! + Math.ceil(s[at]! / p.limit) : 0;
  },
};

export function step(state: readonly number[] | undefined, now: number, cost: number, p: Policy) {
  return pureStep(tokenBucket, state, now, cost, p);
}
