import { Blocker } from "./blocker.js";
import { BoundedTable } from "./bounded-table.js";
import { ClientState } from "./client-state.js";
import { type ResolvedAbuseOptions, resolveAbuseOptions } from "./options.js";
import { judge } from "./scoring.js";
import type { AbuseDetector, AbuseDetectorOptions, TrafficInfo, TrafficVerdict } from "./types.js";

/** Time constant of the burst counter: about the last second. */
const RECENT_MS = 1000;

/**
 * Abuse detection (ratethrottle's DDoS analyzer, with signals that tell a flood, a scanner or a
 * credential stuffer from a busy customer): call `analyze` for each request, with its status and
 * user agent when known, and act on the verdict, or let `autoBlock` put suspicious clients on
 * the deny list of a store's lists, so the whole fleet denies them. Memory is bounded by
 * `maxClients` whatever the traffic; see docs/protection.md for the signals and the figures.
 *
 * @example
 * const detector = createAbuseDetector({ autoBlock: true, lists: store.lists("tk") });
 * const verdict = detector.analyze("203.0.113.7", "/login", { status: 401, userAgent: ua });
 * if (verdict.isSuspicious) console.log(verdict.suspicionScore, verdict.reasons);
 */
export function createAbuseDetector(options: AbuseDetectorOptions = {}): AbuseDetector {
  return new Detector(resolveAbuseOptions(options));
}

class Detector implements AbuseDetector {
  private readonly clients: BoundedTable<ClientState>;
  private readonly blocker: Blocker;
  /** Half a window: how long a distinct-counter bitmap lasts. */
  private readonly epochMs: number;

  constructor(private readonly o: ResolvedAbuseOptions) {
    this.clients = new BoundedTable(o.maxClients);
    this.blocker = new Blocker(o);
    this.epochMs = o.windowMs / 2;
  }

  get size(): number {
    return this.clients.size;
  }

  analyze(identifier: string, endpoint: string, info?: TrafficInfo): TrafficVerdict {
    const o = this.o;
    const time = info?.time;
    // A time that is not a number would poison the client's decayed counters for good.
    const now = time !== undefined && Number.isFinite(time) ? time : o.clock();
    const epoch = Math.floor(now / this.epochMs);
    let state = this.clients.touch(identifier);
    let decay = 1;
    let recentDecay = 1;
    if (state === undefined) {
      state = new ClientState(now, epoch);
      this.clients.set(identifier, state);
    } else {
      const elapsed = now - state.last;
      if (elapsed >= o.windowMs) {
        // Silent for a whole window: nothing it did is recent; it starts over (its block, if
        // any, is in the block table and stands).
        state.restart(now, epoch);
      } else if (elapsed > 0) {
        decay = Math.exp(-elapsed / o.windowMs);
        recentDecay = Math.exp(-elapsed / RECENT_MS);
      }
    }
    const agentReported = info !== undefined && "userAgent" in info;
    state.record(
      now,
      decay,
      recentDecay,
      epoch,
      endpoint,
      info?.status,
      agentReported,
      info?.userAgent,
    );
    const j = judge(state, now, o);
    const isSuspicious = j.score >= o.scoreThreshold;
    let blocked = state.blockedUntil > now;
    if (!blocked && state.blockedUntil !== 0) state.blockedUntil = 0;
    if (!blocked) {
      // Blocked before this client's state was evicted and re-created, or by reset().
      const until = this.blocker.until(identifier, now);
      if (until > 0) {
        state.blockedUntil = until;
        blocked = true;
      } else if (isSuspicious && o.autoBlock) {
        state.blockedUntil = this.blocker.block(identifier, now, j.score, j.reasons);
        blocked = true;
      }
    }
    return {
      requestRate: j.requestRate,
      suspicionScore: j.score,
      isSuspicious,
      reasons: j.reasons,
      blocked,
    };
  }

  isBlocked(identifier: string, now?: number): boolean {
    return this.blocker.until(identifier, now ?? this.o.clock()) > 0;
  }

  reset(identifier?: string): void {
    if (identifier === undefined) {
      this.clients.clear();
      this.blocker.unblock();
    } else {
      this.clients.delete(identifier);
      this.blocker.unblock(identifier);
    }
  }
}
