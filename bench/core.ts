/**
 * `npm run bench:core`: throttlekit's memory store (async consume and consumeSync) against
 * rate-limiter-flexible's RateLimiterMemory, `limiter`'s TokenBucket and a naive Map counter;
 * single key and 100k keys, allowed and rejected traffic, and heap bytes per key at 1 M keys.
 * Method and latest figures: docs/benchmarks.md. Writes bench/results/core.json.
 *
 * Every case runs in a fresh child process (`--child <case>`), so one case's JIT feedback and
 * garbage never bleed into the next; inside a case the contenders are interleaved.
 * `npm run bench:core -- --case 100k` runs only the cases whose id contains "100k" (and then
 * writes no results file). Env BENCH_ROUNDS and BENCH_ROUND_MS override the plan;
 * BENCH_ORDER=random shuffles the key order (same shuffle for every contender).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { AlgorithmName } from "../src/index.js";
import {
  type Contender,
  limiterAsync,
  limiterSync,
  naiveAsync,
  naiveSync,
  rlfAsync,
  type Traffic,
  throttlekitAsync,
  throttlekitSync,
} from "./lib/contenders.js";
import { makeKeys, shuffled } from "./lib/keys.js";
import { type Figures, measureCase, type Plan } from "./lib/measure.js";
import { MEMORY_KEYS, MEMORY_SUBJECTS, type MemoryFigures, measureMemory } from "./lib/memory.js";
import {
  OBSERVE_MODES,
  observeAsync,
  observeRatios,
  observeSync,
} from "./lib/observe-contenders.js";
import {
  memoryTable,
  type Row,
  type Target,
  targetTable,
  throughputTable,
  withRatios,
} from "./lib/report.js";

const INFLIGHT = 1000;
/**
 * Key order within a case: round-robin over the keys (the default) or a fixed-seed shuffle.
 * Random order adds a cache miss or two per call for everyone, which narrows every ratio.
 */
const ORDER = process.env.BENCH_ORDER === "random" ? "random" : "round-robin";

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: expected a whole number ≥ 1`);
  return n;
}

const PLAN: Plan = {
  roundMs: envInt("BENCH_ROUND_MS", 150),
  inflight: INFLIGHT,
  order: ORDER,
  rounds: envInt("BENCH_ROUNDS", 11),
};

type ThroughputCase = {
  readonly id: string;
  readonly title: string;
  readonly keys: number;
  readonly traffic: Traffic;
  readonly algorithm: AlgorithmName | undefined;
  contenders(traffic: Traffic): Contender[];
};

const everyone = (traffic: Traffic): Contender[] => [
  throttlekitAsync(traffic),
  rlfAsync(traffic),
  limiterAsync(traffic),
  naiveAsync(traffic),
  throttlekitSync(traffic),
  limiterSync(traffic),
  naiveSync(traffic),
];

const algorithmRows =
  (algorithm: AlgorithmName) =>
  (traffic: Traffic): Contender[] => [
    throttlekitAsync(traffic, algorithm),
    rlfAsync(traffic),
    naiveAsync(traffic),
    throttlekitSync(traffic, algorithm),
    naiveSync(traffic),
  ];

const THROUGHPUT: readonly ThroughputCase[] = [
  ...([1, 100_000] as const).flatMap((keys) =>
    (["allowed", "rejected"] as const).map(
      (traffic): ThroughputCase => ({
        id: `${keys === 1 ? "1-key" : "100k-keys"}/${traffic}`,
        title: `${keys === 1 ? "single key" : "100k keys"}, ${traffic} traffic`,
        keys,
        traffic,
        algorithm: undefined,
        contenders: everyone,
      }),
    ),
  ),
  ...(["gcra", "token-bucket"] as const).map(
    (algorithm): ThroughputCase => ({
      id: `100k-keys/allowed/${algorithm}`,
      title: `100k keys, allowed traffic, throttlekit ${algorithm}`,
      keys: 100_000,
      traffic: "allowed",
      algorithm,
      contenders: algorithmRows(algorithm),
    }),
  ),
  // Issue 17: what events and metrics cost consume, against the same consume with an inert hub,
  // interleaved in one process (bench/results/observe-overhead.md).
  ...(["allowed", "rejected"] as const).map(
    (traffic): ThroughputCase => ({
      id: `observe/100k-keys/${traffic}`,
      title: `events and metrics overhead, 100k keys, ${traffic} traffic, async consume`,
      keys: 100_000,
      traffic,
      algorithm: undefined,
      contenders: (t) => OBSERVE_MODES.map((m) => observeAsync(t, m)),
    }),
  ),
  {
    id: "observe/100k-keys/allowed/sync",
    title: "events and metrics overhead, 100k keys, allowed traffic, consumeSync",
    keys: 100_000,
    traffic: "allowed",
    algorithm: undefined,
    contenders: (t) => OBSERVE_MODES.map((m) => observeSync(t, m)),
  },
];

const MEMORY_IDS = Object.keys(MEMORY_SUBJECTS);

type CaseResult =
  | { readonly kind: "throughput"; readonly id: string; readonly figures: Figures[] }
  | { readonly kind: "memory"; readonly id: string; readonly figures: MemoryFigures };

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function runChild(id: string): Promise<CaseResult> {
  if (id.startsWith("memory/")) {
    return { kind: "memory", id, figures: await measureMemory(id.slice("memory/".length)) };
  }
  const c = THROUGHPUT.find((x) => x.id === id);
  if (c === undefined) throw new Error(`unknown case ${id}`);
  const keys = makeKeys(c.keys);
  const order = ORDER === "random" ? shuffled(keys, 0x7e57) : keys;
  const figures = await measureCase(c.contenders(c.traffic), keys, order, c.traffic, PLAN, log);
  return { kind: "throughput", id, figures };
}

function spawnCase(id: string): CaseResult {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, script, "--child", id], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  const last = child.stdout.trim().split("\n").pop() ?? "";
  if (child.status !== 0 || !last.startsWith("{")) {
    throw new Error(`case ${id} failed (exit ${child.status}, signal ${child.signal})`);
  }
  return JSON.parse(last) as CaseResult;
}

function ratioOf(rows: readonly Row[] | undefined, id: string, key: "vsRlf" | "vsNaive") {
  return rows?.find((r) => r.id === id)?.[key] ?? null;
}

function targets(rows: ReadonlyMap<string, Row[]>, memory: readonly MemoryFigures[]): Target[] {
  const allowed = rows.get("100k-keys/allowed");
  const rejected = rows.get("100k-keys/rejected");
  const at = (m: number | null, min: number) => m !== null && m >= min;
  const naive = memory.find((m) => m.id === "naive")?.bytesPerKey;
  const out: Target[] = [
    {
      name: "100k allowed: async consume ÷ RLF",
      measured: ratioOf(allowed, "tk-async", "vsRlf"),
      target: "≥ 2.5",
      met: at(ratioOf(allowed, "tk-async", "vsRlf"), 2.5),
    },
    {
      name: "100k rejected: async consume ÷ RLF",
      measured: ratioOf(rejected, "tk-async", "vsRlf"),
      target: "≥ 4",
      met: at(ratioOf(rejected, "tk-async", "vsRlf"), 4),
    },
    {
      name: "100k allowed: consumeSync ÷ naive sync",
      measured: ratioOf(allowed, "tk-sync", "vsNaive"),
      target: "≥ 0.6",
      met: at(ratioOf(allowed, "tk-sync", "vsNaive"), 0.6),
    },
    {
      name: "100k rejected: consumeSync ÷ naive sync",
      measured: ratioOf(rejected, "tk-sync", "vsNaive"),
      target: "≥ 0.6",
      met: at(ratioOf(rejected, "tk-sync", "vsNaive"), 0.6),
    },
  ];
  const vsPlain = (caseId: string, id: string) => {
    const r = rows.get(caseId);
    return r === undefined ? null : (observeRatios(r).find((o) => o.id === id)?.vsPlain ?? null);
  };
  for (const traffic of ["allowed", "rejected"]) {
    const caseId = `observe/100k-keys/${traffic}`;
    if (!rows.has(caseId)) continue;
    const idle = vsPlain(caseId, "obs-idle");
    const metrics = vsPlain(caseId, "obs-metrics");
    out.push(
      {
        name: `100k ${traffic}: consume, no listener ÷ plain (issue 17)`,
        measured: idle,
        target: "≥ 0.99",
        met: at(idle, 0.99),
      },
      {
        name: `100k ${traffic}: consume, listener + metrics ÷ plain (issue 17)`,
        measured: metrics,
        target: "≥ 0.95",
        met: at(metrics, 0.95),
      },
    );
  }
  for (const id of ["tk-gcra", "tk-token-bucket"]) {
    const m = memory.find((x) => x.id === id)?.bytesPerKey ?? null;
    out.push({
      name: `bytes/key ${id.slice(3)} ≤ naive Map (${naive ?? "?"})`,
      measured: m,
      target: `≤ ${naive ?? "?"}`,
      met: m !== null && naive !== undefined && m <= naive,
    });
  }
  return out;
}

/** Which code was measured: the commit, plus files under src/ changed since it. */
function source(): { commit: string; modified: string[] } {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
      return "";
    }
  };
  const modified = git("status", "--porcelain", "--", "src")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.slice(3));
  return { commit: git("rev-parse", "HEAD").trim() || "unknown", modified };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child") {
    const result = await runChild(argv[1] ?? "");
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const filters = argv.flatMap((a, i) => (argv[i - 1] === "--case" ? [a] : []));
  const all = [...THROUGHPUT.map((c) => c.id), ...MEMORY_IDS.map((m) => `memory/${m}`)];
  const ids = filters.length === 0 ? all : all.filter((id) => filters.some((f) => id.includes(f)));
  const cpus = os.cpus();
  log(
    `throttlekit bench:core: node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? "?"}; ` +
      `${PLAN.rounds} interleaved rounds of ~${PLAN.roundMs} ms per contender, ` +
      `${INFLIGHT} async calls in flight, ${ORDER} key order`,
  );
  const started = Date.now();
  const loadBefore = os.loadavg();
  const rows = new Map<string, Row[]>();
  const memory: MemoryFigures[] = [];
  for (const id of ids) {
    const c = THROUGHPUT.find((x) => x.id === id);
    log(`\n== ${c?.title ?? `heap per key, ${id.slice(7)}, ${MEMORY_KEYS} keys`}`);
    const t0 = Date.now();
    const result = spawnCase(id);
    log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (result.kind === "memory") {
      memory.push(result.figures);
      log(`  ${result.figures.bytesPerKey.toFixed(1)} bytes/key`);
    } else {
      const r = withRatios(result.figures);
      rows.set(id, r);
      log(throughputTable(r));
      if (id.startsWith("observe/")) {
        for (const o of observeRatios(r)) log(`  ${o.id}: ${o.vsPlain ?? "?"} × plain`);
      }
    }
  }
  if (memory.length > 0)
    log(`\n== heap bytes per key at ${MEMORY_KEYS} keys\n${memoryTable(memory)}`);
  const goals = targets(rows, memory);
  log(`\n== targets (issue 2)\n${targetTable(goals)}`);
  log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (
    filters.length > 0 ||
    process.env.BENCH_ROUNDS ||
    process.env.BENCH_ROUND_MS ||
    ORDER !== "round-robin"
  ) {
    log("partial or non-default run: bench/results/core.json not written");
    return;
  }
  const out = {
    generated: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    source: source(),
    machine: {
      cpus: cpus.length,
      model: cpus[0]?.model ?? "unknown",
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      totalMemBytes: os.totalmem(),
      loadavgAtStart: loadBefore,
    },
    plan: { ...PLAN, statistic: "median of interleaved rounds; ratios are median ÷ median" },
    throughput: THROUGHPUT.filter((c) => rows.has(c.id)).map((c) => ({
      id: c.id,
      title: c.title,
      keys: c.keys,
      traffic: c.traffic,
      inflight: INFLIGHT,
      rows: rows.get(c.id),
    })),
    memory,
    targets: goals,
    durationSec: Math.round((Date.now() - started) / 1000),
  };
  const file = fileURLToPath(new URL("./results/core.json", import.meta.url));
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote ${file}`);
}

await main();
