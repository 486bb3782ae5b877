/**
 * Test harness: real redis-server processes on free loopback ports, owned by the test that
 * started them. Nothing here touches a server someone else started (the machine's own Redis on
 * 6379 included): every port is found by binding port 0, and only our own pids are killed.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);
const HOST = "127.0.0.1";
const READY_TIMEOUT_MS = 10_000;

/** Every process this module started and has not reaped; killed on exit whatever happens. */
const live = new Set<ChildProcess>();
/** Temporary directories not yet removed; removed on exit too. */
const dirs = new Set<string>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** A port nothing listens on right now (the OS picks it; we release it for redis-server). */
export type RedisNode = {
  readonly port: number;
  readonly host: string;
  /** The pid of the running process, or undefined while it is stopped. */
  pid(): number | undefined;
  /** SIGKILL: the abrupt crash a client must survive. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts the same node again on the same port (state is lost: no persistence). */
  restart(): Promise<void>;
  /** Sends one command through redis-cli and returns its raw output. */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
};

type NodeOptions = { port?: number; extra?: string[]; dir?: string };

/** Starts one redis-server with no persistence. Call `stop()` (e.g. in afterAll). */
export async function startRedis(options: NodeOptions = {}): Promise<RedisNode> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? tempDir("tk-redis-");
  let port = options.port ?? 0;
  let child: ChildProcess | undefined;
  // A free port can be taken between our probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    if (options.port === undefined) port = await freePort();
    try {
      child = await spawnServer(port, dir, options.extra ?? []);
    } catch (error) {
      if (options.port !== undefined || attempt === 4) throw error;
    }
  }
  const node: RedisNode = {
    port,
    host: HOST,
    pid: () => child?.pid,
    async kill() {
      if (child !== undefined) await terminate(child, "SIGKILL");
      child = undefined;
    },
    async restart() {
      if (child !== undefined) await terminate(child, "SIGKILL");
      child = await spawnServer(port, dir, options.extra ?? []);
    },
    cli: (...args) => cli(port, ...args),
    async stop() {
      if (child !== undefined) await terminate(child, "SIGKILL");
      child = undefined;
      if (ownDir) removeDir(dir);
    },
  };
  return node;
}

async function spawnServer(port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  const args = [
    "--port",
    String(port),
    "--bind",
    HOST,
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--daemonize",
    "no",
    "--protected-mode",
    "no",
    "--loglevel",
    "warning",
    ...extra,
  ];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    if (output.length < 4000) output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    if (output.length < 4000) output += chunk.toString();
  });
  child.once("exit", () => live.delete(child));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited: ${output.trim()}`);
    }
    try {
      if ((await cli(port, "PING")).trim() === "PONG") return child;
    } catch {
      // not listening yet
    }
    await pause(25);
  }
  await terminate(child, "SIGKILL");
  throw new Error(
    `redis-server on port ${port} not ready within ${READY_TIMEOUT_MS} ms: ${output}`,
  );
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", HOST, "-p", String(port), ...args], {
    timeout: 5000,
  });
  return stdout;
}

export type RedisCluster = {
  readonly nodes: readonly RedisNode[];
  /** host/port pairs, the form every client's cluster constructor takes. */
  readonly seeds: readonly { host: string; port: number }[];
  stop(): Promise<void>;
};

/** Starts a real 3-master cluster (no replicas) and waits for cluster_state:ok on every node. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const dir = tempDir("tk-cluster-");
  const nodes: RedisNode[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      // The bus port is set explicitly: port + 10000 may be taken or out of range.
      const busPort = await freePort();
      nodes.push(
        await startRedis({
          port,
          dir,
          extra: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, `nodes-${port}.conf`),
            "--cluster-port",
            String(busPort),
            "--cluster-node-timeout",
            "5000",
          ],
        }),
      );
    }
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...nodes.map((n) => `${HOST}:${n.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      { timeout: 20_000 },
    );
    const deadline = Date.now() + 20_000;
    for (const node of nodes) {
      while (!(await node.cli("CLUSTER", "INFO")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error("cluster did not reach cluster_state:ok");
        await pause(50);
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.stop()));
    removeDir(dir);
    throw error;
  }
  return {
    nodes,
    seeds: nodes.map((n) => ({ host: HOST, port: n.port })),
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      removeDir(dir);
    },
  };
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { freePort };
