import type { EventHub, StoreEvent } from "../../core/events.js";
import { type Logger, warn } from "../../core/logger.js";

/**
 * Says when the Redis store starts answering degraded and when it answers again, once per
 * transition, never per request (issue 13, item 12): WARN_TK_STORE_OUTAGE on the first failed
 * call (error, timeout, late run) after a healthy period, WARN_TK_STORE_RECOVERED on the first
 * successful call after that. The same transitions go to every observed event hub as
 * `degraded` and `recovered` (issue 17, item 1).
 *
 * Results are ordered by the calls' sequence numbers: a call sent before the last transition
 * says nothing about the state after it (a reply to a command sent before the outage began, or
 * the timeout of one queued while Redis was down and answered after a probe had succeeded).
 */
export class OutageLog {
  private down = false;
  /** The last sequence number sent when the state last changed. */
  private mark = 0;
  private since = 0;
  private degradedAtStart = 0;
  private readonly hubs = new HubSet();

  constructor(
    private readonly logger: Logger,
    private readonly mode: string,
    private readonly stats: { readonly degraded: number },
  ) {}

  /** Adds a hub the transitions are emitted to (the store's `observe`). */
  observe(hub: EventHub): void {
    this.hubs.add(hub);
  }

  /** Call `seq` failed; `latest` is the newest sequence number sent so far. */
  failure(seq: number, latest: number, error: unknown): void {
    if (this.down || seq <= this.mark) return;
    this.down = true;
    this.mark = latest;
    this.since = Date.now();
    this.degradedAtStart = this.stats.degraded;
    const why = error instanceof Error ? error.message : String(error);
    warn(
      this.logger,
      "WARN_TK_STORE_OUTAGE",
      `the Redis store cannot answer (${why}); decisions follow onStoreError "${this.mode}" (reason "degraded") until it answers again`,
    );
    this.hubs.emit({
      type: "degraded",
      time: this.since,
      store: "redis",
      mode: this.mode,
      error: why,
      outageMs: undefined,
      degradedDecisions: undefined,
    });
  }

  /** Call `seq` succeeded; `latest` is the newest sequence number sent so far. */
  success(seq: number, latest: number): void {
    if (!this.down || seq <= this.mark) return;
    this.down = false;
    this.mark = latest;
    const time = Date.now();
    const outageMs = time - this.since;
    const degradedDecisions = this.stats.degraded - this.degradedAtStart;
    warn(
      this.logger,
      "WARN_TK_STORE_RECOVERED",
      `the Redis store answers again after ${outageMs} ms; ${degradedDecisions} decisions were answered degraded meanwhile`,
    );
    this.hubs.emit({
      type: "recovered",
      time,
      store: "redis",
      mode: this.mode,
      error: undefined,
      outageMs,
      degradedDecisions,
    });
  }
}

/**
 * The hubs a store reports to, each once. Held weakly: every limiter built on the store adds
 * its hub, and a limiter dropped (a config reload builds new ones) must not stay reachable
 * through the store for the process's life. Dead entries are swept on each transition and
 * whenever the set has doubled since the last sweep, so its size follows the live hubs.
 */
class HubSet {
  private readonly seen = new WeakSet<EventHub>();
  private readonly refs = new Set<WeakRef<EventHub>>();
  private sweepAt = 16;

  add(hub: EventHub): void {
    if (this.seen.has(hub)) return;
    this.seen.add(hub);
    this.refs.add(new WeakRef(hub));
    if (this.refs.size >= this.sweepAt) {
      this.sweep();
      this.sweepAt = Math.max(16, this.refs.size * 2);
    }
  }

  /**
   * Emits one event object to every live hub. Never throws: it runs inside the call that
   * noticed the transition, whose caller is waiting for its decision (a hub of our own already
   * catches its listeners' errors; this guards a hand-written EventHub too).
   */
  emit(event: StoreEvent): void {
    for (const ref of this.refs) {
      const hub = ref.deref();
      if (hub === undefined) {
        this.refs.delete(ref);
        continue;
      }
      try {
        if (hub.wants(event.type)) hub.emit(event.type, event);
      } catch {
        // The decision must be answered whatever a listener does.
      }
    }
  }

  private sweep(): void {
    for (const ref of this.refs) if (ref.deref() === undefined) this.refs.delete(ref);
  }
}
