import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { DeniedEvent, StoreEvent, ViolationEvent } from "../index.js";
import { redactText } from "./redact.js";

/** A refusal as the page lists it. */
export type RecentViolation = {
  readonly time: number;
  readonly rule: string;
  /** The identity key or client address. */
  readonly who: string;
  /** The binding policy, or "deny-list". */
  readonly policy: string;
  readonly reason: string;
  readonly requestsMade: number | undefined;
  readonly limit: number | undefined;
  readonly retryAfterMs: number | undefined;
};

/** What this process saw of its store's health. */
export type LocalOutage = {
  readonly ongoing: boolean;
  /** When the ongoing (or last) outage began. */
  readonly since: number | undefined;
  readonly count: number;
  readonly store: string | undefined;
  readonly mode: string | undefined;
  readonly error: string | undefined;
};

/**
 * Events of this process's limiters, heard on `node:diagnostics_channel` (every hub publishes
 * there): recent violations and denials, store outages. The fleet's per-second buckets carry
 * counts only, so who was refused, and when, comes from here. Subscribing to
 * `throttlekit:violation` makes limiters build their events (the cost of one listener, see
 * docs/observability.md); `recentViolations: 0` leaves it off.
 */
export class LocalEvents {
  private readonly ring: RecentViolation[] = [];
  private outageState: LocalOutage = {
    ongoing: false,
    since: undefined,
    count: 0,
    store: undefined,
    mode: undefined,
    error: undefined,
  };
  private readonly subscriptions: [string, (message: unknown) => void][] = [];

  constructor(private readonly capacity: number) {
    const on = (name: string, fn: (message: unknown) => void) => {
      subscribe(`throttlekit:${name}`, fn);
      this.subscriptions.push([`throttlekit:${name}`, fn]);
    };
    // Outages are rare events, not per decision: always heard.
    on("degraded", (m) => this.degraded(m as StoreEvent));
    on("recovered", () => {
      this.outageState = { ...this.outageState, ongoing: false };
    });
    if (capacity > 0) {
      on("violation", (m) => {
        const v = m as ViolationEvent;
        this.push({
          time: v.time,
          rule: v.rule,
          who: v.identifier,
          policy: v.policy,
          reason: v.shadow ? `${v.reason} (shadow)` : v.reason,
          requestsMade: v.requestsMade,
          limit: v.limit,
          retryAfterMs: Number.isFinite(v.retryAfterMs) ? v.retryAfterMs : undefined,
        });
      });
      on("denied", (m) => {
        const d = m as DeniedEvent;
        this.push({
          time: d.time,
          rule: d.rule,
          who: d.key ?? d.address ?? "?",
          policy: "deny-list",
          reason: d.reason === undefined ? "denied" : `denied: ${d.reason}`,
          requestsMade: undefined,
          limit: undefined,
          retryAfterMs: undefined,
        });
      });
    }
  }

  private push(v: RecentViolation): void {
    this.ring.push(v);
    if (this.ring.length > this.capacity) this.ring.shift();
  }

  private degraded(e: StoreEvent): void {
    this.outageState = {
      ongoing: true,
      since: e.time,
      count: this.outageState.count + 1,
      store: e.store,
      mode: e.mode,
      // A driver's message names hosts and ports; a URL in it loses its credentials.
      error: e.error === undefined ? undefined : redactText(e.error).slice(0, 200),
    };
  }

  /** The latest violations, newest first. */
  violations(): RecentViolation[] {
    return this.ring.slice().reverse();
  }

  outage(): LocalOutage {
    return this.outageState;
  }

  close(): void {
    for (const [name, fn] of this.subscriptions) unsubscribe(name, fn);
    this.subscriptions.length = 0;
  }
}
