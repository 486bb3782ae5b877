import type { ClientState } from "./client-state.js";
import type { AbuseSignal } from "./types.js";

/**
 * The signals, each a strength from 0 (nothing unusual) to 1 (certain), from one client's state.
 *
 * Hard signals can make a client suspicious on their own: the rate over the threshold (the
 * operator's own statement: "no legitimate client sends more than `threshold` per `window`"),
 * error storms, a scan of mostly-404 paths. Soft signals (burstiness, many distinct paths,
 * missing or rotating user agents) are what heavy legitimate users show too: a browser loading
 * a page is a burst over many paths; an office behind one address has many user agents. They
 * only ever add to a hard signal (./scoring.ts caps them together).
 */

/** What signals need from the options. */
export type SignalSettings = {
  readonly threshold: number;
  readonly windowMs: number;
  /** Shortest span a rate is measured over (a client's first second says little). */
  readonly warmupMs: number;
};

/** Strengths of every signal, in AbuseSignal order. Reused: the caller copies what it keeps. */
export type Strengths = Record<AbuseSignal, number>;

function ramp(value: number, from: number, to: number): number {
  if (value <= from) return 0;
  if (value >= to) return 1;
  return (value - from) / (to - from);
}

/**
 * Requests per second of a client, from its decayed count: for a steady rate λ begun `age` ago,
 * the count decayed with time constant τ is λ·τ·(1 − e^(−age/τ)), so dividing by that factor
 * gives λ back without waiting a whole window for the count to fill. The age is at least
 * `warmupMs`, so a client's first few requests do not read as a huge rate.
 */
export function requestRate(state: ClientState, now: number, s: SignalSettings): number {
  const age = Math.max(now - state.first, s.warmupMs);
  // After ten windows the count has long filled (e^-10 < 0.01%): skip the exp.
  const filled = age >= 10 * s.windowMs ? 1 : 1 - Math.exp(-age / s.windowMs);
  return state.requests / ((s.windowMs / 1000) * filled);
}

/** Weights: the most each soft signal adds on its own. */
const BURST_MAX = 0.5;
const SPREAD_MAX = 0.35;
const AGENT_MISSING_MAX = 0.45;
const AGENT_ROTATING_MAX = 0.55;

/** Rate: the rate projected over a window, compared with the threshold. */
export function rateStrength(projected: number, threshold: number): number {
  const p = projected / threshold;
  if (p < 0.5) return 0;
  // Half the threshold starts to count; at the threshold the rate alone is suspicious (0.85,
  // above the default score threshold of 0.8); twice the threshold is certain.
  if (p < 1) return p - 0.5;
  return Math.min(1, 0.85 + 0.15 * (p - 1));
}

/**
 * Burstiness: requests in about the last second, against the threshold's own pace. A page load
 * reaches a few times that pace for a second; a flood stays far above it.
 */
export function burstStrength(state: ClientState, s: SignalSettings): number {
  const pace = s.threshold / (s.windowMs / 1000); // per second, at the threshold
  return BURST_MAX * ramp(state.recent / Math.max(pace, 1), 2, 8);
}

/**
 * Scanning: many distinct endpoints answered 404. A scanner tries hundreds of paths, nearly all
 * missing; a browser or an API client walking through ids uses many paths too, nearly all found.
 */
export function scanningStrength(state: ClientState, distinct: number): number {
  const spread = ramp(distinct, 8, 40);
  if (spread === 0 || state.withStatus === 0) return 0;
  return spread * ramp(state.notFound / state.withStatus, 0.1, 0.6);
}

/** Spread alone: many distinct endpoints, whatever their answers (soft: browsers do it). */
export function spreadStrength(distinct: number): number {
  return SPREAD_MAX * ramp(distinct, 8, 40);
}

/**
 * Errors, three ways, the strongest counting:
 * - authentication failures (401 / 403 / 407): a handful, making up a fair share of the client's
 *   requests, is credential stuffing or token guessing (one mistyped password is one);
 * - a storm of errors of any kind (404 probing included) making up most of its requests;
 * - persistence: errors spread over time rather than in one burst, a prober's signature (a page
 *   with missing images gives one burst of 404s among many 200s).
 * Each needs both a number and a share: one failed request is 100% errors of one request.
 */
export function errorStrength(state: ClientState): number {
  const known = state.withStatus;
  if (known === 0) return 0;
  const errors = state.authFailures + state.notFound;
  if (errors < 2) return 0;
  const share = errors / known;
  const auth = ramp(state.authFailures, 2, 6) * ramp(state.authFailures / known, 0.15, 0.45);
  const storm = ramp(errors, 3, 10) * ramp(share, 0.3, 0.7);
  const persistent = ramp(state.spacedErrors, 2, 5) * ramp(share, 0.25, 0.45);
  return Math.max(auth, storm, persistent);
}

/** User agents: requests without one, or one client cycling through many. */
export function agentStrength(state: ClientState): number {
  if (state.withAgentInfo < 2) return 0;
  const missing =
    AGENT_MISSING_MAX *
    ramp(state.missingAgent / state.withAgentInfo, 0.2, 0.6) *
    ramp(state.withAgentInfo, 2, 5);
  const rotating = AGENT_ROTATING_MAX * ramp(state.distinctAgents(), 2, 6);
  return Math.max(missing, rotating);
}
