import type { Decision } from "../core/decision.js";
import type { Logger } from "../core/logger.js";
import type { AbuseDetector } from "../protect/types.js";
import type { HeaderMap } from "./headers.js";
import type { ContinueOutcome, HttpLimiterOptions, HttpOutcome } from "./options.js";
import { finish, respond } from "./outcomes.js";
import { rejectedProblem, rejectedStatus } from "./problem.js";
import { analyze, analyzedAfter } from "./protect.js";
import type { HttpRequest, MaybePromise } from "./request.js";

/**
 * A request a rule refused (enforce mode): the default problem response, or `onLimited`'s. The
 * abuse detector hears of it at once, with the status the limiter answers (429 is the
 * limiter's own, not an error signal of the client's).
 */
export function refusedOutcome<Raw>(
  req: HttpRequest<Raw>,
  rule: string,
  key: string,
  group: string | undefined,
  d: Decision,
  retryAfter: number | undefined,
  headers: HeaderMap,
  onLimited: HttpLimiterOptions<Raw>["onLimited"],
  protect: AbuseDetector | undefined,
  logger: Logger,
): MaybePromise<HttpOutcome> {
  // A store outage's refusal is a 503 temporary-reduced-capacity, never a quota 429 (issue 13,
  // item 4): the client exceeded nothing.
  const status = rejectedStatus(d);
  if (protect !== undefined)
    analyze(protect, key, req.path, req.header("user-agent"), status, logger);
  if (onLimited === undefined)
    return respond(rejectedProblem(d, retryAfter, headers), d.reason, d, key);
  const custom = onLimited({
    req,
    decision: d,
    reason: d.reason,
    status,
    key,
    group,
    rule,
    retryAfter,
    headers,
  });
  return finish(custom, status, { ...headers, "Cache-Control": "no-store" }, d.reason, d, key);
}

/**
 * A refusal of a rule in shadow mode, whatever its reason (a limit, a block, a concurrency
 * refusal, a store outage failing closed): the request goes on as if no rule were there, with
 * no headers and no slot. The abuse detector still hears of it when the response ends.
 */
export function shadowOutcome<Raw>(
  req: HttpRequest<Raw>,
  key: string,
  d: Decision,
  protect: AbuseDetector | undefined,
  logger: Logger,
): ContinueOutcome {
  return {
    action: "continue",
    reason: d.reason,
    headers: undefined,
    decision: d,
    key,
    after: protect === undefined ? undefined : analyzedAfter(protect, req, key, undefined, logger),
    holds: false,
  };
}
