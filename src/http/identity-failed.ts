import type { Decision } from "../core/decision.js";
import { isThrottlekitError } from "../core/errors/throttlekit-error.js";
import type { Limiter } from "../core/limiter.js";
import type { AddressResolver } from "./client-address.js";
import { type HeaderMap, retryAfterSeconds } from "./headers.js";
import { addressKey } from "./ip-address.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import { finish, NO_STORE, respond } from "./outcomes.js";
import { limitedProblem, unauthorizedProblem } from "./problem.js";
import type { HttpRequest, MaybePromise } from "./request.js";

/** The `identityFailures` budget: failed identifications counted per client address. */
export type IdentityFailures = {
  readonly limiter: Limiter;
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
};

type OnIdentityError<Raw> = HttpLimiterOptions<Raw>["onIdentityError"];

/**
 * The answer to a request whose identity threw: a 401, or a 429 once the client's address has
 * spent its `identityFailures` budget. Configuration faults are rethrown.
 */
export function identityFailed<Raw>(
  error: unknown,
  req: HttpRequest<Raw>,
  failures: IdentityFailures | undefined,
  resolve: AddressResolver,
  onIdentityError: OnIdentityError<Raw>,
): MaybePromise<HttpOutcome> {
  // A configuration fault (jose not installed, a bad identity result) is the operator's to
  // see, not a client's 401.
  if (isThrottlekitError(error) && error.code === "ERR_TK_CONFIG") throw error;
  if (failures === undefined) return unauthorized(error, req, onIdentityError);
  const address = resolve(req);
  if (address === undefined) return unauthorized(error, req, onIdentityError);
  // Count the failure against the address (issue 13, item 11): token guessing spends a budget.
  // Counting never turns a 401 into a fault: a store error leaves the 401.
  const key = addressKey(address, failures.ipv4Prefix, failures.ipv6Prefix);
  try {
    if (failures.limiter.canConsumeSync)
      return failureCounted(error, req, failures.limiter.consumeSync(key), onIdentityError);
    return failures.limiter.consume(key).then(
      (d) => failureCounted(error, req, d, onIdentityError),
      () => unauthorized(error, req, onIdentityError),
    );
  } catch {
    return unauthorized(error, req, onIdentityError);
  }
}

/** Over the failure budget: 429 with Retry-After instead of the 401. */
function failureCounted<Raw>(
  error: unknown,
  req: HttpRequest<Raw>,
  d: Decision,
  onIdentityError: OnIdentityError<Raw>,
): MaybePromise<HttpOutcome> {
  // A degraded refusal (the store is out) says nothing about this client: keep the 401.
  if (d.allowed || d.reason === "degraded") return unauthorized(error, req, onIdentityError);
  const retryAfter = retryAfterSeconds(d);
  const headers: HeaderMap = {};
  if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
  return respond(limitedProblem(d, retryAfter, headers), d.reason, d, undefined);
}

function unauthorized<Raw>(
  error: unknown,
  req: HttpRequest<Raw>,
  handler: OnIdentityError<Raw>,
): MaybePromise<HttpOutcome> {
  if (handler === undefined)
    return respond(unauthorizedProblem(error), "identity-error", undefined, undefined);
  return finish(handler(error, req), 401, NO_STORE, "identity-error", undefined, undefined);
}
