import { formatDuration } from "../core/duration.js";
import { warn, warnOnce } from "../core/logger.js";
import { BoundedTable } from "./bounded-table.js";
import type { ResolvedAbuseOptions } from "./options.js";
import { ABUSE_REASON_PREFIX, type AbuseSignal } from "./types.js";

/**
 * Auto-blocks: what this process knows to be blocked, and the writes that tell the fleet.
 *
 * A block goes to the deny list of `options.lists` (the store's lists, so every process of the
 * fleet denies the client) in the background: `analyze` stays synchronous, and a store outage
 * loses the fleet-wide entry but never throws from `analyze` nor slows a request. The block is
 * kept here too, in a table bounded like the client table, so this process answers `isBlocked`
 * at once and does not write the same block again while it stands.
 */
export class Blocker {
  /** Identifier → when its block ends (ms). */
  private readonly blocks: BoundedTable<number>;
  /**
   * When each block written to the fleet's deny list ends, oldest first: every block lasts
   * blockDurationMs, so they end in the order they were written (a queue, pruned from the head).
   * Bounded by maxBlocked.
   */
  private readonly written: number[] = [];
  private head = 0;

  constructor(private readonly options: ResolvedAbuseOptions) {
    this.blocks = new BoundedTable(options.maxClients);
  }

  /** When the identifier's block ends, or 0 when it is not blocked at `now`. */
  until(identifier: string, now: number): number {
    const until = this.blocks.peek(identifier);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blocks.delete(identifier);
      return 0;
    }
    return until;
  }

  /** Blocks `identifier` from `now`; returns when the block ends. */
  block(identifier: string, now: number, score: number, reasons: readonly AbuseSignal[]): number {
    const o = this.options;
    const until = now + o.blockDurationMs;
    this.blocks.set(identifier, until);
    const why = reasons.length > 0 ? reasons.join(", ") : "score";
    if (o.lists !== undefined && this.room(now, identifier)) {
      try {
        o.lists
          .add(
            {
              list: "deny",
              value: identifier,
              expiresAt: until,
              reason: `${ABUSE_REASON_PREFIX} ${why}`,
            },
            now,
          )
          // The block still stands in this process; the fleet-wide entry is lost for this
          // outage. The store's own outage reporting says the store is down.
          .catch(() => {});
      } catch {
        // A ListStore that throws synchronously is as good as one that rejects.
      }
    }
    const events = o.events;
    if (events?.wants("autoBlock")) {
      events.emit("autoBlock", {
        type: "autoBlock",
        time: now,
        identifier,
        by: "abuse",
        reasons: [...reasons],
        score,
        durationMs: o.blockDurationMs,
        until,
      });
    }
    warn(
      o.logger,
      "WARN_TK_AUTO_BLOCKED",
      `"${identifier}" put on the deny list for ${formatDuration(o.blockDurationMs)} (abuse detection: ${why}; score ${score.toFixed(2)})`,
    );
    return until;
  }

  /**
   * True when one more block fits on the fleet's deny list (maxBlocked live at once), and
   * counts it; else logs WARN_TK_DENY_LIST_FULL (once per logger) and keeps the block local.
   */
  private room(now: number, identifier: string): boolean {
    const written = this.written;
    while (this.head < written.length && written[this.head]! <= now) this.head++;
    if (this.head > 1024 && this.head * 2 > written.length) {
      written.splice(0, this.head);
      this.head = 0;
    }
    if (written.length - this.head >= this.options.maxBlocked) {
      warnOnce(
        this.options.logger,
        "WARN_TK_DENY_LIST_FULL",
        `${this.options.maxBlocked} automatic blocks already stand on the deny list (maxBlocked): "${identifier}" is blocked in this process only`,
      );
      return false;
    }
    written.push(now + this.options.blockDurationMs);
    return true;
  }

  unblock(identifier?: string): void {
    if (identifier === undefined) this.blocks.clear();
    else this.blocks.delete(identifier);
  }
}
