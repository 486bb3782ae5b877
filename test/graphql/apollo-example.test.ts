/**
 * examples/apollo/server.ts runs as its header says: a real process on a free port answers the
 * header's queries with the statuses, codes and budget it promises (the refund included), and
 * stops cleanly on SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { post } from "./support/library.js";

const ROOT = join(import.meta.dirname, "../..");

let proc: ChildProcess;
let url: string;
let stderr = "";

beforeAll(async () => {
  proc = spawn(process.execPath, ["--import", "tsx", "examples/apollo/server.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no "listening on" line: ${stderr}`)), 20_000);
    proc.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
}, 30_000);

afterAll(() => {
  if (proc.exitCode === null) proc.kill("SIGKILL");
});

it("prices, refunds, limits mutations and refuses too deep a query, as its header says", async () => {
  const wide = "{ books(first: 100) { title author { name } } }";
  const first = await post(url, wide);
  expect(first.status).toBe(200);
  expect(first.body.data?.books).toHaveLength(5);
  expect(first.body.extensions?.rateLimit).toMatchObject({
    cost: 101,
    remaining: 899,
    limit: 1000,
  });
  // The first kept 6 (the list, and an author per book it returned): 95 came back, so 893
  // remain after the second's reservation (798 without the refund). Real time: a minute
  // boundary between the two can only free more (the example's sliding window), never less.
  const second = await post(url, wide);
  const remaining = second.body.extensions?.rateLimit?.remaining ?? 0;
  expect(remaining).toBeGreaterThanOrEqual(1000 - 6 - 101);
  expect(remaining).toBeLessThan(1000 - 101);

  const add = 'mutation { addBook(title: "Kim") { title } }';
  for (let i = 0; i < 3; i++) expect((await post(url, add)).status).toBe(200);
  const limited = await post(url, add);
  expect(limited.status).toBe(429);
  expect(limited.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
  expect(limited.body.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");

  const deep = await post(
    url,
    "{ books(first: 1) { author { books(first: 1) { author { name } } } } }",
  );
  expect(deep.status).toBe(400);
  expect(deep.body.errors?.[0]?.extensions?.code).toBe("QUERY_TOO_DEEP");

  proc.kill("SIGTERM");
  const [code] = await once(proc, "exit");
  expect(code).toBe(0);
  expect(stderr).toBe("");
}, 30_000);
