import type {
  AutoBlockEvent,
  DecisionEvent,
  DeniedEvent,
  EventHub,
  Outcome,
  ProblemList,
  StoreEvent,
} from "../index.js";

/**
 * What throttlekit/prometheus and throttlekit/otel share: the running totals of a hub's events
 * by bounded labels (rule, policy, outcome; store; by), kept in plain numbers on the request
 * path and read by the exporter when it is scraped or collected. Nothing per request reaches
 * prom-client or the OTel SDK but the latency histogram (neither can take a batch of
 * observations), so an exporter costs a map lookup and an increment per decision.
 */

/** The outcome labels, in the order of `Cell.outcomes`. */
export const OUTCOME_LABELS: readonly Outcome[] = [
  "allowed",
  "limited",
  "blocked",
  "denied",
  "degraded",
];
const ALLOWED = 0;
const LIMITED = 1;
const BLOCKED = 2;
const DENIED = 3;
const DEGRADED = 4;

/** The policy label of a deny-list refusal: no policy decided it. */
export const DENY_LIST_POLICY = "deny-list";

/**
 * Distinct (rule, policy) pairs counted before further new pairs share one overflow pair.
 * Rules and policies come from configuration (never from a request), so a real setup stays far
 * below; the cap only keeps a misuse (a rule named after each client) from growing without end.
 */
export const MAX_PAIRS = 1000;
export const OVERFLOW = "_overflow";

/** Counts of one (rule, policy) pair, and its label sets (built once, shared by every scrape). */
export type Cell = {
  readonly rule: string;
  readonly policy: string;
  /** By OUTCOME_LABELS. */
  readonly outcomes: number[];
  violations: number;
  shadowed: number;
  readonly ruleLabels: { readonly rule: string };
  readonly pairLabels: { readonly rule: string; readonly policy: string };
  /** By OUTCOME_LABELS. */
  readonly outcomeLabels: readonly {
    readonly rule: string;
    readonly policy: string;
    readonly outcome: Outcome;
  }[];
  /** Store latency of this pair's timed decisions, when the counts keep a histogram. */
  readonly durations: Durations | undefined;
};

/** A fixed-bucket histogram (seconds): `counts[i]` ≤ bounds[i], the last one above them all. */
export type Durations = { readonly counts: number[]; sum: number; count: number };

export type StoreState = { outages: number; degraded: boolean };

/** What an exporter adds to the counting: per-decision work it cannot defer. */
export type DecisionHook = (event: DecisionEvent, cell: Cell) => void;
export type DeniedHook = (event: DeniedEvent) => void;

export class EventCounts {
  /**
   * @param bounds When given, the store latency of timed decisions is kept per pair in buckets
   * with these upper bounds (seconds), read back by `durations()`.
   */
  constructor(private readonly bounds?: readonly number[]) {}

  private readonly rules = new Map<string, Map<string, Cell>>();
  private pairs = 0;
  readonly stores = new Map<string, StoreState>();
  readonly autoBlocks = new Map<string, number>();

  /** Every pair counted so far, in the order first seen. */
  *cells(): IterableIterator<Cell> {
    for (const policies of this.rules.values()) yield* policies.values();
  }

  cell(rule: string, policy: string): Cell {
    let policies = this.rules.get(rule);
    let cell = policies?.get(policy);
    if (cell !== undefined) return cell;
    const overflow = rule === OVERFLOW && policy === OVERFLOW;
    if (this.pairs >= MAX_PAIRS && !overflow) return this.cell(OVERFLOW, OVERFLOW);
    if (policies === undefined) {
      policies = new Map();
      this.rules.set(rule, policies);
    }
    cell = {
      rule,
      policy,
      outcomes: [0, 0, 0, 0, 0],
      violations: 0,
      shadowed: 0,
      ruleLabels: Object.freeze({ rule }),
      pairLabels: Object.freeze({ rule, policy }),
      outcomeLabels: OUTCOME_LABELS.map((outcome) => Object.freeze({ rule, policy, outcome })),
      durations:
        this.bounds === undefined
          ? undefined
          : { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 },
    };
    policies.set(policy, cell);
    // The overflow pair itself never counts against the cap, so it can always be created.
    if (!overflow) this.pairs++;
    return cell;
  }

  /** Counts one decision; returns its pair. */
  decision(e: DecisionEvent): Cell {
    const d = e.decision;
    const cell = this.cell(e.rule, d.policy.name);
    const ms = e.durationMs;
    if (ms !== undefined && cell.durations !== undefined) {
      const h = cell.durations;
      const bounds = this.bounds!;
      const s = ms / 1000;
      let i = 0;
      while (i < bounds.length && s > bounds[i]!) i++;
      h.counts[i]!++;
      h.sum += s;
      h.count++;
    }
    switch (d.reason) {
      case "ok":
      case "exempt":
        cell.outcomes[ALLOWED]!++;
        return cell;
      case "degraded":
        cell.outcomes[DEGRADED]!++;
        return cell;
      case "denied":
        // A deny-list refusal is counted from its `denied` event (the HTTP layer's), which
        // carries no Decision; counting a Decision that says "denied" too would count it twice.
        return cell;
      case "blocked":
        cell.outcomes[BLOCKED]!++;
        break;
      default:
        // "limited" and "cost-exceeds-limit": refused by a policy.
        cell.outcomes[LIMITED]!++;
    }
    // A refusal the client caused: ratethrottle's violation (as emitDecision defines it).
    cell.violations++;
    if (e.shadow) cell.shadowed++;
    return cell;
  }

  /** The latency histogram per rule (its pairs' added up), when kept. */
  durations(): Map<string, Durations> {
    const byRule = new Map<string, Durations>();
    for (const cell of this.cells()) {
      const h = cell.durations;
      if (h === undefined || h.count === 0) continue;
      let sum = byRule.get(cell.rule);
      if (sum === undefined) {
        sum = { counts: new Array<number>(h.counts.length).fill(0), sum: 0, count: 0 };
        byRule.set(cell.rule, sum);
      }
      for (let i = 0; i < h.counts.length; i++) sum.counts[i]! += h.counts[i]!;
      sum.sum += h.sum;
      sum.count += h.count;
    }
    return byRule;
  }

  denied(e: DeniedEvent): void {
    this.cell(e.rule, DENY_LIST_POLICY).outcomes[DENIED]!++;
  }

  store(e: StoreEvent): void {
    let s = this.stores.get(e.store);
    if (s === undefined) {
      // Store names come from code ("redis", "memory"); bounded like the pairs all the same.
      if (this.stores.size >= MAX_PAIRS) return;
      s = { outages: 0, degraded: false };
      this.stores.set(e.store, s);
    }
    if (e.type === "degraded") {
      s.outages++;
      s.degraded = true;
    } else {
      s.degraded = false;
    }
  }

  autoBlock(e: AutoBlockEvent): void {
    this.autoBlocks.set(e.by, (this.autoBlocks.get(e.by) ?? 0) + 1);
  }
}

/**
 * Listens to every hub: counts into `counts` and calls the hooks. Returns the function that
 * removes every listener and releases the timing requests (`timings`: the exporter's latency
 * histogram needs `durationMs`).
 */
export function watch(
  hubs: readonly EventHub[],
  counts: EventCounts,
  hooks: { decision?: DecisionHook; denied?: DeniedHook; timings: boolean },
): () => void {
  const onDecision = hooks.decision;
  const onDenied = hooks.denied;
  const decision =
    onDecision === undefined
      ? (e: DecisionEvent) => counts.decision(e)
      : (e: DecisionEvent) => onDecision(e, counts.decision(e));
  const denied =
    onDenied === undefined
      ? (e: DeniedEvent) => counts.denied(e)
      : (e: DeniedEvent) => {
          counts.denied(e);
          onDenied(e);
        };
  const store = (e: StoreEvent) => counts.store(e);
  const autoBlock = (e: AutoBlockEvent) => counts.autoBlock(e);
  const undo: (() => void)[] = [];
  for (const hub of hubs) {
    undo.push(
      hub.on("decision", decision),
      hub.on("denied", denied),
      hub.on("degraded", store),
      hub.on("recovered", store),
      hub.on("autoBlock", autoBlock),
    );
    if (hooks.timings) undo.push(hub.wantTimings());
  }
  let closed = false;
  return () => {
    if (closed) return;
    closed = true;
    for (const f of undo) f();
  };
}

const HUB_FORM = "an EventHub from createEvents() (or limiter.events), or an array of them";

/** Checks an exporter's `events` option: one hub or a non-empty array of distinct hubs. */
export function checkHubs(option: unknown, problems: ProblemList): EventHub[] {
  if (option === undefined) {
    problems.add("events", option, HUB_FORM);
    return [];
  }
  const list = Array.isArray(option) ? (option as unknown[]) : [option];
  if (list.length === 0) problems.add("events", option, HUB_FORM);
  const hubs: EventHub[] = [];
  list.forEach((h, i) => {
    const where = Array.isArray(option) ? `events[${i}]` : "events";
    if (!isHub(h)) problems.add(where, h, HUB_FORM);
    else if (hubs.includes(h)) {
      problems.add(where, "the same hub again", "each hub once (its events would count twice)");
    } else hubs.push(h);
  });
  return hubs;
}

function isHub(v: unknown): v is EventHub {
  if (typeof v !== "object" || v === null) return false;
  const h = v as Record<string, unknown>;
  return (
    typeof h.on === "function" &&
    typeof h.off === "function" &&
    typeof h.emit === "function" &&
    typeof h.wantTimings === "function"
  );
}

/** The store latency buckets (seconds): memory decides in µs, Redis in a fraction of a ms. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
  0.25, 0.5, 1,
]);

export const BUCKETS_FORM = "a non-empty array of increasing finite numbers of seconds, all > 0";

export function isBuckets(v: unknown): v is readonly number[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.length <= 100 &&
    v.every(
      (b, i) =>
        typeof b === "number" &&
        Number.isFinite(b) &&
        b > 0 &&
        (i === 0 || b > (v[i - 1] as number)),
    )
  );
}
