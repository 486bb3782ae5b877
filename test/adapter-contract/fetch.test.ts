import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { fetchRateLimit } from "../../src/adapters/fetch.js";
import { type AdapterRunner, adapterContract } from "./contract.js";
import { served } from "./listen.js";
import { storeFactories } from "./stores.js";

function app(request: Request): Response {
  if (request.method === "POST" && new URL(request.url).pathname === "/login") {
    return new Response("login");
  }
  const m = /^https?:\/\/[^/]+\/status\/(\d{3})/.exec(request.url);
  return new Response("ok", { status: m === null ? 200 : Number(m[1]) });
}

/** fetchRateLimit(...).wrap(handler), served by @hono/node-server (remote address from env.incoming). */
const fetchRunner: AdapterRunner = {
  name: "fetch",
  // @hono/node-server builds request.url with new URL(): dot segments resolved, no fragment.
  loginRoutes: [
    "/login",
    "/login#x",
    "/login?x=1",
    "/a/../login",
    "/a/%2e%2e/login",
    "http://127.0.0.1/login",
  ],
  async start(options) {
    const limit = fetchRateLimit(options);
    const server = serve({ fetch: limit.wrap(app), port: 0, hostname: "127.0.0.1" }) as Server;
    return served(server, () => limit.limiter.close());
  },
};

for (const store of storeFactories) adapterContract(fetchRunner, store);
