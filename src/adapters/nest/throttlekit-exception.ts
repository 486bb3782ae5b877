import { HttpException } from "@nestjs/common";
import type { ProblemDetails } from "../../http/index.js";
import type { Decision } from "../../index.js";

/**
 * The 429 the guard throws on HTTP routes. Its response is the RFC 9457 quota-exceeded problem
 * (draft-ietf-httpapi-ratelimit-headers-10 §5.1), or, when a store outage refused the request
 * (`decision.reason === "degraded"`), a 503 with the temporary-reduced-capacity problem (§5.2).
 * Retry-After and the rate-limit headers are
 * already on the response when Nest's exception filter sends it. Catch it in your own filter
 * to answer differently.
 */
export class ThrottlekitException extends HttpException {
  /** The decision that rejected the request. */
  readonly decision: Decision;
  /** Seconds to wait; undefined when the request can never pass as sent (cost above capacity). */
  readonly retryAfter: number | undefined;

  constructor(problem: ProblemDetails, decision: Decision, retryAfter: number | undefined) {
    super(problem, problem.status);
    this.name = "ThrottlekitException";
    this.decision = decision;
    this.retryAfter = retryAfter;
  }
}
