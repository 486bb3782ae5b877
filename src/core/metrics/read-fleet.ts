import { DURATION_FORM, type Duration, parseDuration } from "../duration.js";
import { ProblemList } from "../errors/config-error.js";
import type { Store } from "../store.js";
import { summarize } from "./counts.js";
import { decodeInto, emptyDecoded, mergeInto, topOf } from "./fleet-fields.js";
import type { FleetMetrics, FleetSecond } from "./types.js";

export type ReadFleetMetricsOptions = {
  /** The store the collectors record into (`createMetrics({ store })`). */
  store: Store;
  /** The collectors' `prefix`. @default "tk" */
  prefix?: string;
  /** Start of the span, ms since the epoch. @default to − window */
  from?: number;
  /** End of the span, ms since the epoch. @default Date.now() */
  to?: number;
  /** Length of the span when `from` is not given (at most a day). @default "1m" */
  window?: Duration;
  /** Offenders listed. @default 100 */
  topOffenders?: number;
};

const OPTION_KEYS = ["store", "prefix", "from", "to", "window", "topOffenders"];
/** The longest span one read covers: a day of per-second buckets. */
export const MAX_READ_SECONDS = 86_400;

/**
 * Sums the fleet's per-second buckets over a span: every process whose collector records into
 * `store` under `prefix`, for a CLI, a dashboard or a health check. Seconds still in progress
 * hold what has been flushed so far (each process flushes every `flushEvery`).
 *
 * @example
 * const fleet = await readFleetMetrics({ store, window: "5m" });
 * console.log(fleet.total.blockRate, fleet.topOffenders[0]?.key);
 */
export async function readFleetMetrics(options: ReadFleetMetricsOptions): Promise<FleetMetrics> {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    problems.add(
      "readFleetMetrics(options)",
      options,
      "an object { store, prefix?, from?, to?, window? }",
    );
    problems.throwIfAny();
  }
  problems.unknownKeys(options, OPTION_KEYS, "readFleetMetrics");
  const store = options.store as Store | undefined;
  if (typeof store?.metrics !== "function") {
    problems.add(
      "readFleetMetrics.store",
      options.store,
      "a store with fleet metrics: memoryStore() or redisStore({ client })",
    );
  }
  const prefix = options.prefix ?? "tk";
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 128) {
    problems.add("readFleetMetrics.prefix", options.prefix, "a string of 1 to 128 characters");
  }
  const time = (name: "from" | "to", v: unknown) => {
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)) {
      problems.add(`readFleetMetrics.${name}`, v, "ms since the epoch, a whole number ≥ 0");
    }
  };
  time("from", options.from);
  time("to", options.to);
  let windowMs = 60_000;
  if (options.window !== undefined) {
    const ms = parseDuration(options.window);
    if (ms === undefined || ms < 1000 || ms > MAX_READ_SECONDS * 1000) {
      problems.add("readFleetMetrics.window", options.window, `from 1s to 1d: ${DURATION_FORM}`);
    } else windowMs = ms;
    if (options.from !== undefined) {
      problems.add("readFleetMetrics.window", options.window, "no window when `from` is given");
    }
  }
  const top = options.topOffenders ?? 100;
  if (!Number.isSafeInteger(top) || top < 0 || top > 10_000) {
    problems.add(
      "readFleetMetrics.topOffenders",
      options.topOffenders,
      "a whole number from 0 to 10000",
    );
  }
  problems.throwIfAny();
  const to = options.to ?? Date.now();
  const from = options.from ?? to - windowMs;
  const fromSecond = Math.floor(from / 1000);
  const toSecond = Math.floor(to / 1000);
  if (toSecond < fromSecond || toSecond - fromSecond >= MAX_READ_SECONDS) {
    const p = new ProblemList();
    p.add("readFleetMetrics.from", from, `at most a day before \`to\` (${to}), and not after it`);
    p.throwIfAny();
  }
  const buckets = await store!.metrics!(prefix).read(fromSecond, toSecond);
  const all = emptyDecoded();
  const seconds: FleetSecond[] = [];
  for (const b of buckets) {
    const one = emptyDecoded();
    for (const [field, n] of b.counts) decodeInto(one, field, n);
    mergeInto(all, one);
    if (one.pairs.size > 0) seconds.push({ second: b.second, ...summarize(one.pairs.values()) });
  }
  return {
    from,
    to,
    ...summarize(all.pairs.values()),
    seconds,
    topOffenders: topOf(all.offenders, top),
  };
}
