/**
 * `npm run bench:ws`: a ws echo server, bare and with per-message limiting by throttlekit/ws
 * (limits far above the load), on the memory store and on Redis, in one run; the figure is
 * echoed messages per second, and each limited variant is reported as a ratio of bare.
 *
 * Each variant is its own server process (this file with argv[2] = "server"); the load
 * generator runs here: CONNECTIONS clients, each keeping WINDOW messages in flight (a message
 * is sent for every echo received), so the server is saturated. Every echo is checked against
 * what was sent and its bytes summed, so no work can be skipped. After a warm-up, ROUNDS rounds
 * each run every variant once for DURATION seconds, the starting variant rotating (interleaved,
 * so drift in the machine's load hits every variant alike); the median is reported.
 * Limited variants: messages per connection (1e9/s, counted in process) and per identity (in
 * the store: one Redis script run per message on Redis). A refused message would close the
 * connection (onLimited "close"), failing the run. The server's CPU time per message is
 * reported too: on a shared machine it moves less than messages/s.
 * Env: BENCH_ROUNDS (5), BENCH_DURATION (3 s), BENCH_CONNECTIONS (32), BENCH_WINDOW (16).
 * Writes bench/results/ws.json (unless BENCH_* is set).
 */
import { type ChildProcess, fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { WebSocket, WebSocketServer } from "ws";
import { wsRateLimit } from "../src/adapters/ws/index.js";
import { redisStore } from "../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../test/support/redis-server.js";

type Variant = "bare" | "memory" | "redis";
const VARIANTS: Variant[] = ["bare", "memory", "redis"];

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  const n = v === undefined ? Number.NaN : Number(v);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

const ROUNDS = envInt("BENCH_ROUNDS", 5);
const DURATION = envInt("BENCH_DURATION", 3);
const CONNECTIONS = envInt("BENCH_CONNECTIONS", 32);
const WINDOW = envInt("BENCH_WINDOW", 16);
const WARMUP = 2;
const CUSTOM = Object.keys(process.env).some((k) => k.startsWith("BENCH_"));
const HIGH = { limit: 1_000_000_000, window: "1s" };

/** The server side: one variant, its port sent over IPC. */
async function server(variant: Variant, redisPort: number | undefined): Promise<void> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const echo = (ws: WebSocket) =>
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  if (variant === "bare") {
    http.on("upgrade", (req, socket, head) => wss.handleUpgrade(req, socket, head, echo));
  } else {
    const limit = wsRateLimit({
      ...(variant === "redis"
        ? { store: redisStore({ client: new Redis(redisPort!, "127.0.0.1") }) }
        : {}),
      messages: { perConnection: HIGH, perIdentity: HIGH },
      onLimited: "close",
      logger: false,
    });
    http.on("upgrade", (req, socket, head) => limit.handleUpgrade(wss, req, socket, head, echo));
  }
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  process.on("message", () => {
    const u = process.cpuUsage();
    process.send!({ cpu: u.user + u.system });
  });
  process.send!({ port: (http.address() as AddressInfo).port });
}

/** The server process's CPU time so far, in µs. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve((m as { cpu: number }).cpu));
    child.send("cpu");
  });
}

type Result = { messages: number; bytes: number; count: number };

/** Saturates `port` for `seconds`: CONNECTIONS clients with WINDOW messages in flight each. */
async function load(port: number, seconds: number): Promise<Result> {
  const sockets = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
          ws.once("open", () => resolve(ws));
          ws.once("error", reject);
        }),
    ),
  );
  let messages = 0;
  let bytes = 0;
  let running = true;
  let failure: Error | undefined;
  sockets.forEach((ws, c) => {
    let seq = 0;
    const next = () => `${c}:${seq++}:payload-of-some-length`;
    const sent: string[] = [];
    ws.on("message", (data) => {
      const text = data.toString();
      if (text !== sent.shift()) failure ??= new Error(`connection ${c}: echo out of order`);
      messages++;
      bytes += text.length;
      if (running) {
        const m = next();
        sent.push(m);
        ws.send(m);
      }
    });
    ws.on("close", (code) => {
      if (running) failure ??= new Error(`connection ${c} closed with ${code}`);
    });
    for (let i = 0; i < WINDOW; i++) {
      const m = next();
      sent.push(m);
      ws.send(m);
    }
  });
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const counted = messages;
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  running = false;
  for (const ws of sockets) ws.terminate();
  if (failure) throw failure;
  return { messages: Math.round(counted / elapsed), bytes, count: counted };
}

function medianF(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : Math.round((s[mid - 1]! + s[mid]!) / 2);
}

async function main(): Promise<void> {
  let redis: RedisNode | undefined;
  const children: ChildProcess[] = [];
  try {
    redis = await startRedis();
    const ports = new Map<Variant, number>();
    const procs = new Map<Variant, ChildProcess>();
    for (const v of VARIANTS) {
      const child = fork(fileURLToPath(import.meta.url), ["server", v, String(redis.port)], {
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      children.push(child);
      procs.set(v, child);
      ports.set(
        v,
        await new Promise<number>((r) =>
          child.once("message", (m) => r((m as { port: number }).port)),
        ),
      );
    }
    console.log(
      `${CONNECTIONS} connections × ${WINDOW} in flight, warm-up ${WARMUP} s, ${ROUNDS} rounds × ${DURATION} s per variant`,
    );
    for (const v of VARIANTS) await load(ports.get(v)!, WARMUP);
    const runs = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const cpu = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    let checked = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const v = VARIANTS[(round + i) % VARIANTS.length]!;
        const before = await cpuOf(procs.get(v)!);
        const r = await load(ports.get(v)!, DURATION);
        const after = await cpuOf(procs.get(v)!);
        runs.get(v)!.push(r.messages);
        cpu.get(v)!.push(Number(((after - before) / r.count).toFixed(2)));
        checked += r.bytes;
      }
      console.log(
        `round ${round + 1}: ${VARIANTS.map((v) => `${v} ${runs.get(v)!.at(-1)}/s`).join(", ")}`,
      );
    }
    const figures = Object.fromEntries(
      VARIANTS.map((v) => [
        v,
        {
          messagesPerSec: median(runs.get(v)!),
          rounds: runs.get(v)!,
          serverCpuMicrosPerMessage: medianF(cpu.get(v)!),
          cpuRounds: cpu.get(v)!,
        },
      ]),
    ) as Record<
      Variant,
      {
        messagesPerSec: number;
        rounds: number[];
        serverCpuMicrosPerMessage: number;
        cpuRounds: number[];
      }
    >;
    const bare = figures.bare.messagesPerSec;
    const ratios = {
      memory: Number((figures.memory.messagesPerSec / bare).toFixed(3)),
      redis: Number((figures.redis.messagesPerSec / bare).toFixed(3)),
    };
    // Server CPU per message: bare's share of the limited variant's, a figure less sensitive to
    // what else the machine runs than messages/s.
    const cpuRatios = {
      memory: Number(
        (figures.bare.serverCpuMicrosPerMessage / figures.memory.serverCpuMicrosPerMessage).toFixed(
          3,
        ),
      ),
      redis: Number(
        (figures.bare.serverCpuMicrosPerMessage / figures.redis.serverCpuMicrosPerMessage).toFixed(
          3,
        ),
      ),
    };
    const result = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
      node: process.version,
      plan: { connections: CONNECTIONS, window: WINDOW, rounds: ROUNDS, durationSec: DURATION },
      figures,
      ratios,
      cpuRatios,
      targets: { memory: 0.9, redis: 0.6 },
      met: { memory: ratios.memory >= 0.9, redis: ratios.redis >= 0.6 },
      echoedBytesChecked: checked,
    };
    console.log(
      `server CPU µs/message: ${VARIANTS.map((v) => `${v} ${figures[v].serverCpuMicrosPerMessage}`).join(", ")}`,
    );
    console.log(
      `bare ${bare}/s; memory ${figures.memory.messagesPerSec}/s (${(ratios.memory * 100).toFixed(1)}%, target ≥ 90%); ` +
        `redis ${figures.redis.messagesPerSec}/s (${(ratios.redis * 100).toFixed(1)}%, target ≥ 60%)`,
    );
    if (!CUSTOM) {
      writeFileSync(
        new URL("./results/ws.json", import.meta.url),
        `${JSON.stringify(result, null, 2)}\n`,
      );
    }
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await redis?.stop();
  }
}

if (process.argv[2] === "server") {
  await server(process.argv[3] as Variant, Number(process.argv[4]));
} else {
  await main();
}
