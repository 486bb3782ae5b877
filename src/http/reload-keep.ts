import type { ProblemList } from "../core/errors/config-error.js";
import type { EventHub } from "../core/events.js";
import type { ListStore } from "../core/list-store.js";
import type { Logger } from "../core/logger.js";
import { memoryLists } from "../core/memory-list-store.js";
import { createMetrics } from "../core/metrics/collector.js";
import type { Metrics } from "../core/metrics/types.js";
import type { Capacity } from "./engine.js";
import { InFlight } from "./in-flight.js";
import { ListIndex } from "./lists.js";
import type { HttpLimiterOptions } from "./options.js";
import { buildProtect } from "./protect.js";
import { FIXED_OPTIONS, type Fixed, sameData } from "./reload-fixed.js";
import type { CompiledRule } from "./rules.js";
import type { LoadShedder, Priority } from "./shedder.js";

/**
 * What the limiter keeps for its life (reload-fixed.ts), built once: the lists' backend (the
 * store's, shared by the fleet, or this process's own), the abuse detector (which writes its
 * automatic blocks to them), the metrics collector. Undefined when `problems` holds any (the
 * caller throws): nothing is built that would need closing.
 */
export function fixedOf(
  options: HttpLimiterOptions<never>,
  base: Pick<Fixed, "store" | "ownStore" | "events" | "prefix" | "shed"> & {
    logger: Logger | undefined;
  },
  problems: ProblemList,
): Fixed | undefined {
  const { store, events, prefix } = base;
  const borrowed = options.lists instanceof ListIndex ? options.lists : undefined;
  const listStore = borrowed === undefined ? store.lists?.(prefix) : undefined;
  const listBackend: ListStore = borrowed?.backend ?? listStore ?? memoryLists()(prefix);
  const current: Fixed["current"] = { lists: undefined };
  const protect = buildProtect(
    options.protect,
    {
      lists: listBackend,
      changed: () => current.lists?.invalidate(),
      events,
      logger: options.logger,
      clock: options.clock,
    },
    problems,
  );
  if (problems.items.length > 0) return undefined;
  const given: Record<string, unknown> = {};
  for (const k of FIXED_OPTIONS) given[k] = options[k];
  // Store-level events (degraded, recovered) reach this hub, once however many rules there are.
  store.observe?.(events);
  return {
    ...base,
    logger: base.logger!,
    clock: options.clock,
    listBackend,
    listsShared: borrowed?.shared ?? listStore !== undefined,
    borrowedLists: borrowed,
    collector: metricsOf(options.metrics, events, options.clock),
    protect,
    current,
    given: given as Fixed["given"],
  };
}

/** What each lists index was built from, to tell whether a reload changes it. */
const builtFrom = new WeakMap<ListIndex, unknown>();

/**
 * The lists index: the running one when the static entries and the refresh are unchanged (its
 * snapshot stays, no store round trip), else a new one on the same backend, so entries added
 * through `limiter.lists` or by `protect` are kept either way.
 */
export function listsOf(
  fixed: Fixed,
  running: ListIndex | undefined,
  now: () => number,
  staticEntries: readonly { list: "allow" | "deny"; value: string }[],
  refreshMs: number,
): ListIndex {
  if (fixed.borrowedLists !== undefined) return fixed.borrowedLists;
  const from = { staticEntries, refreshMs };
  if (running !== undefined && sameData(builtFrom.get(running), from)) return running;
  const lists = new ListIndex(fixed.listBackend, fixed.listsShared, now, staticEntries, refreshMs);
  builtFrom.set(lists, from);
  return lists;
}

/**
 * The slots held by requests of rules with `concurrency`, renewed on one timer every third of
 * the shortest lease; undefined when no rule has concurrency (no timer, nothing per request).
 * A reload keeps the running timer when that interval is unchanged; otherwise the old one goes
 * on renewing the slots of requests that started before the reload until they end.
 */
export function capacityOf<Raw>(
  rules: readonly CompiledRule<Raw>[],
  running: Capacity | undefined,
  now: () => number,
  shed: LoadShedder | undefined,
  priority: Priority | undefined,
): Capacity {
  let shortest = Number.POSITIVE_INFINITY;
  for (const r of rules) if (r.slots !== undefined) shortest = Math.min(shortest, r.slots.leaseMs);
  const every =
    shortest === Number.POSITIVE_INFINITY ? undefined : Math.max(1, Math.floor(shortest / 3));
  const inFlight =
    every === undefined
      ? undefined
      : running?.renewEveryMs === every && running.inFlight !== undefined
        ? running.inFlight
        : new InFlight(now, every);
  return { inFlight, shed, priority: priority ?? "normal", renewEveryMs: every };
}

/** The `metrics` option's collector, listening to the limiter's hub. */
function metricsOf(
  option: HttpLimiterOptions["metrics"],
  events: EventHub,
  clock: (() => number) | undefined,
): Metrics | undefined {
  if (option === undefined || option === false) return undefined;
  return createMetrics(events, {
    ...(clock !== undefined ? { clock } : {}),
    ...(option === true ? {} : option),
  });
}
