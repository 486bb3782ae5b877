/**
 * examples/functions/{wrap,decorators,registry}.ts run as their headers say: each is started
 * as a user would (`node --import tsx`), must exit 0 with nothing on stderr, and print what the
 * header promises. decorators.ts also proves tsx runs @throttle as a TC39 decorator.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

async function run(
  file: string,
): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  const proc = spawn(process.execPath, ["--import", "tsx", `examples/functions/${file}`], {
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
  const [code] = (await once(proc, "exit")) as [number | null];
  return { code, lines: stdout.trimEnd().split("\n"), stderr };
}

it("wrap.ts: a refused text, a cached price, calls that waited their turn", async () => {
  const { code, lines, stderr } = await run("wrap.ts");
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(lines.slice(0, 5)).toEqual([
    "sent to +15550100: one",
    "sent to +15550100: two",
    "refused for +15550100: limited, retry in 30 s",
    "sent to +15550199: hello",
    "a=100 b=101 c=102 a=100 d=null",
  ]);
  expect(lines.slice(5, 11)).toEqual(
    ["Oslo", "Lima", "Pune", "Kobe", "Nice", "Bern"].map((c) => `${c}: ok`),
  );
  // Four at once, then one per 250 ms: the sixth waited about 500 ms (real time, so a range).
  const ms = Number(/^6 calls in (\d+) ms$/.exec(lines[11] ?? "")?.[1]);
  expect(ms).toBeGreaterThanOrEqual(500);
  expect(ms).toBeLessThan(2000);
});

it("decorators.ts: a budget per instance, sync and async methods", async () => {
  const { code, lines, stderr } = await run("decorators.ts");
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(lines).toEqual([
    "ann: exported 10 rows",
    "ann: exported 20 rows",
    "ann: export refused, retry in 30 s",
    "bob: exported 5 rows",
    'ann: sent "hello"',
    "queued",
    'bob: sent "hello"',
  ]);
});

it("registry.ts: token-throttler's README scenarios", async () => {
  const { code, lines, stderr } = await run("registry.ts");
  expect(stderr).toBe("");
  expect(code).toBe(0);
  expect(lines).toEqual([
    "bucket 10/10s ran out of tokens (10/10s has 0 left, 20/30s has 10 left)",
    "said Hello World 10 times; bucket_one ran out of tokens, retry in 10 s",
    "20/30s: 10 left, hourly: 100 left",
    'unknown identifier: id "nobody"',
    'with unknown "unlimited": exempt',
  ]);
});
