import { performance } from "node:perf_hooks";
import type { Contender, Tally, Traffic } from "./contenders.js";
import { collect } from "./keys.js";

export type Plan = {
  /** Target length of one timed round per contender; calls per round are calibrated to it. */
  readonly roundMs: number;
  readonly inflight: number;
  readonly order: "round-robin" | "random";
  readonly rounds: number;
};

export type Figures = {
  readonly id: string;
  readonly label: string;
  readonly api: string;
  readonly mode: "async" | "sync";
  /** Calls per timed round, calibrated in the warm-up. */
  readonly callsPerRound: number;
  /** ops/s of every timed round, in the order run. */
  readonly rounds: number[];
  readonly median: number;
  readonly best: number;
  /** Sum of `remaining` over the last round: proof every result was read. */
  readonly checksum: number;
};

/** Fewest calls in a round: keeps 1000 loops in flight long enough to be steady. */
const MIN_CALLS = 20_000;
/** Warm-up (and calibration) ends with a chunk at least this long. */
const WARM_MS = 200;

/** Throws unless every call of a run had the outcome the case is about. */
function verify(c: Contender, traffic: Traffic, n: number, t: Tally): void {
  const want = traffic === "allowed" ? t.allowed : t.rejected;
  if (want !== n || t.allowed + t.rejected !== n) {
    throw new Error(
      `${c.id}: expected ${n} ${traffic}, got ${t.allowed} allowed and ${t.rejected} rejected`,
    );
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * One contender's timed runs. The cursor keeps walking the shared key sequence across runs,
 * so every round touches the whole key set in the same order, whatever its length.
 */
class Track {
  private cursor = 0;
  calls = 0;
  readonly samples: number[] = [];
  checksum = 0;

  constructor(
    readonly c: Contender,
    private readonly order: readonly string[],
    private readonly traffic: Traffic,
    private readonly plan: Plan,
  ) {}

  async run(n: number): Promise<{ ms: number; t: Tally }> {
    const t0 = performance.now();
    const t = await this.c.run(this.order, this.cursor, n, this.plan.inflight);
    const ms = performance.now() - t0;
    verify(this.c, this.traffic, n, t);
    this.cursor = (this.cursor + n) % this.order.length;
    return { ms, t };
  }

  /** Doubles the chunk until one lasts WARM_MS, then sizes rounds to `plan.roundMs`. */
  async warm(): Promise<void> {
    let n = MIN_CALLS;
    for (;;) {
      const { ms } = await this.run(n);
      if (ms >= WARM_MS || n >= 1 << 24) {
        this.calls = Math.max(MIN_CALLS, Math.round((n * this.plan.roundMs) / ms / 1000) * 1000);
        return;
      }
      n *= 2;
    }
  }

  async timed(): Promise<number> {
    const { ms, t } = await this.run(this.calls);
    const opsPerSec = (this.calls / ms) * 1000;
    this.samples.push(opsPerSec);
    this.checksum = t.sum;
    return opsPerSec;
  }
}

/**
 * Primes every contender, warms and calibrates each, then runs `rounds` timed rounds
 * interleaved (A B C, B C A, C A B, ...) so every contender sees the same machine conditions
 * and none always runs first. Garbage is left to V8's own collector, as in a server under load.
 */
export async function measureCase(
  contenders: readonly Contender[],
  keys: readonly string[],
  order: readonly string[],
  traffic: Traffic,
  plan: Plan,
  log: (line: string) => void,
): Promise<Figures[]> {
  for (const c of contenders) await c.prime(keys);
  // One full collection after priming, none between rounds: a forced major GC deoptimises
  // code that embeds objects it frees ("weak objects"), and RLF then spends its next ~50k
  // calls re-optimising, which measured a fresh-GC artefact instead of steady state.
  collect();
  const tracks = contenders.map((c) => new Track(c, order, traffic, plan));
  for (const t of tracks) await t.warm();
  for (let r = 0; r < plan.rounds; r++) {
    const line: string[] = [];
    for (let i = 0; i < tracks.length; i++) {
      const t = tracks[(i + r) % tracks.length]!;
      line.push(`${t.c.id} ${((await t.timed()) / 1e6).toFixed(2)}M`);
    }
    log(`  round ${r + 1}/${plan.rounds}: ${line.join("  ")}`);
  }
  return tracks.map((t) => ({
    id: t.c.id,
    label: t.c.label,
    api: t.c.api,
    mode: t.c.mode,
    callsPerRound: t.calls,
    rounds: t.samples.map((x) => Math.round(x)),
    median: Math.round(median(t.samples)),
    best: Math.round(Math.max(...t.samples)),
    checksum: t.checksum,
  }));
}
