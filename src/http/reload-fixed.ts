import type { ProblemList } from "../core/errors/config-error.js";
import type { EventHub } from "../core/events.js";
import type { ListStore } from "../core/list-store.js";
import type { Logger } from "../core/logger.js";
import type { Metrics } from "../core/metrics/types.js";
import type { Store } from "../core/store.js";
import type { AbuseDetector } from "../protect/types.js";
import type { ListIndex } from "./lists.js";
import type { HttpLimiterOptions } from "./options.js";
import type { LoadShedder } from "./shedder.js";

/**
 * The options a `reload()` cannot change: each names something with state or identity of its
 * own that the running limiter, its listeners or its in-flight requests hold (the store and its
 * connections, the hub listeners were added to, the namespace every counter lives under, the
 * clock every counter was stamped with, the metrics collector's counts, the abuse detector's
 * scores, the load shedder's count of requests in flight). A reload may leave them out (they
 * are kept) or repeat them unchanged; a change is a ConfigError that says a restart is needed.
 */
export const FIXED_OPTIONS = [
  "store",
  "events",
  "prefix",
  "clock",
  "logger",
  "metrics",
  "protect",
  "shed",
  "lists",
] as const;
export type FixedOption = (typeof FIXED_OPTIONS)[number];

/** What a limiter keeps for its whole life, whatever `reload()` swaps. */
export type Fixed = {
  readonly store: Store;
  /** True when the limiter created the store (close() closes it then). */
  readonly ownStore: boolean;
  readonly events: EventHub;
  readonly prefix: string;
  readonly clock: (() => number) | undefined;
  /** The `logger` option, resolved. */
  readonly logger: Logger;
  /** Where the allow and deny lists live (the store's, or this process's own). */
  readonly listBackend: ListStore;
  /** True when the lists are the store's, shared by the fleet. */
  readonly listsShared: boolean;
  readonly collector: Metrics | undefined;
  readonly protect: AbuseDetector | undefined;
  readonly shed: LoadShedder | undefined;
  /** The `lists` option: another limiter's index, used as is and never closed here. */
  readonly borrowedLists: ListIndex | undefined;
  /** The lists index in force: the abuse detector's writes mark its snapshot stale. */
  readonly current: { lists: ListIndex | undefined };
  /** These options as first given: a reload may repeat them, equal as data. */
  readonly given: Readonly<Pick<HttpLimiterOptions, FixedOption>>;
};

/**
 * Adds a problem for each fixed option the reloaded `options` change: one equal to the running
 * one (the same instance, or the same plain data) or left out is fine.
 */
export function checkFixed(options: HttpLimiterOptions, fixed: Fixed, problems: ProblemList): void {
  const running: Record<FixedOption, unknown> = {
    store: fixed.store,
    events: fixed.events,
    prefix: fixed.prefix,
    clock: fixed.clock,
    logger: fixed.given.logger,
    metrics: fixed.given.metrics,
    protect: fixed.protect,
    shed: fixed.shed,
    lists: fixed.borrowedLists,
  };
  for (const k of FIXED_OPTIONS) {
    const v = options[k];
    if (v === undefined || v === running[k] || sameData(v, fixed.given[k])) continue;
    problems.add(
      k,
      v,
      `the running ${k} or none (a ${k} change needs a restart; leave ${k} out to keep it)`,
    );
  }
}

/**
 * Equal as data: primitives by value, arrays and plain objects member by member, anything else
 * (a store, a function, a detector) only as the same instance. A configuration read again from
 * a file is a new object with the same content.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => sameData(x, b[i]))
    );
  }
  if (!isPlain(a) || !isPlain(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.hasOwn(b, k) &&
        sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
