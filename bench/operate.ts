/**
 * `npm run bench:operate`: what issue 18's subpaths cost a server that runs them, against bare
 * node:http in the same run: throttlekit/config (a limiter built from a file, and hot reload
 * under load), fleet metrics recorded into Redis and throttlekit/dashboard with a live viewer.
 *
 * One node:http hello-world server process (bench/operate/server.ts) on 127.0.0.1, with
 * throttlekit/node limiters on a redis-server this script starts on a free port (and kills by
 * pid), driven by autocannon from this process. Its mode is switched between phases over IPC:
 *   bare        node:http, no limiter
 *   limiter     nodeRateLimit with loadConfig's options from a small throttlekit.yaml (four rules,
 *               an x-api-key identity, limits nothing reaches; half the load hits /api/**)
 *   metrics     limiter + `metrics: { store }` (per-second fleet buckets flushed into Redis)
 *   dashboard   metrics + throttlekit/dashboard mounted in front, one SSE client on /api/events
 *               (the dashboard reads the fleet buckets of its 1-min window every second)
 *   reload      metrics + watchConfig on the file, edited every 500 ms (the api rule's policy
 *               toggled), each edit handed to limiter.reload() while the load runs
 *   bare-again  bare once more: the A/A pair, the machine's own noise in the same rounds
 * Every answer is counted by status: 200s expected, 429s reported (none expected: limits are
 * out of reach and the store fails closed, so a 429 means Redis did not answer), anything else
 * or a socket error fails the run (exit 1), as does a refused reload or a silent dashboard.
 *
 * Rounds interleave every mode (the starting mode rotating); ratios are taken within a round,
 * then the median over rounds is reported with its range. Server CPU µs per request (from
 * /proc) is the steadier measure on a shared machine; redis-server's is reported too.
 * First, in this process (bench/operate/micro.ts): µs per parseConfig and per reload() for
 * files of 10 and 100 rules. Last, on the idle server: what one dashboard snapshot (the live
 * stream's work each second) costs, wall time and server CPU, over SNAPSHOTS calls.
 * Env: BENCH_ROUNDS (8), BENCH_DURATION (2 s), BENCH_CONNECTIONS (50), BENCH_KEYS (2000).
 * Writes bench/results/operate.md (unless BENCH_* is set).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { type RedisNode, startRedis } from "../test/support/redis-server.js";
import { envInt, LOAD } from "./http/harness.js";
import { httpConfig } from "./operate/config-files.js";
import {
  editEvery,
  type LiveStream,
  load,
  openLiveStream,
  type Phase,
  type SnapshotCost,
  snapshotCost,
} from "./operate/load.js";
import { micro } from "./operate/micro.js";
import { type Meta, type PhaseRecord, report } from "./operate/report.js";
import { BASE_PATH, MODES, type Mode, type Switched } from "./operate/server.js";

const ROUNDS = envInt("BENCH_ROUNDS", 8);
const DURATION = envInt("BENCH_DURATION", 2);
const WARMUP = 2;
const EDIT_EVERY_MS = 500;
/** After the last edit of a reload phase: the watcher's debounce (100 ms) and the reload. */
const RESTORE_WAIT_MS = 300;
const MICRO_CALLS = 100;
const SNAPSHOTS = 100;
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));

type Server = { child: ChildProcess; port: number; token: string };

function start(file: string, redisPort: number): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/operate/server.ts", file], {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    env: { ...process.env, REDIS_PORT: String(redisPort) },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+) TOKEN (\w+)/.exec(out);
      if (m !== null) resolve({ child, port: Number(m[1]), token: m[2]! });
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
  });
}

function switchTo(s: Server, mode: Mode): Promise<Switched> {
  return new Promise((resolve) => {
    s.child.once("message", (m: Switched) => resolve(m));
    s.child.send(mode);
  });
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  await exited;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One phase: the mode's extras (the live client, the editor) around one load. */
async function phase(
  s: Server,
  redis: RedisNode,
  mode: Mode,
  seconds: number,
  file: string,
): Promise<PhaseRecord> {
  await switchTo(s, mode);
  let stream: LiveStream | undefined;
  let editor: ReturnType<typeof editEvery> | undefined;
  if (mode === "dashboard")
    stream = await openLiveStream(s.port, `${BASE_PATH}/api/events`, s.token);
  if (mode === "reload")
    editor = editEvery(file, [httpConfig(false), httpConfig(true)], EDIT_EVERY_MS);
  const r: Phase = await load(s.port, seconds, s.child.pid, redis.pid());
  let edits: number | undefined;
  if (editor !== undefined) {
    edits = editor.stop();
    await pause(RESTORE_WAIT_MS);
  }
  stream?.close();
  // Back to bare between phases: the server closes the mode's extras and reports its reloads.
  const left = await switchTo(s, "bare");
  return {
    mode,
    ...r,
    ...(stream === undefined
      ? {}
      : { snapshots: stream.snapshots, fleetRequests: stream.fleetRequests }),
    ...(edits === undefined ? {} : { edits, reloads: left.reloads, rejected: left.rejected }),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const inProcess = micro(MICRO_CALLS);
  console.log(`in process: ${JSON.stringify(inProcess)}`);
  const dir = mkdtempSync(join(os.tmpdir(), "tk-operate-"));
  const file = join(dir, "throttlekit.yaml");
  writeFileSync(file, httpConfig(false));
  let redis: RedisNode | undefined;
  let server: Server | undefined;
  const records: PhaseRecord[] = [];
  const warmups: PhaseRecord[] = [];
  let snapshot: SnapshotCost | undefined;
  try {
    redis = await startRedis();
    server = await start(file, redis.port);
    console.log(
      `${LOAD.connections} connections, ${LOAD.keys} keys; ${ROUNDS} rounds × ${MODES.length} modes × ${DURATION} s (warm-up ${WARMUP} s each)`,
    );
    for (const mode of MODES) warmups.push(await phase(server, redis, mode, WARMUP, file));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < MODES.length; i++) {
        const mode = MODES[(round + i) % MODES.length]!;
        const r = await phase(server, redis, mode, DURATION, file);
        records.push({ ...r, round });
        process.stdout.write(
          `round ${round + 1} ${mode.padEnd(10)} ${Math.round(r.rps)} req/s ${r.cpuUs.toFixed(1)} µs CPU/req redis ${r.redisCpuUs.toFixed(1)}` +
            ` 200:${r.ok} 429:${r.limited} other:${r.other} errors:${r.errors}` +
            `${r.snapshots === undefined ? "" : ` snapshots:${r.snapshots} fleet:${r.fleetRequests}`}` +
            `${r.edits === undefined ? "" : ` edits:${r.edits} reloads:${r.reloads} rejected:${r.rejected}`}\n`,
        );
      }
    }
    // The dashboard's per-second work on its own, on an idle server whose Redis holds the
    // last minute's buckets of the run.
    await switchTo(server, "dashboard");
    snapshot = await snapshotCost(
      server.port,
      `${BASE_PATH}/api/snapshot`,
      server.token,
      SNAPSHOTS,
      server.child.pid,
    );
    await switchTo(server, "bare");
    console.log(`one snapshot: ${JSON.stringify(snapshot)}`);
  } finally {
    if (server !== undefined) await stop(server);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const meta: Meta = {
    seconds: Math.round((Date.now() - started) / 1000),
    loadAtStart,
    settings: {
      rounds: ROUNDS,
      durationS: DURATION,
      warmupS: WARMUP,
      connections: LOAD.connections,
      keys: LOAD.keys,
      editEveryMs: EDIT_EVERY_MS,
      microCalls: MICRO_CALLS,
    },
  };
  const { markdown, failures } = report(records, warmups, inProcess, snapshot!, meta);
  console.log(`\n${markdown}`);
  if (failures.length > 0) {
    console.log(`\nINVALID:\n${failures.map((f) => `- ${f}`).join("\n")}`);
    process.exitCode = 1;
  }
  if (CUSTOM) {
    console.log("\n(BENCH_* set: bench/results/operate.md not written)");
    return;
  }
  writeFileSync(new URL("./results/operate.md", import.meta.url), markdown);
  console.log("\nwrote bench/results/operate.md");
}

await main();
