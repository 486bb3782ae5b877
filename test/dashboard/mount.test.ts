import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { dashboard } from "../../src/dashboard/index.js";
import { memoryStore } from "../../src/index.js";
import { BASE, TOKEN } from "./support.js";

const auth = { authorization: `Bearer ${TOKEN}` };

/** Sign-in, page, a list change and the app's own route, through whatever serves `url`. */
async function exercise(url: string) {
  const exchange = await fetch(`${url}${BASE}?token=${TOKEN}`, { redirect: "manual" });
  expect(exchange.status).toBe(303);
  const cookie = exchange.headers.get("set-cookie")!.split(";")[0]!;
  const page = await fetch(`${url}${BASE}/`, { headers: { cookie } });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain(`<meta name="tk-base" content="${BASE}">`);
  const add = await fetch(`${url}${BASE}/api/lists`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ list: "allow", value: "user:ops", for: "1h" }),
  });
  expect(add.status).toBe(201);
  const lists = (await (await fetch(`${url}${BASE}/api/lists`, { headers: auth })).json()) as {
    entries: { value: string }[];
  };
  expect(lists.entries.map((e) => e.value)).toEqual(["user:ops"]);
  expect(await (await fetch(`${url}/app`)).text()).toBe("app");
}

describe("mounting the dashboard", () => {
  for (const mount of ["app.use(ui)", "app.use(basePath, ui)"]) {
    it(`in Express: ${mount}, after express.json()`, async () => {
      const ui = dashboard({ store: memoryStore(), token: TOKEN, basePath: BASE });
      const app = express();
      app.use(express.json());
      if (mount === "app.use(ui)") app.use(ui);
      else app.use(BASE, ui);
      app.get("/app", (_req, res) => {
        res.send("app");
      });
      const server = await new Promise<Server>((done) => {
        const s = app.listen(0, "127.0.0.1", () => done(s));
      });
      try {
        await exercise(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      } finally {
        ui.close();
        server.closeAllConnections();
        await new Promise((done) => server.close(done));
      }
    });
  }

  it("in Fastify: an onRequest hook hands the raw request over", async () => {
    const ui = dashboard({ store: memoryStore(), token: TOKEN, basePath: BASE });
    const app = Fastify();
    app.addHook("onRequest", (request, reply, done) => {
      const url = request.url;
      if (url !== BASE && !url.startsWith(`${BASE}/`) && !url.startsWith(`${BASE}?`)) {
        done();
        return;
      }
      reply.hijack();
      ui(request.raw, reply.raw);
    });
    app.addHook("onClose", (_instance, done) => {
      ui.close();
      done();
    });
    app.get("/app", async () => "app");
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      await exercise(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    } finally {
      await app.close();
    }
  });
});
