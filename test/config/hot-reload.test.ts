import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, watchConfig } from "throttlekit/config";
import { nodeRateLimit } from "throttlekit/node";
import { afterAll, describe, expect, it, vi } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "tk-hot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const version = (b: string, extra = "") => `headers: legacy
policies: 100000/min
rules:
  - { name: a, path: /a, policies: 1000/min }
  - { name: b, path: /b, policies: ${b} }
${extra}`;

describe("hot reload under load", () => {
  it("keeps serving, keeps unchanged rules' counts, applies a change and refuses a broken edit", async () => {
    const path = join(dir, "throttlekit.yaml");
    writeFileSync(path, version("100/min"));
    const config = await loadConfig(path, { env: {} });
    const limit = nodeRateLimit({ ...config.http, logger: false });
    const reloaded: number[] = [];
    const refused: string[] = [];
    limit.limiter.on("reloaded", (e) => reloaded.push(e.time));
    const logged: string[] = [];
    const watcher = watchConfig(path, (next) => limit.limiter.reload(next.http, { source: path }), {
      store: config.http.store!,
      env: {},
      debounce: "20ms",
      events: limit.limiter.events,
      logger: { warn: (m) => logged.push(m) },
      onError: (e) => refused.push(e.problems[0]!.option),
    });
    const server = createServer(limit.wrap((_req, res) => res.end("ok")));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (p: string) => {
      const r = await fetch(base + p);
      await r.arrayBuffer();
      return { status: r.status, remaining: Number(r.headers.get("x-ratelimit-remaining")) };
    };

    // Load: four clients loop on the catch-all until told to stop (bounded by the test's own end).
    let stop = false;
    const statuses: number[] = [];
    const failures: unknown[] = [];
    const load = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        try {
          statuses.push((await get("/")).status);
        } catch (e) {
          failures.push(e);
        }
      }
    });
    try {
      for (let i = 0; i < 5; i++) await get("/a");
      expect((await get("/a")).remaining).toBe(994);
      for (let i = 0; i < 3; i++) expect((await get("/b")).status).toBe(200);

      writeFileSync(path, version("3/min")); // rule b changes, rule a does not
      await vi.waitFor(() => expect(reloaded).toHaveLength(1), { timeout: 5000 });
      expect((await get("/a")).remaining).toBe(993); // a kept its count
      const b = [];
      for (let i = 0; i < 4; i++) b.push((await get("/b")).status);
      expect(b).toEqual([200, 200, 200, 429]); // b starts over under its new policy

      writeFileSync(path, version("3/fortnight")); // broken
      await vi.waitFor(() => expect(refused).toHaveLength(1), { timeout: 5000 });
      expect(refused[0]).toBe(`${path}:5:36 rules[1].policies`);
      expect(logged.filter((m) => m.includes("WARN_TK_RELOAD_REJECTED"))).toHaveLength(1);
      expect((await get("/b")).status).toBe(429); // the old config keeps serving
      expect((await get("/a")).remaining).toBe(992);
      expect(reloaded).toHaveLength(1);
    } finally {
      stop = true;
      await Promise.all(load);
      await watcher.close();
      server.close();
      await limit.limiter.close();
      await config.close();
    }
    expect(failures).toEqual([]);
    expect(statuses.length).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([200]));
  }, 20_000);
});
