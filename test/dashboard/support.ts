import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { type NodeRateLimit, nodeRateLimit } from "../../src/adapters/node.js";
import {
  type DashboardHandler,
  type DashboardOptions,
  dashboard,
} from "../../src/dashboard/index.js";
import { memoryStore, type Store } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { type RedisNode, startRedis } from "../support/redis-server.js";

export const TOKEN = "s3cret-dashboard-token-0123456789";
export const BASE = "/admin/tk";

/** A store per test, memory or a redis-server of this file's own (started on first use). */
export type StoreKind = { name: string; create(): Promise<Store> };
let redis: Promise<{ node: RedisNode; clients: Redis[] }> | undefined;
afterAll(async () => {
  if (redis === undefined) return;
  const { node, clients } = await redis;
  for (const c of clients) c.disconnect();
  await node.stop();
});
export const STORES: readonly StoreKind[] = [
  { name: "memory", create: async () => memoryStore() },
  {
    name: "redis",
    async create() {
      redis ??= startRedis().then((node) => ({ node, clients: [] }));
      const r = await redis;
      const client = new Redis({ host: "127.0.0.1", port: r.node.port });
      r.clients.push(client);
      // Each test its own prefix space: a fresh database is too costly, a flush is enough.
      await client.flushall();
      return redisStore({ client });
    },
  },
];

export type App = {
  url: string;
  server: Server;
  handler: DashboardHandler;
  limit: NodeRateLimit;
  close(): Promise<void>;
};

/**
 * node:http on 127.0.0.1:0: the dashboard under BASE (before the limiter: a deny entry for the
 * admin's own address must not lock the admin out), then an HTTP limiter whose metrics go to
 * the store, then "ok".
 */
export async function startApp(
  store: Store,
  options: Partial<DashboardOptions> = {},
): Promise<App> {
  const handler = dashboard({ store, token: TOKEN, basePath: BASE, ...options });
  const limit = nodeRateLimit({
    store,
    rules: [{ path: "/api/**", name: "api", policies: "5/s" }],
    policies: "1000/s",
    metrics: { store, flushEvery: "100ms" },
    listsRefresh: "100ms",
  });
  const server = createServer((req, res) =>
    handler(req, res, () =>
      limit(req, res, () => {
        res.end("ok");
      }),
    ),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    handler,
    limit,
    async close() {
      handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await limit.limiter.close?.();
    },
  };
}

/** Signs in with the token, returns the session cookie ("tk_dashboard=...") and CSRF token. */
export async function signIn(url: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${url}${BASE}/?token=${encodeURIComponent(TOKEN)}`, {
    redirect: "manual",
  });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`);
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const page = await (await fetch(`${url}${BASE}/`, { headers: { cookie } })).text();
  const csrf = /<meta name="tk-csrf" content="([^"]+)">/.exec(page)![1]!;
  return { cookie, csrf };
}

/** Reads server-sent events until `count` snapshots came, and returns them parsed. */
export async function readSnapshots(
  url: string,
  headers: Record<string, string>,
  count: number,
): Promise<unknown[]> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  if (res.status !== 200) throw new Error(`events answered ${res.status}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const found: unknown[] = [];
  while (found.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end = text.indexOf("\n\n");
    while (end >= 0) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      if (event.startsWith("event: snapshot\n")) found.push(JSON.parse(event.slice(22)));
      end = text.indexOf("\n\n");
    }
  }
  controller.abort();
  return found;
}
