import type { EventHub } from "../core/events.js";
import { ABUSE_REASON_PREFIX } from "../protect/types.js";
import type { ListHit } from "./lists.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import { finish, NO_STORE, respond } from "./outcomes.js";
import { abnormalUsageProblem, deniedProblem } from "./problem.js";
import type { HttpRequest, MaybePromise } from "./request.js";

/**
 * The answer to a request on the deny list, and its `denied` event. An automatic block of the
 * abuse detector (`protect`; reason "abuse: ...") is a 429 abnormal-usage-detected with
 * Retry-After until the entry expires (draft-ietf-httpapi-ratelimit-headers-10 §5.3); any other
 * entry an operator's 403.
 */
export function deniedOutcome<Raw>(
  req: HttpRequest<Raw>,
  rule: string,
  key: string | undefined,
  address: () => string | undefined,
  hit: ListHit,
  now: number,
  events: EventHub,
  onDenied: HttpLimiterOptions<Raw>["onDenied"],
): MaybePromise<HttpOutcome> {
  const reason = hit.reason;
  if (events.wants("denied"))
    events.emit("denied", { type: "denied", time: now, rule, key, address: address(), reason });
  const abuse = reason?.startsWith(ABUSE_REASON_PREFIX) === true;
  const retryAfter =
    hit.expiresAt === Number.POSITIVE_INFINITY
      ? undefined
      : Math.max(1, Math.ceil((hit.expiresAt - now) / 1000));
  if (onDenied === undefined)
    return respond(
      abuse ? abnormalUsageProblem(retryAfter) : deniedProblem(),
      "denied",
      undefined,
      key,
    );
  const status = abuse ? 429 : 403;
  const base =
    abuse && retryAfter !== undefined
      ? { "Retry-After": String(retryAfter), ...NO_STORE }
      : NO_STORE;
  const custom = onDenied({ req, key, reason, status, retryAfter });
  return finish(custom, status, base, "denied", undefined, key);
}
