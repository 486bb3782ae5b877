import { SetMetadata } from "@nestjs/common";
import { type PolicyInput, ProblemList } from "../../index.js";
import {
  isNamedPolicies,
  listPolicies,
  type NamedPolicies,
  type NamedPolicy,
  namePolicies,
} from "./named-policies.js";
import { THROTTLE_METADATA } from "./tokens.js";

/** What @Throttle() records: named overrides, or a whole replacement set. */
export type ThrottleMetadata = {
  /** true: these policies replace every throttler; false: they override throttlers by name. */
  readonly replace: boolean;
  readonly policies: readonly NamedPolicy[];
};

/**
 * Sets the limits of a controller (class) or a handler (method); a method's limits override
 * its class's, which override the module's.
 *
 * - `@Throttle({ short: "3/s" })` overrides the throttler named `short` and keeps the others
 *   (a name the module does not declare adds a throttler for this route).
 * - `@Throttle("5/min")` or `@Throttle(["5/min", "100/day"])` replaces every throttler.
 *
 * Invalid policies throw a ConfigError when the class is defined, not at the first request.
 *
 * @example
 * Throttle({ default: { limit: 5, window: "1m" } })  // or, with decorator syntax:
 * // @Throttle({ default: "5/min" }) @Get("login") login() {}
 */
export function Throttle(
  policies: NamedPolicies | PolicyInput | readonly PolicyInput[],
): ClassDecorator & MethodDecorator {
  const problems = new ProblemList();
  let metadata: ThrottleMetadata;
  if (typeof policies !== "string" && !Array.isArray(policies) && isNamedPolicies(policies)) {
    metadata = { replace: false, policies: namePolicies(policies, "Throttle()", problems) };
  } else {
    metadata = {
      replace: true,
      policies: listPolicies(
        policies as PolicyInput | readonly PolicyInput[],
        "Throttle()",
        problems,
      ),
    };
  }
  problems.throwIfAny();
  return SetMetadata(THROTTLE_METADATA, metadata);
}
