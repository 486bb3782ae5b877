import type { Policy } from "../policy.js";
import { drained, judgeDebt, setDebt } from "./bucket-math.js";
import { pureStep } from "./step.js";
import { tokenBucket } from "./token-bucket.js";
import type { RowAlgorithm, Verdict } from "./types.js";

/**
 * Leaky bucket: a bucket of capacity B draining at r = L/W; a request of cost c pours c in
 * and passes when level + c ≤ B. State [level, last], level scaled like the token bucket's
 * debt (level × W), so in "reject" mode it admits exactly as token-bucket does; it differs in
 * what it means (a meter of queued work) and in "delay" mode.
 *
 * "delay" mode (nginx's limit_req without nodelay): a request that fits is admitted with
 * delayMs = the time for the work queued ahead of it to drain, and rejected when that delay
 * would exceed maxDelay. Callers wait delayMs before acting, which smooths bursts to rate r.
 */
export const leakyBucket: RowAlgorithm = {
  name: "leaky-bucket",
  width: 2,
  evaluate(s, at, now, cost, p, out) {
    judgeLevel(drained(s[at]!, s[at + 1]!, now, p), cost, p, out);
  },
  take(s, at, now, cost, p, out) {
    const level = drained(s[at]!, s[at + 1]!, now, p);
    judgeLevel(level, cost, p, out);
    if (out.allowed && cost > 0) setDebt(s, at, now, level + cost * p.windowMs);
  },
  // Charging, refunding and resting are the token bucket's: same scaled level, same drain.
  commit: tokenBucket.commit,
  refund: tokenBucket.refund,
  restAt: tokenBucket.restAt,
};

/** The bucket's verdict at `level`, with "delay" mode's bound on the wait. */
function judgeLevel(level: number, cost: number, p: Policy, out: Verdict): void {
  judgeDebt(level, cost, p, out);
  if (p.mode !== "delay") return;
  const delay = Math.ceil(level / p.limit);
  if (out.allowed && delay > p.maxDelayMs) {
    out.allowed = false;
    out.remaining = Math.floor((p.burst * p.windowMs - level) / p.windowMs);
    out.resetMs = Math.ceil(level / p.limit);
    out.retryAfterMs = delay - p.maxDelayMs;
  } else if (out.allowed) {
    out.delayMs = delay;
  } else {
    out.retryAfterMs = Math.max(out.retryAfterMs, delay - p.maxDelayMs);
  }
}

export function step(state: readonly number[] | undefined, now: number, cost: number, p: Policy) {
  return pureStep(leakyBucket, state, now, cost, p);
}
