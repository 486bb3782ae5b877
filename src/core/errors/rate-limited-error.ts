import type { Decision } from "../decision.js";
import { ThrottlekitError } from "./throttlekit-error.js";

/**
 * A wrapped function, decorated method, `waitFor` or scheduled job was refused by its limiter.
 * The HTTP layer and `consume` never throw it (a refusal there is a Decision); it exists where a
 * function call has no other way to say "not now". `decision` says why and for how long:
 * `decision.reason` ("limited", "blocked", "cost-exceeds-limit", "degraded") and
 * `decision.retryAfterMs`.
 */
export class RateLimitedError extends ThrottlekitError {
  readonly decision: Decision;

  constructor(decision: Decision, message?: string) {
    super(
      "ERR_TK_RATE_LIMITED",
      message ??
        (Number.isFinite(decision.retryAfterMs)
          ? `rate limited (${decision.reason}): retry after ${Math.ceil(decision.retryAfterMs)} ms`
          : `rate limited (${decision.reason}): this call can never pass as sent`),
    );
    this.name = "RateLimitedError";
    this.decision = decision;
  }
}
