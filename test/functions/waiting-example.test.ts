/**
 * examples/functions/waiting.ts runs as its README says (real time, about 1.5 s): lookups go out
 * in the order asked at 5 per second, the impatient one is refused early, and Ctrl-C sends the
 * waiting ones home at once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
let child: ChildProcess | undefined;

afterEach(() => {
  if (child?.exitCode === null) child.kill("SIGKILL");
});

function run(onLine?: (line: string, proc: ChildProcess) => void) {
  const proc = spawn(process.execPath, ["--import", "tsx", "examples/functions/waiting.ts"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  const lines: string[] = [];
  let rest = "";
  let stderr = "";
  proc.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  proc.stdout!.on("data", (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split("\n");
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      onLine?.(line, proc);
    }
  });
  const exit = once(proc, "exit").then(([code]) => ({
    code: code as number | null,
    lines,
    stderr,
  }));
  return exit;
}

it("sends lookups in the order asked, refusing at once the one that would wait too long", async () => {
  const { code, lines, stderr } = await run();
  expect(stderr).toBe("");
  expect(code).toBe(0);
  const numbers = lines.map((l) => Number(l.slice(0, 2)));
  const sent = numbers.filter((n) => n <= 12);
  expect(sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const refused = lines.find((l) => l.startsWith("13:"))!;
  expect(refused).toMatch(/refused: .*maxWaitMs \(500 ms\)/);
  // Refused before its deadline, not after sleeping just to fail.
  expect(Number(/after (\d+) ms/.exec(refused)![1])).toBeLessThan(500);
  // 5 at once, then one per 200 ms: the twelfth goes out about 1.4 s after the first.
  expect(
    Number(/after (\d+) ms/.exec(lines.find((l) => l.startsWith("12:"))!)![1]),
  ).toBeGreaterThanOrEqual(1390);
});

it("Ctrl-C: the lookups still waiting leave at once, and the script exits", async () => {
  const { code, lines } = await run((line, proc) => {
    if (line.startsWith(" 6:")) proc.kill("SIGINT");
  });
  expect(code).toBe(0);
  expect(lines.some((l) => l.startsWith(" 6: item 6"))).toBe(true);
  // The signal goes out when line 6 is read; on a loaded machine a lookup or two more may go out
  // (one per 200 ms) before it lands. What must hold: every later lookup is accounted for once,
  // and those still waiting when it landed leave at once, none sent after one that left.
  const idOf = (l: string) => Number(l.slice(0, 2));
  const later = lines.filter((l) => idOf(l) >= 7);
  expect(later.map(idOf).sort((a, b) => a - b)).toEqual([7, 8, 9, 10, 11, 12, 13]);
  const interrupted = later.filter((l) => l.includes("not sent (interrupted)")).map(idOf);
  const sent = later.filter((l) => /^\s?\d+: item \d+/.test(l)).map(idOf);
  expect(interrupted.length).toBeGreaterThanOrEqual(4);
  expect(Math.max(0, ...sent)).toBeLessThan(Math.min(...interrupted));
});
