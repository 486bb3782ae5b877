import { ConfigError, type ProblemList } from "../core/errors/config-error.js";
import type { EventHub } from "../core/events.js";
import type { ListStore } from "../core/list-store.js";
import { type Logger, warnOnce } from "../core/logger.js";
import { createAbuseDetector } from "../protect/abuse-detector.js";
import type { AbuseDetector, AbuseDetectorOptions } from "../protect/types.js";
import type { HttpRequest } from "./request.js";

const PROTECT_FORM =
  "an AbuseDetector from createAbuseDetector(), or its options { threshold?, window?, autoBlock?, ... }";

/** What the limiter lends a detector it builds from options. */
export type ProtectContext = {
  /** The store's lists (fleet-wide), where automatic blocks go. */
  readonly lists: ListStore;
  /** Called after the detector wrote to the lists: the limiter's snapshot reloads. */
  readonly changed: () => void;
  readonly events: EventHub;
  readonly logger: Logger | false | undefined;
  readonly clock: (() => number) | undefined;
};

/**
 * The `protect` option: a detector as given, or one built from its options on the limiter's
 * lists, events, logger and clock. Problems go to `problems` (under "protect").
 */
export function buildProtect(
  option: unknown,
  ctx: ProtectContext,
  problems: ProblemList,
): AbuseDetector | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== "object" || option === null || Array.isArray(option)) {
    problems.add("protect", option, PROTECT_FORM);
    return undefined;
  }
  const o = option as Record<string, unknown>;
  if (typeof o.analyze === "function") {
    if (typeof o.isBlocked !== "function") problems.add("protect", option, PROTECT_FORM);
    return option as AbuseDetector;
  }
  for (const k of ["lists", "events"]) {
    if (o[k] !== undefined) {
      problems.add(
        `protect.${k}`,
        o[k],
        "left out: the limiter passes its store's lists and its events",
      );
    }
  }
  if (problems.items.some((p) => p.option.startsWith("protect."))) return undefined;
  try {
    return createAbuseDetector({
      ...(option as AbuseDetectorOptions),
      lists: notifying(ctx.lists, ctx.changed),
      events: ctx.events,
      // The limiter's logger and clock unless the options name their own.
      ...(o.logger === undefined && ctx.logger !== undefined ? { logger: ctx.logger } : {}),
      ...(o.clock === undefined && ctx.clock !== undefined ? { clock: ctx.clock } : {}),
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) problems.add(`protect.${p.option}`, p.received, p.expected);
    return undefined;
  }
}

/** The lists the detector writes to: each change reaches this limiter's next request. */
export function notifying(lists: ListStore, changed: () => void): ListStore {
  return {
    add: (entry, now) => lists.add(entry, now).then(changed),
    remove: (list, value) =>
      lists.remove(list, value).then((removed) => {
        changed();
        return removed;
      }),
    entries: (now) => lists.entries(now),
  };
}

/** Analyzes one request; a detector that throws is reported once and never fails the request. */
export function analyze(
  detector: AbuseDetector,
  key: string,
  path: string,
  userAgent: string | undefined,
  status: number,
  logger: Logger,
): void {
  try {
    detector.analyze(key, path, { userAgent, status });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    warnOnce(
      logger,
      "WARN_TK_LISTENER_FAILED",
      `the abuse detector (protect) threw (${why}); the request went on unaffected`,
    );
  }
}

/**
 * An `after` that also analyzes the request once its status is known (the response ended),
 * after `inner` (a slot's release, a refund). Path and User-Agent are read now, while the
 * request is live.
 */
export function analyzedAfter<Raw>(
  detector: AbuseDetector,
  req: HttpRequest<Raw>,
  key: string,
  inner: ((status: number) => void) | undefined,
  logger: Logger,
): (status: number) => void {
  const path = req.path;
  const userAgent = req.header("user-agent");
  let done = false;
  return (status) => {
    if (done) return;
    done = true;
    inner?.(status);
    analyze(detector, key, path, userAgent, status, logger);
  };
}
