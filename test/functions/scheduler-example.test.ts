/**
 * examples/functions/scheduler.ts runs as its header says (real time, about 2.3 s): every call
 * the scheduler sends is accepted by the stand-in vendor (never a 429), at most 5 in any 1 s,
 * urgent calls before the routine ones still waiting, and the abandoned call never sent.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

it("sends every call within the vendor's 5 per second, by priority, never the abandoned one", async () => {
  const proc = spawn(process.execPath, ["--import", "tsx", "examples/functions/scheduler.ts"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  proc.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [code] = await once(proc, "exit");
  clearTimeout(timer);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const lines = stdout.trim().split("\n");
  expect(lines[0]).toBe("waiting: 11, running: 0");
  expect(lines).toContain("item  9: not sent (caller gave up)");
  const sent = lines
    .map((l) => /^item +(\d+): (\d+), sent at (\d+) ms$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ id: Number(m[1]), status: Number(m[2]), at: Number(m[3]) }))
    .sort((a, b) => a.at - b.at);
  expect(sent.map((s) => s.status)).toEqual(Array(11).fill(200));
  expect(sent.map((s) => s.id)).toEqual([1, 11, 12, 2, 3, 4, 5, 6, 7, 8, 10]);
  for (const s of sent) {
    expect(sent.filter((o) => o.at >= s.at && o.at < s.at + 1000).length).toBeLessThanOrEqual(5);
  }
}, 30_000);
