import type { Decision } from "../core/decision.js";
import type { HeaderMap } from "./headers.js";
import type { IdentityError } from "./identity-error.js";

/** draft-ietf-httpapi-ratelimit-headers-10 §5.1 registers this problem type for 429s. */
export const QUOTA_EXCEEDED_TYPE = "https://iana.org/assignments/http-problem-types#quota-exceeded";

/**
 * draft-ietf-httpapi-ratelimit-headers-10 §5.2 registers this problem type for a 503: the
 * server's capacity is temporarily reduced. throttlekit answers with it when a store outage
 * refuses a request (`reason: "degraded"`): the client exceeded nothing.
 */
export const TEMPORARY_REDUCED_CAPACITY_TYPE =
  "https://iana.org/assignments/http-problem-types#temporary-reduced-capacity";

/**
 * draft-ietf-httpapi-ratelimit-headers-10 §5.3 registers this problem type for a 429 answered
 * because the server detected an abnormal request pattern: throttlekit answers clients that
 * `protect` put on the deny list with it.
 */
export const ABNORMAL_USAGE_DETECTED_TYPE =
  "https://iana.org/assignments/http-problem-types#abnormal-usage-detected";

/** RFC 9457 §3: an HTTP problem details object (JSON members, extensions included). */
export type ProblemDetails = {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly [extension: string]: unknown;
};

/** A finished response, ready for an adapter to write. */
export type PlainResponse = {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: string | undefined;
};

/** RFC 9457 §3: problem bodies go out as application/problem+json. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/**
 * The default response for a rejected decision: `degradedProblem` (503) when a store outage
 * refused it (`reason: "degraded"`), `limitedProblem` (429) otherwise. `headers` carries the
 * rate-limit fields and Retry-After; the result adds Content-Type and `Cache-Control: no-store`.
 *
 * @example
 * const retryAfter = retryAfterSeconds(decision);
 * const headers = { ...render(decision), ...(retryAfter === undefined ? {} : { "Retry-After": String(retryAfter) }) };
 * const { status, body } = rejectedProblem(decision, retryAfter, headers);
 */
export function rejectedProblem(
  decision: Decision,
  retryAfter: number | undefined,
  headers: HeaderMap,
): PlainResponse {
  return decision.reason === "degraded"
    ? degradedProblem(decision, retryAfter, headers)
    : limitedProblem(decision, retryAfter, headers);
}

/** The status `rejectedProblem` answers a rejected decision with: 503 when degraded, else 429. */
export function rejectedStatus(decision: Decision): 429 | 503 {
  return decision.reason === "degraded" ? 503 : 429;
}

/**
 * The default 503 for a request refused because the store is out (`onStoreError: "fail-closed"`,
 * or the local limiter of "fallback"): the draft's temporary-reduced-capacity problem (§5.2)
 * with `violated-policies` and `retryAfter` in seconds, plus `Cache-Control: no-store`.
 */
export function degradedProblem(
  decision: Decision,
  retryAfter: number | undefined,
  headers: HeaderMap,
): PlainResponse {
  const problem: ProblemDetails = {
    type: TEMPORARY_REDUCED_CAPACITY_TYPE,
    title: "Request cannot be satisfied due to temporary server capacity constraints",
    status: 503,
    detail:
      retryAfter === undefined
        ? "Capacity is reduced while the rate-limit store is unavailable."
        : `Capacity is reduced while the rate-limit store is unavailable; retry in ${retryAfter} s.`,
    "violated-policies": violatedPolicies(decision),
    ...(retryAfter === undefined ? {} : { retryAfter }),
  };
  return {
    status: 503,
    headers: { ...headers, "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store" },
    body: JSON.stringify(problem),
  };
}

/**
 * The default 503 for a request the load shedder refused (the `shed` option): this process has
 * too many requests in flight. The draft's temporary-reduced-capacity problem (§5.2), with
 * `retryAfter` in seconds, Retry-After and `Cache-Control: no-store`. No quota was exceeded, so
 * no policy is named.
 */
export function shedProblem(retryAfter: number): PlainResponse {
  const problem: ProblemDetails = {
    type: TEMPORARY_REDUCED_CAPACITY_TYPE,
    title: "Request cannot be satisfied due to temporary server capacity constraints",
    status: 503,
    detail: `The server is overloaded; retry in ${retryAfter} s.`,
    retryAfter,
  };
  return {
    status: 503,
    headers: {
      "Retry-After": String(retryAfter),
      "Content-Type": PROBLEM_CONTENT_TYPE,
      "Cache-Control": "no-store",
    },
    body: JSON.stringify(problem),
  };
}

function violatedPolicies(decision: Decision): string[] {
  const violated: string[] = [];
  for (const pd of decision.policies) if (!pd.allowed) violated.push(pd.policy.name);
  return violated;
}

/**
 * The default 429: the draft's quota-exceeded problem with `violated-policies` (§5.1) and
 * `retryAfter` in seconds, plus `Cache-Control: no-store` (a shared cache must never replay
 * one client's 429 to another).
 */
export function limitedProblem(
  decision: Decision,
  retryAfter: number | undefined,
  headers: HeaderMap,
): PlainResponse {
  const detail =
    retryAfter === undefined
      ? "This request costs more than the rate limit allows; it cannot succeed as sent."
      : decision.reason === "blocked"
        ? `Too many requests: blocked; retry in ${retryAfter} s.`
        : `Too many requests; retry in ${retryAfter} s.`;
  const problem: ProblemDetails = {
    type: QUOTA_EXCEEDED_TYPE,
    title: "Request cannot be satisfied as assigned quota has been exceeded",
    status: 429,
    detail,
    "violated-policies": violatedPolicies(decision),
    ...(retryAfter === undefined ? {} : { retryAfter }),
  };
  return {
    status: 429,
    headers: { ...headers, "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store" },
    body: JSON.stringify(problem),
  };
}

/** The default 403 for a denied client. RFC 9457 §4.2.1: "about:blank" means the status says it all. */
export function deniedProblem(): PlainResponse {
  return {
    status: 403,
    headers: { "Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store" },
    body: JSON.stringify({
      type: "about:blank",
      title: "Forbidden",
      status: 403,
      detail: "This client is denied.",
    }),
  };
}

/**
 * The default 429 for a client the abuse detector (`protect`) blocked: the draft's
 * abnormal-usage-detected problem (§5.3) with `retryAfter` in seconds until the block ends,
 * Retry-After and `Cache-Control: no-store`. The detail names no signal: telling a scanner which
 * one fired tells it what to change.
 */
export function abnormalUsageProblem(retryAfter: number | undefined): PlainResponse {
  const problem: ProblemDetails = {
    type: ABNORMAL_USAGE_DETECTED_TYPE,
    title: "Request not satisfied due to detection of abnormal request pattern",
    status: 429,
    detail:
      retryAfter === undefined
        ? "This client's requests look abusive; it is blocked."
        : `This client's requests look abusive; it is blocked for ${retryAfter} s.`,
    ...(retryAfter === undefined ? {} : { retryAfter }),
  };
  return {
    status: 429,
    headers: {
      ...(retryAfter === undefined ? {} : { "Retry-After": String(retryAfter) }),
      "Content-Type": PROBLEM_CONTENT_TYPE,
      "Cache-Control": "no-store",
    },
    body: JSON.stringify(problem),
  };
}

/**
 * The default 401 for an identity failure, with a WWW-Authenticate challenge when the identity
 * named one (RFC 9110 §15.5.2). The detail stays generic: why a token failed helps forgers.
 */
export function unauthorizedProblem(error: unknown): PlainResponse {
  const challenge = (error as Partial<IdentityError> | undefined)?.challenge;
  return {
    status: 401,
    headers: {
      "Content-Type": PROBLEM_CONTENT_TYPE,
      "Cache-Control": "no-store",
      ...(typeof challenge === "string" ? { "WWW-Authenticate": challenge } : {}),
    },
    body: JSON.stringify({
      type: "about:blank",
      title: "Unauthorized",
      status: 401,
      detail: "The request lacks valid credentials.",
    }),
  };
}
