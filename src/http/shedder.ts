import { DURATION_FORM, type Duration, parseDuration } from "../core/duration.js";
import type { ProblemList } from "../core/errors/config-error.js";
import { ceilSeconds } from "./headers.js";

/**
 * How much a request matters when the process is overloaded (Stripe's load shedder): under
 * pressure "sheddable" traffic is refused first, then "normal"; "critical" may use the whole
 * capacity.
 */
export type Priority = "critical" | "normal" | "sheddable";

/** Every priority, most important first. */
export const PRIORITIES: readonly Priority[] = ["critical", "normal", "sheddable"];

/**
 * The `shed` option: a cap on the requests this process has in flight, with room kept back for
 * the more important classes.
 *
 * @example
 * { maxInFlight: 200, reserve: { critical: 0.2, normal: 0.1 } }
 * // critical: up to 200 in flight; normal: up to 160; sheddable: up to 140
 */
export type ShedOptions = {
  /** Most requests in flight in this process, all priorities together: a whole number ≥ 1. */
  maxInFlight: number;
  /**
   * Fractions of `maxInFlight` kept back: `critical` is room only critical requests may use,
   * `normal` room that normal and critical requests may use but sheddable ones may not. Each
   * from 0 to < 1, their sum below 1; a missing one takes its default.
   * @default { critical: 0.2, normal: 0.1 }
   */
  reserve?: { critical?: number; normal?: number };
  /** Retry-After sent with a shed request's 503 (whole seconds, rounded up). @default "1s" */
  retryAfter?: Duration;
};

/**
 * The in-process count of requests in flight, and the admission rule per priority. Built from
 * `shed` options by the HTTP limiter (`limiter.shed`); pass one as `shed` to several limiters
 * of one process (Fastify's route limiters do) so that they share it.
 */
export interface LoadShedder {
  readonly maxInFlight: number;
  /** Requests in flight now: admitted and not yet finished (or closed). */
  readonly inFlight: number;
  /** Most in flight at which a request of each priority is still admitted. */
  readonly capacity: Readonly<Record<Priority, number>>;
  /** Retry-After of a shed request, in whole seconds. */
  readonly retryAfter: number;
  /** Counts the request in when its priority still has room; false: shed it. */
  tryEnter(priority: Priority): boolean;
  /** The request is done: exactly once per admitted request. */
  leave(): void;
}

const SHED_KEYS = ["maxInFlight", "reserve", "retryAfter"] as const;
const RESERVE_KEYS = ["critical", "normal"] as const;
const DEFAULT_RESERVE = { critical: 0.2, normal: 0.1 } as const;
const MAX_IN_FLIGHT = 1_000_000_000;

/** In-process counter: synchronous and allocation-free (a request path under overload). */
class Shedder implements LoadShedder {
  inFlight = 0;
  private readonly critical: number;
  private readonly normal: number;
  private readonly sheddable: number;

  constructor(
    readonly maxInFlight: number,
    readonly capacity: Readonly<Record<Priority, number>>,
    readonly retryAfter: number,
  ) {
    this.critical = capacity.critical;
    this.normal = capacity.normal;
    this.sheddable = capacity.sheddable;
  }

  tryEnter(priority: Priority): boolean {
    const cap =
      priority === "normal"
        ? this.normal
        : priority === "critical"
          ? this.critical
          : this.sheddable;
    if (this.inFlight >= cap) return false;
    this.inFlight++;
    return true;
  }

  leave(): void {
    // Never below zero, whatever an adapter does: a negative count would admit past the cap.
    if (this.inFlight > 0) this.inFlight--;
  }
}

/** True for a LoadShedder built by the HTTP limiter (shared between limiters). */
export function isLoadShedder(value: unknown): value is LoadShedder {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as LoadShedder).tryEnter === "function" &&
    typeof (value as LoadShedder).leave === "function"
  );
}

/**
 * Checks `shed` options (problems added under `at`) and builds the shedder; undefined when they
 * are bad. Reserved room is rounded up to whole requests, so with any non-zero reserve a
 * sheddable request is refused strictly before a normal one, and a normal one before a critical.
 */
export function buildShedder(
  input: unknown,
  at: string,
  problems: ProblemList,
): LoadShedder | undefined {
  if (isLoadShedder(input)) return input;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    problems.add(at, input, "{ maxInFlight, reserve?: { critical?, normal? }, retryAfter? }");
    return undefined;
  }
  const before = problems.items.length;
  problems.unknownKeys(input, SHED_KEYS, at);
  const o = input as ShedOptions;
  const max = o.maxInFlight;
  const maxOk = Number.isSafeInteger(max) && max >= 1 && max <= MAX_IN_FLIGHT;
  if (!maxOk) problems.add(`${at}.maxInFlight`, max, `a whole number from 1 to ${MAX_IN_FLIGHT}`);
  const reserve: { critical: number; normal: number } = { ...DEFAULT_RESERVE };
  if (o.reserve !== undefined) {
    if (typeof o.reserve !== "object" || o.reserve === null || Array.isArray(o.reserve)) {
      problems.add(`${at}.reserve`, o.reserve, "{ critical?, normal? }: fractions of maxInFlight");
    } else {
      problems.unknownKeys(o.reserve, RESERVE_KEYS, `${at}.reserve`);
      for (const k of RESERVE_KEYS) {
        const v = o.reserve[k];
        if (v === undefined) continue;
        if (typeof v !== "number" || !(v >= 0 && v < 1))
          problems.add(`${at}.reserve.${k}`, v, "a fraction from 0 to below 1");
        else reserve[k] = v;
      }
      if (reserve.critical + reserve.normal >= 1) {
        problems.add(
          `${at}.reserve`,
          o.reserve,
          "fractions whose sum is below 1 (sheddable requests need some room)",
        );
      }
    }
  }
  const retryMs = o.retryAfter === undefined ? 1000 : parseDuration(o.retryAfter);
  if (retryMs === undefined || retryMs <= 0)
    problems.add(`${at}.retryAfter`, o.retryAfter, `a positive duration: ${DURATION_FORM}`);
  if (problems.items.length > before) return undefined;
  const normal = max - Math.ceil(max * reserve.critical);
  const sheddable = normal - Math.ceil(max * reserve.normal);
  if (sheddable < 1) {
    problems.add(
      `${at}.maxInFlight`,
      max,
      `at least ${smallestMax(reserve)} with these reserves (each class needs room for one request)`,
    );
    return undefined;
  }
  const capacity = Object.freeze({ critical: max, normal, sheddable });
  return new Shedder(max, capacity, Math.max(1, ceilSeconds(retryMs!)));
}

/** The smallest maxInFlight that leaves sheddable requests one slot under these reserves. */
function smallestMax(reserve: { critical: number; normal: number }): number {
  for (let m = 1; m < 1_000_000; m++) {
    if (m - Math.ceil(m * reserve.critical) - Math.ceil(m * reserve.normal) >= 1) return m;
  }
  return 1_000_000;
}

/**
 * Parses a rule's `priority`. Undefined input is "normal".
 */
export function checkPriority(
  input: unknown,
  at: string,
  problems: ProblemList,
): Priority | undefined {
  if (input === undefined) return "normal";
  if (typeof input === "string" && (PRIORITIES as readonly string[]).includes(input))
    return input as Priority;
  problems.add(at, input, '"critical" | "normal" | "sheddable"');
  return undefined;
}
