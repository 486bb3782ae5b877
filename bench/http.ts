/**
 * `npm run bench:http`: autocannon against hello-world Fastify and Express servers on
 * 127.0.0.1, bare, with throttlekit and with each framework's usual limiter (@fastify/rate-limit,
 * express-rate-limit), on the memory store and on Redis, in one run.
 *
 * Each variant is its own server process (bench/http/server.ts); the load generator runs here.
 * Every request carries an `x-api-key` header from a pool of KEYS values, and every limiter keys
 * on it, so counters are spread over many keys. Limits are far above what a run sends; any
 * non-2xx answer or socket error fails the variant. After a warm-up, ROUNDS rounds each run every
 * variant once for DURATION seconds, the starting variant rotating; the median req/s (and server
 * CPU µs per request) is reported. Separate processes differ by a few percent on their own (see
 * bench/http-marginal.ts for the limiter's cost measured within one process).
 * Redis variants run against a redis-server this script starts on a free port and kills by pid.
 * Env: BENCH_ROUNDS (5), BENCH_DURATION (5 s), BENCH_CONNECTIONS (50), BENCH_KEYS (2000).
 * Writes bench/results/http.json (unless BENCH_* is set).
 */
import { execSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { type RedisNode, startRedis } from "../test/support/redis-server.js";
import {
  envInt,
  LOAD,
  load,
  median,
  type Run,
  type Server,
  startServer,
  stopServer,
} from "./http/harness.js";
import { FRAMEWORKS, LIMITERS, type Variant } from "./http/server.js";

const ROUNDS = envInt("BENCH_ROUNDS", 5);
const DURATION = envInt("BENCH_DURATION", 5);
const WARMUP = 2;
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));

async function main(): Promise<void> {
  const variants: Variant[] = [];
  for (const f of FRAMEWORKS) {
    for (const l of LIMITERS) variants.push(`${f}-${l}` as Variant);
  }

  let redis: RedisNode | undefined;
  const servers: Server[] = [];
  try {
    redis = await startRedis();
    for (const v of variants) {
      servers.push(await startServer(v, v.endsWith("-redis") ? redis.port : undefined));
    }
    console.log(
      `${servers.length} servers up; ${LOAD.connections} connections, ${LOAD.keys} keys, warm-up ${WARMUP} s, ` +
        `${ROUNDS} rounds × ${DURATION} s per variant`,
    );
    for (const s of servers) {
      const w = await load(s.port, WARMUP);
      if (w.bad > 0) throw new Error(`${s.variant}: ${w.bad} non-2xx answers during warm-up`);
    }
    const runs = new Map<Variant, Run[]>(servers.map((s) => [s.variant, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < servers.length; i++) {
        const s = servers[(round + i) % servers.length]!;
        const r = await load(s.port, DURATION, s.child.pid);
        runs.get(s.variant)!.push(r);
        process.stdout.write(
          `round ${round + 1} ${s.variant.padEnd(20)} ${Math.round(r.rps)} req/s ${r.cpuUs?.toFixed(1) ?? "?"} µs CPU/req${r.bad > 0 ? ` NON-2XX ${r.bad}` : ""}${r.errors > 0 ? ` errors ${r.errors}` : ""}\n`,
        );
      }
    }
    report(runs);
  } finally {
    for (const s of servers) await stopServer(s);
    await redis?.stop();
  }
}

function report(runs: Map<Variant, Run[]>): void {
  const med = (v: string) => {
    const r = runs.get(v as Variant);
    return r === undefined ? undefined : median(r.map((x) => x.rps));
  };
  const cpuMed = (v: string) => {
    const r = runs.get(v as Variant)?.flatMap((x) => (x.cpuUs === undefined ? [] : [x.cpuUs]));
    return r === undefined || r.length === 0 ? undefined : median(r);
  };
  const rows = [...runs].map(([variant, rs]) => {
    const [framework, ...rest] = variant.split("-");
    const limiter = rest.join("-");
    const rps = median(rs.map((r) => r.rps));
    const bare = med(`${framework}-bare`)!;
    const peerOf = limiter.startsWith("tk-")
      ? med(`${framework}-${limiter.replace("tk", "peer")}`)
      : undefined;
    const cpu = cpuMed(variant);
    const cpuBare = cpuMed(`${framework}-bare`);
    const cpuPeer = limiter.startsWith("tk-")
      ? cpuMed(`${framework}-${limiter.replace("tk", "peer")}`)
      : undefined;
    return {
      variant,
      framework,
      limiter,
      cpuUsPerReq: cpu,
      // Capacity ratios from CPU time: bare's µs/req over this variant's (higher is better).
      cpuVsBare: cpu === undefined || cpuBare === undefined ? undefined : cpuBare / cpu,
      cpuVsPeer: cpu === undefined || cpuPeer === undefined ? undefined : cpuPeer / cpu,
      rps: Math.round(rps),
      best: Math.round(Math.max(...rs.map((r) => r.rps))),
      vsBare: rps / bare,
      vsPeer: peerOf === undefined ? undefined : rps / peerOf,
      bad: rs.reduce((a, r) => a + r.bad, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      rounds: rs.map((r) => Math.round(r.rps)),
    };
  });
  const pct = (x: number | undefined) => (x === undefined ? "" : `${(x * 100).toFixed(1)}%`);
  console.log(
    "\n| variant | req/s (median) | best | vs bare | vs peer | server µs CPU/req | CPU vs bare | CPU vs peer | non-2xx | errors |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.variant} | ${r.rps} | ${r.best} | ${pct(r.vsBare)} | ${pct(r.vsPeer)} | ${r.cpuUsPerReq?.toFixed(1) ?? ""} | ${pct(r.cpuVsBare)} | ${pct(r.cpuVsPeer)} | ${r.bad} | ${r.errors} |`,
    );
  }
  const ratio = (v: string) => rows.find((r) => r.variant === v);
  const targets: { target: string; value: number | undefined; met: boolean | undefined }[] = [];
  const check = (target: string, value: number | undefined, min: number) =>
    targets.push({ target, value, met: value === undefined ? undefined : value >= min });
  // Each target is judged on req/s (the stated measure) and on server CPU per request.
  for (const [m, by] of [
    [
      "req/s",
      (r: (typeof rows)[number] | undefined, k: "bare" | "peer") =>
        k === "bare" ? r?.vsBare : r?.vsPeer,
    ],
    [
      "cpu",
      (r: (typeof rows)[number] | undefined, k: "bare" | "peer") =>
        k === "bare" ? r?.cpuVsBare : r?.cpuVsPeer,
    ],
  ] as const) {
    check(`[${m}] fastify tk-memory ≥ 92% of bare`, by(ratio("fastify-tk-memory"), "bare"), 0.92);
    check(`[${m}] fastify tk-redis ≥ 65% of bare`, by(ratio("fastify-tk-redis"), "bare"), 0.65);
    for (const f of FRAMEWORKS) {
      for (const s of ["memory", "redis"]) {
        check(`[${m}] ${f} tk-${s} ≥ peer-${s}`, by(ratio(`${f}-tk-${s}`), "peer"), 1);
      }
    }
  }
  console.log("");
  for (const t of targets) {
    const state = t.met === undefined ? "not measured" : t.met ? "met" : "MISSED";
    console.log(
      `${state.padEnd(12)} ${t.target}${t.value !== undefined ? ` (${pct(t.value)})` : ""}`,
    );
  }
  const invalid = rows.filter((r) => r.bad > 0);
  if (invalid.length > 0) {
    console.log(`\nINVALID: non-2xx answers in ${invalid.map((r) => r.variant).join(", ")}`);
    process.exitCode = 1;
  }
  if (CUSTOM) {
    console.log("\n(BENCH_* set: bench/results/http.json not written)");
    return;
  }
  let commit: string | undefined;
  let dirty: string[] = [];
  try {
    commit = execSync("git rev-parse HEAD", { encoding: "utf8" }).trim();
    dirty = execSync("git status --porcelain -- src bench", { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((l) => l.slice(3));
  } catch {}
  const cpus = os.cpus();
  writeFileSync(
    new URL("./results/http.json", import.meta.url),
    `${JSON.stringify(
      {
        bench: "http",
        date: new Date().toISOString(),
        node: process.version,
        v8: process.versions.v8,
        machine: { cpus: cpus.length, model: cpus[0]?.model, platform: os.platform() },
        commit,
        localChanges: dirty,
        settings: {
          rounds: ROUNDS,
          durationS: DURATION,
          warmupS: WARMUP,
          connections: LOAD.connections,
          keys: LOAD.keys,
          keyHeader: "x-api-key",
        },
        results: rows,
        targets,
      },
      null,
      2,
    )}\n`,
  );
  console.log("\nwrote bench/results/http.json");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
