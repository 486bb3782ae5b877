/**
 * examples/nest/main.ts runs as its header says: started as a user would (`node --import tsx`,
 * PORT=0 for a free port), `/login` is limited, `/quota` shows the handler's RateLimitInfo, and
 * `POST /forgive` resets the caller's `/login` counters through ThrottlekitService.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
let proc: ChildProcess | undefined;
afterAll(() => {
  // Only the process this test started, by its pid.
  if (proc?.pid !== undefined && proc.exitCode === null) process.kill(proc.pid);
});

function start(): Promise<string> {
  proc = spawn(process.execPath, ["--import", "tsx", "examples/nest/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    proc!.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      if (url !== undefined) resolve(url);
    });
    proc!.once("exit", (code) => reject(new Error(`example exited ${code}: ${out}`)));
  });
}

it("limits /login, reports the decision on /quota, and forgives through ThrottlekitService", async () => {
  const url = await start();
  const login = () => fetch(`${url}/login`);
  const first = await login();
  expect(first.status).toBe(200);
  // 1/s and 5/min: the second within the second, or at the latest the sixth, is refused.
  let refused: Response | undefined;
  for (let i = 0; i < 6 && refused === undefined; i++) {
    const res = await login();
    if (res.status === 429) refused = res;
  }
  expect(refused?.status).toBe(429);
  // onLimited's own body.
  expect(await refused!.json()).toEqual({ error: "slow down", retryAfter: expect.any(Number) });
  expect(await (await fetch(`${url}/quota`)).json()).toEqual({
    key: "127.0.0.1",
    limit: 3,
    remaining: 2,
  });
  const forgive = await fetch(`${url}/forgive`, { method: "POST" });
  expect(await forgive.json()).toEqual({ forgiven: "127.0.0.1" });
  expect((await login()).status).toBe(200);
  expect(await (await fetch(`${url}/health`)).text()).toBe("ok");
}, 60_000);
