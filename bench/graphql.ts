/**
 * `npm run bench:graphql` (issue 16), two parts in one run:
 *
 * 1. Analysis against execution, in this process: throttlekit/graphql's `analyze` on a
 *    500-field dashboard query built from fragments (bench/graphql/schema.ts: 142 fields as
 *    written, 500 with fragments expanded), against graphql's `execute` of the same parsed,
 *    validated document with trivial resolvers, and against graphql-query-complexity's
 *    `getComplexity` (the peer). Execution runs twice: with realistic pages ($n = 5, $m = 3:
 *    ~1,900 fields resolved) and with every list one item long (~460 fields resolved, about one
 *    per field of the document: the strictest comparison). `validate` is timed too, for scale.
 *    Each contender is calibrated to ROUND_MS per round; ANALYSIS_ROUNDS rounds run every
 *    contender once, the starting one rotating; medians (and best rounds: other work on the
 *    machine only ever slows a round) are reported. Target: analysis ≤ 10% of execution.
 * 2. GraphQL Yoga 5 `{ hello }` over HTTP on 127.0.0.1 (bench/graphql/servers.ts, each variant
 *    its own process): bare; with throttlekit's `useRateLimit` (memory store, points budget and
 *    query rate that never bind); with graphql-query-complexity + a hand-rolled per-IP counter.
 *    autocannon here (CONNECTIONS keep-alive connections, one request in flight each); every
 *    response is checked (status 200, data.hello, and extensions.rateLimit for throttlekit) and
 *    summed into a checksum. After a warm-up, ROUNDS rounds run every variant for DURATION s,
 *    the starting variant rotating; median req/s and the server's CPU µs per request (/proc,
 *    steadier than req/s on a shared machine). Then MARGINAL_ROUNDS rounds switch throttlekit's
 *    plugin on and off within its one process (MARGINAL_S s each, order alternating): the
 *    share of req/s and of CPU capacity kept, free of process-to-process differences.
 *    Target: throttlekit ≥ 85% of bare.
 *
 * Env: BENCH_ROUNDS (5), BENCH_DURATION (4 s), BENCH_CONNECTIONS (32), BENCH_ANALYSIS_ROUNDS
 * (21), BENCH_ROUND_MS (50), BENCH_MARGINAL_ROUNDS (4), BENCH_MARGINAL_DURATION (3 s),
 * BENCH_ONLY (analysis | http). About 110 s by default.
 * Writes bench/results/graphql.json (unless BENCH_* is set).
 */
import { type ChildProcess, execSync, fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { analysisPart } from "./graphql/analysis.js";
import { HELLO, VARIANTS, type Variant } from "./graphql/servers.js";
import { cpuTime, envInt, median } from "./http/harness.js";

const ROUNDS = envInt("BENCH_ROUNDS", 5);
const DURATION = envInt("BENCH_DURATION", 4);
const CONNECTIONS = envInt("BENCH_CONNECTIONS", 32);
const ANALYSIS_ROUNDS = envInt("BENCH_ANALYSIS_ROUNDS", 21);
const ROUND_MS = envInt("BENCH_ROUND_MS", 50);
const ONLY = process.env.BENCH_ONLY;
const MARGINAL_ROUNDS = envInt("BENCH_MARGINAL_ROUNDS", 4);
const MARGINAL_S = envInt("BENCH_MARGINAL_DURATION", 3);
const WARMUP = 2;
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));
const TARGETS = { analysisShareOfExecution: 0.1, yogaPluginOfBare: 0.85 };

let checksum = 0;

type Run = { rps: number; ok: number; bad: number; errors: number; cpuUs: number | undefined };

const BODY = JSON.stringify({ query: HELLO.query });

/**
 * CONNECTIONS keep-alive connections for `seconds`; every response checked (with throttlekit's
 * plugin on, extensions.rateLimit too; otherwise its absence) and summed.
 */
async function load(
  port: number,
  variant: string,
  seconds: number,
  pid?: number,
  withPlugin = variant === "throttlekit",
): Promise<Run> {
  let ok = 0;
  let bad = 0;
  let firstBad: string | undefined;
  const onResponse = (status: number, body: string) => {
    let good = status === 200;
    if (good) {
      const r = JSON.parse(body) as {
        data?: { hello?: unknown };
        extensions?: { rateLimit?: { cost?: unknown } };
      };
      good =
        r.data?.hello === HELLO.answer &&
        (typeof r.extensions?.rateLimit?.cost === "number") === withPlugin;
    }
    if (good) {
      ok++;
      checksum = (checksum + body.length) | 0;
    } else {
      bad++;
      firstBad ??= `${status} ${body.slice(0, 200)}`;
    }
  };
  const cpu0 = cpuTime(pid);
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: "POST",
        path: "/graphql",
        headers: { "content-type": "application/json" },
        body: BODY,
        onResponse,
      },
    ],
  });
  const cpu1 = cpuTime(pid);
  if (bad > 0) throw new Error(`${variant}: ${bad} bad responses, first: ${firstBad}`);
  const errors = r.errors + r.timeouts;
  if (errors > 0) throw new Error(`${variant}: ${errors} socket errors or timeouts`);
  return {
    rps: ok / seconds,
    ok,
    bad,
    errors,
    cpuUs: cpu0 === undefined || cpu1 === undefined || ok === 0 ? undefined : (cpu1 - cpu0) / ok,
  };
}

/**
 * throttlekit's plugin on and off in the same server process, MARGINAL_ROUNDS rounds of both
 * (order alternating): separate processes differ by several percent on their own (see
 * docs/benchmarks.md, bench:http), one process against itself does not.
 */
async function marginalPhase(port: number, child: ChildProcess) {
  const on: Run[] = [];
  const off: Run[] = [];
  for (let round = 0; round < MARGINAL_ROUNDS; round++) {
    for (const plugin of round % 2 === 0 ? [true, false] : [false, true]) {
      await ask(child, { plugin });
      const r = await load(
        port,
        `throttlekit ${plugin ? "on" : "off"}`,
        MARGINAL_S,
        child.pid,
        plugin,
      );
      (plugin ? on : off).push(r);
    }
  }
  await ask(child, { plugin: true });
  const rpsKept = on.map((r, i) => r.rps / off[i]!.rps);
  const cpuKept = on.flatMap((r, i) => {
    const o = off[i]!.cpuUs;
    return r.cpuUs === undefined || o === undefined ? [] : [o / r.cpuUs];
  });
  const out = {
    rounds: MARGINAL_ROUNDS,
    secondsPerPhase: MARGINAL_S,
    rpsKept: Number(median(rpsKept).toFixed(3)),
    cpuKept: cpuKept.length === 0 ? undefined : Number(median(cpuKept).toFixed(3)),
    rpsKeptRounds: rpsKept.map((x) => Number(x.toFixed(3))),
    cpuKeptRounds: cpuKept.map((x) => Number(x.toFixed(3))),
    cpuMicrosPerRequest: {
      on: Number(median(on.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]))).toFixed(1)),
      off: Number(median(off.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]))).toFixed(1)),
    },
  };
  const pct = (x: number | undefined) => (x === undefined ? "?" : `${(x * 100).toFixed(1)}%`);
  console.log(
    `same process, plugin on vs off (${MARGINAL_ROUNDS} rounds × ${MARGINAL_S} s each): ` +
      `${pct(out.rpsKept)} of req/s kept, ${pct(out.cpuKept)} by CPU ` +
      `(${out.cpuMicrosPerRequest.on} vs ${out.cpuMicrosPerRequest.off} µs/req); rounds ${out.rpsKeptRounds.join(" ")}`,
  );
  return out;
}

function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`bench server exited (${code})`));
    child.once("exit", exited);
    child.once("message", (m) => {
      child.off("exit", exited);
      resolve(m as T);
    });
    if (message !== undefined) child.send(message as string);
  });
}

async function httpPart() {
  const children = new Map<Variant, ChildProcess>();
  try {
    const ports = new Map<Variant, number>();
    for (const v of VARIANTS) {
      const child = fork(fileURLToPath(new URL("./graphql/servers.ts", import.meta.url)), [v], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.set(v, child);
      ports.set(v, (await ask<{ port: number }>(child, undefined)).port);
    }
    console.log(
      `\nYoga { hello }: ${CONNECTIONS} keep-alive connections, warm-up ${WARMUP} s, ` +
        `${ROUNDS} rounds × ${DURATION} s per variant`,
    );
    for (const v of VARIANTS) await load(ports.get(v)!, v, WARMUP);
    const runs = new Map<Variant, Run[]>(VARIANTS.map((v) => [v, []]));
    let served = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(round + k) % VARIANTS.length]!;
        const r = await load(ports.get(v)!, v, DURATION, children.get(v)!.pid);
        runs.get(v)!.push(r);
        if (v === "peer") served += r.ok;
      }
      console.log(
        `round ${round + 1}: ${VARIANTS.map((v) => {
          const r = runs.get(v)!.at(-1)!;
          return `${v} ${Math.round(r.rps)}/s ${r.cpuUs?.toFixed(1) ?? "?"} µs`;
        }).join(", ")}`,
      );
    }
    const marginal = await marginalPhase(ports.get("throttlekit")!, children.get("throttlekit")!);
    // The peer's plugin counted every operation it checked: at least every answer we counted.
    const { checked } = await ask<{ checked: number }>(children.get("peer")!, "checked");
    if (checked < served) throw new Error(`peer checked ${checked} operations of ${served}`);
    const rps = (v: Variant) => median(runs.get(v)!.map((r) => r.rps));
    const cpu = (v: Variant) => {
      const xs = runs.get(v)!.flatMap((r) => (r.cpuUs === undefined ? [] : [r.cpuUs]));
      return xs.length === 0 ? undefined : median(xs);
    };
    const bareCpu = cpu("bare");
    const results = VARIANTS.map((v) => {
      const c = cpu(v);
      return {
        variant: v,
        rps: Math.round(rps(v)),
        vsBare: Number((rps(v) / rps("bare")).toFixed(3)),
        cpuMicrosPerRequest: c === undefined ? undefined : Number(c.toFixed(1)),
        // Capacity kept: bare's CPU per request over this variant's (higher is better).
        cpuVsBare:
          c === undefined || bareCpu === undefined ? undefined : Number((bareCpu / c).toFixed(3)),
        rounds: runs.get(v)!.map((r) => Math.round(r.rps)),
        cpuRounds: runs
          .get(v)!
          .map((r) => (r.cpuUs === undefined ? null : Number(r.cpuUs.toFixed(1)))),
      };
    });
    const tk = results.find((r) => r.variant === "throttlekit")!;
    const peer = results.find((r) => r.variant === "peer")!;
    console.log("\nvariant       req/s   vs bare   CPU µs/req   CPU vs bare");
    for (const r of results) {
      console.log(
        `${r.variant.padEnd(11)} ${String(r.rps).padStart(7)}   ${(r.vsBare * 100).toFixed(1).padStart(6)}%   ${
          r.cpuMicrosPerRequest?.toFixed(1).padStart(10) ?? "         ?"
        }   ${r.cpuVsBare === undefined ? "" : `${(r.cpuVsBare * 100).toFixed(1)}%`}`,
      );
    }
    const metRps = tk.vsBare >= TARGETS.yogaPluginOfBare;
    const metCpu = tk.cpuVsBare !== undefined && tk.cpuVsBare >= TARGETS.yogaPluginOfBare;
    console.log(
      `throttlekit ÷ bare: ${(tk.vsBare * 100).toFixed(1)}% req/s (${metRps ? "met" : "MISSED"}), ` +
        `${tk.cpuVsBare === undefined ? "?" : (tk.cpuVsBare * 100).toFixed(1)}% by CPU (${metCpu ? "met" : "MISSED"}); target ≥ 85%. ` +
        `throttlekit ÷ peer: ${((tk.rps / peer.rps) * 100).toFixed(1)}% req/s`,
    );
    return {
      connections: CONNECTIONS,
      results,
      vsPeer: Number((tk.rps / peer.rps).toFixed(3)),
      cpuVsPeer:
        tk.cpuMicrosPerRequest === undefined || peer.cpuMicrosPerRequest === undefined
          ? undefined
          : Number((peer.cpuMicrosPerRequest / tk.cpuMicrosPerRequest).toFixed(3)),
      met: { rps: metRps, cpu: metCpu },
      marginal,
      peerChecked: checked,
    };
  } finally {
    for (const c of children.values()) c.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg();
  console.log(`load average ${loadBefore.map((x) => x.toFixed(2)).join(" ")}`);
  const analysis =
    ONLY === "http"
      ? undefined
      : analysisPart({
          rounds: ANALYSIS_ROUNDS,
          roundMs: ROUND_MS,
          target: TARGETS.analysisShareOfExecution,
        });
  checksum = (checksum + (analysis?.checksum ?? 0)) | 0;
  const http = ONLY === "analysis" ? undefined : await httpPart();
  const loadAfter = os.loadavg();
  console.log(
    `load average ${loadAfter.map((x) => x.toFixed(2)).join(" ")} (checksum ${checksum})`,
  );
  if (CUSTOM) {
    console.log("(BENCH_* set: bench/results/graphql.json not written)");
    return;
  }
  const cpus = os.cpus();
  const out = {
    bench: "graphql",
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    machine: { cpus: cpus.length, model: cpus[0]?.model, platform: os.platform() },
    loadavg: { before: loadBefore, after: loadAfter },
    commit: execSync("git rev-parse HEAD", { encoding: "utf8" }).trim(),
    localChanges: execSync("git status --porcelain -- src/graphql bench", { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3)),
    settings: {
      analysisRounds: ANALYSIS_ROUNDS,
      roundMs: ROUND_MS,
      rounds: ROUNDS,
      durationS: DURATION,
      warmupS: WARMUP,
      connections: CONNECTIONS,
      marginalRounds: MARGINAL_ROUNDS,
      marginalS: MARGINAL_S,
    },
    targets: TARGETS,
    analysis,
    http,
    checksum,
  };
  writeFileSync(
    new URL("./results/graphql.json", import.meta.url),
    `${JSON.stringify(out, null, 2)}\n`,
  );
  console.log("wrote bench/results/graphql.json");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
