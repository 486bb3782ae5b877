/**
 * Seeded randomness for the synthetic trace: the same seed gives the same trace on every run and
 * machine (integer arithmetic only in the generator; Math.log/exp/pow are correctly rounded
 * enough in V8 across platforms for this use).
 */
/** Uniform in [0, 1). */
export type Random = () => number;

/** mulberry32: a tiny, fast, well-distributed 32-bit generator. */
export function prng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exponential with the given mean (inter-arrival times of a Poisson process). */
export function exponential(rng: Random, mean: number): number {
  return -mean * Math.log(1 - rng());
}

/** Standard normal (Box–Muller). */
export function normal(rng: Random): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Log-normal with the given median and σ of the underlying normal: heavy-tailed rates. */
export function logNormal(rng: Random, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(rng));
}

/** Log-uniform between lo and hi: every order of magnitude equally likely. */
export function logUniform(rng: Random, lo: number, hi: number): number {
  return lo * (hi / lo) ** rng();
}

/** A whole number in [lo, hi]. */
export function intBetween(rng: Random, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Random, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

/** Zipf-like pick: item i with weight 1/(i+1), popular pages first. */
export function zipfPick<T>(rng: Random, items: readonly T[], harmonic: number): T {
  let u = rng() * harmonic;
  for (let i = 0; i < items.length; i++) {
    u -= 1 / (i + 1);
    if (u <= 0) return items[i] as T;
  }
  return items[items.length - 1] as T;
}

export function harmonicNumber(n: number): number {
  let h = 0;
  for (let i = 1; i <= n; i++) h += 1 / i;
  return h;
}

export function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}
