import type { Verdict } from "../../core/algorithms/types.js";
import { combine, type Decision, verdictFree } from "../../core/decision.js";
import type { Policy } from "../../core/policy.js";

/**
 * One operation's answer, read from the script's flat reply array. The array starts with the
 * server time of the run (read by the runner), then each operation's answer. Numbers arrive as
 * Redis integers (exact below 2^53) or, when not whole, as text ("%.17g"; "I" is Infinity):
 *
 *   0                                    refund, reset, block, unblock: done
 *   2, now, until                        the key is blocked until `until`
 *   1, now, P × verdict                  verdicts (no block started, no states)
 *   4, P × verdict                       the same, at the previous answer's time
 *   7, now, P × (remaining, reset)       verdicts all allowed with no wait nor delay
 *   6, P × (remaining, reset)            the same, at the previous answer's time
 *   5, now, blockUntil|null, hasStates,  verdicts of a rejection: blockUntil is set when it
 *      P × verdict [, P × state]         started a block; states (text) follow if hasStates
 *
 * A verdict is 3, remaining, reset when allowed with no wait nor delay; else allowed (1/0),
 * remaining, reset, retry, delay.
 */
export type Parsed =
  | { readonly kind: "blocked"; readonly now: number; readonly until: number }
  | {
      readonly kind: "verdicts";
      readonly now: number;
      readonly blockUntil: number | undefined;
      readonly verdicts: Verdict[];
      readonly states: string[] | undefined;
    }
  | { readonly kind: "done" };

const DONE: Parsed = { kind: "done" };

/** Reads the answers of a whole batch, in order. */
export class ReplyReader {
  /** Past the server time that starts every reply. */
  private at = 1;
  private lastNow = 0;

  constructor(
    private readonly reply: readonly unknown[],
    private readonly policyCount: number,
  ) {}

  get finished(): boolean {
    return this.at === this.reply.length;
  }

  next(): Parsed {
    const kind = this.reply[this.at++];
    if (kind === 0) return DONE;
    if (kind === 2) return { kind: "blocked", now: this.num(), until: this.num() };
    if (kind === 6 || kind === 7) {
      if (kind === 7) this.lastNow = this.num();
      const verdicts = new Array<Verdict>(this.policyCount);
      for (let i = 0; i < this.policyCount; i++) {
        const remaining = this.num();
        const resetMs = this.num();
        verdicts[i] = { allowed: true, remaining, resetMs, retryAfterMs: 0, delayMs: 0 };
      }
      return {
        kind: "verdicts",
        now: this.lastNow,
        blockUntil: undefined,
        verdicts,
        states: undefined,
      };
    }
    let now = this.lastNow;
    let blockUntil: number | undefined;
    let hasStates = false;
    if (kind === 1 || kind === 5) now = this.num();
    else if (kind !== 4) {
      throw new Error(`unexpected reply from the throttlekit script at ${this.at - 1}`);
    }
    this.lastNow = now;
    if (kind === 5) {
      const block = this.reply[this.at++];
      blockUntil = block === null || block === false ? undefined : toNumber(block);
      hasStates = this.reply[this.at++] === 1;
    }
    const verdicts = new Array<Verdict>(this.policyCount);
    for (let i = 0; i < this.policyCount; i++) {
      const flag = this.reply[this.at++];
      const remaining = this.num();
      const resetMs = this.num();
      verdicts[i] =
        flag === 3
          ? { allowed: true, remaining, resetMs, retryAfterMs: 0, delayMs: 0 }
          : {
              allowed: flag === 1,
              remaining,
              resetMs,
              retryAfterMs: this.num(),
              delayMs: this.num(),
            };
    }
    let states: string[] | undefined;
    if (hasStates) {
      states = new Array<string>(this.policyCount);
      for (let i = 0; i < this.policyCount; i++) states[i] = String(this.reply[this.at++]);
    }
    return { kind: "verdicts", now, blockUntil, verdicts, states };
  }

  private num(): number {
    return toNumber(this.reply[this.at++]);
  }
}

/** The Decision a consume or peek answer stands for, built as the memory store builds it. */
export function toDecision(parsed: Parsed, policies: readonly Policy[]): Decision {
  if (parsed.kind === "blocked") {
    return verdictFree(policies, "blocked", false, parsed.until - parsed.now);
  }
  if (parsed.kind === "verdicts") return combine(policies, parsed.verdicts);
  throw new Error("a consume or peek answer was expected");
}

function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "I") return Number.POSITIVE_INFINITY;
  const n = typeof value === "string" && value !== "" ? Number(value) : Number.NaN;
  if (Number.isNaN(n)) {
    throw new Error(`unexpected number in a throttlekit script reply: ${String(value)}`);
  }
  return n;
}
