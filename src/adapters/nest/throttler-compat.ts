import type { ExecutionContext } from "@nestjs/common";
import type { MaybePromise } from "../../http/index.js";
import type { ProblemList } from "../../index.js";

/**
 * A value @nestjs/throttler lets be computed per request: the number itself, or a function of
 * the execution context (sync or async).
 */
export type Resolvable<T> = T | ((context: ExecutionContext) => MaybePromise<T>);

/**
 * One throttler in @nestjs/throttler's shape (v6): `{ name?, ttl, limit, blockDuration? }`,
 * times in milliseconds (`seconds(60)`). It counts in a fixed window that starts at a client's
 * first request, as @nestjs/throttler's storage does, except that a refused request is not
 * counted (throttlekit's rule: a rejected request consumes nothing).
 */
export type ThrottlerOptions = {
  /** @default "default" */
  name?: string;
  /** Window length in ms, or a function of the context. */
  ttl: Resolvable<number>;
  /** Requests per window, or a function of the context. */
  limit: Resolvable<number>;
  /** Once refused, the client stays refused this long (ms). @default until its window ends */
  blockDuration?: Resolvable<number>;
};

/** The per-request parts of a throttler given as functions (`limit: (ctx) => n`). */
export type DynamicThrottler = {
  readonly limit?: (context: ExecutionContext) => MaybePromise<number>;
  readonly ttl?: (context: ExecutionContext) => MaybePromise<number>;
  readonly blockDuration?: (context: ExecutionContext) => MaybePromise<number>;
};

/** `seconds(60)` = 60 000: @nestjs/throttler's helpers for `ttl` in milliseconds. */
export const seconds = (howMany: number): number => howMany * 1000;
/** `minutes(5)` = 300 000 ms. */
export const minutes = (howMany: number): number => howMany * 60_000;
/** `hours(1)` = 3 600 000 ms. */
export const hours = (howMany: number): number => howMany * 3_600_000;
/** `days(1)` = 86 400 000 ms. */
export const days = (howMany: number): number => howMany * 86_400_000;
/** `weeks(1)` = 604 800 000 ms. */
export const weeks = (howMany: number): number => howMany * 604_800_000;

/** True for `{ ttl, limit, ... }` (a @nestjs/throttler throttler) rather than a throttlekit policy. */
export function isThrottlerShape(value: unknown): value is ThrottlerOptions {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    "ttl" in value &&
    !("window" in value)
  );
}

const THROTTLER_KEYS = ["name", "ttl", "limit", "blockDuration"];
/** Per-throttler options @nestjs/throttler has that throttlekit takes once, on the module. */
const MODULE_LEVEL = ["skipIf", "ignoreUserAgents", "getTracker", "generateKey"];

/**
 * Converts one @nestjs/throttler throttler to a throttlekit fixed-window policy; function values
 * are kept in `dynamic` and the static placeholders are replaced per request.
 */
export function fromThrottler(
  input: ThrottlerOptions,
  where: string,
  problems: ProblemList,
): { limit: number; window: number; blockFor?: number; dynamic?: DynamicThrottler } | undefined {
  for (const key of Object.keys(input)) {
    if (MODULE_LEVEL.includes(key)) {
      problems.add(
        `${where}.${key}`,
        (input as Record<string, unknown>)[key],
        `${key} on the module options (throttlekit applies it to every throttler)`,
      );
    } else if (!THROTTLER_KEYS.includes(key)) {
      problems.add(
        `${where}.${key}`,
        (input as Record<string, unknown>)[key],
        `one of ${THROTTLER_KEYS.join(", ")}`,
      );
    }
  }
  const dynamic: { -readonly [K in keyof DynamicThrottler]: DynamicThrottler[K] } = {};
  const number = (key: "ttl" | "limit" | "blockDuration", min: number): number | undefined => {
    const v = input[key];
    if (v === undefined && key === "blockDuration") return undefined;
    if (typeof v === "function") {
      dynamic[key] = v;
      return undefined;
    }
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      problems.add(
        `${where}.${key}`,
        v,
        `a whole number ≥ ${min}${key === "limit" ? "" : " (milliseconds)"} or (context) => number`,
      );
    }
    return v as number;
  };
  const limit = number("limit", 1);
  const ttl = number("ttl", 1);
  const block = number("blockDuration", 0);
  const hasDynamic = Object.keys(dynamic).length > 0;
  return {
    // Placeholders for function values: each request's own values replace them.
    limit: limit ?? 1,
    window: ttl ?? 1000,
    ...(block === undefined || block === 0 ? {} : { blockFor: block }),
    ...(hasDynamic ? { dynamic } : {}),
  };
}
