import { SetMetadata } from "@nestjs/common";
import { type PolicyInput, ProblemList } from "../../index.js";
import {
  isNamedPolicies,
  listPolicies,
  type NamedOverride,
  type NamedPolicy,
  throttleOverrides,
} from "./named-policies.js";
import type { ThrottlerOverride } from "./throttler-compat.js";
import { THROTTLE_METADATA } from "./tokens.js";

/** What @Throttle() records: named overrides, or a whole replacement set. */
export type ThrottleMetadata = {
  /** true: these policies replace every throttler; false: they override throttlers by name. */
  readonly replace: boolean;
  readonly policies: readonly NamedPolicy[];
  /**
   * Overrides in @nestjs/throttler's shape, applied field by field to the throttler of their
   * name (after `policies`); empty when `replace`.
   */
  readonly overrides: readonly NamedOverride[];
};

/** @Throttle()'s named form: throttlekit policies, or @nestjs/throttler's fields, by name. */
export type ThrottleOverrides = Readonly<Record<string, PolicyInput | ThrottlerOverride>>;

/**
 * Sets the limits of a controller (class) or a handler (method); a method's limits override
 * its class's, which override the module's.
 *
 * - `@Throttle({ short: "3/s" })` overrides the throttler named `short` and keeps the others
 *   (a name the module does not declare adds a throttler for this route).
 * - `@Throttle({ default: { limit: 5 } })`, @nestjs/throttler's shape, whole or partial:
 *   the fields given replace those of the throttler `default`, the others are kept (its ttl
 *   here), as @nestjs/throttler falls back per field. A partial override of a name no
 *   throttler has is ignored, as by @nestjs/throttler; a whole one (limit and ttl) adds it.
 * - `@Throttle("5/min")` or `@Throttle(["5/min", "100/day"])` replaces every throttler.
 *
 * Invalid policies throw a ConfigError when the class is defined, not at the first request.
 *
 * @example
 * Throttle({ default: { limit: 5, window: "1m" } })  // or, with decorator syntax:
 * // @Throttle({ default: "5/min" }) @Get("login") login() {}
 * // @Throttle({ default: { limit: 5 } }) @Get("search") search() {}  // the module's ttl
 */
export function Throttle(
  policies: ThrottleOverrides | PolicyInput | readonly PolicyInput[],
): ClassDecorator & MethodDecorator {
  const problems = new ProblemList();
  let metadata: ThrottleMetadata;
  if (typeof policies !== "string" && !Array.isArray(policies) && isNamedPolicies(policies)) {
    metadata = {
      replace: false,
      ...throttleOverrides(policies as Record<string, unknown>, "Throttle()", problems),
    };
  } else {
    metadata = {
      replace: true,
      policies: listPolicies(
        policies as PolicyInput | readonly PolicyInput[],
        "Throttle()",
        problems,
      ),
      overrides: [],
    };
  }
  problems.throwIfAny();
  return SetMetadata(THROTTLE_METADATA, metadata);
}
