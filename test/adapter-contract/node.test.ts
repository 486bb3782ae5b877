import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { nodeRateLimit } from "../../src/adapters/node.js";
import { type AdapterRunner, adapterContract } from "./contract.js";
import { served } from "./listen.js";
import { storeFactories } from "./stores.js";

function app(req: IncomingMessage, res: ServerResponse): void {
  const m = /^\/status\/(\d{3})/.exec(req.url ?? "");
  res.statusCode = m === null ? 200 : Number(m[1]);
  res.end("ok");
}

function listen(server: Server, close: () => Promise<void>) {
  return served(server.listen(0, "127.0.0.1"), close);
}

/** nodeRateLimit(...).wrap(listener) */
const wrapped: AdapterRunner = {
  name: "node (wrap)",
  async start(options) {
    const limit = nodeRateLimit(options);
    return listen(createServer(limit.wrap(app)), () => limit.limiter.close());
  },
};

/** nodeRateLimit(...) as connect-style middleware */
const middleware: AdapterRunner = {
  name: "node (middleware)",
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
    return listen(server, () => limit.limiter.close());
  },
};

for (const store of storeFactories) {
  adapterContract(wrapped, store);
  adapterContract(middleware, store);
}
