import { HttpException } from "@nestjs/common";
import type { PlainResponse, ProblemDetails } from "../../http/index.js";
import type { Decision } from "../../index.js";

/**
 * What the guard throws on HTTP routes when throttlekit/http answers a request instead of the
 * handler: a 429 with the RFC 9457 quota-exceeded problem (draft-ietf-httpapi-ratelimit-headers-10
 * §5.1); a 503 temporary-reduced-capacity when a store outage (`decision.reason === "degraded"`)
 * or the load shedder refused it (§5.2); a 403 for the deny list (429 abnormal-usage-detected for
 * a client `protect` blocked); a 401 when the identity failed; or what your `onLimited`,
 * `onDenied`, `onIdentityError` or `onShed` returned. Retry-After and the rate-limit headers are
 * already on the response when Nest's exception filter sends it. Catch it in your own filter to
 * answer differently.
 */
export class ThrottlekitException extends HttpException {
  /** The decision behind the answer; undefined when no rule decided (deny list, identity, shed). */
  readonly decision: Decision | undefined;
  /** Seconds to wait; undefined when there is nothing to wait for (or the request can never pass). */
  readonly retryAfter: number | undefined;
  /**
   * The answer as throttlekit/http produced it: status, headers (Content-Type included) and body.
   * ThrottlekitExceptionFilter sends it as is.
   */
  readonly answer: PlainResponse;

  constructor(
    answer: PlainResponse,
    decision: Decision | undefined,
    retryAfter: number | undefined,
  ) {
    super(bodyOf(answer), answer.status);
    this.name = "ThrottlekitException";
    this.answer = answer;
    this.decision = decision;
    this.retryAfter = retryAfter;
  }
}

/**
 * The body as Nest's default filter sends it: a JSON body (the problem) as its object, so the
 * client gets the same fields; any other body as its text.
 */
function bodyOf(answer: PlainResponse): ProblemDetails | Record<string, unknown> | string {
  const body = answer.body ?? "";
  const type = answer.headers["Content-Type"] ?? "";
  if (/json/i.test(type)) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed === "object" && parsed !== null) return parsed as Record<string, unknown>;
    } catch {
      // Not JSON after all: sent as text.
    }
  }
  return body;
}
