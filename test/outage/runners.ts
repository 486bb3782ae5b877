/**
 * One real server per adapter for the outage suite, built as the adapter contract's runners are
 * (test/adapter-contract/*.test.ts keeps its own, which live in test files and cannot be
 * imported without registering their tests): the adapter mounted app-wide, every request that
 * gets through answered 200 "ok", and faults left to the framework's own error path (a 500),
 * which is exactly what the suite must never see.
 */
import type { Server } from "node:http";
import { createServer } from "node:http";
import { serve } from "@hono/node-server";
import { Controller, Get, Module } from "@nestjs/common";
import { APP_FILTER, APP_GUARD } from "@nestjs/core";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { expressRateLimit } from "../../src/adapters/express.js";
import { type FastifyRateLimitOptions, fastifyRateLimit } from "../../src/adapters/fastify.js";
import { fetchRateLimit } from "../../src/adapters/fetch.js";
import { type HonoRateLimitOptions, honoRateLimit } from "../../src/adapters/hono.js";
import { koaRateLimit } from "../../src/adapters/koa.js";
import {
  ThrottlekitExceptionFilter,
  ThrottlekitGuard,
  ThrottlekitModule,
} from "../../src/adapters/nest/index.js";
import { nodeRateLimit } from "../../src/adapters/node.js";
import type { AdapterRunner } from "../adapter-contract/contract.js";
import { served } from "../adapter-contract/listen.js";
import { startApp } from "../nest/support/app.js";
import { decorate } from "../nest/support/decorate.js";

export const express_: AdapterRunner = {
  name: "express",
  async start(options) {
    const limit = expressRateLimit(options);
    const app = express();
    app.use(limit);
    app.use((_req, res) => {
      res.send("ok");
    });
    return served(app.listen(0, "127.0.0.1"), () => limit.limiter.close());
  },
};

export const fastify: AdapterRunner = {
  name: "fastify",
  async start(options) {
    const app = Fastify({ forceCloseConnections: true });
    await app.register(fastifyRateLimit, options as FastifyRateLimitOptions);
    app.all("/*", async () => "ok");
    app.all("/", async () => "ok");
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    if (typeof address !== "object" || address === null) throw new Error("not listening");
    return { url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
  },
};

export const koa: AdapterRunner = {
  name: "koa",
  async start(options) {
    const limit = koaRateLimit(options);
    const app = new Koa();
    app.silent = true;
    app.use(limit);
    app.use((ctx) => {
      ctx.body = "ok";
    });
    return served(app.listen(0, "127.0.0.1"), () => limit.limiter.close());
  },
};

export const hono: AdapterRunner = {
  name: "hono",
  async start(options) {
    const limit = honoRateLimit(options as HonoRateLimitOptions);
    const app = new Hono();
    app.use(limit);
    app.all("*", (c) => c.text("ok"));
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
    return served(server, () => limit.limiter.close());
  },
};

export const node: AdapterRunner = {
  name: "node",
  async start(options) {
    const limit = nodeRateLimit(options);
    const server = createServer(limit.wrap((_req, res) => res.end("ok")));
    return served(server.listen(0, "127.0.0.1"), () => limit.limiter.close());
  },
};

export const fetch_: AdapterRunner = {
  name: "fetch",
  async start(options) {
    const limit = fetchRateLimit(options);
    const handler = limit.wrap(() => new Response("ok"));
    const server = serve({ fetch: handler, port: 0, hostname: "127.0.0.1" }) as Server;
    return served(server, () => limit.limiter.close());
  },
};

class OkController {
  ok() {
    return "ok";
  }
}
decorate(OkController, [Controller()], { ok: [Get("*path")] });

/**
 * Nest on Express with a global guard and the exception filter. It takes the limiter options'
 * `policies` as its throttlers and passes store, prefix and identity through.
 */
export const nestExpress: AdapterRunner = {
  name: "nest (express)",
  async start(options) {
    class AppModule {}
    decorate(AppModule, [
      Module({
        imports: [
          ThrottlekitModule.forRoot({
            throttlers: options.policies as string,
            ...(options.store !== undefined ? { store: options.store } : {}),
            ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
            ...(options.identity !== undefined ? { identity: options.identity } : {}),
          }),
        ],
        controllers: [OkController],
        providers: [
          { provide: APP_GUARD, useClass: ThrottlekitGuard },
          { provide: APP_FILTER, useClass: ThrottlekitExceptionFilter },
        ],
      }),
    ]);
    const app = await startApp("express", AppModule);
    return { url: app.url, close: () => app.close() };
  },
};

/** Every adapter the outage suite runs. */
export const RUNNERS: readonly AdapterRunner[] = [
  express_,
  fastify,
  koa,
  hono,
  node,
  fetch_,
  nestExpress,
];
