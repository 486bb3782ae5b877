import { COUNT_NAMES, WIDTH } from "./counts.js";
import type { Offender } from "./types.js";

/**
 * How a process's counts of one second are written into the fleet's bucket of that second (a
 * Redis hash, or the memory store's map): one field per (rule, policy, count) and two per
 * offender, each an integer to add. Every field starts with a letter saying what it is, then
 * JSON, so any rule, policy or key (quotes, colons, "__proto__") reads back as it was written:
 *
 * - `c["api","100/1m","limited"]`: a count of (rule, policy) by name (COUNT_NAMES);
 * - `k"user:1"` and `e"user:1"`: an offender's count and its error (Space-Saving's bound).
 */
export const FLEET_OFFENDERS_PER_SECOND = 10;

export function countField(rule: string, policy: string, index: number): string {
  return `c${JSON.stringify([rule, policy, COUNT_NAMES[index]])}`;
}

export function offenderFields(key: string): { count: string; error: string } {
  const json = JSON.stringify(key);
  return { count: `k${json}`, error: `e${json}` };
}

/** What a bucket's fields say, summed into `into`; unknown fields are skipped. */
export type Decoded = {
  /** (rule \0 policy) → counts by COUNT_NAMES index. */
  readonly pairs: Map<string, { rule: string; policy: string; n: number[] }>;
  readonly offenders: Map<string, { count: number; error: number }>;
};

export function emptyDecoded(): Decoded {
  return { pairs: new Map(), offenders: new Map() };
}

export function decodeInto(into: Decoded, field: string, value: number): void {
  if (!Number.isFinite(value)) return;
  const kind = field[0];
  let parsed: unknown;
  try {
    parsed = JSON.parse(field.slice(1));
  } catch {
    return; // not ours: a stray field never breaks a read
  }
  if (kind === "c") {
    if (!Array.isArray(parsed) || parsed.length !== 3) return;
    const [rule, policy, name] = parsed as unknown[];
    const index = COUNT_NAMES.indexOf(name as (typeof COUNT_NAMES)[number]);
    if (typeof rule !== "string" || typeof policy !== "string" || index < 0) return;
    const id = `${rule}\u0000${policy}`;
    let pair = into.pairs.get(id);
    if (pair === undefined) {
      pair = { rule, policy, n: new Array<number>(WIDTH).fill(0) };
      into.pairs.set(id, pair);
    }
    pair.n[index]! += value;
  } else if (kind === "k" || kind === "e") {
    if (typeof parsed !== "string") return;
    let o = into.offenders.get(parsed);
    if (o === undefined) {
      o = { count: 0, error: 0 };
      into.offenders.set(parsed, o);
    }
    if (kind === "k") o.count += value;
    else o.error += value;
  }
}

/** The `n` offenders with the largest counts, largest first. */
export function topOf(offenders: Decoded["offenders"], n: number): Offender[] {
  const out: Offender[] = [];
  for (const [key, o] of offenders) if (o.count > 0) out.push({ key, ...o });
  out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out.slice(0, n);
}

/** Adds `from`'s counts and offenders to `into`. */
export function mergeInto(into: Decoded, from: Decoded): void {
  for (const [id, p] of from.pairs) {
    const had = into.pairs.get(id);
    if (had === undefined) into.pairs.set(id, { rule: p.rule, policy: p.policy, n: [...p.n] });
    else for (let i = 0; i < WIDTH; i++) had.n[i]! += p.n[i]!;
  }
  for (const [key, o] of from.offenders) {
    const had = into.offenders.get(key);
    if (had === undefined) into.offenders.set(key, { ...o });
    else {
      had.count += o.count;
      had.error += o.error;
    }
  }
}
