import { ConfigError, ProblemList } from "./errors/config-error.js";
import type { Limiter } from "./limiter.js";
import {
  type AnyFunction,
  checkWrapOptions,
  type OnLimitedMode,
  type WrapOptions,
} from "./wrap.js";

/** The options `throttle` takes: `limiter.wrap`'s, with `this` and the arguments left open. */
// biome-ignore lint/suspicious/noExplicitAny: the decorated method is not known yet; checked when decorating
export type ThrottleOptions = WrapOptions<(this: any, ...args: any[]) => unknown>;

/** The onLimited modes written in O ("throw" when none). */
type ModeOf<O> = "onLimited" extends keyof O
  ? Exclude<O["onLimited" & keyof O], AnyFunction | undefined>
  : "throw";

/** What O's onLimited function returns (never without one). */
type FallbackOf<O> = "onLimited" extends keyof O
  ? O["onLimited" & keyof O] extends infer L
    ? L extends (...args: never[]) => infer V
      ? V
      : never
    : never
  : never;

/**
 * What a decorated method may return. A method keeps its declared type (a decorator cannot change
 * it), so one whose calls would become promises must already return one: with onLimited "wait",
 * and on a limiter whose store may be remote (not typed `canConsumeSync: true`).
 */
type MethodResult<Sync extends boolean, O> =
  "wait" extends ModeOf<O> ? Promise<unknown> : [Sync] extends [true] ? unknown : Promise<unknown>;

/** True when an onLimited function's value V can stand in for the method's result R. */
type FallbackFits<R, V> = [V] extends [never]
  ? true
  : [R] extends [Promise<infer X>]
    ? [Awaited<V>] extends [X]
      ? true
      : false
    : [V] extends [R]
      ? true
      : false;

/**
 * Where a type error says what is wrong: options whose key, cost or onLimited cannot take the
 * method's `this` and arguments, or an onLimited value the method may not return.
 */
type Check<O, T, A extends unknown[], R, Ok> = [O] extends [
  WrapOptions<(this: T, ...args: A) => R, unknown, OnLimitedMode>,
]
  ? FallbackFits<R, FallbackOf<O>> extends true
    ? Ok
    : "@throttle: onLimited returns a value this method's return type does not allow"
  : "@throttle: key, cost or onLimited does not take this method's `this` and arguments";

/** Option names `throttle` knows; others are type errors (and ConfigErrors at run time). */
type KnownOnly<O> = { [K in Exclude<keyof O, keyof ThrottleOptions>]: never };

/**
 * `@throttle(limiter, options)`, usable as a TC39 standard decorator (TypeScript 5+, no flag) and
 * as a legacy `experimentalDecorators` one (NestJS projects): both call shapes in one function.
 */
export type ThrottleDecorator<Sync extends boolean, O> = {
  /** TC39 standard decorators: `(method, context)`; returns the limited method. */
  <T, A extends unknown[], R extends MethodResult<Sync, O>>(
    value: (this: T, ...args: A) => R,
    context: Check<O, T, A, R, ClassMethodDecoratorContext<T, (this: T, ...args: A) => R>>,
  ): (this: T, ...args: A) => R;
  /** Legacy `experimentalDecorators`: `(prototype, name, descriptor)`; replaces descriptor.value. */
  <T, A extends unknown[], R extends MethodResult<Sync, O>>(
    target: T,
    propertyKey: Check<O, T, A, R, string | symbol>,
    descriptor: TypedPropertyDescriptor<(...args: A) => R>,
  ): TypedPropertyDescriptor<(...args: A) => R>;
};

/**
 * Limits a class method: every call is counted by `limiter` under `options.key` (which may read
 * `this`, the instance, and the call's arguments) before the method runs. The options and the
 * behaviour are `limiter.wrap`'s (docs/functions.md): a refused call throws RateLimitedError,
 * waits, or returns the onLimited function's value; a synchronous method on the memory store
 * stays synchronous. Works as a standard (TypeScript 5+) and as a legacy
 * (`experimentalDecorators`) decorator. Options are checked here, once, when the class is defined.
 *
 * @example
 * class Mailer {
 *   constructor(readonly accountId: string) {}
 *   @throttle(limiter, { key() { return `mail:${this.accountId}` } })
 *   async send(to: string) { ... }
 * }
 */
export function throttle<L extends Limiter>(
  limiter: L,
): ThrottleDecorator<L["canConsumeSync"], { onLimited: "throw" }>;
export function throttle<L extends Limiter, O extends ThrottleOptions>(
  limiter: L,
  options: O & KnownOnly<O>,
): ThrottleDecorator<L["canConsumeSync"], O>;
export function throttle(
  limiter: Limiter,
  options?: ThrottleOptions,
): ThrottleDecorator<boolean, ThrottleOptions> {
  const problems = new ProblemList();
  if (!isLimiter(limiter)) {
    problems.add("limiter", limiter, "a limiter from createLimiter() (with consume and wrap)");
  }
  checkWrapOptions(options, problems, "options");
  problems.throwIfAny();
  const decorate = (value: unknown, context: unknown, descriptor?: PropertyDescriptor): unknown => {
    if (isStandardContext(context)) {
      if (context.kind !== "method") throw notAMethod(`a ${context.kind}`, context.name);
      return limiter.wrap(value as AnyFunction, options as WrapOptions<AnyFunction>);
    }
    // Legacy: (prototype or constructor, property key, descriptor); a field has no descriptor.
    if (descriptor === undefined || typeof descriptor.value !== "function") {
      const what = descriptor === undefined ? "a field" : "an accessor";
      throw notAMethod(what, context as string | symbol);
    }
    const method = descriptor.value as AnyFunction;
    const limited = limiter.wrap(method, options as WrapOptions<AnyFunction>);
    keepMetadata(method, limited);
    descriptor.value = limited;
    return descriptor;
  };
  return decorate as ThrottleDecorator<boolean, ThrottleOptions>;
}

type StandardContext = { readonly kind: string; readonly name: string | symbol };

/** A TC39 decorator context: legacy decorators get a property key (string or symbol) instead. */
function isStandardContext(context: unknown): context is StandardContext {
  return (
    typeof context === "object" &&
    context !== null &&
    typeof (context as { kind?: unknown }).kind === "string"
  );
}

function isLimiter(value: unknown): value is Limiter {
  const l = value as Partial<Limiter> | null;
  return (
    typeof l === "object" &&
    l !== null &&
    typeof l.wrap === "function" &&
    typeof l.consume === "function"
  );
}

type MetadataApi = {
  getOwnMetadataKeys?: (target: object) => unknown[];
  getOwnMetadata?: (key: unknown, target: object) => unknown;
  defineMetadata?: (key: unknown, value: unknown, target: object) => void;
};

/**
 * Copies reflect-metadata entries from the method to its replacement. NestJS's method decorators
 * (@Get, @UseGuards, ...) store theirs on `descriptor.value`; with @throttle written above them
 * it runs after them, and without the copy the route would lose them. A no-op without
 * reflect-metadata (the core has no dependencies: it reads the global only).
 */
function keepMetadata(from: object, to: object): void {
  const api = Reflect as unknown as MetadataApi;
  if (
    typeof api.getOwnMetadataKeys !== "function" ||
    typeof api.getOwnMetadata !== "function" ||
    typeof api.defineMetadata !== "function"
  ) {
    return;
  }
  for (const key of api.getOwnMetadataKeys(from)) {
    api.defineMetadata(key, api.getOwnMetadata(key, from), to);
  }
}

function notAMethod(what: string, name: string | symbol): ConfigError {
  return new ConfigError([
    { option: `@throttle on ${String(name)}`, received: what, expected: "a class method" },
  ]);
}
