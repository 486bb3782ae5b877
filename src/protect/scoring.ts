import type { ClientState } from "./client-state.js";
import {
  agentStrength,
  burstStrength,
  errorStrength,
  rateStrength,
  requestRate,
  type SignalSettings,
  scanningStrength,
  spreadStrength,
} from "./signals.js";
import type { AbuseSignal } from "./types.js";

/** A signal counts as a reason from this strength on. */
const REASON_FROM = 0.2;

/**
 * The most the soft signals add up to without a hard one: below any sensible score threshold,
 * so no number of agents and paths behind one address (an office, a mobile carrier's NAT) makes
 * a client suspicious, while they still tip a hard signal over (failed logins from rotating
 * agents are caught sooner than from one).
 */
export const SOFT_CAP = 0.6;

/** One client's judgement: what `analyze` answers, before blocking. */
export type Judgement = {
  readonly requestRate: number;
  readonly score: number;
  readonly reasons: readonly AbuseSignal[];
};

/**
 * Combines the signals. Hard ones as a noisy OR, H = 1 − Π(1 − strength): independent
 * indications reinforce each other. Soft ones the same way, capped at SOFT_CAP: S. The score is
 * 1 − (1 − H)(1 − S): a hard signal at 0.5 with soft ones at their cap gives 0.8.
 */
export function judge(state: ClientState, now: number, settings: SignalSettings): Judgement {
  const rate = requestRate(state, now, settings);
  const r = rateStrength(rate * (settings.windowMs / 1000), settings.threshold);
  const e = errorStrength(state);
  const distinct = state.distinctEndpoints();
  const sc = scanningStrength(state, distinct);
  const sp = spreadStrength(distinct);
  const b = burstStrength(state, settings);
  const ua = agentStrength(state);
  const hard = 1 - (1 - r) * (1 - e) * (1 - sc);
  const soft = Math.min(SOFT_CAP, 1 - (1 - sp) * (1 - b) * (1 - ua));
  const score = 1 - (1 - hard) * (1 - soft);
  // "scanning" names both the 404 scan and the spread: the stronger speaks for it.
  const scan = Math.max(sc, sp);
  // Most requests fire nothing: answer them without building a list.
  if (
    r < REASON_FROM &&
    e < REASON_FROM &&
    scan < REASON_FROM &&
    b < REASON_FROM &&
    ua < REASON_FROM
  )
    return { requestRate: rate, score, reasons: NONE };
  const fired: [AbuseSignal, number][] = [];
  if (r >= REASON_FROM) fired.push(["rate", r]);
  if (e >= REASON_FROM) fired.push(["errors", e]);
  if (scan >= REASON_FROM) fired.push(["scanning", scan]);
  if (b >= REASON_FROM) fired.push(["burst", b]);
  if (ua >= REASON_FROM) fired.push(["user-agent", ua]);
  // Stable sort: at equal strength the order above (rate first) holds.
  fired.sort((x, y) => y[1] - x[1]);
  return { requestRate: rate, score, reasons: fired.map(([name]) => name) };
}

const NONE: readonly AbuseSignal[] = Object.freeze([]);
