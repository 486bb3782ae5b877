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
 * times in milliseconds (`seconds(60)`). It counts as @nestjs/throttler 6.7's storage does: each
 * request expires `ttl` after it was made (a sliding log), and a client refused once waits
 * `blockDuration` from that refusal. With a `storage` (a ThrottlerStorage) it counts in fixed
 * windows instead, the storage's own way.
 */
export type ThrottlerOptions = {
  /** @default "default" */
  name?: string;
  /** How long each request counts, in ms, or a function of the context. */
  ttl: Resolvable<number>;
  /** Requests per `ttl`, or a function of the context. */
  limit: Resolvable<number>;
  /**
   * Once refused, the client stays refused this long (ms), from the refusal; `0`: refused only
   * until enough of its requests have expired.
   * @default ttl (the resolved one when ttl is a function), as @nestjs/throttler
   */
  blockDuration?: Resolvable<number>;
};

/**
 * A throttler's fields as @Throttle({ name: ... }) gives them: any of them, the others taken
 * from the throttler of that name (@nestjs/throttler's `@Throttle({ default: { limit: 5 } })`).
 */
export type ThrottlerOverride = Partial<Omit<ThrottlerOptions, "name">>;

/** A throttler's validated fields: numeric strings made numbers, functions kept. */
export type ThrottlerFields = {
  readonly limit?: Resolvable<number>;
  readonly ttl?: Resolvable<number>;
  readonly blockDuration?: Resolvable<number>;
};

/** The per-request parts of a throttler given as functions (`limit: (ctx) => n`). */
export type DynamicThrottler = {
  readonly limit?: (context: ExecutionContext) => MaybePromise<number>;
  readonly ttl?: (context: ExecutionContext) => MaybePromise<number>;
  readonly blockDuration?: (context: ExecutionContext) => MaybePromise<number>;
  /** No blockDuration: the block lasts the request's resolved ttl (@nestjs/throttler's default). */
  readonly blockForTtl?: boolean;
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

/**
 * True for a @Throttle() value in @nestjs/throttler's shape, whole or partial: an object with
 * some of ttl, limit, blockDuration and nothing of throttlekit's shape (no window, algorithm...),
 * so `{ limit: 5, algorithm: "gcra" }` is still read, and reported, as a throttlekit policy.
 */
export function isThrottlerOverride(value: unknown): value is ThrottlerOverride {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return (
    keys.some((k) => FIELDS.includes(k)) &&
    keys.every((k) => THROTTLER_KEYS.includes(k) || MODULE_LEVEL.includes(k))
  );
}

const FIELDS = ["ttl", "limit", "blockDuration"];
const THROTTLER_KEYS = ["name", ...FIELDS];
/** Per-throttler options @nestjs/throttler has that throttlekit takes once, on the module. */
const MODULE_LEVEL = ["skipIf", "ignoreUserAgents", "getTracker", "generateKey"];

/**
 * A whole number given as a number or a numeric string: @nestjs/throttler converts strings
 * (`toNumber`), and options read from the environment are strings. Anything else: undefined.
 */
export function wholeNumber(value: unknown): number | undefined {
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value.trim()) : value;
  return typeof n === "number" && Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Validates one throttler's fields (every problem into `problems`): a module's needs ttl and
 * limit, a @Throttle() override (`partial`) any of them. Numeric strings become numbers.
 */
export function throttlerFields(
  input: ThrottlerOverride,
  where: string,
  problems: ProblemList,
  partial: boolean,
): ThrottlerFields {
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
  const out: { -readonly [K in keyof ThrottlerFields]: ThrottlerFields[K] } = {};
  for (const key of ["limit", "ttl", "blockDuration"] as const) {
    const v = input[key];
    if (v === undefined && (partial || key === "blockDuration")) continue;
    if (typeof v === "function") {
      out[key] = v;
      continue;
    }
    const min = key === "blockDuration" ? 0 : 1;
    const n = wholeNumber(v);
    if (n === undefined || n < min) {
      problems.add(
        `${where}.${key}`,
        v,
        `a whole number ≥ ${min}${key === "limit" ? "" : " (milliseconds)"}, as a number or a numeric string, or (context) => number`,
      );
      continue;
    }
    out[key] = n;
  }
  return out;
}

/**
 * A throttler's fields as a throttlekit policy's: function values are kept in `dynamic` and the
 * static placeholders are replaced per request. `blockDuration` unset blocks for `ttl`, `0` not
 * at all, as @nestjs/throttler.
 */
export function policyOfFields(fields: ThrottlerFields): {
  limit: number;
  window: number;
  blockFor?: number;
  dynamic?: DynamicThrottler;
} {
  const dynamic: { -readonly [K in keyof DynamicThrottler]: DynamicThrottler[K] } = {};
  const value = (key: "limit" | "ttl" | "blockDuration"): number | undefined => {
    const v = fields[key];
    if (typeof v !== "function") return v;
    dynamic[key] = v;
    return undefined;
  };
  const limit = value("limit");
  const ttl = value("ttl");
  let block = value("blockDuration");
  if (fields.blockDuration === undefined) {
    if (ttl === undefined) dynamic.blockForTtl = true;
    else block = ttl;
  }
  return {
    // Placeholders for function values: each request's own values replace them.
    limit: limit ?? 1,
    window: ttl ?? 1000,
    ...(block === undefined || block === 0 ? {} : { blockFor: block }),
    ...(Object.keys(dynamic).length > 0 ? { dynamic } : {}),
  };
}
