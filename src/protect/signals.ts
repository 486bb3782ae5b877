import type { ClientState } from "./client-state.js";
import type { AbuseSignal } from "./types.js";

/**
 * The signals, each a strength from 0 (nothing unusual) to 1 (certain), from one client's state.
 * Only the rate can make a client suspicious on its own: it is the operator's own statement
 * ("no legitimate client sends more than `threshold` per `window`"). Error storms nearly can.
 * The others (burstiness, scanning without 404s, odd user agents) each stay below any sensible
 * score threshold alone, because heavy legitimate users show them too (a browser loading a page
 * is a burst over many paths; an office behind one address has many user agents); they add up
 * in the score (./scoring.ts) when they come together.
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
  const filled = 1 - Math.exp(-age / s.windowMs);
  return state.requests / ((s.windowMs / 1000) * filled);
}

/** Weights: the most each soft signal adds on its own. */
const BURST_MAX = 0.5;
const SCAN_SPREAD_ONLY = 0.35;
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
  return BURST_MAX * ramp(state.recent / Math.max(pace, 1), 3, 12);
}

/**
 * Scanning: many distinct endpoints, weighed by how many of them were not found. A browser uses
 * tens of paths with few 404s; a scanner tries hundreds, nearly all 404.
 */
export function scanningStrength(state: ClientState): number {
  const spread = ramp(state.distinctEndpoints(), 8, 40);
  if (spread === 0) return 0;
  const missing = state.withStatus > 0 ? state.notFound / state.withStatus : 0;
  // Spread alone (a crawler, a page with many assets) stays at SCAN_SPREAD_ONLY; a majority of
  // 404s makes it certain.
  return spread * (SCAN_SPREAD_ONLY + (1 - SCAN_SPREAD_ONLY) * ramp(missing, 0.1, 0.6));
}

/**
 * Errors: a storm of 401 / 403 (credential stuffing, token guessing) or 404 (probing). Both the
 * share and the number matter: one mistyped password is 100% errors of one request.
 */
export function errorStrength(state: ClientState): number {
  const errors = state.authFailures + state.notFound;
  if (errors < 2 || state.withStatus === 0) return 0;
  return ramp(errors / state.withStatus, 0.25, 0.75) * ramp(errors, 2, 10);
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
