/**
 * Hot reload under load (issue 18): a real node:http server answers bounded concurrent requests
 * while `reload()` swaps the configuration several times, one swap refused. Every request is
 * answered 200 or 429, none fails, and the rule no reload changed keeps exact counts.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { nodeRateLimit } from "../../src/adapters/node.js";
import { ConfigError } from "../../src/core/errors/config-error.js";
import { createEvents } from "../../src/core/events.js";
import type { HttpRule } from "../../src/http/rules.js";
import { storeFactories } from "../adapter-contract/stores.js";

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** The rule no reload touches (only its place in the list moves): its counts must be exact. */
const STEADY: HttpRule = {
  name: "steady",
  path: "/steady",
  // A fixed window starts at the key's first hit: exact counts, whatever the wall clock.
  policies: { limit: 150, window: "1h", algorithm: "fixed-window" },
};
const STEADY_REQUESTS = 200;

/** The configurations reloads cycle through: the churning rule's policy and place change. */
function config(i: number): HttpRule[] {
  const churn: HttpRule = { name: "churn", path: "/churn", policies: `${20 + (i % 3) * 10}/h` };
  const extra: HttpRule = { path: "/extra", methods: "GET", policies: "5/h" };
  return i % 2 === 0 ? [STEADY, churn] : [churn, extra, STEADY];
}

async function runPool<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

describe.each(storeFactories)("hot reload under load ($name store)", (factory) => {
  it("keeps answering 200 or 429, keeps the unchanged rule's counts exact, refuses a broken edit", async () => {
    const store = await factory.create();
    const events = createEvents({ logger: false });
    const prefix = `reload-${factory.name}-${Date.now()}`;
    const warnings: string[] = [];
    const limit = nodeRateLimit({
      store,
      events,
      prefix,
      logger: { warn: (m) => warnings.push(m) },
      rules: config(0),
    });
    const server = createServer(limit.wrap((_req, res) => res.end("ok")));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    let reloads = 0;
    let refused = 0;
    let loading = true;
    const reloader = (async () => {
      for (let i = 1; loading; i++) {
        await new Promise((r) => setTimeout(r, 5));
        if (i % 4 === 0) {
          try {
            limit.limiter.reload({
              store,
              events,
              prefix,
              rules: [...config(i), { path: 7 } as never],
            });
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError);
            refused++;
          }
          continue;
        }
        limit.limiter.reload({ store, events, prefix, rules: config(i) });
        reloads++;
      }
    })();

    // Interleaved, so reloads land between requests of every kind.
    const paths: string[] = [];
    for (let i = 0; i < STEADY_REQUESTS; i++) {
      paths.push("/steady");
      if (i % 4 !== 3) paths.push(i % 3 === 0 ? "/extra" : "/churn");
    }
    const statuses = await runPool(
      paths.map((p) => async () => {
        const res = await fetch(base + p);
        await res.arrayBuffer();
        return { path: p, status: res.status };
      }),
      16,
    );
    loading = false;
    await reloader;

    expect(reloads).toBeGreaterThanOrEqual(3);
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(warnings.filter((w) => w.includes("WARN_TK_RELOAD_REJECTED"))).toHaveLength(refused);
    for (const s of statuses) expect([200, 429]).toContain(s.status);
    const steady = statuses.filter((s) => s.path === "/steady");
    expect(steady.filter((s) => s.status === 200)).toHaveLength(150);
    expect(steady.filter((s) => s.status === 429)).toHaveLength(STEADY_REQUESTS - 150);
    await limit.limiter.close();
    await store.close?.();
  });
});
