/**
 * examples/graphql-yoga/server.ts runs as its header says: started on a free port, it answers a
 * priced query with extensions.rateLimit, settles the unused reservation, refuses a query over
 * maxCost with 400 QUERY_TOO_COMPLEX, and the sixth mutation in a minute with 429 + Retry-After.
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

/** Starts the example on a port the OS picks; resolves with its URL once it listens. */
async function start(): Promise<string> {
  const proc = spawn(process.execPath, ["--import", "tsx", "examples/graphql-yoga/server.ts"], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  let out = "";
  let err = "";
  proc.stderr!.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const port = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  return `http://127.0.0.1:${port}/graphql`;
}

type Body = {
  data?: unknown;
  errors?: { extensions: Record<string, unknown> }[];
  extensions?: { rateLimit?: Record<string, number> };
};

async function post(url: string, query: string) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
    body: JSON.stringify({ query }),
  });
  return { status: r.status, headers: r.headers, body: (await r.json()) as Body };
}

it("prices, settles and refuses as its header says", async () => {
  const url = await start();
  const books = await post(url, "{ books(first: 20) { title author { name } } }");
  expect(books.status).toBe(200);
  expect((books.body.data as { books: unknown[] }).books).toHaveLength(3);
  expect(books.body.extensions?.rateLimit).toMatchObject({ cost: 21, remaining: 979, limit: 1000 });
  // 17 of the 21 reserved came back: 1000 − 4 (what ran) − 1 (this query).
  const one = await post(url, "{ books(first: 1) { title } }");
  expect(one.body.extensions?.rateLimit).toMatchObject({ cost: 1, remaining: 995 });

  const big = await post(url, "{ books(first: 600) { title author { name } } }");
  expect(big.status).toBe(400);
  expect(big.body.errors?.[0]?.extensions).toMatchObject({ code: "QUERY_TOO_COMPLEX", limit: 500 });
  // The analysis stops once past maxCost: the cost reported is where it stopped, above the limit.
  expect(big.body.errors?.[0]?.extensions.cost).toBeGreaterThan(500);

  for (let i = 0; i < 5; i++)
    expect((await post(url, "mutation { like(id: 1) }")).status).toBe(200);
  const sixth = await post(url, "mutation { like(id: 1) }");
  expect(sixth.status).toBe(429);
  expect(Number(sixth.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(sixth.body.errors?.[0]?.extensions.code).toBe("RATE_LIMITED");

  child!.kill("SIGTERM");
  const [code] = await once(child!, "exit");
  expect(code).toBe(0);
});
