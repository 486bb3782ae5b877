/**
 * The `throttlekit` binary as users run it: packed into a tarball, installed into a scratch app,
 * spawned as a process against a real redis-server (issue 18, item 2). One build and pack per
 * run: CI builds dist/ before the tests and the tarball is packed from it; locally, when dist/ is
 * older than src/, the JS (no types: the binary needs none) is built into a staging copy of the
 * package and packed from there, so dist/ is never touched under anyone's feet.
 */
import { execFile, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import express from "express";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { expressRateLimit } from "../../src/adapters/express.js";
import { CSV_COLUMNS } from "../../src/cli/stats.js";
import { createLimiter, createMetrics } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const work = join(root, ".tmp", "cli-e2e");
const app = join(work, "app");
const bin = join(app, "node_modules", ".bin", "throttlekit");

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(
      t,
      e.isDirectory() ? newest(p) : e.name.endsWith(".test.ts") ? 0 : statSync(p).mtimeMs,
    );
  }
  return t;
}

/** Builds (when needed), packs and installs the tarball into .tmp/cli-e2e/app. */
async function install(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  const cli = join(root, "dist", "cli.js");
  const fresh = existsSync(cli) && statSync(cli).mtimeMs >= newest(join(root, "src"));
  let from = root;
  if (!fresh) {
    from = join(work, "pkg");
    await run("npx", ["tsup", "--no-dts", "--out-dir", join(from, "dist")], { cwd: root });
    for (const f of ["package.json", "README.md", "LICENSE"]) {
      if (existsSync(join(root, f))) cpSync(join(root, f), join(from, f));
    }
  }
  const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", work], {
    cwd: from,
  });
  const tarball = join(work, stdout.trim().split("\n").at(-1)!);
  writeFileSync(join(app, "package.json"), '{"name":"cli-e2e","private":true}\n');
  await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--no-save", "--ignore-scripts", tarball],
    {
      cwd: app,
    },
  );
}

type Result = { code: number; stdout: string; stderr: string };

/** Runs the installed binary; never throws on a non-zero exit. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run("node", [bin, ...args], {
      cwd: app,
      env: { ...process.env, ...env, THROTTLEKIT_CONFIG: "" },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout: string; stderr: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout, stderr: e.stderr };
  }
}

const CONFIG = `# throttlekit's schema
rules:
  - name: api
    path: /api/**
    policies: 100/min
  - name: login
    path: /login
    policies: { limit: 5, window: 1m, blockFor: 15m }
`;

// The seed's ratethrottle.yaml, exactly: its first rule applies to every request, its second is
// a named limit (ratethrottle's code checks it by name), which `test` runs too.
const RATETHROTTLE = `storage:
  type: redis
  redis:
    host: localhost
    port: 6379
    db: 0
global:
  enabled: true
  default_strategy: sliding_window
  headers_enabled: true
rules:
  - name: api_default
    limit: 1000
    window: 3600
    strategy: token_bucket
    
  - name: auth_strict
    limit: 5
    window: 60
    strategy: sliding_window
    block_duration: 900

ddos_protection:
  enabled: true
  threshold: 10000
  auto_block: true
  block_duration: 3600
`;

let redis: RedisNode;
let url: string;
let client: Redis;

beforeAll(async () => {
  [redis] = await Promise.all([startRedis(), install()]);
  url = `redis://127.0.0.1:${redis.port}`;
  client = new Redis(redis.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  writeFileSync(join(app, "throttlekit.yaml"), CONFIG);
  writeFileSync(join(app, "ratethrottle.yaml"), RATETHROTTLE);
  writeFileSync(join(app, "broken.yaml"), "rules:\n  - name: api\n    policies: 100/fortnight\n");
}, 180_000);

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

describe("throttlekit binary from the packed tarball", () => {
  it("npx throttlekit --help works, and every command has --help (exit 0)", async () => {
    const { stdout } = await run("npx", ["--no-install", "throttlekit", "--help"], {
      cwd: app,
      timeout: 30_000,
    });
    expect(stdout).toContain("Usage: throttlekit");
    for (const c of ["test", "config", "manage", "stats", "monitor", "dashboard"]) {
      expect(stdout).toContain(c);
    }
    const helps = await Promise.all(
      ["test", "config validate", "config show", "manage", "stats", "monitor", "dashboard"].map(
        (c) => cli([...c.split(" "), "--help"]),
      ),
    );
    for (const h of helps) {
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/^Usage: throttlekit /);
      expect(h.stdout).toContain("Exit codes:");
    }
  });

  it("usage errors exit 2 with a message and no stack trace", async () => {
    const results = await Promise.all([
      cli(["bogus"]),
      cli(["test", "--identifier", "x"]), // --rule missing
      cli(["manage", "grey", "add", "1.2.3.4", "--redis", url]),
      cli(["manage", "deny", "add", "10.0.0.0/33", "--redis", url]),
      cli(["manage", "deny", "add", "1.2.3.4", "--duration", "soon", "--redis", url]),
      cli(["stats", "--export", "report.xml", "--redis", url]),
      cli(["dashboard", "--redis", url]), // no token
      cli([
        "test",
        "--rule",
        "api",
        "--identifier",
        "x",
        "--config",
        "throttlekit.yaml",
        "-n",
        "many",
      ]),
    ]);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(results[3]!.stderr).toContain("prefix length");
    expect(results[4]!.stderr).toContain("--duration");
    expect(results[6]!.stderr).toContain("THROTTLEKIT_DASHBOARD_TOKEN");
  });

  it("manage and stats refuse the memory store (exit 2); an unreachable Redis is exit 1", async () => {
    const [memory, down] = await Promise.all([
      cli(["manage", "deny", "add", "1.2.3.4"]),
      cli(["stats", "--redis", "redis://127.0.0.1:1"]),
    ]);
    expect(memory.code).toBe(2);
    expect(memory.stderr).toContain("--redis");
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot reach Redis");
  });

  it("manage deny add makes a running Express server answer 403 within its refresh; remove lets it back", async () => {
    const store = redisStore({ client, logger: false });
    const server = express()
      .use(expressRateLimit({ store, policies: "1000/min", listsRefresh: "300ms", logger: false }))
      .get("/", (_req, res) => void res.send("ok"))
      .listen(0, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      expect((await fetch(base)).status).toBe(200);
      const add = await cli([
        "manage",
        "deny",
        "add",
        "127.0.0.1",
        "--duration",
        "1h",
        "--reason",
        "e2e",
        "--redis",
        url,
      ]);
      expect(add.code, add.stderr).toBe(0);
      expect(add.stdout).toContain("added 127.0.0.1 to the deny list");
      await vi.waitFor(async () => expect((await fetch(base)).status).toBe(403), {
        timeout: 3000,
        interval: 50,
      });
      const list = await cli(["manage", "deny", "list", "--json", "--redis", url]);
      expect(JSON.parse(list.stdout)).toEqual([
        expect.objectContaining({ list: "deny", value: "127.0.0.1", reason: "e2e" }),
      ]);
      const remove = await cli(["manage", "deny", "remove", "127.0.0.1", "--redis", url]);
      expect(remove.code, remove.stderr).toBe(0);
      await vi.waitFor(async () => expect((await fetch(base)).status).toBe(200), {
        timeout: 3000,
        interval: 50,
      });
      const again = await cli(["manage", "deny", "remove", "127.0.0.1", "--redis", url]);
      expect(again.code).toBe(1); // nothing to remove: a failed check
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it("stats --export writes JSON and CSV that parse, with the fleet's counts", async () => {
    const store = redisStore({ client, logger: false });
    const limiter = createLimiter({ policies: "5/min", name: "export", store, prefix: "e2e" });
    const metrics = createMetrics(limiter.events, { store, prefix: "stats-e2e" });
    for (let i = 0; i < 20; i++) await limiter.consume("ip:203.0.113.9");
    await metrics.close();
    const args = ["--redis", url, "--metrics-prefix", "stats-e2e", "--window", "5m"];
    const [json, csv] = await Promise.all([
      cli(["stats", ...args, "--export", "report.json"]),
      cli(["stats", ...args, "--export", "report.csv"]),
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(csv.code, csv.stderr).toBe(0);
    expect(json.stdout).toContain("requests 20, allowed 5, limited 15");
    const report = JSON.parse(readFileSync(join(app, "report.json"), "utf8"));
    expect(report.total).toMatchObject({ requests: 20, allowed: 5, limited: 15 });
    expect(report.rules.export.requests).toBe(20);
    expect(report.topOffenders[0]).toMatchObject({ key: "ip:203.0.113.9", count: 15 });
    const lines = readFileSync(join(app, "report.csv"), "utf8").trimEnd().split("\r\n");
    const header = lines[0]!.split(",");
    expect(header).toEqual([...CSV_COLUMNS]);
    const rows = lines
      .slice(1)
      .map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i], v])));
    expect(rows.find((r) => r.kind === "total")).toMatchObject({
      requests: "20",
      allowed: "5",
      limited: "15",
    });
    expect(rows.find((r) => r.kind === "rule")).toMatchObject({ rule: "export", requests: "20" });
    expect(rows.find((r) => r.kind === "offender")).toMatchObject({
      key: "ip:203.0.113.9",
      refusals: "15",
    });
  });

  it("monitor in a pseudo-terminal shows rates per rule and quits cleanly on q, restoring the terminal", async () => {
    const store = redisStore({ client, logger: false });
    const limiter = createLimiter({ policies: "50/s", name: "live", store, prefix: "mon" });
    const metrics = createMetrics(limiter.events, {
      store,
      prefix: "mon-e2e",
      flushEvery: "100ms",
    });
    const traffic = setInterval(() => {
      for (let i = 0; i < 20; i++) void limiter.consume("ip:198.51.100.4");
    }, 100);
    const command = `node ${bin} monitor --redis ${url} --metrics-prefix mon-e2e --rate-window 2s`;
    const child = spawn("script", ["-qefc", command, "/dev/null"], {
      cwd: app,
      env: { ...process.env, TERM: "xterm", COLUMNS: "120", LINES: "40" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString("utf8");
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      // A rate shows from the first screen; the offender only once refusals were counted and
      // flushed (200/s against 50/s), which a loaded machine may take a few screens to show.
      await vi.waitFor(
        () => {
          expect(output).toMatch(/live\s+[1-9][\d.]*\/s/);
          expect(output).toContain("ip:198.51.100.4");
        },
        { timeout: 10_000, interval: 100 },
      );
      expect(output).toContain("\x1b[?1049h"); // the alternate screen
      expect(output).toContain("TOP OFFENDERS");
      expect(output).toContain("RECENT VIOLATIONS");
      child.stdin.write("q");
      const code = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r("timeout"), 5000)),
      ]);
      expect(code).toBe(0);
      expect(output.slice(output.lastIndexOf("\x1b[?1049h"))).toContain("\x1b[?25h\x1b[?1049l");
    } finally {
      clearInterval(traffic);
      child.kill("SIGKILL");
      await metrics.close();
    }
  });

  it("monitor without a terminal prints one plain line per refresh", async () => {
    const r = await cli([
      "monitor",
      "--redis",
      url,
      "--metrics-prefix",
      "stats-e2e",
      "--count",
      "2",
      "--refresh",
      "200ms",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT.* requests [\d.]+\/s .*block rate/);
    expect(r.stdout).not.toContain("\x1b[");
  });

  describe("with throttlekit/config", () => {
    it("test prints each decision and the summary for a known rule (simulated time)", async () => {
      const r = await cli([
        "test",
        "--rule",
        "api",
        "--identifier",
        "192.168.1.100",
        "--requests",
        "150",
        "--interval",
        "10ms",
      ]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.split("\n");
      expect(lines[0]).toMatch(/^# {2}1 +t=0ms +allowed +200 +remaining=99/);
      expect(lines[100]).toMatch(/^#101 +t=1s +limited +429 +remaining=0 +retry-after=59\.6s/);
      expect(r.stdout).toContain(
        "rule api, identifier 192.168.1.100: 150 requests, one every 10ms (1.49s simulated)",
      );
      expect(r.stdout).toContain("  allowed 100, limited 50\n");
      expect(r.stdout).toContain("  first refusal at request 101, retry after 59.6s");
      const blocked = await cli([
        "test",
        "-r",
        "login",
        "-i",
        "user:7",
        "-n",
        "8",
        "--interval",
        "1s",
        "-q",
        "--expect-allowed",
        "5",
      ]);
      expect(blocked.code, blocked.stderr).toBe(0);
      expect(blocked.stdout).toContain("allowed 5, limited 1, blocked 2 (refused 3)");
      const failed = await cli([
        "test",
        "-r",
        "login",
        "-i",
        "user:7",
        "-n",
        "8",
        "-q",
        "--expect-allowed",
        "8",
      ]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain("expected 8 allowed, got 5");
      const unknown = await cli(["test", "-r", "nope", "-i", "x"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("its rules: api, login");
    });

    it("test reads a ratethrottle.yaml as it is (the seed's example)", async () => {
      const r = await cli([
        "test",
        "--config",
        "ratethrottle.yaml",
        "--rule",
        "api_default",
        "--identifier",
        "192.168.1.100",
        "--requests",
        "150",
        "-q",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("allowed 150");
      expect(r.stdout).toContain("no request refused");
      // The named limit no HTTP request reaches: 5 a minute, then 900 s blocked.
      const strict = await cli([
        "test",
        "--config",
        "ratethrottle.yaml",
        "--rule",
        "auth_strict",
        "--identifier",
        "192.168.1.100",
        "--requests",
        "7",
        "-q",
      ]);
      expect(strict.code, strict.stderr).toBe(0);
      expect(strict.stdout).toContain("allowed 5");
      expect(strict.stdout).toMatch(/first refusal at request 6/);
    });

    it("config validate: ok exits 0, an invalid file exits 1 with file:line:col", async () => {
      const [ok, bad, badJson, show] = await Promise.all([
        cli(["config", "validate"]),
        cli(["config", "validate", "--config", "broken.yaml"]),
        cli(["config", "validate", "--config", "broken.yaml", "--json"]),
        cli(["config", "show", "--json", "--config", "ratethrottle.yaml"]),
      ]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(
        /^ok: .*throttlekit\.yaml \(throttlekit schema\): 2 rules \(api, login\)/,
      );
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/broken\.yaml:3:\d+/);
      expect(bad.stderr).not.toMatch(/\n\s+at /);
      expect(badJson.code).toBe(1);
      expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false });
      expect(show.code, show.stderr).toBe(0);
      expect(JSON.parse(show.stdout)).toMatchObject({ schema: "ratethrottle" });
    });
  });

  it("dashboard serves the page behind its token until SIGTERM", async () => {
    const child = spawn("node", [bin, "dashboard", "--port", "0", "--redis", url], {
      cwd: app,
      env: { ...process.env, THROTTLEKIT_DASHBOARD_TOKEN: "e2e-token-0123456789" },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
    try {
      await vi.waitFor(() => expect(out).toMatch(/http:\/\/127\.0\.0\.1:\d+\//), {
        timeout: 10_000,
      });
      const base = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)![0];
      expect((await fetch(base)).status).toBe(401);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
