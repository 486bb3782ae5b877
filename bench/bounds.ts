/**
 * How far above L each algorithm can go (issue 13): a seeded trace of Poisson clients at 1.5×,
 * 2× and 3× a limit of 100/min over 30 minutes of simulated time, replayed through
 * createLimiter with each algorithm on the memory store and the manual clock.
 *
 * Per algorithm and load:
 * - max in any W: the most requests admitted to one client in any span (t − W, t], exact, from
 *   the admitted timestamps, as a multiple of L (overall, and for spans starting 5 W or more
 *   after the client's start, once a fresh key's initial allowance is spent);
 * - disagreement with the exact window: the share of the trace's requests whose verdict differs
 *   from sliding-log's on the same trace (the exact rule: admitted in (now − W, now] + c ≤ L),
 *   split into over-admitted (allowed where sliding-log refuses) and under-admitted.
 *
 * `npm run bench:bounds` prints a table and writes bench/results/bounds.json. Seconds, not minutes.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ALGORITHMS, type AlgorithmName, createLimiter } from "../src/index.js";
import { manualClock } from "../src/testing/manual-clock.js";

const SEED = 13;
const LIMIT = 100;
const WINDOW_MS = 60_000;
const MINUTES = 30;
const CLIENTS_PER_LOAD = 10;
const LOADS = [1.5, 2, 3] as const;
const START = 1_700_000_000_000;

/** Theoretical sup of admissions in a span of W, as a multiple of L, with the default burst B = L. */
const WORST: Record<AlgorithmName, string> = {
  "fixed-window": "2 (L before a window's end, L after it)",
  "sliding-window": "→ 2 (L at a window's end, then nearly L as its weight fades)",
  "sliding-log": "1 (exact)",
  "token-bucket": "1 + B/L = 2 (a full bucket, then W of refill)",
  gcra: "1 + B/L = 2 (as token-bucket)",
  "leaky-bucket": "1 + B/L = 2 (an empty bucket, then W of draining)",
};

/** mulberry32: a tiny seeded PRNG, the same trace on every run and machine. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Arrival = { t: number; client: number };
type Client = { key: string; load: number; start: number };

function trace(): { arrivals: Arrival[]; clients: Client[] } {
  const random = prng(SEED);
  const clients: Client[] = [];
  const arrivals: Arrival[] = [];
  const end = MINUTES * WINDOW_MS;
  for (const load of LOADS) {
    for (let i = 0; i < CLIENTS_PER_LOAD; i++) {
      const client = clients.length;
      // Each client starts at its own phase of the aligned windows (sliding-window's bound
      // depends on where a fresh key's first burst falls in its window).
      const start = START + Math.floor(random() * WINDOW_MS);
      clients.push({ key: `client:${load}x:${i}`, load, start });
      const perMs = (load * LIMIT) / WINDOW_MS;
      // Exponential gaps: a Poisson process; whole ms, as a clock gives them.
      for (let t = -Math.log(1 - random()) / perMs; t < end; t += -Math.log(1 - random()) / perMs) {
        arrivals.push({ t: start + Math.floor(t), client });
      }
    }
  }
  arrivals.sort((a, b) => a.t - b.t || a.client - b.client);
  return { arrivals, clients };
}

type LoadResult = {
  load: number;
  requests: number;
  admitted: number;
  /** Most admitted to one client in any (t − W, t], ÷ L. */
  maxInWindow: number;
  /** The same, over spans starting 5 W or more after the client's start. */
  maxInWindowSteady: number;
  /** Share of requests admitted where sliding-log refuses. */
  overAdmitted: number;
  /** Share of requests refused where sliding-log admits. */
  underAdmitted: number;
};

const STEADY_AFTER = 5 * WINDOW_MS;

/** Verdicts (1 = allowed) of one algorithm on the trace, in trace order. */
function verdicts(algorithm: AlgorithmName, arrivals: Arrival[], clients: Client[]): Uint8Array {
  const clock = manualClock(START);
  const limiter = createLimiter({
    policies: { limit: LIMIT, window: WINDOW_MS, algorithm },
    clock: clock.now,
  });
  const out = new Uint8Array(arrivals.length);
  arrivals.forEach(({ t, client }, i) => {
    clock.set(t);
    out[i] = limiter.consumeSync(clients[client]!.key).allowed ? 1 : 0;
  });
  return out;
}

function measure(
  allowed: Uint8Array,
  exact: Uint8Array,
  arrivals: Arrival[],
  clients: Client[],
): LoadResult[] {
  // Per client: admitted timestamps still inside (now − W, now], as a ring (head index).
  const recent = clients.map(() => ({ times: [] as number[], head: 0 }));
  const stats = LOADS.map((load) => ({
    load,
    requests: 0,
    admitted: 0,
    max: 0,
    maxAfter: 0,
    over: 0,
    under: 0,
  }));
  const statOf = new Map<number, (typeof stats)[number]>(LOADS.map((load, i) => [load, stats[i]!]));
  arrivals.forEach(({ t, client }, i) => {
    const c = clients[client]!;
    const s = statOf.get(c.load)!;
    s.requests++;
    if (allowed[i]! > exact[i]!) s.over++;
    if (allowed[i]! < exact[i]!) s.under++;
    if (allowed[i] === 0) return;
    s.admitted++;
    const r = recent[client]!;
    while (r.head < r.times.length && r.times[r.head]! <= t - WINDOW_MS) r.head++;
    r.times.push(t);
    const count = r.times.length - r.head;
    if (count > s.max) s.max = count;
    if (t - WINDOW_MS >= c.start + STEADY_AFTER && count > s.maxAfter) s.maxAfter = count;
  });
  return stats.map((s) => ({
    load: s.load,
    requests: s.requests,
    admitted: s.admitted,
    maxInWindow: s.max / LIMIT,
    maxInWindowSteady: s.maxAfter / LIMIT,
    overAdmitted: round(s.over / s.requests, 5),
    underAdmitted: round(s.under / s.requests, 5),
  }));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

const started = performance.now();
const { arrivals, clients } = trace();
const exact = verdicts("sliding-log", arrivals, clients);
const results = ALGORITHMS.map((algorithm) => ({
  algorithm,
  worstCase: WORST[algorithm],
  loads: measure(verdicts(algorithm, arrivals, clients), exact, arrivals, clients),
}));

const head =
  "| algorithm | max in any W (1.5× / 2× / 3×) | same, from 5 W on | allowed where sliding-log refuses | refused where sliding-log allows | worst case (× L) |";
const rows = results.map(({ algorithm, worstCase, loads }) => {
  const all = (f: (l: LoadResult) => string) => loads.map(f).join(" / ");
  return `| \`${algorithm}\` | ${all((l) => `${l.maxInWindow.toFixed(2)}L`)} | ${all((l) => `${l.maxInWindowSteady.toFixed(2)}L`)} | ${all((l) => pct(l.overAdmitted))} | ${all((l) => pct(l.underAdmitted))} | ${worstCase} |`;
});
console.log(
  `${arrivals.length} requests from ${clients.length} Poisson clients (${CLIENTS_PER_LOAD} at each of ${LOADS.join("×, ")}× of ${LIMIT}/min), ${MINUTES} min, seed ${SEED}\n`,
);
console.log([head, "| --- | --- | --- | --- | --- | --- |", ...rows].join("\n"));
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);

writeFileSync(
  join(import.meta.dirname, "results", "bounds.json"),
  `${JSON.stringify(
    {
      generated: new Date().toISOString(),
      node: process.version,
      trace: {
        seed: SEED,
        limit: LIMIT,
        windowMs: WINDOW_MS,
        minutes: MINUTES,
        clientsPerLoad: CLIENTS_PER_LOAD,
        steadyAfterMs: STEADY_AFTER,
        loads: LOADS,
        requests: arrivals.length,
      },
      results,
    },
    null,
    2,
  )}\n`,
);
