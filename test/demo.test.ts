/**
 * The README's `npm run demo` (issue 13): it serves on $PORT, and one SIGTERM to the npm process
 * (what a supervisor or `kill <pid>` sends) stops the server too: no shell or tsx process is left
 * in between to swallow the signal and orphan a listening server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { freePort } from "./support/free-port.js";

const ROOT = join(import.meta.dirname, "..");
let npm: ChildProcess | undefined;

afterAll(() => {
  // The demo runs in its own process group; whatever a failed run left behind goes with it.
  if (npm?.pid !== undefined) {
    try {
      process.kill(-npm.pid, "SIGKILL");
    } catch {}
  }
});

function status(port: number, path: string): Promise<number | undefined> {
  return new Promise((done) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      res.resume();
      done(res.statusCode);
    });
    req.on("error", () => done(undefined));
    req.end();
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

it("npm run demo answers on $PORT, and one SIGTERM to npm closes the port", async () => {
  const port = await freePort();
  let output = "";
  npm = spawn("npm", ["run", "demo"], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), npm_config_update_notifier: "false" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  npm.stdout?.on("data", (c) => (output += c));
  npm.stderr?.on("data", (c) => (output += c));

  const up = await until(async () => (await status(port, "/health")) === 200, 40_000);
  expect(up, output).toBe(true);
  expect(await status(port, "/")).toBe(200);

  const exited = once(npm, "exit");
  process.kill(npm.pid!, "SIGTERM"); // the npm process only, not its group
  const closed = await until(async () => !(await listening(port)), 5_000);
  expect(closed, `port ${port} still listening after SIGTERM to npm\n${output}`).toBe(true);
  await exited;
}, 60_000);
