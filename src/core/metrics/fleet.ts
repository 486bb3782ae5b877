import type { Timers } from "../timers.js";
import { type CountTable, WIDTH } from "./counts.js";
import { countField, FLEET_OFFENDERS_PER_SECOND, offenderFields } from "./fleet-fields.js";
import { SpaceSaving } from "./space-saving.js";
import type { MetricsBinding } from "./types.js";

/**
 * Seconds kept for a store that does not answer (an outage), before the oldest are dropped:
 * five minutes of a process's counts, a few KB each.
 */
export const MAX_PENDING_SECONDS = 300;
/** Keys a process tracks per second for the fleet's top offenders (it reports the top 10). */
const OFFENDERS_TRACKED = 32;

/**
 * The collector's side of fleet-wide metrics (issue 17, item 2): the counts of each finished
 * second are moved out of the running table (as differences from what was already sent) into
 * a pending bucket, and every `flushEvery` the pending buckets go to the store's binding, one
 * `record` per second. A failed record keeps its bucket for the next flush (at most
 * MAX_PENDING_SECONDS of them, and none older than the retention); nothing is ever thrown at a
 * request, and the timer never keeps a process alive.
 */
export class FleetRecorder {
  /** The epoch second counts are gathered for now. */
  private second: number;
  /** When that second ends (ms): a decision at or after it rolls the counts over. */
  secondEnd: number;
  private readonly offenders = new SpaceSaving(OFFENDERS_TRACKED);
  private readonly pending = new Map<number, Map<string, number>>();
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private closed = false;
  /** Seconds dropped because the store stayed out longer than the bound. */
  dropped = 0;

  constructor(
    private readonly table: CountTable,
    private readonly binding: MetricsBinding,
    private readonly retentionMs: number,
    private readonly flushEveryMs: number,
    private readonly clock: () => number,
    private readonly timers: Timers,
  ) {
    this.second = Math.floor(clock() / 1000);
    this.secondEnd = (this.second + 1) * 1000;
    this.arm();
  }

  /** A refusal or denial of `key` in the current second. */
  offender(key: string): void {
    this.offenders.add(key);
  }

  /** Closes the current second's counts and starts the second of `t`. */
  roll(t: number): void {
    this.collect();
    this.second = Math.floor(t / 1000);
    this.secondEnd = (this.second + 1) * 1000;
  }

  /** Moves what the table counted since the last move into the current second's bucket. */
  collect(): void {
    let fields = this.pending.get(this.second);
    const add = (field: string, n: number) => {
      fields ??= new Map();
      fields.set(field, (fields.get(field) ?? 0) + n);
    };
    for (const p of this.table.all()) {
      for (let i = 0; i < WIDTH; i++) {
        const d = p.n[i]! - p.sent[i]!;
        if (d > 0) {
          add(countField(p.rule, p.policy, i), d);
          p.sent[i] = p.n[i]!;
        }
      }
    }
    for (const o of this.offenders.top(FLEET_OFFENDERS_PER_SECOND)) {
      const f = offenderFields(o.key);
      add(f.count, o.count);
      if (o.error > 0) add(f.error, o.error);
    }
    this.offenders.clear();
    if (fields !== undefined) this.keep(this.second, fields);
  }

  private keep(second: number, fields: Map<string, number>): void {
    const had = this.pending.get(second);
    if (had !== undefined && had !== fields) {
      for (const [f, n] of fields) had.set(f, (had.get(f) ?? 0) + n);
    } else this.pending.set(second, fields);
    while (this.pending.size > MAX_PENDING_SECONDS) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const s of this.pending.keys()) oldest = Math.min(oldest, s);
      this.pending.delete(oldest);
      this.dropped++;
    }
  }

  /** Sends the finished seconds (every second when `final`). Never rejects. */
  flush(final = false): Promise<void> {
    if (this.inFlight !== undefined) {
      // One flush at a time; a final one runs after the one in flight.
      return final ? this.inFlight.then(() => this.flush(true)) : this.inFlight;
    }
    const now = this.clock();
    if (final) this.collect();
    else if (now >= this.secondEnd) this.roll(now);
    const current = Math.floor(now / 1000);
    const oldest = Math.floor((now - this.retentionMs) / 1000);
    const sends: Promise<void>[] = [];
    for (const [second, fields] of [...this.pending]) {
      if (second < oldest) {
        this.pending.delete(second); // expired before it could be sent
        continue;
      }
      if (!final && second >= current) continue;
      this.pending.delete(second);
      sends.push(
        this.record(second, fields).then(
          () => {},
          () => this.keep(second, fields), // retried next time (bounded)
        ),
      );
    }
    if (sends.length === 0) return Promise.resolve();
    const done = Promise.all(sends).then(
      () => {
        this.inFlight = undefined;
      },
      () => {
        this.inFlight = undefined;
      },
    );
    this.inFlight = done;
    return done;
  }

  private record(second: number, fields: Map<string, number>): Promise<void> {
    try {
      return this.binding.record(second, fields, this.retentionMs);
    } catch (error) {
      return Promise.reject(error); // a binding that throws is a failed record like any other
    }
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.flush().then(() => this.arm());
    }, this.flushEveryMs);
    // Never the reason a process stays up (Node and Bun timers have unref; others need none).
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Stops the timer and sends everything, the current second included. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush(true);
  }

  /** Seconds waiting to be sent (for tests and monitoring). */
  get waiting(): number {
    return this.pending.size;
  }
}
