import type { ClientState } from "./client-state.js";
import {
  agentStrength,
  burstStrength,
  errorStrength,
  rateStrength,
  requestRate,
  type SignalSettings,
  scanningStrength,
} from "./signals.js";
import type { AbuseSignal } from "./types.js";

/** A signal counts as a reason from this strength on. */
const REASON_FROM = 0.2;

/** One client's judgement: what `analyze` answers, before blocking. */
export type Judgement = {
  readonly requestRate: number;
  readonly score: number;
  readonly reasons: readonly AbuseSignal[];
};

/**
 * Combines the signals as a noisy OR: score = 1 − Π(1 − strength). Independent indications
 * reinforce each other (two signals at 0.6 and 0.5 give 0.8) while none of the soft ones reaches
 * the score threshold alone; a strong one (the rate over the threshold, an error storm, a scan
 * of 404s) does.
 */
export function judge(state: ClientState, now: number, settings: SignalSettings): Judgement {
  const rate = requestRate(state, now, settings);
  const r = rateStrength(rate * (settings.windowMs / 1000), settings.threshold);
  const e = errorStrength(state);
  const sc = scanningStrength(state);
  const b = burstStrength(state, settings);
  const ua = agentStrength(state);
  const score = 1 - (1 - r) * (1 - e) * (1 - sc) * (1 - b) * (1 - ua);
  // Most requests fire nothing: answer them without building a list.
  if (r < REASON_FROM && e < REASON_FROM && sc < REASON_FROM && b < REASON_FROM && ua < REASON_FROM)
    return { requestRate: rate, score, reasons: NONE };
  const fired: [AbuseSignal, number][] = [];
  if (r >= REASON_FROM) fired.push(["rate", r]);
  if (e >= REASON_FROM) fired.push(["errors", e]);
  if (sc >= REASON_FROM) fired.push(["scanning", sc]);
  if (b >= REASON_FROM) fired.push(["burst", b]);
  if (ua >= REASON_FROM) fired.push(["user-agent", ua]);
  // Stable sort: at equal strength the order above (rate first) holds.
  fired.sort((x, y) => y[1] - x[1]);
  return { requestRate: rate, score, reasons: fired.map(([name]) => name) };
}

const NONE: readonly AbuseSignal[] = Object.freeze([]);
