/**
 * `npm run bench:grpc`: grpc-js unary hello, bare vs throttlekit/grpc, on the memory store and
 * on Redis, in one run (issue 14: ≥ 90% of bare calls/s on memory, ≥ 60% on Redis).
 *
 * One server process (this file with argv "server") hosts every variant on its own port, so
 * they share one runtime; the load generator runs here: CONCURRENCY calls in flight over one
 * channel, each call carrying an `x-api-key` from a pool of KEYS values, on which the limited
 * variants key (limits far above the load: any non-OK status fails the run). Variants:
 * `bare`; `memory` and `redis` (a rate policy per key); `memory-cc` and `redis-cc` (the same
 * plus `maxConcurrent`, one acquire and one release per call). After a warm-up, ROUNDS rounds
 * each run every variant once for DURATION seconds, the starting variant rotating; the median
 * calls/s and its ratio to bare are reported. Replies are checked and folded into a checksum,
 * so nothing is optimised away. Redis runs against a redis-server this script starts on a free
 * port and stops.
 * Env: BENCH_ROUNDS (5), BENCH_DURATION (3 s), BENCH_CONCURRENCY (64), BENCH_KEYS (1000).
 * Writes bench/results/grpc.json (unless BENCH_* is set).
 */
import { type ChildProcess, execSync, fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type ServiceError,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { Redis } from "ioredis";
import { grpcRateLimit } from "../src/adapters/grpc.js";
import { apiKey } from "../src/http/index.js";
import { memoryStore, type Store } from "../src/index.js";
import { redisStore } from "../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../test/support/redis-server.js";

const envInt = (name: string, fallback: number) => {
  const v = process.env[name];
  return v === undefined ? fallback : Number.parseInt(v, 10);
};
const ROUNDS = envInt("BENCH_ROUNDS", 5);
const DURATION = envInt("BENCH_DURATION", 3);
const CONCURRENCY = envInt("BENCH_CONCURRENCY", 64);
const KEYS = envInt("BENCH_KEYS", 1000);
const WARMUP = 2;
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));

const VARIANTS = ["bare", "memory", "redis", "memory-cc", "redis-cc"] as const;
type Variant = (typeof VARIANTS)[number];
const TARGETS: Partial<Record<Variant, number>> = { memory: 0.9, redis: 0.6 };

const PROTO = fileURLToPath(new URL("../examples/grpc/greeter.proto", import.meta.url));
type Pkg = { demo: { Greeter: ServiceClientConstructor } };
const pkg = () => loadPackageDefinition(loadSync(PROTO)) as unknown as Pkg;
type Req = { name: string };
type Reply = { message: string };

/** The server side: every variant on its own port, in this one process. */
async function serve(redisPort: number): Promise<void> {
  const { demo } = pkg();
  const ports: Partial<Record<Variant, number>> = {};
  for (const v of VARIANTS) {
    const interceptors: ServerInterceptor[] = [];
    if (v !== "bare") {
      let store: Store;
      if (v.startsWith("redis")) {
        store = redisStore({ client: new Redis(redisPort, "127.0.0.1") });
      } else {
        store = memoryStore();
      }
      interceptors.push(
        grpcRateLimit({
          store,
          prefix: `bench-${v}`,
          identity: apiKey("x-api-key"),
          policies: "100000000/min",
          ...(v.endsWith("-cc") ? { maxConcurrent: 1000, leaseMs: "30s" } : {}),
          logger: false,
        }),
      );
    }
    const server = new Server({ interceptors });
    server.addService(demo.Greeter.service, {
      SayHello: (call: ServerUnaryCall<Req, Reply>, done: sendUnaryData<Reply>) =>
        done(null, { message: `hello ${call.request.name}` }),
    });
    ports[v] = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
  }
  // CPU time so far, on request: the load runs one variant at a time, so the server process's
  // CPU over a round is that variant's.
  process.on("message", () => {
    const u = process.cpuUsage();
    process.send?.({ cpu: u.user + u.system });
  });
  process.send?.(ports);
  process.on("disconnect", () => process.exit(0));
}

/** The server process's CPU time so far, in µs. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve((m as { cpu: number }).cpu));
    child.send("cpu");
  });
}

type Run = { calls: number; bad: number; checksum: number };

/** CONCURRENCY calls in flight for `seconds`; every reply is checked and counted. */
function load(port: number, seconds: number): Promise<Run> {
  const client = new (pkg().demo.Greeter)(`127.0.0.1:${port}`, credentials.createInsecure());
  const keys = Array.from({ length: KEYS }, (_, i) => {
    const md = new Metadata();
    md.set("x-api-key", `key-${i}`);
    return md;
  });
  const say = (client as unknown as Record<string, (...a: unknown[]) => void>).SayHello!.bind(
    client,
  );
  const run: Run = { calls: 0, bad: 0, checksum: 0 };
  const until = Date.now() + seconds * 1000;
  let n = 0;
  return new Promise((resolve) => {
    let active = 0;
    const next = () => {
      if (Date.now() >= until) {
        if (--active === 0) {
          client.close();
          resolve(run);
        }
        return;
      }
      const i = n++;
      say({ name: "x" }, keys[i % KEYS], (error: ServiceError | null, reply?: Reply) => {
        if (error !== null || reply?.message !== "hello x") run.bad++;
        else {
          run.calls++;
          run.checksum = (run.checksum + reply.message.length) | 0;
        }
        next();
      });
    };
    for (let c = 0; c < CONCURRENCY; c++) {
      active++;
      next();
    }
  });
}

/** The median of fractional figures (CPU µs), unrounded. */
function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
}

async function main(): Promise<void> {
  let redis: RedisNode | undefined;
  let child: ChildProcess | undefined;
  try {
    redis = await startRedis();
    child = fork(fileURLToPath(import.meta.url), ["server", String(redis.port)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const ports = await new Promise<Record<Variant, number>>((resolve, reject) => {
      child!.once("message", (m) => resolve(m as Record<Variant, number>));
      child!.once("exit", (code) => reject(new Error(`bench server exited ${code}`)));
    });
    console.log(
      `grpc unary hello: ${CONCURRENCY} calls in flight, ${KEYS} keys, warm-up ${WARMUP} s, ` +
        `${ROUNDS} rounds × ${DURATION} s per variant`,
    );
    let checksum = 0;
    for (const v of VARIANTS) {
      const w = await load(ports[v], WARMUP);
      if (w.bad > 0) throw new Error(`${v}: ${w.bad} failed calls during warm-up`);
      checksum ^= w.checksum;
    }
    const rounds = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const cpu = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved: every round runs every variant once, starting one further along.
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(round + k) % VARIANTS.length]!;
        const before = await cpuOf(child);
        const r = await load(ports[v], DURATION);
        const after = await cpuOf(child);
        if (r.bad > 0) throw new Error(`${v}: ${r.bad} failed calls`);
        cpu.get(v)!.push(Math.round(((after - before) / Math.max(1, r.calls)) * 100) / 100);
        checksum ^= r.checksum;
        rounds.get(v)!.push(Math.round(r.calls / DURATION));
      }
      console.log(
        `round ${round + 1}: ${VARIANTS.map((v) => `${v} ${rounds.get(v)!.at(-1)}`).join(", ")}`,
      );
    }
    const bare = median(rounds.get("bare")!);
    const bareCpu = medianOf(cpu.get("bare")!);
    const results = VARIANTS.map((v) => {
      const rps = median(rounds.get(v)!);
      const vsBare = Math.round((rps / bare) * 1000) / 1000;
      const cpuPerCall = medianOf(cpu.get(v)!);
      // Capacity kept: bare's CPU per call over this variant's, steadier than calls/s here.
      const cpuVsBare = Math.round((bareCpu / cpuPerCall) * 1000) / 1000;
      const target = TARGETS[v];
      return {
        variant: v,
        rps,
        vsBare,
        cpuMicrosPerCall: cpuPerCall,
        cpuVsBare,
        ...(target === undefined ? {} : { target, met: vsBare >= target }),
        rounds: rounds.get(v)!,
        cpuRounds: cpu.get(v)!,
      };
    });
    console.log("\nvariant     calls/s   vs bare  CPU µs/call  CPU vs bare  target");
    for (const r of results) {
      console.log(
        `${r.variant.padEnd(10)} ${String(r.rps).padStart(8)}   ${r.vsBare.toFixed(2).padStart(6)}  ${r.cpuMicrosPerCall
          .toFixed(1)
          .padStart(11)}  ${r.cpuVsBare.toFixed(2).padStart(11)}  ${
          "target" in r ? `≥ ${r.target} ${r.met ? "met" : "MISSED"}` : ""
        }`,
      );
    }
    console.log(`(checksum ${checksum})`);
    if (!CUSTOM) {
      const out = {
        bench: "grpc",
        date: new Date().toISOString(),
        node: process.version,
        v8: process.versions.v8,
        machine: {
          cpus: os.cpus().length,
          model: os.cpus()[0]?.model ?? "",
          platform: os.platform(),
        },
        commit: execSync("git rev-parse HEAD").toString().trim(),
        settings: {
          rounds: ROUNDS,
          durationS: DURATION,
          warmupS: WARMUP,
          concurrency: CONCURRENCY,
          keys: KEYS,
        },
        results,
        checksum,
      };
      writeFileSync(
        new URL("./results/grpc.json", import.meta.url),
        `${JSON.stringify(out, null, 2)}\n`,
      );
      console.log("wrote bench/results/grpc.json");
    }
  } finally {
    child?.kill();
    await redis?.stop();
  }
}

if (process.argv[2] === "server") {
  await serve(Number(process.argv[3]));
} else {
  await main();
}
