import type { Decision } from "../core/decision.js";
import { ConfigError } from "../core/errors/config-error.js";
import type { HeaderMap } from "./headers.js";
import type { ContinueOutcome, RespondOutcome } from "./options.js";
import type { PlainResponse } from "./problem.js";
import { type HttpResponse, isThenable, type MaybePromise } from "./request.js";

/** The outcomes the HTTP limiter's request path (engine.ts) returns, and how they are built. */

/** An outcome with nothing per request in it: one frozen object, shared. */
function fixed(reason: ContinueOutcome["reason"]): ContinueOutcome {
  return Object.freeze({
    action: "continue",
    reason,
    headers: undefined,
    decision: undefined,
    key: undefined,
    after: undefined,
    holds: false,
  });
}
export const SKIPPED = fixed("skipped");
export const UNMATCHED = fixed("unmatched");
export const EXEMPT = fixed("exempt");
export const NO_STORE: HeaderMap = Object.freeze({ "Cache-Control": "no-store" }) as HeaderMap;

/** An outcome the limiter answers itself (a refusal, a denial, an identity failure). */
export function respond(
  r: PlainResponse,
  reason: RespondOutcome["reason"],
  decision: Decision | undefined,
  key: string | undefined,
): RespondOutcome {
  return {
    action: "respond",
    status: r.status,
    headers: r.headers,
    body: r.body,
    reason,
    decision,
    key,
  };
}

/** Turns a user's response description into a finished response (sync when it is). */
export function finish(
  r: MaybePromise<HttpResponse>,
  status: number,
  base: HeaderMap,
  reason: RespondOutcome["reason"],
  decision: Decision | undefined,
  key: string | undefined,
): MaybePromise<RespondOutcome> {
  if (isThenable<HttpResponse>(r))
    return Promise.resolve(r).then((v) => finish(v, status, base, reason, decision, key));
  if (typeof r !== "object" || r === null) {
    throw new ConfigError([
      {
        option: "onLimited/onShed/onDenied/onIdentityError result",
        received: r,
        expected: "an object { status?, headers?, body? }",
      },
    ]);
  }
  const s = r.status ?? status;
  if (!Number.isSafeInteger(s) || s < 200 || s > 599) {
    throw new ConfigError([
      { option: "response status", received: r.status, expected: "an HTTP status from 200 to 599" },
    ]);
  }
  const headers: HeaderMap = { ...base, ...r.headers };
  let body = r.body;
  if (body !== undefined && typeof body !== "string") {
    body = JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
      headers["Content-Type"] = "application/json";
  }
  return respond({ status: s, headers, body: body as string | undefined }, reason, decision, key);
}
