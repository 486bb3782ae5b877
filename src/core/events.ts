import { type Channel, channelOf } from "./channels.js";
import type { Decision } from "./decision.js";
import type { ConfigError } from "./errors/config-error.js";
import { type Logger, resolveLogger, warnOnce } from "./logger.js";

/**
 * What throttlekit reports as it works (issue 17): one event per decision, and derived ones for
 * refusals, list denials, store outages and automatic blocks. Every limiter, HTTP limiter and
 * adapter emits into an EventHub (its own, or one passed as `events` so several share it);
 * metrics, Prometheus and OpenTelemetry are listeners of a hub like any other.
 *
 * Nothing is computed when nobody listens: emitters ask `hub.active` (one field read, plus the
 * diagnostics channels' `hasSubscribers` on Node) before building an event.
 */

/** An event about one decision: `decision` for every one, `limited` / `blocked` for refusals. */
export type DecisionEvent = {
  readonly type: "decision" | "limited" | "blocked";
  /** When it was decided (ms since the epoch, the limiter's clock). */
  readonly time: number;
  /**
   * The rule that decided: an HTTP rule's name, a limiter's `name` (its prefix by default), or
   * an adapter's own ("ws:messages", "graphql:cost"). Bounded: never built from a request.
   */
  readonly rule: string;
  /** The identity key. Events carry it; metrics labels never do. */
  readonly key: string;
  /** Units this request asked for. */
  readonly cost: number;
  readonly decision: Decision;
  /** True when a rule in shadow mode let a refused request through. */
  readonly shadow: boolean;
  /** Time the store took to decide (ms), when measured (someone wants timings); else undefined. */
  readonly durationMs: number | undefined;
};

/** A request refused by the deny list (an identity key or an address on it). */
export type DeniedEvent = {
  readonly type: "denied";
  readonly time: number;
  /** The rule the request matched. */
  readonly rule: string;
  /** The identity key, when the key (not the address) was denied. */
  readonly key: string | undefined;
  /** The client address, when known. */
  readonly address: string | undefined;
  /** The deny entry's reason, when it has one ("abuse: scanning", "ban", ...). */
  readonly reason: string | undefined;
};

/**
 * A client went over a limit: ratethrottle's violation, fired with every refusal the client
 * caused (limited, blocked, cost-exceeds-limit), never for a store outage's.
 */
export type ViolationEvent = {
  readonly type: "violation";
  readonly time: number;
  /** Who: the identity key. */
  readonly identifier: string;
  readonly rule: string;
  /** The binding policy's name ("100/1m", or the policy's own `name`). */
  readonly policy: string;
  /** Units used in the policy's window, this refused request included (limit − remaining + cost). */
  readonly requestsMade: number;
  readonly limit: number;
  /** Whole seconds until the request can pass (Retry-After); Infinity when it never can. */
  readonly retryAfter: number;
  readonly retryAfterMs: number;
  readonly reason: "limited" | "blocked" | "cost-exceeds-limit";
  readonly shadow: boolean;
};

/** A store outage begins (`degraded`) or ends (`recovered`). Once per transition. */
export type StoreEvent = {
  readonly type: "degraded" | "recovered";
  readonly time: number;
  /** The store's name ("redis"). */
  readonly store: string;
  /** What decisions follow meanwhile: the store's `onStoreError`. */
  readonly mode: string;
  /** `degraded`: why the store could not answer. */
  readonly error: string | undefined;
  /** `recovered`: how long the outage lasted (ms). */
  readonly outageMs: number | undefined;
  /** `recovered`: decisions answered "degraded" during the outage. */
  readonly degradedDecisions: number | undefined;
};

/** An identifier was put on the deny list (or blocked) automatically. */
export type AutoBlockEvent = {
  readonly type: "autoBlock";
  readonly time: number;
  readonly identifier: string;
  /** What did it: the abuse detector, or a `ban` after repeated violations. */
  readonly by: "abuse" | "ban";
  /** The signals that fired ("rate", "scanning", "errors", "user-agent", "burst", "violations"). */
  readonly reasons: readonly string[];
  /** The abuse detector's suspicion score (0..1); 1 for a ban. */
  readonly score: number;
  readonly durationMs: number;
  /** When the block ends (ms since the epoch). */
  readonly until: number;
};

/** An HTTP limiter's `reload()` swapped in a new configuration (issue 18). */
export type ReloadedEvent = {
  readonly type: "reloaded";
  readonly time: number;
  /** The names of the rules now in force, in order (the catch-all's is "default"). */
  readonly rules: readonly string[];
};

/**
 * A `reload()` was refused: the running configuration keeps serving. Also logged once, as
 * WARN_TK_RELOAD_REJECTED.
 */
export type ReloadRejectedEvent = {
  readonly type: "reloadRejected";
  readonly time: number;
  /** Why: `error.problems` lists every problem ({ option, received, expected }). */
  readonly error: ConfigError;
  /** Where the refused configuration came from (a file name), when the caller said. */
  readonly source?: string;
};

/** Every event by its name. */
export type ThrottleEventMap = {
  decision: DecisionEvent;
  limited: DecisionEvent;
  blocked: DecisionEvent;
  denied: DeniedEvent;
  violation: ViolationEvent;
  degraded: StoreEvent;
  recovered: StoreEvent;
  autoBlock: AutoBlockEvent;
  reloaded: ReloadedEvent;
  reloadRejected: ReloadRejectedEvent;
};

export type ThrottleEventType = keyof ThrottleEventMap;
export type ThrottleEvent = ThrottleEventMap[ThrottleEventType];
export type EventListener<K extends ThrottleEventType> = (event: ThrottleEventMap[K]) => void;

/** Every event name, in a stable order (also the diagnostics channels: `throttlekit:<name>`). */
export const EVENT_TYPES: readonly ThrottleEventType[] = Object.freeze([
  "decision",
  "limited",
  "blocked",
  "denied",
  "violation",
  "degraded",
  "recovered",
  "autoBlock",
  "reloaded",
  "reloadRejected",
]);

/** The types a decision can produce: emitters skip all the work when none is wanted. */
const DECISION_TYPES: readonly ThrottleEventType[] = [
  "decision",
  "limited",
  "blocked",
  "violation",
];

export type EventHubOptions = {
  /** Where a listener that throws is reported (once). @default console */
  logger?: Logger | false;
};

/**
 * A typed event emitter (runtime-neutral: no EventEmitter, no node:events). Listeners run
 * synchronously, in the order they were added; one that throws is reported once through the
 * logger and never breaks the request that emitted.
 *
 * @example
 * const events = createEvents();
 * events.on("violation", (v) => alert(`${v.identifier} made ${v.requestsMade}/${v.limit}`));
 * const limiter = createLimiter({ policies: "10/s", events });
 */
export interface EventHub {
  /** Adds a listener; returns the function that removes it. */
  on<K extends ThrottleEventType>(type: K, listener: EventListener<K>): () => void;
  off<K extends ThrottleEventType>(type: K, listener: EventListener<K>): void;
  /**
   * True when a decision's events would reach anyone (a listener of decision, limited, blocked
   * or violation, or a diagnostics channel subscriber). Emitters check this first.
   */
  readonly active: boolean;
  /** True when listeners asked for store timings (`durationMs`): metrics do. */
  readonly timing: boolean;
  /** True when an event of `type` would reach anyone. */
  wants(type: ThrottleEventType): boolean;
  emit<K extends ThrottleEventType>(type: K, event: ThrottleEventMap[K]): void;
  /**
   * Asks emitters to measure `durationMs` while the returned function has not been called
   * (metrics collectors and histograms call it; plain listeners need not).
   */
  wantTimings(): () => void;
}

const NOTHING = (): void => {};

/**
 * A hub that never listens, for limiters whose decisions their owner reports itself: the HTTP
 * limiter's rule limiters (it emits one event per request, with the rule's name, shadow mode and
 * concurrency answer), an adapter's per-connection or per-call message limiters (keyed by a
 * connection id, reported under the caller's identity). On a hub of their own, a
 * `node:diagnostics_channel` subscriber would make them active and see each decision twice.
 */
export const SILENT_EVENTS: EventHub = Object.freeze({
  active: false,
  timing: false,
  on: () => NOTHING,
  off: NOTHING,
  wants: () => false,
  emit: NOTHING,
  wantTimings: () => NOTHING,
});

/** Builds an event hub to share between limiters, metrics and exporters. */
export function createEvents(options: EventHubOptions = {}): EventHub {
  const logger = resolveLogger(options.logger) ?? resolveLogger(undefined)!;
  return new Hub(logger);
}

type Lists = { [K in ThrottleEventType]: readonly EventListener<K>[] };
type Channels = { [K in ThrottleEventType]: Channel | undefined };

const NONE: readonly never[] = Object.freeze([]);

/** A channel that never has subscribers: where the host has no diagnostics channels. */
const NO_CHANNEL: Channel = Object.freeze({ hasSubscribers: false, publish: () => {} });

class Hub implements EventHub {
  /** One list per type (a fixed shape, no Map lookup per emit), replaced on every change. */
  private readonly lists: Lists = {
    decision: NONE,
    limited: NONE,
    blocked: NONE,
    denied: NONE,
    violation: NONE,
    degraded: NONE,
    recovered: NONE,
    autoBlock: NONE,
    reloaded: NONE,
    reloadRejected: NONE,
  };
  private readonly channels: Channels = {
    decision: channelOf("decision"),
    limited: channelOf("limited"),
    blocked: channelOf("blocked"),
    denied: channelOf("denied"),
    violation: channelOf("violation"),
    degraded: channelOf("degraded"),
    recovered: channelOf("recovered"),
    autoBlock: channelOf("autoBlock"),
    reloaded: channelOf("reloaded"),
    reloadRejected: channelOf("reloadRejected"),
  };
  private decisionListeners = 0;
  private timers = 0;
  // The diagnostics channels of a decision's events, held in fields: `active` is read for every
  // decision, and four field loads and getters cost a fraction of a lookup per type by name
  // (bench/results/observe-overhead.md).
  private readonly dcDecision = channelOf("decision") ?? NO_CHANNEL;
  private readonly dcLimited = channelOf("limited") ?? NO_CHANNEL;
  private readonly dcBlocked = channelOf("blocked") ?? NO_CHANNEL;
  private readonly dcViolation = channelOf("violation") ?? NO_CHANNEL;

  constructor(private readonly logger: Logger) {}

  get active(): boolean {
    return (
      this.decisionListeners > 0 ||
      this.dcDecision.hasSubscribers ||
      this.dcLimited.hasSubscribers ||
      this.dcBlocked.hasSubscribers ||
      this.dcViolation.hasSubscribers
    );
  }

  get timing(): boolean {
    return this.timers > 0;
  }

  wants(type: ThrottleEventType): boolean {
    return this.lists[type].length > 0 || this.channels[type]?.hasSubscribers === true;
  }

  on<K extends ThrottleEventType>(type: K, listener: EventListener<K>): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(`events.on("${type}", listener): listener must be a function`);
    }
    if (!EVENT_TYPES.includes(type)) {
      throw new TypeError(`events.on: unknown event "${String(type)}" (${EVENT_TYPES.join(", ")})`);
    }
    // Copy on write: an emit in progress keeps iterating the list it started with.
    const lists = this.lists as Record<ThrottleEventType, readonly EventListener<K>[]>;
    lists[type] = [...lists[type], listener];
    if (DECISION_TYPES.includes(type)) this.decisionListeners++;
    return () => this.off(type, listener);
  }

  off<K extends ThrottleEventType>(type: K, listener: EventListener<K>): void {
    const lists = this.lists as Record<ThrottleEventType, readonly EventListener<K>[]>;
    const list = lists[type];
    const i = list.indexOf(listener);
    if (i < 0) return;
    lists[type] = list.length === 1 ? NONE : [...list.slice(0, i), ...list.slice(i + 1)];
    if (DECISION_TYPES.includes(type)) this.decisionListeners--;
  }

  wantTimings(): () => void {
    this.timers++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.timers--;
    };
  }

  emit<K extends ThrottleEventType>(type: K, event: ThrottleEventMap[K]): void {
    const list = this.lists[type] as readonly EventListener<K>[];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event);
      } catch (error) {
        this.failed(type, error);
      }
    }
    const ch = this.channels[type];
    if (ch?.hasSubscribers) ch.publish(event);
  }

  /**
   * emit("decision", event) for emitDecision, the per-decision path: the list and the channel
   * are named fields here, where emit's `lists[type]` and `channels[type]` are keyed loads over
   * ten types (bench/results/observe-overhead.md).
   */
  emitDecisionEvent(event: DecisionEvent): void {
    const list = this.lists.decision;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event);
      } catch (error) {
        this.failed("decision", error);
      }
    }
    if (this.dcDecision.hasSubscribers) this.dcDecision.publish(event);
  }

  private failed(type: ThrottleEventType, error: unknown): void {
    const why = error instanceof Error ? error.message : String(error);
    warnOnce(
      this.logger,
      "WARN_TK_LISTENER_FAILED",
      `a "${type}" listener threw (${why}); the request it reported on went on unaffected`,
    );
  }
}

/**
 * Emits the events of one decision: `decision`, then `limited` or `blocked` and `violation` for
 * a refusal the client caused. The one place that turns a Decision into events, used by the core
 * limiter, the HTTP engine and every adapter, so payloads agree everywhere. Call it only when
 * `hub.active`.
 */
export function emitDecision(
  hub: EventHub,
  time: number,
  rule: string,
  key: string,
  cost: number,
  decision: Decision,
  shadow: boolean,
  durationMs: number | undefined,
): void {
  const event: DecisionEvent = {
    type: "decision",
    time,
    rule,
    key,
    cost,
    decision,
    shadow,
    durationMs,
  };
  if (hub instanceof Hub) hub.emitDecisionEvent(event);
  else hub.emit("decision", event);
  const reason = decision.reason;
  if (
    decision.allowed ||
    (reason !== "limited" && reason !== "blocked" && reason !== "cost-exceeds-limit")
  )
    return;
  hub.emit(reason === "blocked" ? "blocked" : "limited", {
    type: reason === "blocked" ? "blocked" : "limited",
    time,
    rule,
    key,
    cost,
    decision,
    shadow,
    durationMs,
  });
  if (!hub.wants("violation")) return;
  const retryAfterMs = decision.retryAfterMs;
  hub.emit("violation", {
    type: "violation",
    time,
    identifier: key,
    rule,
    policy: decision.policy.name,
    requestsMade: decision.limit - decision.remaining + cost,
    limit: decision.limit,
    retryAfter:
      retryAfterMs === Number.POSITIVE_INFINITY
        ? Number.POSITIVE_INFINITY
        : Math.ceil(retryAfterMs / 1000),
    retryAfterMs,
    reason,
    shadow,
  });
}
