import { algorithms } from "../../core/algorithms/index.js";
import { judge } from "../../core/algorithms/step.js";
import { type Algorithm, emptyVerdict, type Verdict } from "../../core/algorithms/types.js";
import { combine, type Decision, verdictFree } from "../../core/decision.js";
import type { Policy } from "../../core/policy.js";
import type { Parsed } from "./reply.js";

type Entry = {
  /** The decision-time (caller's clock or Redis TIME) until which the key stays rejected. */
  readonly until: number;
  /** Smallest cost answered from here: a smaller one might pass. */
  readonly cost: number;
  /** States of a limited key, as Redis held them when it rejected; undefined for a block. */
  readonly states: (Float64Array | number[])[] | undefined;
  /** Redis TIME minus the local clock, to count down in Redis time when no clock is given. */
  readonly offset: number;
};

/**
 * Keys known to be rejected until a time, answered without a round trip (an attack's traffic
 * mostly never reaches Redis). A blocked key is answered as blocked until the block ends; a
 * limited key is re-judged locally by the core algorithms on the state Redis returned with the
 * rejection, so the cached answer is the one Redis would give if nothing else touched the key
 * (numbers included), and the key goes back to Redis as soon as that answer would be "allowed".
 *
 * Only requests costing at least the rejected cost are answered here. Other processes' refunds,
 * resets and unblocks are not seen, so a key may stay rejected locally until `until` at most.
 * Bounded: the oldest entry is dropped when `maxKeys` is reached.
 */
export class LocalCache {
  private readonly entries = new Map<string, Entry>();
  private readonly algs: Algorithm<Float64Array | number[]>[];
  private readonly verdicts: Verdict[];
  /** A cost above the smallest burst is answered by the script (cost-exceeds-limit). */
  private readonly maxCost: number;

  constructor(
    private readonly policies: readonly Policy[],
    private readonly maxKeys: number,
  ) {
    this.algs = policies.map((p) => algorithms[p.algorithm] as Algorithm<Float64Array | number[]>);
    this.verdicts = policies.map(() => emptyVerdict());
    this.maxCost = Math.min(...policies.map((p) => p.burst));
  }

  get size(): number {
    return this.entries.size;
  }

  /** A decision made locally, or undefined to ask Redis. */
  lookup(key: string, cost: number, now: number | undefined): Decision | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const t = now ?? Date.now() + entry.offset;
    if (t >= entry.until) {
      this.entries.delete(key);
      return undefined;
    }
    // A block rejects any cost, as the store's block check comes before every policy.
    if (entry.states === undefined) {
      return verdictFree(this.policies, "blocked", false, entry.until - t);
    }
    if (cost < entry.cost || cost > this.maxCost) return undefined;
    const decision = this.judge(entry.states, t, cost);
    if (decision === undefined) this.entries.delete(key);
    return decision;
  }

  /** Learns from the script's answer to a consume of `cost` (forgets the key when allowed). */
  learn(key: string, cost: number, parsed: Parsed, decision: Decision): void {
    if (parsed.kind === "done") return;
    if (decision.allowed) {
      if (this.entries.size > 0) this.entries.delete(key);
      return;
    }
    const offset = parsed.now - Date.now();
    if (parsed.kind === "blocked") {
      this.set(key, { until: parsed.until, cost: 0, states: undefined, offset });
    } else if (parsed.blockUntil !== undefined) {
      this.set(key, { until: parsed.blockUntil, cost: 0, states: undefined, offset });
    } else if (decision.retryAfterMs !== Number.POSITIVE_INFINITY && parsed.states !== undefined) {
      this.set(key, {
        until: parsed.now + decision.retryAfterMs,
        cost,
        states: parsed.states.map((s, i) => this.parseState(s, i)),
        offset,
      });
    }
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  /** memory-store.ts consumeSync on the cached states, or undefined when it would not reject. */
  private judge(
    states: (Float64Array | number[])[],
    t: number,
    cost: number,
  ): Decision | undefined {
    const n = this.policies.length;
    let allowed = true;
    for (let i = 0; i < n; i++) {
      judge(this.algs[i]!, states[i]!, 0, t, cost, this.policies[i]!, this.verdicts[i]!);
      allowed &&= this.verdicts[i]!.allowed;
    }
    if (allowed) return undefined;
    for (let i = 0; i < n; i++) {
      const v = this.verdicts[i]!;
      if (v.allowed) judge(this.algs[i]!, states[i]!, 0, t, 0, this.policies[i]!, v);
      // This rejection would start a block in Redis: let Redis make it.
      else if (v.retryAfterMs !== Number.POSITIVE_INFINITY && this.policies[i]!.blockForMs > 0) {
        return undefined;
      }
    }
    return combine(this.policies, this.verdicts);
  }

  private parseState(text: string, i: number): Float64Array | number[] {
    const alg = this.algs[i]!;
    const values = text === "" ? [] : text.split(",").map(Number);
    if (alg.width === 0) return values;
    const row = new Float64Array(alg.width);
    row.set(values.slice(0, alg.width));
    return row;
  }

  private set(key: string, entry: Entry): void {
    if (this.entries.has(key)) this.entries.delete(key);
    else if (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
  }
}
