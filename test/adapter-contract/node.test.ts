import { createServer, type Server, type ServerResponse } from "node:http";
import {
  type NodeRateLimit,
  nodeRateLimit,
  type RateLimitedRequest,
} from "../../src/adapters/node.js";
import { infoBody } from "./cases-info.js";
import { type AdapterRunner, adapterContract, type RunningServer } from "./contract.js";
import { served } from "./listen.js";
import { slow, slowMs } from "./slow.js";
import { storeFactories } from "./stores.js";

/** new URL() resolves dot segments, drops the fragment and reads absolute-form targets. */
const NODE_LOGIN_ROUTES = [
  "/login",
  "/login#x",
  "/login?x=1",
  "/a/../login",
  "/a/%2e%2e/login",
  "http://127.0.0.1/login",
] as const;

function app(req: RateLimitedRequest, res: ServerResponse): void {
  // Routing as plain node apps do it: on the WHATWG URL's pathname.
  if (req.method === "POST" && new URL(req.url ?? "/", "http://x").pathname === "/login") {
    res.end("login");
    return;
  }
  if (new URL(req.url ?? "/", "http://x").pathname === "/info") {
    res.end(infoBody(req.rateLimit));
    return;
  }
  if (new URL(req.url ?? "/", "http://x").pathname === "/slow") {
    void slow.hold(slowMs(req.url ?? "")).then(() => res.end("ok"));
    return;
  }
  const m = /^\/status\/(\d{3})/.exec(req.url ?? "");
  res.statusCode = m === null ? 200 : Number(m[1]);
  res.end("ok");
}

async function listen(server: Server, limiter: NodeRateLimit["limiter"]): Promise<RunningServer> {
  const running = await served(server.listen(0, "127.0.0.1"), () => limiter.close());
  return { ...running, limiter };
}

/** nodeRateLimit(...).wrap(listener) */
const wrapped: AdapterRunner = {
  name: "node (wrap)",
  loginRoutes: NODE_LOGIN_ROUTES,
  async start(options) {
    const limit = nodeRateLimit(options);
    return listen(createServer(limit.wrap(app)), limit.limiter);
  },
};

/** nodeRateLimit(...) as connect-style middleware */
const middleware: AdapterRunner = {
  name: "node (middleware)",
  loginRoutes: NODE_LOGIN_ROUTES,
  async start(options) {
    const limit = nodeRateLimit(options);
    const server = createServer((req, res) => {
      limit(req, res, (error) => {
        if (error !== undefined) {
          res.statusCode = 500;
          res.end(String(error));
        } else {
          app(req, res);
        }
      });
    });
    return listen(server, limit.limiter);
  },
};

for (const store of storeFactories) {
  adapterContract(wrapped, store);
  adapterContract(middleware, store);
}
