import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { fetchRateLimit } from "../../src/adapters/fetch.js";
import { type AdapterRunner, adapterContract } from "./contract.js";
import { served } from "./listen.js";
import { storeFactories } from "./stores.js";

function app(request: Request): Response {
  const m = /^https?:\/\/[^/]+\/status\/(\d{3})/.exec(request.url);
  return new Response("ok", { status: m === null ? 200 : Number(m[1]) });
}

/** fetchRateLimit(...).wrap(handler), served by @hono/node-server (remote address from env.incoming). */
const fetchRunner: AdapterRunner = {
  name: "fetch",
  async start(options) {
    const limit = fetchRateLimit(options);
    const server = serve({ fetch: limit.wrap(app), port: 0, hostname: "127.0.0.1" }) as Server;
    return served(server, () => limit.limiter.close());
  },
};

for (const store of storeFactories) adapterContract(fetchRunner, store);
