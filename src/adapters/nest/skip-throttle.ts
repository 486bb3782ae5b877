import { SetMetadata } from "@nestjs/common";
import { ConfigError } from "../../index.js";
import { SKIP_THROTTLE_METADATA } from "./tokens.js";

/** What @SkipThrottle() records. */
export type SkipThrottleMetadata = boolean | Readonly<Record<string, boolean>>;

/**
 * Leaves a controller or a handler unlimited. On a method, `SkipThrottle(false)` limits it
 * again inside a skipped class. `SkipThrottle({ short: true })` drops only the named
 * throttlers (a method's entries override its class's); inside a skipped class, a method's
 * `SkipThrottle({ default: false })` limits it again by those throttlers (@nestjs/throttler's
 * form).
 *
 * @default skip true
 * @example
 * // @SkipThrottle() @Controller("health") class Health { @SkipThrottle(false) @Get("deep") deep() {} }
 */
export function SkipThrottle(skip: SkipThrottleMetadata = true): ClassDecorator & MethodDecorator {
  const valid =
    typeof skip === "boolean" ||
    (typeof skip === "object" &&
      skip !== null &&
      !Array.isArray(skip) &&
      Object.values(skip).every((v) => typeof v === "boolean"));
  if (!valid) {
    throw new ConfigError([
      {
        option: "SkipThrottle()",
        received: skip,
        expected: "true, false, or { <throttler name>: boolean }",
      },
    ]);
  }
  return SetMetadata(SKIP_THROTTLE_METADATA, skip);
}
