/**
 * `npm run bench:functions`: what limiting a function costs (issue 15).
 *
 * 1. wrap of a synchronous function on the memory store, against the same work written by hand
 *    (`limiter.consumeSync(key)` then the call) and against the bare call. The target: wrapped ≤
 *    1.3× the hand-written pair. One process, the three loops interleaved round by round (A B C,
 *    B C A, ...), so drift in the machine hits each alike; the median ns/call is reported. Every
 *    result is summed into a checksum that is printed, so no call can be optimised away.
 * 2. waitFor on the memory store when the limit does not bind (the cost of the waiting API on
 *    the fast path), against `await limiter.consume(key)` and rate-limiter-flexible's
 *    RateLimiterQueue, its waiting API, in the same run.
 * 3. waitFor when the limit binds, in real time: 2,000 calls against "1000/s" (a burst of 1000,
 *    then 1000 more that must wait); reports how close the achieved rate comes to the limit, for
 *    throttlekit and RateLimiterQueue.
 * 4. The scheduler (bench/functions-scheduler.ts): per-call overhead on memory against
 *    bottleneck, and the fleet figure on Redis.
 * Env: BENCH_ROUNDS (9). Writes bench/results/functions.json unless BENCH_* is set.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { RateLimiterMemory, RateLimiterQueue } from "rate-limiter-flexible";
import { createLimiter } from "../src/index.js";
import { benchScheduler } from "./functions-scheduler.js";
import { median } from "./lib/measure.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));
const HIGH = { limit: 1_000_000_000, window: "1h" };

export type FunctionsRow = {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly note: string;
};

/** The function being limited: cheap, so the limiter's own cost is what shows. */
function work(i: number): number {
  return (i * 31) ^ (i >>> 3);
}

type SyncLoop = { readonly label: string; run(n: number): number };

function syncLoops(): SyncLoop[] {
  const bare: SyncLoop = {
    label: "bare call",
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += work(i);
      return sum;
    },
  };
  const handLimiter = createLimiter({ policies: HIGH });
  const byHand: SyncLoop = {
    label: "consumeSync + call",
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (!handLimiter.consumeSync("fn").allowed) throw new Error("refused");
        sum += work(i);
      }
      return sum;
    },
  };
  const wrapLimiter = createLimiter({ policies: HIGH });
  const wrapped = wrapLimiter.wrap(work) as (i: number) => number;
  const viaWrap: SyncLoop = {
    label: "limiter.wrap(fn)",
    run(n) {
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const r = wrapped(i);
        if (typeof r !== "number") throw new Error("a sync function's wrapper returned a promise");
        sum += r;
      }
      return sum;
    },
  };
  return [bare, byHand, viaWrap];
}

/** Median ns per call of each loop, interleaved round by round. */
function measureSync(loops: readonly SyncLoop[], n: number): Map<string, number> {
  const samples = new Map<string, number[]>(loops.map((l) => [l.label, []]));
  let checksum = 0;
  for (const l of loops) checksum += l.run(n); // warm-up: let every loop reach optimised code
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < loops.length; i++) {
      const l = loops[(i + r) % loops.length]!;
      const t0 = process.hrtime.bigint();
      checksum += l.run(n);
      samples.get(l.label)!.push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  console.log(`  (checksum ${checksum})`);
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

type AsyncLoop = { readonly label: string; run(n: number): Promise<number> };

function asyncLoops(): AsyncLoop[] {
  const consumeLimiter = createLimiter({ policies: HIGH });
  const waitLimiter = createLimiter({ policies: HIGH });
  const rlfQueue = new RateLimiterQueue(
    new RateLimiterMemory({ points: 1_000_000_000, duration: 3600 }),
    { maxQueueSize: 1000 },
  );
  return [
    {
      label: "await limiter.consume(key)",
      async run(n) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += (await consumeLimiter.consume("fn")).remaining & 1;
        return sum;
      },
    },
    {
      label: "await limiter.waitFor(key)",
      async run(n) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += (await waitLimiter.waitFor("fn")).remaining & 1;
        return sum;
      },
    },
    {
      label: "RLF RateLimiterQueue.removeTokens(1)",
      async run(n) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += (await rlfQueue.removeTokens(1)) & 1;
        return sum;
      },
    },
  ];
}

async function measureAsync(loops: readonly AsyncLoop[], n: number): Promise<Map<string, number>> {
  const samples = new Map<string, number[]>(loops.map((l) => [l.label, []]));
  let checksum = 0;
  for (const l of loops) checksum += await l.run(n);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < loops.length; i++) {
      const l = loops[(i + r) % loops.length]!;
      const t0 = process.hrtime.bigint();
      checksum += await l.run(n);
      samples.get(l.label)!.push(Number(process.hrtime.bigint() - t0) / n);
    }
  }
  console.log(`  (checksum ${checksum})`);
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

/**
 * `calls` concurrent waiters against `limit` per second: the achieved rate over the calls that
 * had to wait (the first `limit` pass at once), as a share of the limit. 100% means every window
 * opening was used the moment it opened; RLF's queue re-checks on its own schedule.
 */
async function binding(limit: number, calls: number): Promise<FunctionsRow[]> {
  const tk = createLimiter({ policies: { limit, window: "1s", algorithm: "sliding-log" } });
  const rlf = new RateLimiterQueue(new RateLimiterMemory({ points: limit, duration: 1 }), {
    maxQueueSize: calls,
  });
  const rows: FunctionsRow[] = [];
  for (const [label, take] of [
    ["throttlekit waitFor", () => tk.waitFor("vendor")],
    ["RLF RateLimiterQueue", () => rlf.removeTokens(1)],
  ] as const) {
    const t0 = performance.now();
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: calls }, () =>
        (take() as Promise<unknown>).then(() => done.push(performance.now() - t0)),
      ),
    );
    done.sort((a, b) => a - b);
    // Calls past the first window had to wait: their rate against the limit.
    const waited = done.slice(limit);
    const spanS = (waited.at(-1)! - done[limit - 1]!) / 1000;
    const rate = waited.length / Math.max(spanS, 1e-9);
    rows.push({
      name: `${label}: rate achieved while waiting (${calls} calls, ${limit}/s)`,
      value: Math.round((rate / limit) * 1000) / 10,
      unit: "% of limit",
      note: `last admitted at ${Math.round(done.at(-1)!)} ms`,
    });
  }
  return rows;
}

export async function benchFunctions(): Promise<FunctionsRow[]> {
  const rows: FunctionsRow[] = [];
  console.log("wrap of a synchronous function, memory store (ns/call, median):");
  const sync = measureSync(syncLoops(), 2_000_000);
  for (const [label, ns] of sync) console.log(`  ${label.padEnd(24)} ${ns.toFixed(1)} ns`);
  const ratio = sync.get("limiter.wrap(fn)")! / sync.get("consumeSync + call")!;
  console.log(`  wrap ÷ (consumeSync + call) = ${ratio.toFixed(3)} (target ≤ 1.3)`);
  rows.push(
    {
      name: "wrap(sync fn) per call",
      value: round1(sync.get("limiter.wrap(fn)")!),
      unit: "ns",
      note: "",
    },
    {
      name: "consumeSync + call per call",
      value: round1(sync.get("consumeSync + call")!),
      unit: "ns",
      note: "",
    },
    { name: "bare call", value: round1(sync.get("bare call")!), unit: "ns", note: "" },
    { name: "wrap ÷ (consumeSync + call)", value: round3(ratio), unit: "×", note: "target ≤ 1.3" },
  );

  console.log("\nwaiting APIs when the limit does not bind, memory (ns/call, median):");
  const asyncFigures = await measureAsync(asyncLoops(), 200_000);
  for (const [label, ns] of asyncFigures) console.log(`  ${label.padEnd(38)} ${ns.toFixed(1)} ns`);
  const rlfNs = asyncFigures.get("RLF RateLimiterQueue.removeTokens(1)")!;
  for (const [label, ns] of asyncFigures) {
    rows.push({
      name: label,
      value: round1(ns),
      unit: "ns",
      note: `${round3(ns / rlfNs)}× RLF queue`,
    });
  }

  console.log("\nwaiting when the limit binds (real time):");
  for (const r of await binding(1000, 2000)) {
    console.log(`  ${r.name}: ${r.value}${r.unit} (${r.note})`);
    rows.push(r);
  }

  console.log("\nscheduler (bench/functions-scheduler.ts):");
  rows.push(...(await benchScheduler()));
  return rows;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await benchFunctions();
  if (!CUSTOM) {
    const out = {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      rows,
    };
    writeFileSync(
      new URL("./results/functions.json", import.meta.url),
      `${JSON.stringify(out, null, 2)}\n`,
    );
  }
}
