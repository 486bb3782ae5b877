import type {
  DecisionEvent,
  DeniedEvent,
  EventHub,
  StoreEvent,
  ViolationEvent,
} from "../events.js";
import type { Policy } from "../policy.js";
import {
  ALLOWED,
  BLOCKED,
  CountTable,
  DEGRADED,
  DENIED,
  DENY_LIST_POLICY,
  LIMITED,
  type Pair,
  SHADOWED,
  summarize,
} from "./counts.js";
import { FleetRecorder } from "./fleet.js";
import { LatencyHistogram } from "./histogram.js";
import { checkMetricsOptions, type ResolvedMetricsOptions } from "./options.js";
import { Ring } from "./ring.js";
import { SpaceSaving } from "./space-saving.js";
import type { Metrics, MetricsOptions, MetricsSnapshot } from "./types.js";

/**
 * Builds a metrics collector listening to `events` (issue 17, item 2): counts per rule and
 * binding policy, recent violations (a ring), top offenders (a Space-Saving sketch: memory fixed
 * whatever the number of clients), store latency (a fixed-bucket histogram) and outages. With a
 * `store`, the counts of every finished second are also added to the fleet's per-second buckets,
 * which `readFleetMetrics` sums across processes.
 *
 * @example
 * const events = createEvents();
 * const metrics = createMetrics(events);
 * createHttpLimiter({ policies: "100/min", events });
 * metrics.snapshot().total.blockRate;
 */
export function createMetrics(events: EventHub, options: MetricsOptions = {}): Metrics {
  return new Collector(events, checkMetricsOptions(events, options));
}

class Collector implements Metrics {
  private readonly table = new CountTable();
  private readonly offenders: SpaceSaving;
  private readonly violations: Ring<ViolationEvent>;
  private readonly latency = new LatencyHistogram();
  private outages = 0;
  private ongoing = false;
  private since: number;
  private readonly fleet: FleetRecorder | undefined;
  private readonly undo: (() => void)[];
  private closing: Promise<void> | undefined;
  // The pair of the last decision: a limiter's decisions come with the same rule string and
  // Policy object, so most decisions find their counts without a lookup.
  private lastRule: string | undefined;
  private lastPolicy: Policy | undefined;
  private lastPair: Pair | undefined;

  constructor(
    events: EventHub,
    private readonly options: ResolvedMetricsOptions,
  ) {
    this.offenders = new SpaceSaving(options.topOffenders);
    this.violations = new Ring(options.recentViolations);
    this.since = options.clock();
    const store = options.store;
    this.fleet =
      store === undefined
        ? undefined
        : new FleetRecorder(
            this.table,
            store.metrics!(options.prefix),
            options.retentionMs,
            options.flushEveryMs,
            options.clock,
            options.timers,
          );
    const onStore = (e: StoreEvent) => this.store(e);
    this.undo = [
      events.on("decision", (e) => this.decision(e)),
      events.on("denied", (e) => this.denied(e)),
      events.on("degraded", onStore),
      events.on("recovered", onStore),
      events.wantTimings(),
    ];
    // Only when kept: a violation listener makes emitters build the event for every refusal.
    if (options.recentViolations > 0) {
      this.undo.push(events.on("violation", (e) => this.violations.push(e)));
    }
  }

  private decision(e: DecisionEvent): void {
    const d = e.decision;
    let pair = this.lastPair;
    if (pair === undefined || e.rule !== this.lastRule || d.policy !== this.lastPolicy) {
      pair = this.table.pair(e.rule, d.policy.name);
      this.lastRule = e.rule;
      this.lastPolicy = d.policy;
      this.lastPair = pair;
    }
    const ms = e.durationMs;
    if (ms !== undefined) this.latency.observe(ms);
    const fleet = this.fleet;
    if (fleet !== undefined && e.time >= fleet.secondEnd) fleet.roll(e.time);
    const n = pair.n;
    switch (d.reason) {
      case "ok":
      case "exempt":
        n[ALLOWED]!++;
        return;
      case "degraded":
        n[DEGRADED]!++;
        return;
      case "denied":
        // Counted from its `denied` event (which carries the deny entry), never twice.
        return;
      case "blocked":
        n[BLOCKED]!++;
        break;
      default:
        // "limited" and "cost-exceeds-limit": refused by a policy.
        n[LIMITED]!++;
    }
    if (e.shadow) n[SHADOWED]!++;
    this.offenders.add(e.key);
    fleet?.offender(e.key);
  }

  private denied(e: DeniedEvent): void {
    const fleet = this.fleet;
    if (fleet !== undefined && e.time >= fleet.secondEnd) fleet.roll(e.time);
    this.table.pair(e.rule, DENY_LIST_POLICY).n[DENIED]!++;
    const who = e.key ?? e.address;
    if (who !== undefined) {
      this.offenders.add(who);
      fleet?.offender(who);
    }
  }

  private store(e: StoreEvent): void {
    if (e.type === "degraded") {
      this.outages++;
      this.ongoing = true;
    } else this.ongoing = false;
  }

  snapshot(): MetricsSnapshot {
    return {
      since: this.since,
      at: this.options.clock(),
      ...summarize(this.table.all()),
      recentViolations: this.violations.toArray().map((v) => ({ ...v })),
      topOffenders: this.offenders.top(),
      storeLatency: this.latency.summary(),
      outages: { count: this.outages, ongoing: this.ongoing },
    };
  }

  reset(): void {
    // What the fleet has not been given yet still goes to it: a reset is this process's view.
    this.fleet?.collect();
    this.table.clear();
    this.lastPair = undefined;
    this.lastRule = undefined;
    this.lastPolicy = undefined;
    this.offenders.clear();
    this.violations.clear();
    this.latency.clear();
    // An outage going on stays on (its `recovered` is still to come); the count starts again.
    this.outages = 0;
    this.since = this.options.clock();
  }

  close(): Promise<void> {
    if (this.closing === undefined) {
      for (const f of this.undo) f();
      this.closing = this.fleet === undefined ? Promise.resolve() : this.fleet.close();
    }
    return this.closing;
  }
}
