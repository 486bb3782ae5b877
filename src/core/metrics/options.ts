import {
  DURATION_FORM,
  parseDuration,
  parseTimerDuration,
  TIMER_DURATION_FORM,
} from "../duration.js";
import { ProblemList } from "../errors/config-error.js";
import type { EventHub } from "../events.js";
import type { Store } from "../store.js";
import { checkTimers, type Timers } from "../timers.js";
import type { MetricsOptions } from "./types.js";

/** MetricsOptions checked, with defaults filled in. */
export type ResolvedMetricsOptions = {
  readonly recentViolations: number;
  readonly topOffenders: number;
  readonly store: Store | undefined;
  readonly prefix: string;
  readonly flushEveryMs: number;
  readonly retentionMs: number;
  readonly clock: () => number;
  readonly timers: Timers;
};

const KEYS = [
  "recentViolations",
  "topOffenders",
  "store",
  "prefix",
  "flushEvery",
  "retention",
  "clock",
  "timers",
];
/** Bound on the ring and the sketch: both are kept in memory and copied by every snapshot. */
const MAX_KEPT = 10_000;
const MAX_RETENTION_MS = 30 * 86_400_000;

/** Checks createMetrics' arguments, all at once: one ConfigError lists every problem. */
export function checkMetricsOptions(
  events: unknown,
  options: MetricsOptions,
): ResolvedMetricsOptions {
  const problems = new ProblemList();
  if (
    typeof events !== "object" ||
    events === null ||
    typeof (events as EventHub).on !== "function" ||
    typeof (events as EventHub).wantTimings !== "function"
  ) {
    problems.add("events", events, "an EventHub from createEvents() (or limiter.events)");
  }
  if (typeof options !== "object" || options === null) {
    problems.add(
      "metrics options",
      options,
      "an object { recentViolations?, topOffenders?, store?, ... }",
    );
    problems.throwIfAny();
  }
  problems.unknownKeys(options, KEYS, "metrics");
  const count = (name: "recentViolations" | "topOffenders"): number => {
    const v = options[name];
    if (v === undefined) return 100;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v > MAX_KEPT) {
      problems.add(`metrics.${name}`, v, `a whole number from 0 to ${MAX_KEPT}`);
      return 100;
    }
    return v;
  };
  const recentViolations = count("recentViolations");
  const topOffenders = count("topOffenders");
  const store = options.store;
  if (store !== undefined && typeof (store as Partial<Store> | null)?.metrics !== "function") {
    problems.add(
      "metrics.store",
      store,
      "a store with fleet metrics (memoryStore(), redisStore({ client })), or no store",
    );
  }
  const prefix = options.prefix ?? "tk";
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 128) {
    problems.add("metrics.prefix", options.prefix, "a string of 1 to 128 characters");
  }
  let flushEveryMs = 1000;
  if (options.flushEvery !== undefined) {
    const ms = parseTimerDuration(options.flushEvery);
    if (ms === undefined || ms < 100) {
      problems.add(
        "metrics.flushEvery",
        options.flushEvery,
        `at least 100ms: ${TIMER_DURATION_FORM}`,
      );
    } else flushEveryMs = ms;
  }
  let retentionMs = 3_600_000;
  if (options.retention !== undefined) {
    const ms = parseDuration(options.retention);
    if (ms === undefined || ms < 1000 || ms > MAX_RETENTION_MS) {
      problems.add("metrics.retention", options.retention, `from 1s to 30d: ${DURATION_FORM}`);
    } else retentionMs = ms;
  }
  if (options.clock !== undefined && typeof options.clock !== "function") {
    problems.add("metrics.clock", options.clock, "a function returning the time in ms");
  }
  const timerProblems = new ProblemList();
  const timers = checkTimers(options.timers, timerProblems);
  for (const p of timerProblems.items) problems.add(`metrics.${p.option}`, p.received, p.expected);
  problems.throwIfAny();
  return {
    recentViolations,
    topOffenders,
    store,
    prefix,
    flushEveryMs,
    retentionMs,
    clock: options.clock ?? Date.now,
    timers,
  };
}
