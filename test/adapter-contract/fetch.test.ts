import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import { fetchRateLimit } from "../../src/adapters/fetch.js";
import { infoBody } from "./cases-info.js";
import { type AdapterRunner, adapterContract } from "./contract.js";
import { served } from "./listen.js";
import { slow, slowMs } from "./slow.js";
import { storeFactories } from "./stores.js";

async function app(request: Request): Promise<Response> {
  if (request.method === "POST" && new URL(request.url).pathname === "/login") {
    return new Response("login");
  }
  if (new URL(request.url).pathname === "/slow") {
    await slow.hold(slowMs(request.url));
    return new Response("ok");
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
    const handler = limit.wrap((request: Request) =>
      new URL(request.url).pathname === "/info"
        ? new Response(infoBody(limit.rateLimit(request)))
        : app(request),
    );
    const server = serve({ fetch: handler, port: 0, hostname: "127.0.0.1" }) as Server;
    return { ...(await served(server, () => limit.limiter.close())), limiter: limit.limiter };
  },
};

for (const store of storeFactories) adapterContract(fetchRunner, store);

describe("fetch adapter off @hono/node-server (Bun, Deno, Workers): slots end with the body", () => {
  const options = {
    rules: [{ path: "/**", concurrency: 1 }],
    remoteAddress: () => "192.0.2.1",
  };
  const request = (init?: RequestInit) => new Request("http://127.0.0.1/x", init);

  it("a streamed body holds its slot until it is read to the end", async () => {
    const limit = fetchRateLimit(options);
    let push: ReadableStreamDefaultController<Uint8Array> | undefined;
    const handler = limit.wrap(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(c) {
              push = c;
            },
          }),
        ),
    );
    const first = await handler(request());
    expect(first.status).toBe(200);
    expect((await handler(request())).status).toBe(429); // still streaming
    push!.enqueue(new TextEncoder().encode("data"));
    push!.close();
    expect(await first.text()).toBe("data");
    await new Promise((r) => setImmediate(r));
    const next = await limit.wrap(() => new Response("ok"))(request());
    expect(next.status).toBe(200);
    expect(await next.text()).toBe("ok");
    await limit.limiter.close();
  });

  it("a cancelled body and an aborted request give the slot back", async () => {
    const limit = fetchRateLimit(options);
    const endless = limit.wrap(() => new Response(new ReadableStream({ pull() {} })));
    const first = await endless(request());
    await first.body!.cancel();
    await new Promise((r) => setImmediate(r));
    const controller = new AbortController();
    const pending = limit.wrap(
      () => new Promise<Response>(() => {}), // a handler that never answers
    )(request({ signal: controller.signal }));
    await new Promise((r) => setImmediate(r));
    expect((await endless(request())).status).toBe(429); // the pending one holds it
    controller.abort();
    await new Promise((r) => setImmediate(r));
    const after = await limit.wrap(() => new Response(null, { status: 204 }))(request());
    expect(after.status).toBe(204);
    void pending;
    await limit.limiter.close();
  });
});
