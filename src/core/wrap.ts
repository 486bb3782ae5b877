import type { Decision } from "./decision.js";
import { type Duration, parseTimerDuration, TIMER_DURATION_FORM } from "./duration.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import { RateLimitedError } from "./errors/rate-limited-error.js";
import type { ConsumeOptions, Limiter } from "./limiter.js";
import { MAX_WAITERS, type WaitOptions } from "./wait-for.js";

/** Any function: what `wrap` accepts (methods with a `this` included). */
export type AnyFunction = (...args: never[]) => unknown;

/** F's `this` and parameters, returning R instead. */
export type Returning<F extends AnyFunction, R> = (
  this: ThisParameterType<F>,
  ...args: Parameters<F>
) => R;

/**
 * `onLimited` as a function: called with the refusing Decision, then the call's arguments, with
 * the call's `this`; what it returns is the call's result (a fallback value, a cached answer).
 */
export type Fallback<F extends AnyFunction, V = unknown> = (
  this: ThisParameterType<F>,
  decision: Decision,
  ...args: Parameters<F>
) => V;

/** The ways to handle a refusal that are not a function. */
export type OnLimitedMode = "throw" | "wait";

/**
 * Options of `limiter.wrap` and `@throttle`. The type parameters only carry what the wrapper's
 * type depends on: V, what an onLimited function returns; M, the onLimited mode written.
 */
export type WrapOptions<
  F extends AnyFunction,
  V = unknown,
  M extends OnLimitedMode = OnLimitedMode,
> = {
  /**
   * The key each call is counted under, from the call's arguments and `this` (a user id, an
   * account). Must return a string of at most 1024 characters; anything else fails the call
   * with a ConfigError (thrown, or a rejected promise), never a silent default.
   * @default one key shared by every call: "wrap" (two functions wrapped on one limiter without
   * a key share one budget)
   */
  key?: (this: ThisParameterType<F>, ...args: Parameters<F>) => string;
  /** Units each call costs: a whole number ≥ 0, or a function of the call's arguments. @default 1 */
  cost?: number | ((this: ThisParameterType<F>, ...args: Parameters<F>) => number);
  /**
   * What a refused call does: "throw" a RateLimitedError carrying the Decision (a rejected
   * promise when the call returns one); "wait" until the limiter admits it (`limiter.waitFor`,
   * the call then always returns a promise); or a function whose return value becomes the
   * call's result.
   * @default "throw"
   */
  onLimited?: M | Fallback<F, V>;
  /** With onLimited "wait": the longest wait before the call fails with RateLimitedError. @default no limit */
  maxWaitMs?: Duration;
  /** With onLimited "wait": most calls waiting on one key; one more fails at once. @default waitFor's (1000) */
  maxQueue?: number;
  /** With onLimited "wait": aborting it fails every waiting call with the signal's reason (shutdown). */
  signal?: AbortSignal;
};

/**
 * A call's result when F returns R and a refusal returns V: a promise whenever F returns one (a
 * refused call of an async function rejects or resolves, never throws); R | V when the limiter
 * answers synchronously; either when the store may be remote.
 */
type Settle<R, V, Sync extends boolean> = [R] extends [Promise<unknown>]
  ? Promise<Awaited<R> | Awaited<V>>
  : Sync extends true
    ? R | V
    : R | V | Promise<Awaited<R> | Awaited<V>>;

/**
 * One call's result: V, when an onLimited function gives one (M is then whatever inference left,
 * so it is not read), else per mode M (distributing over a union of modes).
 */
type CallResult<F extends AnyFunction, M, V, Sync extends boolean> = [V] extends [never]
  ? M extends "wait"
    ? Promise<Awaited<ReturnType<F>>>
    : Settle<ReturnType<F>, never, Sync>
  : Settle<ReturnType<F>, V, Sync>;

/**
 * The type of `limiter.wrap(fn, options)`: F itself whenever calls return what F returns (an
 * async function; any function on a limiter typed synchronous, `canConsumeSync: true`), else F's
 * `this` and parameters with the honest result: `R | Promise<R>` for a synchronous function on a
 * limiter whose store may be remote, a promise with onLimited "wait" (M), and V, what an
 * onLimited function returns, added.
 */
export type Wrapped<
  F extends AnyFunction,
  M extends OnLimitedMode = "throw",
  V = never,
  Sync extends boolean = boolean,
> = [CallResult<F, M, V, Sync>] extends [ReturnType<F>]
  ? [ReturnType<F>] extends [CallResult<F, M, V, Sync>]
    ? F
    : Returning<F, CallResult<F, M, V, Sync>>
  : Returning<F, CallResult<F, M, V, Sync>>;

/** A limiter whose store answers in-process (the memory store): its wrapped functions stay synchronous. */
export type SyncLimiter = Limiter & { readonly canConsumeSync: true };

/**
 * The key every call of a function wrapped without a `key` counts under. One constant (not the
 * function's name, which minifiers rename and arrow functions lack): the limiter is the budget.
 */
export const DEFAULT_WRAP_KEY = "wrap";

const WRAP_KEYS = ["key", "cost", "onLimited", "maxWaitMs", "maxQueue", "signal"];
const WAIT_ONLY = ["maxWaitMs", "maxQueue", "signal"] as const;

/** Wrap options once validated: what every call reads. */
export type CheckedWrapOptions = {
  readonly key: ((...args: unknown[]) => unknown) | undefined;
  readonly cost: number | ((...args: unknown[]) => unknown);
  readonly onLimited: "throw" | "wait" | ((...args: unknown[]) => unknown);
  readonly waitOptions: Omit<WaitOptions, "cost">;
};

/** Validates wrap (and @throttle) options, adding every problem to `problems` under `where`. */
export function checkWrapOptions(
  options: unknown,
  problems: ProblemList,
  where: string,
): CheckedWrapOptions {
  const o = (options === undefined ? {} : options) as Record<string, unknown>;
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    problems.add(
      where,
      options,
      "an object { key?, cost?, onLimited?, maxWaitMs?, maxQueue?, signal? }",
    );
    return { key: undefined, cost: 1, onLimited: "throw", waitOptions: {} };
  }
  const at = (name: string) => `${where}.${name}`;
  problems.unknownKeys(o, WRAP_KEYS, where);
  if (o.key !== undefined && typeof o.key !== "function") {
    problems.add(at("key"), o.key, "a function of the call's arguments returning a string");
  }
  const cost = o.cost ?? 1;
  if (typeof cost !== "function" && !(Number.isSafeInteger(cost) && (cost as number) >= 0)) {
    problems.add(at("cost"), o.cost, "a whole number ≥ 0, or a function of the call's arguments");
  }
  const onLimited = o.onLimited ?? "throw";
  if (onLimited !== "throw" && onLimited !== "wait" && typeof onLimited !== "function") {
    problems.add(
      at("onLimited"),
      o.onLimited,
      '"throw", "wait", or a function (decision, ...args) returning the call\'s result',
    );
  }
  const waitOptions: { maxWaitMs?: number; maxQueue?: number; signal?: AbortSignal } = {};
  for (const name of WAIT_ONLY) {
    if (o[name] !== undefined && onLimited !== "wait") {
      problems.add(at(name), o[name], `no ${name} unless onLimited is "wait"`);
    }
  }
  if (o.maxWaitMs !== undefined) {
    const ms = parseTimerDuration(o.maxWaitMs);
    if (ms === undefined) problems.add(at("maxWaitMs"), o.maxWaitMs, TIMER_DURATION_FORM);
    else waitOptions.maxWaitMs = ms;
  }
  if (o.maxQueue !== undefined) {
    const n = o.maxQueue as number;
    if (Number.isSafeInteger(n) && n >= 1 && n <= MAX_WAITERS) waitOptions.maxQueue = n;
    else problems.add(at("maxQueue"), o.maxQueue, `a whole number from 1 to ${MAX_WAITERS}`);
  }
  if (o.signal !== undefined) {
    if (isSignal(o.signal)) waitOptions.signal = o.signal;
    else problems.add(at("signal"), o.signal, "an AbortSignal");
  }
  return {
    key: o.key as CheckedWrapOptions["key"],
    cost: cost as CheckedWrapOptions["cost"],
    onLimited: onLimited as CheckedWrapOptions["onLimited"],
    waitOptions,
  };
}

function isSignal(value: unknown): value is AbortSignal {
  const s = value as Partial<AbortSignal> | null;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.aborted === "boolean" &&
    typeof s.addEventListener === "function" &&
    typeof s.removeEventListener === "function"
  );
}

/**
 * `limiter.wrap(fn, options)`: `fn` limited by `limiter`, each call counted under `key(...args)`
 * before `fn` runs. On a limiter that answers in-process (memory store) and unless onLimited is
 * "wait", the wrapper calls `fn` synchronously and returns exactly what it returns; otherwise
 * the wrapper returns a promise. `this` and the arguments reach `fn` unchanged.
 *
 * @example
 * const send = limiter.wrap(sendSms, { key: (to) => `sms:${to}`, onLimited: "throw" });
 * send("+15550100", "hi"); // throws RateLimitedError (ERR_TK_RATE_LIMITED) once over the limit
 */
export function wrapFunction<
  F extends AnyFunction,
  V = never,
  M extends OnLimitedMode = "throw",
  // The caller's declared type when there is one (Limiter.wrap narrows it by its store).
  W = Wrapped<F, M, V>,
>(limiter: Limiter, fn: F, options?: WrapOptions<F, V, M>): W {
  const problems = new ProblemList();
  if (typeof fn !== "function") problems.add("fn", fn, "a function");
  const checked = checkWrapOptions(options, problems, "options");
  problems.throwIfAny();
  const wrapped = buildWrapper(limiter, fn as unknown as Target, checked);
  // Name and arity as fn's: stack traces, and frameworks that read a handler's length, see fn.
  Object.defineProperty(wrapped, "name", { value: fn.name, configurable: true });
  Object.defineProperty(wrapped, "length", { value: fn.length, configurable: true });
  return wrapped as W;
}

type Target = (this: unknown, ...args: unknown[]) => unknown;

/** The prototype of native async functions: their calls return promises whatever happens. */
const ASYNC_FUNCTION = Object.getPrototypeOf(async () => {}) as object;

function buildWrapper(limiter: Limiter, fn: Target, o: CheckedWrapOptions): Target {
  const { key: keyOf, cost: costOf, onLimited } = o;
  // A constant cost shares one frozen options object; cost 1 passes none (consume's own default).
  const constant: ConsumeOptions | undefined =
    typeof costOf === "number" && costOf !== 1 ? Object.freeze({ cost: costOf }) : undefined;
  const fallback = typeof onLimited === "function" ? onLimited : undefined;

  if (onLimited !== "wait" && limiter.canConsumeSync) {
    if (Object.getPrototypeOf(fn) === ASYNC_FUNCTION) {
      // An async function returns a promise on every path: a refusal rejects, never throws.
      return function limitedAsyncFunction(this: unknown, ...args: unknown[]) {
        return new Promise((resolve) => {
          const key = keyOf === undefined ? DEFAULT_WRAP_KEY : keyOf.apply(this, args);
          const cost = typeof costOf === "number" ? constant : costOption(costOf.apply(this, args));
          const decision = limiter.consumeSync(key as string, cost);
          if (decision.allowed) resolve(fn.apply(this, args));
          else if (fallback === undefined) throw new RateLimitedError(decision);
          else resolve(fallback.call(this, decision, ...args));
        });
      };
    }
    // The synchronous path: an admitted call with a constant cost allocates nothing here (the
    // rest array only feeds apply, which V8 optimises away; `arguments` measured no faster).
    return function limitedSync(this: unknown, ...args: unknown[]) {
      const key = keyOf === undefined ? DEFAULT_WRAP_KEY : keyOf.apply(this, args);
      const decision = limiter.consumeSync(
        key as string,
        typeof costOf === "number" ? constant : costOption(costOf.apply(this, args)),
      );
      if (decision.allowed) return fn.apply(this, args);
      if (fallback === undefined) throw new RateLimitedError(decision);
      return fallback.call(this, decision, ...args);
    };
  }

  const waitOptions = o.waitOptions;
  const constantWait: WaitOptions =
    typeof costOf === "number" ? Object.freeze({ ...waitOptions, cost: costOf }) : waitOptions;
  return function limitedAsync(this: unknown, ...args: unknown[]) {
    let pending: Promise<Decision>;
    try {
      const key = keyOf === undefined ? DEFAULT_WRAP_KEY : keyOf.apply(this, args);
      if (onLimited === "wait") {
        pending = limiter.waitFor(
          key as string,
          typeof costOf === "number"
            ? constantWait
            : { ...waitOptions, ...costOption(costOf.apply(this, args)) },
        );
      } else {
        pending = limiter.consume(
          key as string,
          typeof costOf === "number" ? constant : costOption(costOf.apply(this, args)),
        );
      }
    } catch (error) {
      return Promise.reject(error); // a key or cost function that threw: the call's promise rejects
    }
    return pending.then((decision) => {
      if (decision.allowed) return fn.apply(this, args);
      if (fallback === undefined) throw new RateLimitedError(decision);
      return fallback.call(this, decision, ...args);
    });
  };
}

/**
 * The options for a cost computed per call. Checked here, not by consume: consume reads a
 * missing cost as 1, and a cost function that returns nothing must fail, not cost 1.
 */
function costOption(cost: unknown): ConsumeOptions {
  if (typeof cost !== "number" || !Number.isSafeInteger(cost) || cost < 0) {
    throw new ConfigError([
      {
        option: "cost()",
        received: cost,
        expected: "a whole number ≥ 0 returned by the cost function",
      },
    ]);
  }
  return { cost };
}
