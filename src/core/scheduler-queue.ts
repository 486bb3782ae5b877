import type { Lease } from "./concurrency.js";
import type { Decision, PolicyDecision } from "./decision.js";
import { parseTimerDuration, TIMER_DURATION_FORM } from "./duration.js";
import { ConfigError, ProblemList } from "./errors/config-error.js";
import { type Limiter, MAX_KEY_LENGTH } from "./limiter.js";
import type { ScheduledFn, ScheduleOptions } from "./scheduler.js";
import { isAbortSignal } from "./wait-options.js";

/** The local slot: a job holding it counts against a numeric `concurrency`. */
export const LOCAL = Symbol("local slot");
/** The form a key must have, for ConfigError messages (the limiter's own bound). */
export const KEY_FORM = `a string of at most ${MAX_KEY_LENGTH} characters (UTF-16 code units)`;
const JOB_KNOWN = ["priority", "signal", "cost", "key", "maxWaitMs"];

/** One scheduled job, from schedule() until it settles. */
export type Entry = {
  readonly fn: ScheduledFn<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly lane: Lane;
  readonly cost: number;
  readonly priority: number;
  /** Global order of scheduling: first come first served across keys too. */
  readonly seq: number;
  readonly signal: AbortSignal | undefined;
  /** When the job must have started (timers' time), or Infinity. */
  readonly deadline: number;
  readonly maxWaitMs: number | undefined;
  /** The maxWaitMs timer while queued. */
  timer: unknown;
  /** The slot it holds once taken: a lease, the local slot, or none. */
  slot: Lease | typeof LOCAL | undefined;
  /** The lease renewal timer while it runs holding a lease. */
  renewal: unknown;
  /** Set while the entry is queued; undefined once taken (or dropped). */
  level: Level | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
};

/** One priority's entries, first come first served: a doubly linked list (O(1) removal). */
export type Level = { readonly priority: number; head: Entry | undefined; tail: Entry | undefined };

/**
 * The jobs of one key. Only one of them takes its slot and rate at a time (so priority and
 * order hold on that key); keys do not wait for each other's rate (no head-of-line blocking
 * across keys).
 */
export class Lane {
  /** Highest priority first. */
  private readonly levels: Level[] = [];
  size = 0;
  /** A head is taking its slot or its rate. */
  busy = false;
  /** The pending re-ask for a fleet slot, if any. */
  retry: unknown = undefined;

  constructor(readonly key: string) {}

  peek(): Entry | undefined {
    return this.levels[0]?.head;
  }

  push(e: Entry): void {
    // Binary search for the first level with priority ≤ e's (distinct priorities are few).
    let lo = 0;
    let hi = this.levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.levels[mid]!.priority > e.priority) lo = mid + 1;
      else hi = mid;
    }
    let level = this.levels[lo];
    if (level === undefined || level.priority !== e.priority) {
      level = { priority: e.priority, head: undefined, tail: undefined };
      this.levels.splice(lo, 0, level);
    }
    e.level = level;
    e.prev = level.tail;
    if (level.tail === undefined) level.head = e;
    else level.tail.next = e;
    level.tail = e;
    this.size++;
  }

  remove(e: Entry): void {
    const level = e.level!;
    if (e.prev === undefined) level.head = e.next;
    else e.prev.next = e.next;
    if (e.next === undefined) level.tail = e.prev;
    else e.next.prev = e.prev;
    e.level = e.prev = e.next = undefined;
    this.size--;
    if (level.head === undefined) this.levels.splice(this.levels.indexOf(level), 1);
  }
}

/**
 * One abort listener per signal, however many queued entries share it: a caller passing one
 * signal to a thousand jobs adds one listener, not a thousand (nor Node's warning about them).
 */
export class AbortWatch {
  private readonly watched = new Map<
    AbortSignal,
    { readonly entries: Set<Entry>; readonly listener: () => void }
  >();

  constructor(private readonly onAbort: (e: Entry, reason: unknown) => void) {}

  add(e: Entry, signal: AbortSignal): void {
    let w = this.watched.get(signal);
    if (w === undefined) {
      const entries = new Set<Entry>();
      const listener = () => {
        this.watched.delete(signal);
        for (const queued of entries) this.onAbort(queued, signal.reason);
      };
      w = { entries, listener };
      this.watched.set(signal, w);
      signal.addEventListener("abort", listener, { once: true });
    }
    w.entries.add(e);
  }

  delete(e: Entry, signal: AbortSignal): void {
    const w = this.watched.get(signal);
    if (w?.entries.delete(e) && w.entries.size === 0) {
      this.watched.delete(signal);
      signal.removeEventListener("abort", w.listener);
    }
  }
}

/** A job's options, checked and with their defaults. */
export type ParsedJob = {
  readonly priority: number;
  readonly cost: number;
  readonly signal: AbortSignal | undefined;
  readonly key: string | undefined;
  readonly maxWaitMs: number | undefined;
};

const NO_OPTIONS: ParsedJob = {
  priority: 0,
  cost: 1,
  signal: undefined,
  key: undefined,
  maxWaitMs: undefined,
};

/** Checks `schedule`'s arguments: the parsed options, or every problem as one ConfigError. */
export function parseJob(
  fn: unknown,
  options: ScheduleOptions | undefined,
): ParsedJob | ConfigError {
  if (options === undefined && typeof fn === "function") return NO_OPTIONS;
  const problems = new ProblemList();
  if (typeof fn !== "function") problems.add("fn", fn, "a function (signal) => value or promise");
  if (options === undefined) return new ConfigError(problems.items);
  if (typeof options !== "object" || options === null) {
    problems.add("options", options, "an object { priority?, signal?, cost?, key?, maxWaitMs? }");
    return new ConfigError(problems.items);
  }
  problems.unknownKeys(options, JOB_KNOWN);
  const { priority = 0, signal, cost = 1, key } = options;
  if (!Number.isFinite(priority)) {
    problems.add("priority", priority, "a finite number (higher runs first)");
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    problems.add("signal", signal, "an AbortSignal");
  }
  if (!Number.isSafeInteger(cost) || cost < 0) problems.add("cost", cost, "a whole number ≥ 0");
  if (key !== undefined && !isKey(key)) problems.add("key", key, KEY_FORM);
  const maxWaitMs =
    options.maxWaitMs === undefined ? undefined : parseTimerDuration(options.maxWaitMs);
  if (options.maxWaitMs !== undefined && maxWaitMs === undefined) {
    problems.add("maxWaitMs", options.maxWaitMs, TIMER_DURATION_FORM);
  }
  if (problems.items.length > 0) return new ConfigError(problems.items);
  return { priority, cost, signal, key, maxWaitMs };
}

/** A key the limiter accepts: a string of at most MAX_KEY_LENGTH code units. */
export function isKey(key: unknown): key is string {
  return typeof key === "string" && key.length <= MAX_KEY_LENGTH;
}

/**
 * The Decision a job is refused with when the scheduler itself turns it away (queue full, or
 * maxWaitMs passed while queued): "limited", nothing charged. When there will be room depends
 * on jobs not yet run, so retryAfterMs is the binding policy's time per unit (W / L): the
 * least wait before one more job can start.
 */
export function refusal(limiter: Limiter): Decision {
  const entries = limiter.policies.map(
    (p): PolicyDecision => ({
      policy: p,
      allowed: false,
      limit: p.limit,
      remaining: 0,
      resetMs: p.windowMs,
      retryAfterMs: Math.ceil(p.windowMs / p.limit),
    }),
  );
  const first = entries[0]!;
  return {
    allowed: false,
    limit: first.limit,
    remaining: 0,
    resetMs: first.resetMs,
    retryAfterMs: first.retryAfterMs,
    reason: "limited",
    policy: first.policy,
    policies: entries,
    delayMs: 0,
  };
}
