/**
 * The CPU-time side of bench/results/observe-overhead.md: the observe contenders interleaved in
 * one process (`node --single-threaded`, so the collector and compiler threads add nothing),
 * each round timed in process CPU time (process.cpuUsage), not wall time: a process waiting for
 * a core on a loaded machine is not charged. Median of the rounds per contender.
 *   node --expose-gc --single-threaded --import tsx bench/lib/observe-cpu.ts [sync|async] [rounds]
 *     [allowed|rejected] [contender,contender,...]
 * The last argument runs only the contenders named (the first is the one ratios are to): one per
 * process keeps the hub's call sites monomorphic, as in an application with one kind of hub.
 */
import type { Contender } from "./contenders.js";
import { makeKeys } from "./keys.js";
import { median } from "./measure.js";
import { type ObserveMode, observeAsync, observeSync } from "./observe-contenders.js";

const api = process.argv[2] === "async" ? "async" : "sync";
const rounds = Number(process.argv[3] ?? 21);
const traffic = process.argv[4] === "rejected" ? "rejected" : "allowed";
const CALLS = 100_000;
const modes: ObserveMode[] = process.argv[5]
  ? (process.argv[5].split(",") as ObserveMode[])
  : ["plain", "idle", "listener", "timed", "metrics", "untimed"];
const keys = makeKeys(100_000);
const cs: Contender[] = modes.map((m) =>
  api === "sync" ? observeSync(traffic, m) : observeAsync(traffic, m),
);
for (const c of cs) await c.prime(keys);
const samples = cs.map(() => [] as number[]);
let from = 0;
for (let r = 0; r < rounds + 2; r++) {
  for (let i = 0; i < cs.length; i++) {
    const k = (i + r) % cs.length;
    const before = process.cpuUsage();
    await cs[k]!.run(keys, from, CALLS, 1000);
    const used = process.cpuUsage(before);
    if (r >= 2) samples[k]!.push((used.user + used.system) / CALLS); // µs per call
  }
  from = (from + CALLS) % keys.length;
}
const plain = median(samples[0]!);
for (const [i, m] of modes.entries()) {
  const ns = median(samples[i]!) * 1000;
  console.log(
    `${api} ${traffic} ${m}: ${ns.toFixed(0)} ns CPU per call, ${(plain / median(samples[i]!)).toFixed(3)} × plain throughput`,
  );
}
