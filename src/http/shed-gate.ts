import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import { finish, respond } from "./outcomes.js";
import { shedProblem } from "./problem.js";
import { type HttpRequest, isThenable, type MaybePromise } from "./request.js";
import type { LoadShedder, Priority } from "./shedder.js";

/**
 * The load shedder's place in the request path: after the rule is matched (its priority) and
 * before the lists, the identity and any store call, so that under overload a refusal costs a
 * counter comparison and no round trip. An admitted request counts until its `after` (the
 * response ended or the client left), or until the limiter answers it itself.
 */
export function throughShedder<Raw>(
  shed: LoadShedder,
  priority: Priority,
  req: HttpRequest<Raw>,
  rule: string | undefined,
  onShed: HttpLimiterOptions<Raw>["onShed"],
  next: () => MaybePromise<HttpOutcome>,
): MaybePromise<HttpOutcome> {
  if (!shed.tryEnter(priority)) return shedded(shed, priority, req, rule, onShed);
  let out: MaybePromise<HttpOutcome>;
  try {
    out = next();
  } catch (error) {
    shed.leave();
    throw error;
  }
  if (!isThenable<HttpOutcome>(out)) return entered(out, shed);
  return Promise.resolve(out).then(
    (o) => entered(o, shed),
    (error: unknown) => {
      shed.leave();
      throw error;
    },
  );
}

/** The 503 for a shed request: the default problem, or `onShed`'s response. */
function shedded<Raw>(
  shed: LoadShedder,
  priority: Priority,
  req: HttpRequest<Raw>,
  rule: string | undefined,
  onShed: HttpLimiterOptions<Raw>["onShed"],
): MaybePromise<HttpOutcome> {
  const r = shedProblem(shed.retryAfter);
  if (onShed === undefined) return respond(r, "shed", undefined, undefined);
  const headers = { "Retry-After": String(shed.retryAfter), "Cache-Control": "no-store" };
  const custom = onShed({
    req,
    priority,
    rule,
    inFlight: shed.inFlight,
    retryAfter: shed.retryAfter,
    headers: { ...headers },
  });
  return finish(custom, 503, headers, "shed", undefined, undefined);
}

/**
 * An outcome of a request the shedder admitted: a response the limiter writes itself leaves the
 * count now; one the app answers leaves it in `after`, called exactly once.
 */
export function entered(o: HttpOutcome, shed: LoadShedder): HttpOutcome {
  if (o.action === "respond") {
    shed.leave();
    return o;
  }
  const inner = o.after;
  let done = false;
  return {
    action: "continue",
    reason: o.reason,
    headers: o.headers,
    decision: o.decision,
    key: o.key,
    after: (status) => {
      if (done) return;
      done = true;
      shed.leave();
      inner?.(status);
    },
    holds: true,
  };
}
