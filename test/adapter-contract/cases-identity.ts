import { SignJWT } from "jose";
import { expect, it } from "vitest";
import type { Store } from "../../src/core/store.js";
import { createHttpLimiter } from "../../src/http/http-limiter.js";
import { jwt } from "../../src/http/identity/jwt.js";
import { IdentityError } from "../../src/http/identity-error.js";
import { UNLIMITED } from "../../src/http/unlimited.js";
import type { CaseKit } from "./contract.js";

/** Who the client is: identity errors, proxies, IPv6 networks, JWTs, lists, refunds. */
export function identityCases({ setup, statusOf }: CaseKit): void {
  it("identity errors answer 401 (never 500) and count nothing", async () => {
    const t = await setup({
      policies: "1/1m",
      identity: (req) => {
        const user = req.header("x-user");
        if (user === undefined) throw new IdentityError("no user");
        if (user === "crash") throw new Error("bug in the identity");
        return `user:${user}`;
      },
    });
    const res = await t.get();
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 401 });
    expect(await statusOf(t.get("/", { headers: { "x-user": "crash" } }))).toBe(401);
    expect(await statusOf(t.get("/", { headers: { "x-user": "a" } }))).toBe(200);

    const custom = await setup({
      policies: "1/1m",
      identity: () => {
        throw new IdentityError("no");
      },
      onIdentityError: () => ({ status: 401, body: "who are you?" }),
    });
    const r2 = await custom.get();
    expect(r2.status).toBe(401);
    expect(await r2.text()).toBe("who are you?");
  });

  it("X-Forwarded-For is ignored without trustProxy", async () => {
    const t = await setup({ policies: "1/1m" });
    expect(await statusOf(t.get("/", { headers: { "x-forwarded-for": "198.51.100.1" } }))).toBe(
      200,
    );
    expect(await statusOf(t.get("/", { headers: { "x-forwarded-for": "198.51.100.2" } }))).toBe(
      429,
    );
  });

  it("X-Forwarded-For is honoured with trustProxy, walking from the right", async () => {
    const t = await setup({ policies: "1/1m", trustProxy: 1 });
    const from = (xff: string) => statusOf(t.get("/", { headers: { "x-forwarded-for": xff } }));
    expect(await from("198.51.100.1")).toBe(200);
    expect(await from("198.51.100.2")).toBe(200);
    // A client-written entry on the left does not change who the proxy saw.
    expect(await from("203.0.113.9, 198.51.100.1")).toBe(429);
  });

  it("Forwarded (RFC 7239) through trusted CIDRs", async () => {
    const t = await setup({
      policies: "1/1m",
      trustProxy: ["loopback"],
      proxyHeader: "forwarded",
    });
    const from = (fwd: string) => statusOf(t.get("/", { headers: { forwarded: fwd } }));
    expect(await from('for="[2001:db8::1]:4711";proto=https')).toBe(200);
    expect(await from("for=192.0.2.60;proto=http;by=203.0.113.43")).toBe(200);
    expect(await from("for=192.0.2.60")).toBe(429);
    // X-Forwarded-For is not the configured header: ignored, so the socket (127.0.0.1) counts.
    expect(await statusOf(t.get("/", { headers: { "x-forwarded-for": "192.0.2.61" } }))).toBe(200);
    expect(await statusOf(t.get("/", { headers: { "x-forwarded-for": "192.0.2.62" } }))).toBe(429);
  });

  it("two IPv6 addresses in one /56 share a counter", async () => {
    const t = await setup({ policies: "1/1m", trustProxy: ["127.0.0.1/32", "::1"] });
    const from = (xff: string) => statusOf(t.get("/", { headers: { "x-forwarded-for": xff } }));
    expect(await from("2001:db8:ab:cd01::1")).toBe(200);
    expect(await from("2001:db8:ab:cdff:1234::2")).toBe(429);
    expect(await from("2001:db8:ab:ce00::1")).toBe(200);
    // IPv4-mapped IPv6 is the IPv4 client.
    expect(await from("192.0.2.7")).toBe(200);
    expect(await from("::ffff:192.0.2.7")).toBe(429);
  });

  it("a JWT with a forged signature is not trusted", async () => {
    const secret = "correct horse battery staple";
    const t = await setup({
      identity: jwt({ secret, groupClaim: "role" }),
      policies: { default: "1/1m", groups: { admin: UNLIMITED } },
    });
    const now = Math.floor(t.clock.now() / 1000);
    const sign = (key: string, claims: Record<string, unknown>) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256" })
        .setSubject("alice")
        .setIssuedAt(now)
        .setExpirationTime(now + 3600)
        .sign(new TextEncoder().encode(key));
    const withToken = (token: string) =>
      t.get("/", { headers: { authorization: `Bearer ${token}` } });

    const forged = await sign("not the secret", { role: "admin" });
    const r1 = await withToken(forged);
    expect(r1.status).toBe(401);
    expect(r1.headers.get("www-authenticate")).toMatch(/^Bearer/);
    await r1.arrayBuffer();

    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "alice", role: "admin" })}.`;
    expect(await statusOf(withToken(unsigned))).toBe(401);
    expect(await statusOf(t.get())).toBe(401);

    const admin = await sign(secret, { role: "admin" });
    for (let i = 0; i < 3; i++) expect(await statusOf(withToken(admin))).toBe(200);
    const user = await sign(secret, { role: "user" });
    expect(await statusOf(withToken(user))).toBe(200);
    expect(await statusOf(withToken(user))).toBe(429);

    t.clock.advance("2h"); // expired against the limiter's clock
    expect(await statusOf(withToken(admin))).toBe(401);
  });

  it("deny list: 403 for denied keys and CIDRs, shared through the store, with expiry", async () => {
    const t = await setup({
      policies: "100/1m",
      identity: (req) => `user:${req.header("x-user") ?? "anon"}`,
      deny: ["user:banned"],
      listsRefresh: "1s",
    });
    const as = (user: string) => t.get("/", { headers: { "x-user": user } });
    const seePeerChange = () => afterPeerChange(t, () => as("primer"));
    const banned = await as("banned");
    expect(banned.status).toBe(403);
    expect(banned.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await banned.json()).toMatchObject({ status: 403 });

    // Another process of the fleet: same store, same prefix.
    const peer = createHttpLimiter({
      store: t.store,
      prefix: t.prefix,
      clock: t.clock.now,
      policies: "1/s",
    });
    await peer.lists.deny("user:mallory", { for: "1m", reason: "abuse" });
    await seePeerChange();
    expect(await statusOf(as("mallory"))).toBe(403);
    expect(await statusOf(as("alice"))).toBe(200);
    expect((await peer.lists.entries("deny")).map((e) => e.value)).toContain("user:mallory");
    t.clock.advance("61s");
    expect(await statusOf(as("mallory"))).toBe(200);

    await peer.lists.deny("127.0.0.0/8");
    await seePeerChange().catch(() => {}); // the primer itself may already be denied
    expect(await statusOf(as("alice"))).toBe(403);
    expect(await peer.lists.remove("deny", "127.0.0.0/8")).toBe(true);
    await seePeerChange();
    expect(await statusOf(as("alice"))).toBe(200);
    await peer.close();
  });

  it("allow list: allowed keys bypass the limits", async () => {
    const t = await setup({
      policies: "1/1m",
      identity: (req) => `user:${req.header("x-user")}`,
      allow: ["user:ops"],
      listsRefresh: "1s",
    });
    const as = (user: string) => t.get("/", { headers: { "x-user": user } });
    for (let i = 0; i < 3; i++) {
      const res = await as("ops");
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit")).toBeNull();
      await res.arrayBuffer();
    }
    const peer = createHttpLimiter({
      store: t.store,
      prefix: t.prefix,
      clock: t.clock.now,
      policies: "1/s",
    });
    expect(await statusOf(as("vip"))).toBe(200);
    expect(await statusOf(as("vip"))).toBe(429);
    await peer.lists.allow("user:vip");
    await afterPeerChange(t, () => as("primer"));
    expect(await statusOf(as("vip"))).toBe(200);
    await peer.close();
  });

  it("countFailed: false refunds failed responses", async () => {
    const t = await setup({ policies: "2/1m", countFailed: false });
    for (let i = 0; i < 4; i++) expect(await statusOf(t.get("/status/500"))).toBe(500);
    expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get())).toBe(429);
  });

  it("countSuccessful: false counts only failures (login brute force)", async () => {
    const t = await setup({ policies: "2/1m", countSuccessful: false });
    for (let i = 0; i < 4; i++) expect(await statusOf(t.get())).toBe(200);
    expect(await statusOf(t.get("/status/401"))).toBe(401);
    expect(await statusOf(t.get("/status/401"))).toBe(401);
    expect(await statusOf(t.get("/status/401"))).toBe(429);
  });
}

/**
 * Another process changed the shared lists. A store that notifies (memory) applies it at once;
 * one that cannot (Redis) is polled every `listsRefresh` (1 s in these cases): move the clock
 * past it and send one request, which starts the poll. A poll runs in the background (no request
 * waits on it, so a stalled store holds nobody), so then read the lists ourselves on the same
 * connection: replies come in order, so once ours is back the limiter's earlier read has been
 * answered, and after the microtasks drain (setImmediate) its snapshot is in place.
 */
async function afterPeerChange(
  t: { store: Store; prefix: string; clock: { advance(by: string): number; now(): number } },
  prime: () => Promise<Response>,
): Promise<void> {
  const lists = t.store.lists?.(t.prefix);
  if (lists === undefined || lists.subscribe !== undefined) return;
  t.clock.advance("1s");
  await (await prime()).arrayBuffer();
  await lists.entries(t.clock.now());
  await new Promise((resolve) => setImmediate(resolve));
}
