/**
 * `npm run bench:observe`: what throttlekit/prometheus and throttlekit/otel cost a request.
 *
 * One node:http hello-world server process (bench/observe/server.ts) on 127.0.0.1, with a
 * throttlekit/node limiter (memory store, far-off limit, 2,000 `x-api-key` keys), driven by
 * autocannon from this process. Its mode is switched between phases over IPC, so these are
 * measured in the same process: bare (no limiter), the limiter with nobody listening, the
 * limiter + prometheusMetrics, the limiter + otelMetrics (an SDK MeterProvider, no active span).
 * A second server process measures the span side: each request in a recording span
 * (AsyncLocalStorage context manager, BasicTracerProvider), without and with otelMetrics (which
 * then sets ratelimit.* on the span). Kept apart because AsyncLocalStorage slows every promise
 * of the process it is enabled in.
 *
 * Rounds interleave every mode (the starting mode rotating); each phase reports req/s and the
 * server's CPU µs per request (from /proc: steadier than req/s on a shared machine). Ratios are
 * computed per round between phases minutes apart at most, then the median across rounds is
 * reported. Every exporter phase checks that the exporter counted every request sent.
 * First, in this process (bench/observe/micro.ts): ns per decision of consumeSync on the memory
 * store with no listener, with prometheusMetrics, with otelMetrics: the exporters' own cost
 * without HTTP around it.
 * Env: BENCH_ROUNDS (8), BENCH_DURATION (1 s), BENCH_CONNECTIONS (50), BENCH_KEYS (2000).
 * Writes bench/results/observe.md and .json (unless BENCH_* is set).
 */
import { type ChildProcess, execSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { envInt, LOAD, load, median, type Run } from "./http/harness.js";
import { type MicroResult, micro } from "./observe/micro.js";
import { type Mode, PLAIN_MODES, TRACED_MODES } from "./observe/server.js";

const ROUNDS = envInt("BENCH_ROUNDS", 8);
const DURATION = envInt("BENCH_DURATION", 1);
const MICRO_ROUNDS = 7;
const MICRO_DECISIONS = 200_000;
const WARMUP = 1;
const SETTLE_MS = 30;
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));

type Proc = {
  kind: "plain" | "traced";
  child: ChildProcess;
  port: number;
  mode: Mode | undefined;
};

function start(kind: "plain" | "traced"): Promise<Proc> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/observe/server.ts", kind], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m !== null) resolve({ kind, child, port: Number(m[1]), mode: undefined });
    });
    child.once("exit", (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
}

/** Switches `p` to `mode`; resolves with what the exporter of the previous mode counted. */
function switchTo(p: Proc, mode: Mode): Promise<number | null> {
  return new Promise((resolve) => {
    p.child.once("message", (m: { counted: number | null }) => {
      p.mode = mode;
      setTimeout(() => resolve(m.counted), SETTLE_MS);
    });
    p.child.send(mode);
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once("exit", r));
  p.child.kill("SIGTERM");
  await exited;
}

const LABELS: Record<Mode, string> = {
  bare: "bare node:http (no limiter)",
  limiter: "limiter, no exporter",
  prometheus: "limiter + prometheusMetrics",
  otel: "limiter + otelMetrics",
  traced: "limiter, request in a span",
  "traced-otel": "limiter + otelMetrics, request in a span (ratelimit.* set)",
};

/** Each exporter mode and the mode it is compared with. */
const PAIRS: readonly [Mode, Mode][] = [
  ["limiter", "bare"],
  ["prometheus", "limiter"],
  ["otel", "limiter"],
  ["traced-otel", "traced"],
];

async function main(): Promise<void> {
  const started = Date.now();
  const inProcess = micro(MICRO_ROUNDS, MICRO_DECISIONS);
  console.log(
    `in process, ns per consumeSync: ${JSON.stringify(inProcess.nsPerDecision)}; added: ${JSON.stringify(inProcess.addedNs)}`,
  );
  const procs = [await start("plain"), await start("traced")];
  const phases: { proc: Proc; mode: Mode }[] = [
    ...PLAIN_MODES.map((mode) => ({ proc: procs[0]!, mode })),
    ...TRACED_MODES.map((mode) => ({ proc: procs[1]!, mode })),
  ];
  const runs = new Map<Mode, Run[]>(phases.map((p) => [p.mode, []]));
  const miscounts: string[] = [];
  try {
    console.log(
      `${LOAD.connections} connections, ${LOAD.keys} keys; ${ROUNDS} rounds × ${phases.length} modes × ${DURATION} s (warm-up ${WARMUP} s each)`,
    );
    for (const { proc, mode } of phases) {
      await switchTo(proc, mode);
      await load(proc.port, WARMUP);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < phases.length; i++) {
        const { proc, mode } = phases[(round + i) % phases.length]!;
        await switchTo(proc, mode);
        const r = await load(proc.port, DURATION, proc.child.pid);
        // Switching away closes the exporter and tells what it counted.
        const counted = await switchTo(proc, proc.kind === "plain" ? "bare" : "traced");
        if (counted !== null && counted < r.total) {
          miscounts.push(`${mode} round ${round + 1}: sent ${r.total}, counted ${counted}`);
        }
        runs.get(mode)!.push(r);
        process.stdout.write(
          `round ${round + 1} ${mode.padEnd(12)} ${Math.round(r.rps)} req/s ${r.cpuUs?.toFixed(1) ?? "?"} µs CPU/req` +
            `${counted !== null ? ` (exporter counted ${counted} of ${r.total})` : ""}${r.bad + r.errors > 0 ? ` BAD ${r.bad}/${r.errors}` : ""}\n`,
        );
      }
    }
  } finally {
    for (const p of procs) await stop(p);
  }
  report(runs, inProcess, miscounts, Math.round((Date.now() - started) / 1000));
}

function report(
  runs: Map<Mode, Run[]>,
  inProcess: MicroResult,
  miscounts: string[],
  seconds: number,
): void {
  const pct = (x: number | undefined) => (x === undefined ? "" : `${(x * 100).toFixed(1)}%`);
  const rows = [...runs].map(([mode, rs]) => ({
    mode,
    label: LABELS[mode],
    rps: Math.round(median(rs.map((r) => r.rps))),
    cpuUsPerReq: round2(median(rs.map((r) => r.cpuUs ?? Number.NaN))),
    rounds: rs.map((r) => Math.round(r.rps)),
    cpuRounds: rs.map((r) => round2(r.cpuUs ?? Number.NaN)),
    bad: rs.reduce((a, r) => a + r.bad + r.errors, 0),
  }));
  // Per round: the ratio of two modes measured in the same round, then the median over rounds.
  const pairs = PAIRS.map(([mode, base]) => {
    const a = runs.get(mode)!;
    const b = runs.get(base)!;
    const rpsRatios = a.map((r, i) => r.rps / b[i]!.rps);
    const cpuRatios = a.map((r, i) => (b[i]!.cpuUs ?? Number.NaN) / (r.cpuUs ?? Number.NaN));
    const addedUs = a.map((r, i) => (r.cpuUs ?? Number.NaN) - (b[i]!.cpuUs ?? Number.NaN));
    return {
      mode,
      base,
      rpsRatio: median(rpsRatios),
      rpsRatioRange: [Math.min(...rpsRatios), Math.max(...rpsRatios)],
      cpuRatio: median(cpuRatios),
      cpuRatioRange: [Math.min(...cpuRatios), Math.max(...cpuRatios)],
      addedCpuUs: round2(median(addedUs)),
    };
  });
  const lines: string[] = [];
  lines.push("| mode | req/s (median) | server µs CPU/req (median) | req/s per round |");
  lines.push("|---|---:|---:|---|");
  for (const r of rows) {
    lines.push(`| ${r.label} | ${r.rps} | ${r.cpuUsPerReq} | ${r.rounds.join(", ")} |`);
  }
  lines.push("");
  lines.push(
    "| compared | req/s ratio (median of rounds) | range | CPU capacity ratio (median) | range | CPU µs added per request |",
  );
  lines.push("|---|---:|---|---:|---|---:|");
  for (const p of pairs) {
    const range = (r: number[]) => `${pct(r[0])} – ${pct(r[1])}`;
    lines.push(
      `| ${LABELS[p.mode]} vs ${LABELS[p.base]} | ${pct(p.rpsRatio)} | ${range(p.rpsRatioRange)} | ${pct(p.cpuRatio)} | ${range(p.cpuRatioRange)} | ${p.addedCpuUs} |`,
    );
  }
  lines.push("");
  lines.push(
    `In process (no HTTP), ns per \`consumeSync\` on the memory store, median of ${MICRO_ROUNDS} interleaved samples of ${MICRO_DECISIONS.toLocaleString("en")} decisions:`,
  );
  lines.push("");
  lines.push("| listening | ns per decision | added ns (median of per-round differences) |");
  lines.push("|---|---:|---:|");
  lines.push(`| nobody | ${inProcess.nsPerDecision.none} | |`);
  lines.push(
    `| prometheusMetrics | ${inProcess.nsPerDecision.prometheus} | ${inProcess.addedNs.prometheus} |`,
  );
  lines.push(`| otelMetrics | ${inProcess.nsPerDecision.otel} | ${inProcess.addedNs.otel} |`);
  // A pair is resolved when every round's CPU ratio lies within ±10% of its median: then the
  // median says something; otherwise the machine's noise is larger than what is measured.
  const verdicts = pairs.map((p) => {
    const [lo, hi] = p.cpuRatioRange as [number, number];
    const resolved = lo >= p.cpuRatio - 0.1 && hi <= p.cpuRatio + 0.1;
    return `- ${LABELS[p.mode]} vs ${LABELS[p.base]}: ${
      resolved
        ? `resolved: ${pct(p.cpuRatio)} of the CPU capacity, ${p.addedCpuUs} µs added per request.`
        : `not resolved on this run: per-round CPU ratios spread from ${pct(lo)} to ${pct(hi)}, wider than the difference measured; read the in-process figures.`
    }`;
  });
  lines.push("");
  lines.push("Per pair, over HTTP:");
  lines.push("");
  lines.push(...verdicts);
  const table = lines.join("\n");
  console.log(`\n${table}`);
  const load1 = os.loadavg()[0]!;
  console.log(`\nrun took ${seconds} s; load average at the end ${load1.toFixed(1)}`);
  const bad = rows.filter((r) => r.bad > 0);
  if (bad.length > 0 || miscounts.length > 0) {
    console.log(
      `\nINVALID: ${[...bad.map((r) => `${r.mode} non-2xx/errors`), ...miscounts].join("; ")}`,
    );
    process.exitCode = 1;
  }
  if (CUSTOM) {
    console.log("\n(BENCH_* set: bench/results/observe.* not written)");
    return;
  }
  let commit: string | undefined;
  let dirty: string[] = [];
  try {
    commit = execSync("git rev-parse HEAD", { encoding: "utf8" }).trim();
    dirty = execSync("git status --porcelain -- src/observe bench/observe bench/observe.ts", {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
  } catch {}
  const cpus = os.cpus();
  const meta = {
    bench: "observe",
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: cpus.length, model: cpus[0]?.model, platform: os.platform() },
    loadAverageAtEnd: round2(load1),
    seconds,
    commit,
    localChanges: dirty,
    settings: {
      rounds: ROUNDS,
      durationS: DURATION,
      warmupS: WARMUP,
      connections: LOAD.connections,
      keys: LOAD.keys,
    },
  };
  writeFileSync(
    new URL("./results/observe.json", import.meta.url),
    `${JSON.stringify({ ...meta, results: rows, ratios: pairs, inProcess, miscounts }, null, 2)}\n`,
  );
  writeFileSync(new URL("./results/observe.md", import.meta.url), markdown(table, meta));
  console.log("wrote bench/results/observe.md and observe.json");
}

function markdown(table: string, meta: Record<string, unknown> & { settings: object }): string {
  return `# bench:observe

What \`throttlekit/prometheus\` and \`throttlekit/otel\` cost a request: \`npm run bench:observe\`
(bench/observe.ts), ${meta.date}, Node ${meta.node}, commit ${String(meta.commit).slice(0, 7)},
${JSON.stringify(meta.machine)}, load average ${meta.loadAverageAtEnd} at the end of a ${meta.seconds} s run.
Settings: ${JSON.stringify(meta.settings)}.

One node:http hello-world server process with a throttlekit/node limiter (memory store, a limit
nothing reaches, 2,000 API keys), switched between modes over IPC so every mode runs in the same
process; a second process for the traced modes (AsyncLocalStorage slows every promise of the
process it is enabled in). Rounds interleave the modes; ratios are taken within each round and
the median over rounds is reported, with the range. "CPU capacity ratio" is the base mode's
server CPU µs per request over this mode's (higher is better; 100% = free). Every exporter phase
checked that its exporter counted every request autocannon sent.

${table}

## What these figures can claim

- The machine is a shared 2-core VM on which several sessions run tests and benchmarks at once
  (the load average is above): absolute req/s move with whatever else runs, and two phases of
  one round can differ by tens of percent for no reason of theirs. Only ratios within a round
  are compared, summarised by their median, and the range says whether that median means
  anything (the verdicts under the table apply a ±10% rule).
- Server CPU µs per request is the steadier HTTP measure (the server's own work, little
  affected by how much CPU the load generator got), but on a saturated machine it moves too.
- The in-process figures are the exporters' own cost per decision, without HTTP or a second
  process: emitting the decision event and timing the store (two \`performance.now()\`), then
  for Prometheus a map lookup and a few increments (the latency buckets included: nothing
  reaches prom-client before a scrape), and for OpenTelemetry the same plus one SDK histogram
  \`record()\` (the SDK hashes the attribute set on every call; OpenTelemetry has no
  asynchronous histogram to hand buckets over at collection time). Compare them with a
  request's server CPU above (tens of µs for a hello-world request through throttlekit/node).
- Relative to a hello-world handler on the memory store this is the worst case; a real handler
  (a database call, a Redis round trip) costs far more per request, so the same ns weigh less.
- Scraping and collection are not measured: Prometheus reads the registry every 15 s or so, and
  the totals are handed over per label set then, not per request.
`;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

await main();
