/**
 * What bench:http and bench:http:marginal share: the server processes (bench/http/server.ts),
 * the autocannon load with its key pool, and the server CPU reading from /proc.
 */
import { type ChildProcess, execSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import type { Variant } from "./server.js";

/** Load settings; env BENCH_CONNECTIONS (50) and BENCH_KEYS (2000) override them. */
export const LOAD = {
  connections: envInt("BENCH_CONNECTIONS", 50),
  keys: envInt("BENCH_KEYS", 2000),
};

export function envInt(name: string, fallback: number): number {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: expected a whole number ≥ 1`);
  return n;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export type Server = { variant: Variant; port: number; child: ChildProcess };

/**
 * Starts bench/http/server.ts for `variant` in its own process; `env` adds to the environment and
 * `nodeArgs` go to node before the script (bench:http:profile's --cpu-prof flags).
 */
export function startServer(
  variant: Variant,
  redisPort: number | undefined,
  env: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
): Promise<Server> {
  const args = [...nodeArgs, "--import", "tsx", "bench/http/server.ts", variant];
  if (redisPort !== undefined) args.push(String(redisPort));
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m !== null) resolve({ variant, port: Number(m[1]), child });
    });
    child.once("exit", (code) => reject(new Error(`${variant}: server exited (${code})`)));
  });
}

export async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise((resolve) => s.child.once("exit", resolve));
  s.child.kill("SIGTERM");
  await exited;
}

const requests = Array.from({ length: LOAD.keys }, (_, i) => ({
  method: "GET" as const,
  path: "/",
  headers: { "x-api-key": `key-${i}` },
}));

/** `bad`: non-2xx answers (a limiter rejected: the run is invalid); `errors`: socket errors and timeouts. */
export type Run = {
  rps: number;
  total: number;
  bad: number;
  errors: number;
  cpuUs: number | undefined;
};

const CLK_TCK = (() => {
  try {
    return Number(execSync("getconf CLK_TCK", { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU time (user + system, µs) a process has used, from /proc (Linux; undefined elsewhere).
 * On a shared machine req/s swings with whatever else runs; the server's CPU time per request
 * is far steadier, so both are reported.
 */
export function cpuTime(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export async function load(port: number, seconds: number, pid?: number): Promise<Run> {
  const cpu0 = cpuTime(pid);
  const r = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: LOAD.connections,
    duration: seconds,
    requests,
  });
  const cpu1 = cpuTime(pid);
  const total = r.requests.total;
  return {
    rps: total / seconds,
    total,
    bad: r.non2xx,
    errors: r.errors + r.timeouts,
    cpuUs:
      cpu0 === undefined || cpu1 === undefined || total === 0 ? undefined : (cpu1 - cpu0) / total,
  };
}
