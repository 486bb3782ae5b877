/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (no bundled
 * browser download). Without chromium this file FAILS rather than skips: CI installs it
 * (.ci/run), and a dashboard nobody ever opened is not tested.
 *
 * An Express app limits /api/** with its metrics recorded in the store, the dashboard mounted
 * before the limiter. The page refuses without the token and opens with it; while a load runs
 * its numbers move; a deny entry added through its form makes the next request 403, and removing
 * it restores 200. The screenshot goes to .tmp/dashboard.png, and to docs/dashboard.png only
 * with UPDATE_SCREENSHOT=1 (so CI never dirties the tree).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import express from "express";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expressRateLimit } from "../../src/adapters/express.js";
import { type DashboardHandler, dashboard } from "../../src/dashboard/index.js";
import { memoryStore } from "../../src/index.js";
import { BASE, TOKEN } from "./support.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** /usr/bin/chromium, or the chromium (or chromium-browser) on PATH; throws when none. */
function findChromium(): string {
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const path = execFileSync("which", [name], { encoding: "utf8" }).trim();
      if (path !== "") return path;
    } catch {
      // not this one
    }
  }
  throw new Error(
    "chromium not found: install Debian's chromium (apt-get install chromium); the dashboard's browser test does not skip",
  );
}

let browser: Browser;
let server: Server;
let handler: DashboardHandler;
let limiter: { close(): Promise<void> };
let url: string;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: findChromium(), args: ["--no-sandbox"] });
  const store = memoryStore();
  handler = dashboard({
    store,
    token: TOKEN,
    basePath: BASE,
    config: {
      store: { type: "redis", url: "redis://:hunter2@redis.internal:6379" },
      rules: [{ path: "/api/**", name: "api", policies: "20/s" }],
      policies: "1000/s",
    },
  });
  const limit = expressRateLimit({
    store,
    rules: [
      { path: "/api/**", name: "api", policies: "20/s" },
      { path: "/login", name: "login", policies: "5/min" },
    ],
    policies: "1000/s",
    metrics: { store, flushEvery: "200ms" },
  });
  limiter = limit.limiter;
  const app = express();
  // Before the limiter: denying 127.0.0.1 must not lock the admin (on 127.0.0.1 too) out.
  app.use(handler);
  app.use(limit);
  app.get("/api/items", (_req, res) => {
    res.json({ items: [1, 2, 3] });
  });
  app.post("/login", (_req, res) => {
    res.status(401).end();
  });
  server = await new Promise<Server>((done) => {
    const s = app.listen(0, "127.0.0.1", () => done(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  handler?.close();
  server?.closeAllConnections();
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  await limiter?.close();
});

/** A load of bounded length in the background: /api/items at about 50 a second, some logins. */
function startLoad(): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    for (let i = 0; running && i < 20_000; i++) {
      await fetch(`${url}${i % 10 === 0 ? "/login" : "/api/items"}`, {
        method: i % 10 === 0 ? "POST" : "GET",
      }).catch(() => undefined);
      await sleep(15);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

async function cardValue(page: Page, id: string): Promise<number> {
  const text = (await page.locator(`#c-${id}`).textContent()) ?? "0";
  const n = Number.parseFloat(text);
  return text.endsWith("k") ? n * 1000 : text.endsWith("M") ? n * 1e6 : n;
}

describe("dashboard in chromium", () => {
  it("refuses without the token", async () => {
    const page = await browser.newPage();
    try {
      const res = await page.goto(`${url}${BASE}/`);
      expect(res?.status()).toBe(401);
      await expect(page.locator("input[name=token]").count()).resolves.toBe(1);
      await expect(page.locator("#c-requests").count()).resolves.toBe(0);
      // A wrong token is refused as well.
      await page.fill("input[name=token]", "not-the-token-at-all");
      await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
      await expect(page.locator(".error").textContent()).resolves.toContain("Wrong token");
      await expect(page.locator("#c-requests").count()).resolves.toBe(0);
    } finally {
      await page.close();
    }
  }, 60_000);

  it("loads with the token, moves with the load, and manages the deny list", async () => {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    const load = startLoad();
    try {
      // The login form, as a person would use it.
      await page.goto(`${url}${BASE}/`);
      await page.fill("input[name=token]", TOKEN);
      await Promise.all([page.waitForURL(`${url}${BASE}/`), page.click("button[type=submit]")]);
      // The sign-in form's own 401 was logged as a failed load: errors count from here on.
      errors.length = 0;
      await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 30_000 });
      // The token is nowhere in the page, and its cookie is out of the script's reach.
      expect(await page.content()).not.toContain(TOKEN);
      expect(await page.evaluate(() => document.cookie)).toBe("");
      expect(await page.locator("#config").textContent()).not.toContain("hunter2");

      // The numbers move while the load runs.
      await page.waitForFunction(
        () => Number.parseFloat(document.querySelector("#c-requests")?.textContent ?? "0") > 0,
        undefined,
        { timeout: 30_000 },
      );
      const before = await cardValue(page, "requests");
      await page.waitForFunction(
        (n) => {
          const t = document.querySelector("#c-requests")?.textContent ?? "0";
          const v = Number.parseFloat(t) * (t.endsWith("k") ? 1000 : 1);
          return v > n;
        },
        before,
        { timeout: 30_000 },
      );
      expect(await cardValue(page, "requests")).toBeGreaterThan(before);
      await page.locator('[data-rule="api"]').waitFor({ timeout: 30_000 });
      // A few seconds of traffic in the charts before the deny (for the screenshot's sake).
      await page.waitForFunction(
        () => Number.parseFloat(document.querySelector("#c-requests")?.textContent ?? "0") >= 250,
        undefined,
        { timeout: 60_000 },
      );

      // Deny 127.0.0.1 through the form: the next request from it gets 403.
      expect((await fetch(`${url}/api/items`)).status).not.toBe(403);
      await page.selectOption("#list-kind", "deny");
      await page.fill("#list-value", "127.0.0.1");
      await page.fill("#list-for", "10m");
      await page.fill("#list-reason", "browser test");
      await page.click("#list-add");
      await page.locator("#list-msg", { hasText: "Added 127.0.0.1" }).waitFor({ timeout: 30_000 });
      expect((await fetch(`${url}/api/items`)).status).toBe(403);
      const remove = page.locator('button[data-remove="deny:127.0.0.1"]');
      await remove.waitFor({ timeout: 30_000 });
      // Let the denials show in the charts before the picture.
      await page.waitForFunction(
        () => Number.parseFloat(document.querySelector("#c-denied")?.textContent ?? "0") > 0,
        undefined,
        { timeout: 30_000 },
      );
      await page
        .locator("#violations td", { hasText: "deny-list" })
        .first()
        .waitFor({ timeout: 30_000 });
      mkdirSync(join(root, ".tmp"), { recursive: true });
      const shot = join(root, ".tmp", "dashboard.png");
      await page.screenshot({ path: shot, fullPage: true });
      if (process.env.UPDATE_SCREENSHOT === "1")
        copyFileSync(shot, join(root, "docs", "dashboard.png"));

      // Removing it restores 200.
      await remove.click();
      await remove.waitFor({ state: "detached", timeout: 30_000 });
      await load.stop();
      // The /api/** budget (20/s) may still be spent by the load: wait for a window to pass.
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await fetch(`${url}/api/items`)).status;
        if (status !== 200) await sleep(100);
      }
      expect(status).toBe(200);
      expect(errors).toEqual([]);
    } finally {
      await load.stop();
      await page.close();
    }
  }, 120_000);
});
