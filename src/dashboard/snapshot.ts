import {
  isThrottlekitError,
  type ListEntry,
  type ListStore,
  type Offender,
  OUTCOMES,
  type Outcome,
  type OutcomeCounts,
  readFleetMetrics,
} from "../index.js";
import type { LocalEvents, LocalOutage, RecentViolation } from "./local-events.js";
import type { ResolvedOptions } from "./options.js";

/** Counts of one rule (or all) per second over the window, oldest first, one array per outcome. */
export type Series = Record<Outcome, number[]>;

/** What the page shows, pushed every interval: plain JSON, never a secret. */
export type LiveSnapshot = {
  readonly at: number;
  /** The store's name ("memory", "redis") and whether the dashboard's own reads succeeded. */
  readonly store: { name: string; reachable: boolean; error: string | undefined };
  readonly fleet: {
    /** Epoch second of the first point of each series. */
    readonly start: number;
    readonly seconds: number;
    readonly total: OutcomeCounts;
    readonly rules: Record<string, OutcomeCounts>;
    readonly series: { total: Series; rules: Record<string, Series> };
    readonly topOffenders: readonly Offender[];
  };
  readonly lists: { managed: boolean; entries: readonly ListEntry[] };
  readonly outage: LocalOutage & {
    /** Decisions the fleet answered degraded in the window (recorded once the store is back). */
    degradedInWindow: number;
  };
  readonly violations: readonly RecentViolation[];
};

/** Top offenders and list entries sent at most. */
const TOP = 20;
const MAX_ENTRIES = 500;

function zeros(n: number): Series {
  const s = {} as Series;
  for (const o of OUTCOMES) s[o] = new Array<number>(n).fill(0);
  return s;
}

const EMPTY_COUNTS: OutcomeCounts = {
  requests: 0,
  allowed: 0,
  limited: 0,
  blocked: 0,
  denied: 0,
  degraded: 0,
  shadowed: 0,
  blockRate: 0,
};

/** A short, secret-free description of a failed read. */
export function describeError(error: unknown): string {
  if (isThrottlekitError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return "error";
}

/** Reads the fleet metrics, the lists and this process's events into one snapshot. */
export async function buildSnapshot(
  o: ResolvedOptions,
  lists: ListStore | undefined,
  local: LocalEvents,
  now = Date.now(),
): Promise<LiveSnapshot> {
  const seconds = Math.round(o.windowMs / 1000);
  const toSecond = Math.floor(now / 1000);
  const start = toSecond - seconds + 1;
  let error: string | undefined;
  const [fleet, entries] = await Promise.all([
    readFleetMetrics({
      store: o.store,
      prefix: o.metricsPrefix,
      from: start * 1000,
      to: now,
      topOffenders: TOP,
    }).catch((e: unknown) => {
      error = describeError(e);
      return undefined;
    }),
    lists === undefined
      ? Promise.resolve([])
      : lists.entries(now).catch((e: unknown) => {
          error ??= describeError(e);
          return [] as ListEntry[];
        }),
  ]);
  const total = zeros(seconds);
  const rules: Record<string, Series> = {};
  for (const name of Object.keys(fleet?.rules ?? {})) rules[name] = zeros(seconds);
  for (const s of fleet?.seconds ?? []) {
    const i = s.second - start;
    if (i < 0 || i >= seconds) continue;
    for (const o of OUTCOMES) total[o][i] = s.total[o];
    for (const [name, counts] of Object.entries(s.rules)) {
      let series = rules[name];
      if (series === undefined) {
        series = zeros(seconds);
        rules[name] = series;
      }
      for (const o of OUTCOMES) series[o][i] = counts[o];
    }
  }
  const ruleTotals: Record<string, OutcomeCounts> = {};
  for (const [name, r] of Object.entries(fleet?.rules ?? {})) {
    const { policies: _policies, ...counts } = r;
    ruleTotals[name] = counts;
  }
  return {
    at: now,
    store: { name: o.store.name, reachable: error === undefined, error },
    fleet: {
      start,
      seconds,
      total: fleet?.total ?? EMPTY_COUNTS,
      rules: ruleTotals,
      series: { total, rules },
      topOffenders: fleet?.topOffenders ?? [],
    },
    lists: { managed: lists !== undefined, entries: entries.slice(-MAX_ENTRIES) },
    outage: { ...local.outage(), degradedInWindow: fleet?.total.degraded ?? 0 },
    violations: local.violations(),
  };
}
