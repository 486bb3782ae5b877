import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { dashboard, type LiveSnapshot } from "../../src/dashboard/index.js";
import { ConfigError, memoryStore } from "../../src/index.js";
import { type App, BASE, readSnapshots, STORES, signIn, startApp, TOKEN } from "./support.js";

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Polls until `check` passes (no timing assertion: only a generous bound). */
async function eventually(check: () => Promise<boolean>, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`never: ${what}`);
}

describe("dashboard options", () => {
  it("requires a store with metrics and a token of 16 characters, listing every problem", () => {
    let error: unknown;
    try {
      dashboard({ store: {} as never, token: "short", interval: "1ms", basePath: "admin/" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const option of [
      "dashboard.store",
      "dashboard.token",
      "dashboard.interval",
      "dashboard.basePath",
    ])
      expect(message).toContain(option);
    // The short token itself is never echoed.
    expect(message).not.toContain('"short"');
  });

  it("refuses unknown options and a config with a cycle", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() =>
      dashboard({ store: memoryStore(), token: TOKEN, colour: "red", config: cyclic } as never),
    ).toThrow(/dashboard\.colour[\s\S]*dashboard\.config/);
  });
});

for (const kind of STORES) {
  describe(`dashboard on the ${kind.name} store`, () => {
    it("refuses the page and the API without the token, and with a wrong one", async () => {
      app = await startApp(await kind.create());
      const page = await fetch(`${app.url}${BASE}/`);
      expect(page.status).toBe(401);
      const html = await page.text();
      expect(html).toContain('name="token"');
      expect(html).not.toContain("tk-csrf");
      for (const path of ["/api/snapshot", "/api/lists", "/api/config", "/api/events"]) {
        expect((await fetch(`${app.url}${BASE}${path}`)).status).toBe(401);
        const wrong = await fetch(`${app.url}${BASE}${path}`, {
          headers: { authorization: `Bearer ${TOKEN}x` },
        });
        expect(wrong.status).toBe(401);
        expect(wrong.headers.get("www-authenticate")).toMatch(/^Bearer/);
      }
      const badQuery = await fetch(`${app.url}${BASE}/?token=nope`, { redirect: "manual" });
      expect(badQuery.status).toBe(401);
      expect(badQuery.headers.get("set-cookie")).toBeNull();
      // A forged cookie is no session.
      const forged = await fetch(`${app.url}${BASE}/api/lists`, {
        headers: { cookie: "tk_dashboard=v1.1.abc.def" },
      });
      expect(forged.status).toBe(401);
      // Outside the base path: the app's own routes, untouched.
      expect(await (await fetch(`${app.url}/hello`)).text()).toBe("ok");
    });

    it("opens with a Bearer token, and the token exchanged for an HttpOnly SameSite=Strict cookie", async () => {
      app = await startApp(await kind.create());
      const api = await fetch(`${app.url}${BASE}/api/lists`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(api.status).toBe(200);
      expect(await api.json()).toEqual({ managed: true, entries: [] });

      const exchange = await fetch(`${app.url}${BASE}/?token=${TOKEN}`, { redirect: "manual" });
      expect(exchange.status).toBe(303);
      expect(exchange.headers.get("location")).toBe(`${BASE}/`);
      const setCookie = exchange.headers.get("set-cookie")!;
      expect(setCookie).toMatch(/^tk_dashboard=v1\./);
      expect(setCookie).toContain("HttpOnly");
      expect(setCookie).toContain("SameSite=Strict");
      expect(setCookie).toContain(`Path=${BASE}`);
      expect(setCookie).not.toContain(TOKEN);

      // The login form does the same.
      const form = await fetch(`${app.url}${BASE}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `token=${encodeURIComponent(TOKEN)}`,
        redirect: "manual",
      });
      expect(form.status).toBe(303);
      const wrongForm = await fetch(`${app.url}${BASE}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "token=wrong",
        redirect: "manual",
      });
      expect(wrongForm.status).toBe(401);

      const cookie = setCookie.split(";")[0]!;
      const page = await fetch(`${app.url}${BASE}/`, { headers: { cookie } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).not.toContain(TOKEN);
      const csp = page.headers.get("content-security-policy")!;
      const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(html).toContain(`<script nonce="${nonce}">`);
      expect(html).not.toMatch(/<script(?![^>]*nonce)/);
      expect(html).not.toMatch(/https?:\/\//); // no CDN, no external asset
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      expect(page.headers.get("cache-control")).toBe("no-store");
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    });

    it("keeps the page within 150 KB", async () => {
      app = await startApp(await kind.create());
      const { cookie } = await signIn(app.url);
      const page = await fetch(`${app.url}${BASE}/`, { headers: { cookie } });
      const bytes = Buffer.byteLength(await page.text());
      expect(bytes).toBeGreaterThan(5_000);
      expect(bytes).toBeLessThanOrEqual(150 * 1024);
    });

    it("adds and removes list entries; the limiter denies and lets back in", async () => {
      app = await startApp(await kind.create());
      const { cookie, csrf } = await signIn(app.url);
      const headers = {
        cookie,
        "x-throttlekit-csrf": csrf,
        "content-type": "application/json",
        origin: app.url,
      };
      expect((await fetch(`${app.url}/hello`)).status).toBe(200);
      const add = await fetch(`${app.url}${BASE}/api/lists`, {
        method: "POST",
        headers,
        body: JSON.stringify({ list: "deny", value: "127.0.0.1", for: "10m", reason: "test" }),
      });
      expect(add.status).toBe(201);
      const added = (await add.json()) as { expiresAt: number };
      expect(added.expiresAt).toBeGreaterThan(Date.now() + 9 * 60_000);
      const lists = (await (
        await fetch(`${app.url}${BASE}/api/lists`, { headers: { cookie } })
      ).json()) as { entries: { list: string; value: string; reason: string }[] };
      expect(lists.entries).toMatchObject([{ list: "deny", value: "127.0.0.1", reason: "test" }]);
      // The memory store notifies at once; Redis is polled every listsRefresh (100 ms here).
      await eventually(async () => (await fetch(`${app!.url}/hello`)).status === 403, "403");
      // The dashboard itself stays reachable (mounted before the limiter).
      expect((await fetch(`${app.url}${BASE}/api/lists`, { headers: { cookie } })).status).toBe(
        200,
      );

      const remove = await fetch(`${app.url}${BASE}/api/lists?list=deny&value=127.0.0.1`, {
        method: "DELETE",
        headers,
      });
      expect(remove.status).toBe(200);
      expect(await remove.json()).toEqual({ removed: true });
      await eventually(async () => (await fetch(`${app!.url}/hello`)).status === 200, "200");
      const again = await fetch(`${app.url}${BASE}/api/lists?list=deny&value=127.0.0.1`, {
        method: "DELETE",
        headers,
      });
      expect(again.status).toBe(404);
    });

    it("validates entries as the HTTP layer does: IP, CIDR or identity key, expiry a Duration", async () => {
      app = await startApp(await kind.create());
      const post = (body: unknown) =>
        fetch(`${app!.url}${BASE}/api/lists`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      for (const value of ["10.0.0.0/8", "2001:db8::/32", "user:42", "apikey:abc", "::1"])
        expect((await post({ list: "allow", value })).status).toBe(201);
      const bad = await post({ list: "block", value: "10.0.0.256", for: "soon", reason: 5 });
      expect(bad.status).toBe(400);
      const problem = (await bad.json()) as { problems: { field: string }[] };
      expect(problem.problems.map((p) => p.field)).toEqual(["list", "value", "for", "reason"]);
      for (const value of ["10.0.0.0/33", "", "a\nb", "x".repeat(257), " user:1"])
        expect((await post({ list: "deny", value })).status).toBe(400);
      expect((await post({ list: "deny", value: "user:1", for: "-1s" })).status).toBe(400);
      expect((await post({ list: "deny", value: "user:1", extra: 1 })).status).toBe(400);
      const notJson = await fetch(`${app.url}${BASE}/api/lists`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: "{",
      });
      expect(notJson.status).toBe(400);
    });

    it("refuses state changes without the CSRF token, or from another origin", async () => {
      app = await startApp(await kind.create());
      const { cookie, csrf } = await signIn(app.url);
      const body = JSON.stringify({ list: "deny", value: "203.0.113.9" });
      const attempt = (headers: Record<string, string>) =>
        fetch(`${app!.url}${BASE}/api/lists`, {
          method: "POST",
          headers: { cookie, "content-type": "application/json", ...headers },
          body,
        });
      // A cross-site form: the cookie rides along (if SameSite did not stop it), no header.
      expect((await attempt({ origin: "https://evil.example" })).status).toBe(403);
      // The right token from another origin.
      expect(
        (await attempt({ "x-throttlekit-csrf": csrf, origin: "https://evil.example" })).status,
      ).toBe(403);
      expect(
        (await attempt({ "x-throttlekit-csrf": csrf, "sec-fetch-site": "cross-site" })).status,
      ).toBe(403);
      // Another session's token.
      const other = await signIn(app.url);
      expect((await attempt({ "x-throttlekit-csrf": other.csrf, origin: app.url })).status).toBe(
        403,
      );
      const listed = (await (
        await fetch(`${app.url}${BASE}/api/lists`, { headers: { cookie } })
      ).json()) as { entries: unknown[] };
      expect(listed.entries).toEqual([]);
      // Same origin with this session's token: accepted.
      expect((await attempt({ "x-throttlekit-csrf": csrf, origin: app.url })).status).toBe(201);
      // Cross-site sign-in is refused too (login CSRF).
      const login = await fetch(`${app.url}${BASE}/login`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://evil.example",
        },
        body: `token=${TOKEN}`,
        redirect: "manual",
      });
      expect(login.status).toBe(403);
      // Logout needs the CSRF token as well, then clears the cookie.
      const out = await fetch(`${app.url}${BASE}/logout`, {
        method: "POST",
        headers: { cookie, "x-throttlekit-csrf": csrf, origin: app.url },
      });
      expect(out.status).toBe(204);
      expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    });

    it("streams fleet snapshots over server-sent events while a load runs", async () => {
      const store = await kind.create();
      app = await startApp(store, { interval: "250ms" });
      let stop = false;
      const load = (async () => {
        while (!stop) {
          await fetch(`${app!.url}/api/items`);
          await sleep(5);
        }
      })();
      try {
        const snapshots = (await readSnapshots(
          `${app.url}${BASE}/api/events`,
          { authorization: `Bearer ${TOKEN}` },
          12,
        )) as LiveSnapshot[];
        expect(snapshots).toHaveLength(12);
        const first = snapshots[0]!;
        const lastOne = snapshots[11]!;
        expect(lastOne.at).toBeGreaterThan(first.at);
        expect(lastOne.fleet.total.requests).toBeGreaterThan(0);
        expect(lastOne.fleet.rules.api?.allowed).toBeGreaterThan(0);
        // 5/s on /api/**, hammered: refusals are counted and offenders listed.
        await eventually(async () => {
          const s = (await (
            await fetch(`${app!.url}${BASE}/api/snapshot`, {
              headers: { authorization: `Bearer ${TOKEN}` },
            })
          ).json()) as LiveSnapshot;
          return (
            s.fleet.rules.api!.limited > 0 &&
            s.fleet.topOffenders.length > 0 &&
            s.violations.length > 0
          );
        }, "refusals in the snapshot");
        const s = snapshots.at(-1)!;
        expect(s.fleet.series.total.allowed).toHaveLength(s.fleet.seconds);
        expect(s.store).toEqual({ name: kind.name, reachable: true, error: undefined });
        expect(s.lists.managed).toBe(true);
      } finally {
        stop = true;
        await load;
      }
    });
  });
}

describe("dashboard streams and config", () => {
  it("bounds live streams, and ends them all on close()", async () => {
    app = await startApp(memoryStore(), { maxClients: 2 });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const a = await fetch(`${app.url}${BASE}/api/events`, { headers: auth });
    const b = await fetch(`${app.url}${BASE}/api/events`, { headers: auth });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const c = await fetch(`${app.url}${BASE}/api/events`, { headers: auth });
    expect(c.status).toBe(503);
    app.handler.close();
    // Both streams end: reading them to the end finishes.
    expect(await a.text()).toContain("event: snapshot");
    expect(await b.text()).toContain("retry: 3000");
    expect((await fetch(`${app.url}${BASE}/api/lists`, { headers: auth })).status).toBe(503);
  });

  it("shows the config with secrets redacted, and never sends them anywhere", async () => {
    const config = {
      store: { type: "redis", url: "redis://admin:hunter2@redis.internal:6379/0" },
      redis: { password: "hunter2", host: "redis.internal" },
      identity: {
        jwt: { secret: "jwt-signing-key", algorithms: ["HS256"] },
        publicKey: "-----BEGIN PUBLIC KEY-----x",
      },
      apiKeys: ["k1", "k2"],
      webhook: "https://hooks.example/x?token=abc&channel=ops",
      rules: [{ path: "/api/**", policies: "100/min", keyPrefix: "api" }],
    };
    app = await startApp(memoryStore(), { config });
    const res = await fetch(`${app.url}${BASE}/api/config`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const text = await res.text();
    for (const secret of [
      "hunter2",
      "jwt-signing-key",
      "BEGIN PUBLIC KEY",
      "k1",
      "token=abc",
      TOKEN,
    ])
      expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toEqual({
      config: {
        store: { type: "redis", url: "redis://[redacted]@redis.internal:6379/0" },
        redis: { password: "[redacted]", host: "redis.internal" },
        identity: { jwt: { secret: "[redacted]", algorithms: ["HS256"] }, publicKey: "[redacted]" },
        apiKeys: "[redacted]",
        webhook: "https://hooks.example/x?token=[redacted]&channel=ops",
        rules: [{ path: "/api/**", policies: "100/min", keyPrefix: "api" }],
      },
    });
    // The snapshot and the page carry none of it either.
    const { cookie } = await signIn(app.url);
    const page = await (await fetch(`${app.url}${BASE}/`, { headers: { cookie } })).text();
    const snap = await (
      await fetch(`${app.url}${BASE}/api/snapshot`, { headers: { cookie } })
    ).text();
    for (const secret of ["hunter2", "jwt-signing-key", TOKEN]) {
      expect(page).not.toContain(secret);
      expect(snap).not.toContain(secret);
    }
  });

  it("passes requests outside basePath to next(), and serves under Express's mount path", async () => {
    app = await startApp(memoryStore());
    expect((await fetch(`${app.url}/admin/tkx`)).status).toBe(200); // not ours: the app's "ok"
    expect((await fetch(`${app.url}${BASE}/nope`)).status).toBe(404);
  });

  it("slows down token guessing per address", async () => {
    app = await startApp(memoryStore());
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push(
        (await fetch(`${app.url}${BASE}/api/lists`, { headers: { authorization: "Bearer wrong" } }))
          .status,
      );
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // Even the right token waits now: guessing and knowing look the same from outside.
    const right = await fetch(`${app.url}${BASE}/api/lists`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("dashboard outage state", () => {
  it("says when the store cannot be read, and when this process saw an outage", async () => {
    const inner = memoryStore();
    let down = false;
    const store = {
      ...inner,
      name: inner.name,
      bind: inner.bind.bind(inner),
      lists: inner.lists!.bind(inner),
      metrics: (ns: string) => {
        const m = inner.metrics!(ns);
        return {
          record: m.record.bind(m),
          read: (a: number, b: number) =>
            down ? Promise.reject(new Error("connection refused to :pw@host")) : m.read(a, b),
        };
      },
    };
    app = await startApp(store);
    const snapshot = async () =>
      (await (
        await fetch(`${app!.url}${BASE}/api/snapshot`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).json()) as LiveSnapshot;
    expect((await snapshot()).store.reachable).toBe(true);
    down = true;
    const s = await snapshot();
    expect(s.store).toEqual({ name: "memory", reachable: false, error: "Error" });
    expect(JSON.stringify(s)).not.toContain("pw@");

    const { channel } = await import("node:diagnostics_channel");
    channel("throttlekit:degraded").publish({
      type: "degraded",
      time: 1_700_000_000_000,
      store: "redis",
      mode: "fail-open",
      error: "connect ECONNREFUSED redis://user:pw@10.0.0.5:6379",
    });
    const during = await snapshot();
    expect(during.outage).toMatchObject({
      ongoing: true,
      count: 1,
      store: "redis",
      mode: "fail-open",
    });
    expect(during.outage.error).toBe("connect ECONNREFUSED redis://[redacted]@10.0.0.5:6379");
    channel("throttlekit:recovered").publish({ type: "recovered", time: 1_700_000_005_000 });
    expect((await snapshot()).outage).toMatchObject({ ongoing: false, count: 1 });
  });
});
