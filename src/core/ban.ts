import { wallNow } from "./clock.js";
import type { Decision } from "./decision.js";
import { DURATION_FORM, type Duration, formatDuration, parseDuration } from "./duration.js";
import type { ProblemList } from "./errors/config-error.js";
import type { EventHub } from "./events.js";
import { type Logger, warn } from "./logger.js";
import { MAX_POLICY_MS, parsePolicies } from "./policy.js";
import type { Store, StoreBinding } from "./store.js";

/**
 * A ban (fail2ban's maxretry / findtime / bantime): after `after` refusals of one key within
 * `within`, the key is blocked for `duration`. Refusals are the client's own (reason "limited"
 * or "cost-exceeds-limit"); a request refused because the key is blocked, or because the store
 * is out ("degraded"), is not counted. The count lives in the limiter's store, so a fleet on
 * Redis bans together (docs/penalties.md).
 *
 * @example
 * createLimiter({ policies: "10/s", ban: { after: 5, within: "1h", duration: "1d" } })
 */
export type BanOptions = {
  /** Refusals that start a ban: a whole number from 1 to 1000. */
  after: number;
  /** The span those refusals must fall in: a positive duration of at most 10 years. */
  within: Duration;
  /** How long the ban blocks the key: a positive duration of at most 10 years. */
  duration: Duration;
};

/** A validated ban. */
export type BanSpec = {
  readonly after: number;
  readonly withinMs: number;
  readonly durationMs: number;
};

/**
 * The most refusals a ban may wait for: the count is a sliding log (one entry per refusal, at
 * most `after` of them per key), so this bounds a key's count to 16 KB.
 */
export const MAX_BAN_AFTER = 1000;
const BAN_KEYS = ["after", "within", "duration"];
const POSITIVE_FORM = `a positive duration of at most 10 years (${MAX_POLICY_MS} ms): ${DURATION_FORM}`;

/** Checks a `ban` option under `option`; undefined when absent or invalid (problems added). */
export function checkBan(
  input: unknown,
  option: string,
  problems: ProblemList,
): BanSpec | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    problems.add(
      option,
      input,
      '{ after, within, duration }, e.g. { after: 5, within: "1h", duration: "1d" }',
    );
    return undefined;
  }
  const o = input as Record<string, unknown>;
  const before = problems.items.length;
  problems.unknownKeys(o, BAN_KEYS, option);
  const after = o.after;
  if (
    !(Number.isSafeInteger(after) && (after as number) >= 1 && (after as number) <= MAX_BAN_AFTER)
  ) {
    problems.add(`${option}.after`, after, `a whole number from 1 to ${MAX_BAN_AFTER}`);
  }
  const withinMs = parseDuration(o.within);
  if (withinMs === undefined || withinMs <= 0 || withinMs > MAX_POLICY_MS) {
    problems.add(`${option}.within`, o.within, POSITIVE_FORM);
  }
  const durationMs = parseDuration(o.duration);
  if (durationMs === undefined || durationMs <= 0 || durationMs > MAX_POLICY_MS) {
    problems.add(`${option}.duration`, o.duration, POSITIVE_FORM);
  }
  if (problems.items.length > before) return undefined;
  return Object.freeze({ after: after as number, withinMs: withinMs!, durationMs: durationMs! });
}

/** Whether a decision is a refusal a ban counts. */
export function countsForBan(d: Decision): boolean {
  return !d.allowed && (d.reason === "limited" || d.reason === "cost-exceeds-limit");
}

/**
 * One limiter's ban. The refusals of a key are counted in a second binding of the same store,
 * `<prefix>:ban`, with one sliding-log policy `{ limit: after, window: within }`: each refusal
 * consumes one unit. The store decides each consume atomically (one Lua run on Redis), so
 * exactly one refusal sees the count reach `after` (allowed, 0 remaining): that one, and only
 * that one, starts the ban. It blocks the key, and empties the count and blocks the count's own
 * key for the ban's duration (one batch: reset, then block). Refusals racing it find the log
 * full (rejected, not counted); refusals during the ban find the count blocked (not counted),
 * even those another process still answers "limited" from its local cache, which has not seen
 * the ban yet. So a ban starts once, and each ban needs `after` fresh refusals.
 *
 * Costs nothing for an allowed request: the count is touched only on a refusal (one store call),
 * and a ban's start adds two (the key's block; the count's reset and block, sent together).
 */
export class Ban {
  private readonly counts: StoreBinding;

  constructor(
    store: Store,
    prefix: string,
    readonly spec: BanSpec,
    private readonly target: StoreBinding,
    private readonly events: EventHub,
    private readonly logger: Logger,
    private readonly rule: string,
  ) {
    const policy = parsePolicies(
      { limit: spec.after, window: spec.withinMs, algorithm: "sliding-log", name: "ban" },
      "ban",
    );
    this.counts = store.bind(`${prefix}:ban`, policy);
  }

  /**
   * Counts the refusal `d` of `key`; when it starts a ban, blocks the key and answers `d`
   * telling the ban's wait (a new object: the caller announces the ban when it gets one).
   */
  async count(key: string, now: number | undefined, d: Decision): Promise<Decision> {
    let started: boolean;
    try {
      started = isStart(await this.counts.consume(key, 1, now));
    } catch {
      return d; // the store could not count: no ban, the refusal stands as it is
    }
    if (!started) return d;
    const ms = this.spec.durationMs;
    // Issued in one turn: the Redis store sends the count's reset and block in one script run.
    const [blocked] = await Promise.allSettled([
      this.target.block(key, ms, now),
      this.counts.reset(key),
      this.counts.block(key, ms, now),
    ]);
    return blocked.status === "fulfilled" ? banned(d, ms) : d;
  }

  /** `count` without waiting, for consumeSync on an in-process store. */
  countSync(key: string, now: number | undefined, d: Decision): Decision {
    const consume = this.counts.consumeSync;
    if (consume === undefined) {
      // A store with consumeSync on the limiter's binding but not here: count in the background.
      void this.count(key, now, d).then((b) => b !== d && this.announce(key, now), noop);
      return d;
    }
    if (!isStart(consume.call(this.counts, key, 1, now))) return d;
    const ms = this.spec.durationMs;
    if (this.target.blockSync !== undefined) this.target.blockSync(key, ms, now);
    else void this.target.block(key, ms, now).catch(noop);
    if (this.counts.resetSync !== undefined && this.counts.blockSync !== undefined) {
      this.counts.resetSync(key);
      this.counts.blockSync(key, ms, now);
    } else {
      void this.counts.reset(key).catch(noop);
      void this.counts.block(key, ms, now).catch(noop);
    }
    return banned(d, ms);
  }

  /** Forgets the key's count (limiter.reset): its next ban needs `after` refusals again. */
  reset(key: string): Promise<void> {
    return this.counts.reset(key);
  }

  /**
   * Lifts the count's own block (limiter.unblock): once a banned key is let back in by hand, its
   * refusals count again (the count was emptied when the ban started).
   */
  unblock(key: string): Promise<void> {
    return this.counts.unblock(key);
  }

  /**
   * Reports a ban that started: the `autoBlock` event, and one warning (one per ban, never per
   * request: every later refusal of the key is "blocked", which a ban does not count).
   */
  announce(key: string, now: number | undefined): void {
    const time = now ?? wallNow();
    const { after, withinMs, durationMs } = this.spec;
    if (this.events.wants("autoBlock")) {
      this.events.emit("autoBlock", {
        type: "autoBlock",
        time,
        identifier: key,
        by: "ban",
        reasons: VIOLATIONS,
        score: 1,
        durationMs,
        until: time + durationMs,
      });
    }
    warn(
      this.logger,
      "WARN_TK_AUTO_BLOCKED",
      `${this.rule}: ${JSON.stringify(key)} blocked for ${formatDuration(durationMs)} after ${after} refusal${after === 1 ? "" : "s"} within ${formatDuration(withinMs)} (ban)`,
    );
  }
}

const VIOLATIONS: readonly string[] = Object.freeze(["violations"]);

function noop(): void {}

/** The count's answer that starts a ban: the `after`-th refusal fits, with nothing left. */
function isStart(c: Decision): boolean {
  return c.allowed && c.reason === "ok" && c.remaining === 0;
}

/** The refusal that started a ban, telling the ban's wait (as a blockFor rejection does). */
function banned(d: Decision, ms: number): Decision {
  return {
    ...d,
    retryAfterMs: Math.max(d.retryAfterMs, ms),
    resetMs: Math.max(d.resetMs, ms),
  };
}
