/**
 * The instruction-count side of bench/results/observe-overhead.md: on a loaded machine the
 * wall-clock ratios of bench:core's observe cases swing by more than the gap they measure, so
 * the same four contenders are also run under `valgrind --tool=callgrind`, which counts
 * instructions whatever else runs. One process per (mode, n); the cost of one consume is
 * (I(n2) − I(n1)) / (n2 − n1), so start-up, priming and most compilation cancel out.
 *
 * Usage (bundled first so valgrind does not also count the TypeScript loader):
 *   node bench/lib/observe-instructions.ts --report   (after the runs below; prints the table)
 *   node <bundle> <mode> <sync|async> <traffic> <n>   (one run; what the driver starts)
 */

import type { Traffic } from "./contenders.js";
import { makeKeys } from "./keys.js";
import { type ObserveMode, observeAsync, observeSync } from "./observe-contenders.js";

const [mode, api, traffic, n] = process.argv.slice(2);
const keys = makeKeys(100_000);
const c =
  api === "sync"
    ? observeSync(traffic as Traffic, mode as ObserveMode)
    : observeAsync(traffic as Traffic, mode as ObserveMode);
await c.prime(keys);
const t = await c.run(keys, 0, Number(n), 1000);
if (t.allowed + t.rejected !== Number(n)) throw new Error("short run");
process.stdout.write(`${mode} ${api} ${traffic} ${n} ${t.sum}\n`);
