import { DURATION_FORM, parseDuration } from "../core/duration.js";
import { ProblemList } from "../core/errors/config-error.js";
import type { EventHub } from "../core/events.js";
import type { ListStore } from "../core/list-store.js";
import { LOGGER_FORM, type Logger, resolveLogger } from "../core/logger.js";
import type { AbuseDetectorOptions } from "./types.js";

/** The defaults, as documented on AbuseDetectorOptions and in docs/protection.md. */
export const ABUSE_DEFAULTS = Object.freeze({
  threshold: 1000,
  window: "60s",
  autoBlock: false,
  blockDuration: "1h",
  scoreThreshold: 0.8,
  maxClients: 100_000,
  maxBlocked: 10_000,
});

/** Options checked and resolved to the numbers the detector works with. */
export type ResolvedAbuseOptions = {
  readonly threshold: number;
  readonly windowMs: number;
  /** Shortest span a rate is measured over: a sixth of the window, 1 s at least. */
  readonly warmupMs: number;
  readonly autoBlock: boolean;
  readonly blockDurationMs: number;
  readonly scoreThreshold: number;
  readonly lists: ListStore | undefined;
  readonly maxClients: number;
  readonly maxBlocked: number;
  readonly events: EventHub | undefined;
  readonly logger: Logger;
  readonly clock: () => number;
};

const KNOWN: readonly (keyof AbuseDetectorOptions)[] = [
  "threshold",
  "window",
  "autoBlock",
  "blockDuration",
  "scoreThreshold",
  "lists",
  "maxClients",
  "maxBlocked",
  "events",
  "logger",
  "clock",
];

function hasMethods(value: unknown, names: readonly string[]): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    names.every((n) => typeof (value as Record<string, unknown>)[n] === "function")
  );
}

/** Checks every option at once; throws one ConfigError listing all problems. */
export function resolveAbuseOptions(options: AbuseDetectorOptions): ResolvedAbuseOptions {
  const problems = new ProblemList();
  const resolved = collectAbuseOptions(options, "", problems);
  problems.throwIfAny();
  return resolved as ResolvedAbuseOptions;
}

/**
 * Checks the options, adding each problem to `problems` under `where` (the HTTP layer passes
 * "protect", so its one ConfigError lists these beside its own). Undefined when any is wrong.
 */
export function collectAbuseOptions(
  input: unknown,
  where: string,
  problems: ProblemList,
): ResolvedAbuseOptions | undefined {
  const at = (name: string): string => (where === "" ? name : `${where}.${name}`);
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    problems.add(where === "" ? "createAbuseDetector(options)" : where, input, "an options object");
    return undefined;
  }
  const before = problems.items.length;
  const options = input as AbuseDetectorOptions;
  problems.unknownKeys(options, KNOWN, where);

  const threshold = options.threshold ?? ABUSE_DEFAULTS.threshold;
  if (typeof threshold !== "number" || !Number.isFinite(threshold) || threshold <= 0)
    problems.add(at("threshold"), options.threshold, "a number of requests per window, above 0");

  const windowMs = parseDuration(options.window ?? ABUSE_DEFAULTS.window);
  if (windowMs === undefined || windowMs < 1000)
    problems.add(at("window"), options.window, `a duration of at least 1s (${DURATION_FORM})`);

  const autoBlock = options.autoBlock ?? ABUSE_DEFAULTS.autoBlock;
  if (typeof autoBlock !== "boolean")
    problems.add(at("autoBlock"), options.autoBlock, "true or false");

  const blockDurationMs = parseDuration(options.blockDuration ?? ABUSE_DEFAULTS.blockDuration);
  if (blockDurationMs === undefined || blockDurationMs < 1)
    problems.add(
      at("blockDuration"),
      options.blockDuration,
      `a duration above 0 (${DURATION_FORM})`,
    );

  const scoreThreshold = options.scoreThreshold ?? ABUSE_DEFAULTS.scoreThreshold;
  if (
    typeof scoreThreshold !== "number" ||
    !Number.isFinite(scoreThreshold) ||
    scoreThreshold <= 0 ||
    scoreThreshold > 1
  )
    problems.add(at("scoreThreshold"), options.scoreThreshold, "a number above 0 and at most 1");

  if (options.lists !== undefined && !hasMethods(options.lists, ["add", "remove", "entries"]))
    problems.add(
      at("lists"),
      options.lists,
      'a ListStore (a store\'s lists(namespace), e.g. memoryStore().lists("tk"))',
    );

  const maxClients = options.maxClients ?? ABUSE_DEFAULTS.maxClients;
  if (typeof maxClients !== "number" || !Number.isSafeInteger(maxClients) || maxClients < 1)
    problems.add(at("maxClients"), options.maxClients, "a whole number ≥ 1");

  const maxBlocked = options.maxBlocked ?? ABUSE_DEFAULTS.maxBlocked;
  if (typeof maxBlocked !== "number" || !Number.isSafeInteger(maxBlocked) || maxBlocked < 1)
    problems.add(at("maxBlocked"), options.maxBlocked, "a whole number ≥ 1");

  if (options.events !== undefined && !hasMethods(options.events, ["emit", "wants", "on"]))
    problems.add(at("events"), options.events, "an EventHub (createEvents())");

  const logger = resolveLogger(options.logger);
  if (logger === undefined) problems.add(at("logger"), options.logger, LOGGER_FORM);

  const clock = options.clock ?? Date.now;
  if (typeof clock !== "function")
    problems.add(at("clock"), options.clock, "a function returning the time in ms");

  if (problems.items.length > before) return undefined;
  const window = windowMs as number;
  return {
    threshold,
    windowMs: window,
    warmupMs: Math.max(1000, Math.round(window / 6)),
    autoBlock,
    blockDurationMs: blockDurationMs as number,
    scoreThreshold,
    lists: options.lists,
    maxClients,
    maxBlocked,
    events: options.events,
    logger: logger as Logger,
    clock,
  };
}
