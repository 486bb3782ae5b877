import type { Duration } from "../core/duration.js";
import type { EventHub } from "../core/events.js";
import type { ListStore } from "../core/list-store.js";
import type { Logger } from "../core/logger.js";

/**
 * The contract of abuse detection (issue 17, item 4): ratethrottle's DDoS analyzer, with signals
 * that separate attackers from heavy legitimate users. Implemented in ./abuse-detector.ts.
 */

/** The signals that can make a client suspicious. */
export type AbuseSignal = "rate" | "burst" | "scanning" | "errors" | "user-agent";

/** What `analyze` answers (ratethrottle's TrafficPattern). */
export type TrafficVerdict = {
  /** Requests per second over the detector's window. */
  readonly requestRate: number;
  /** 0 (ordinary) to 1 (certainly abusive). */
  readonly suspicionScore: number;
  readonly isSuspicious: boolean;
  /** The signals that fired, strongest first. */
  readonly reasons: readonly AbuseSignal[];
  /** True when the identifier is (now) auto-blocked. */
  readonly blocked: boolean;
};

/** What one request tells beyond who and where. */
export type TrafficInfo = {
  /** The response status, when known (401/403/404 storms are a signal; 429 is ours, not one). */
  readonly status?: number | undefined;
  /** The User-Agent header; missing or rotating agents are a signal. */
  readonly userAgent?: string | undefined;
  /** When it happened (ms); the detector's clock by default (a replayed trace passes its own). */
  readonly time?: number | undefined;
};

export type AbuseDetectorOptions = {
  /** Requests per `window` above which the rate alone is suspicious (ratethrottle's threshold). @default 1000 */
  threshold?: number;
  /** Span the signals are measured over. @default "60s" */
  window?: Duration;
  /** Put suspicious identifiers on the deny list. @default false */
  autoBlock?: boolean;
  /** How long an auto-block lasts. @default "1h" */
  blockDuration?: Duration;
  /** Score from which a client is suspicious. @default 0.8 */
  scoreThreshold?: number;
  /**
   * Where auto-blocks go, fleet-wide: a ListStore (the HTTP layer passes its store's lists, so
   * every process denies the client). @default an in-process list
   */
  lists?: ListStore;
  /** Identifiers tracked at once; beyond it the least recently seen are forgotten. @default 100000 */
  maxClients?: number;
  /**
   * Automatic blocks this detector keeps on the fleet's deny list at once. An attacker with many
   * addresses could otherwise grow the list (and every process's snapshot of it, re-read each
   * `listsRefresh`) without bound; past it, a new block applies in this process only (its block
   * table, bounded by maxClients) and WARN_TK_DENY_LIST_FULL is logged. @default 10000
   */
  maxBlocked?: number;
  /** Receives `autoBlock` events. */
  events?: EventHub;
  /** Logs each auto-block once. @default console */
  logger?: Logger | false;
  /** Clock in ms; a recorded trace is replayed with its own. @default Date.now */
  clock?: () => number;
};

export interface AbuseDetector {
  /** Records one request and judges its client. Synchronous; an auto-block is written behind. */
  analyze(identifier: string, endpoint: string, info?: TrafficInfo): TrafficVerdict;
  /**
   * True while `identifier` is auto-blocked by this detector: this process's knowledge. Blocks
   * other processes made reach the fleet through the deny list, which the HTTP layer reads.
   */
  isBlocked(identifier: string, now?: number): boolean;
  /** Identifiers currently tracked (bounded by maxClients). */
  readonly size: number;
  /** Forgets one identifier's history, or everyone's. */
  reset(identifier?: string): void;
}

/** The deny-list reason prefix of auto-blocks: the HTTP layer answers those 429 abnormal-usage-detected. */
export const ABUSE_REASON_PREFIX = "abuse:";
