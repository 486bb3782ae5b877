import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../core/errors/config-error.js";
import { memoryLists } from "../core/memory-list-store.js";
import { memoryStore } from "../core/memory-store.js";
import type { Store } from "../core/store.js";
import { manualClock } from "../testing/manual-clock.js";
import { createHttpLimiter } from "./http-limiter.js";
import { apiKey } from "./identity/api-key.js";
import { jwt } from "./identity/jwt.js";
import { session } from "./identity/session.js";
import type { HttpLimiterOptions, HttpOutcome } from "./options.js";
import type { HttpRequest } from "./request.js";
import { UNLIMITED } from "./unlimited.js";

function req(
  path = "/",
  headers: Record<string, string> = {},
  method = "GET",
  raw: unknown = undefined,
): HttpRequest {
  return { method, path, remoteAddress: "192.0.2.1", raw, header: (n) => headers[n] };
}

function build(options: HttpLimiterOptions) {
  const clock = manualClock();
  return { clock, limiter: createHttpLimiter({ clock: clock.now, ...options }) };
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.option);
    throw error;
  }
  throw new Error("no ConfigError");
}

describe("construction", () => {
  it("reports every bad option at once, by name", () => {
    const options = {
      rules: [
        { path: "users", policies: "1/s" },
        { path: "/a", policies: "ten/s", cost: -1 },
        { path: "/b", exempt: true, policies: "1/s" },
        { path: "/c", policies: { default: "1/s", groups: { admin: "x/y" } } },
        { path: "/d", methods: "G E T", policies: "1/s", blockFor: "soon" },
        { path: "/e", policies: "1/s", typo: 1 },
      ],
      headers: "draft-99",
      trustProxy: true,
      prefix: "",
      ipv6Prefix: 200,
      deny: [""],
    } as unknown as HttpLimiterOptions;
    expect(problemsOf(() => createHttpLimiter(options))).toEqual(
      expect.arrayContaining([
        "rules[0].path",
        "rules[1].policies",
        "rules[1].cost",
        "rules[2].exempt",
        "rules[3].policies.groups.admin",
        "rules[4].methods",
        "rules[4].blockFor",
        "rules[5].typo",
        "headers",
        "trustProxy",
        "prefix",
        "ipv6Prefix",
        "deny[0]",
      ]),
    );
  });

  it("needs policies or rules, and one pool per zone", () => {
    expect(problemsOf(() => createHttpLimiter({}))).toEqual(["policies"]);
    expect(
      problemsOf(() =>
        createHttpLimiter({
          rules: [
            { path: "/a", zone: "z", policies: "2/s" },
            { path: "/b", zone: "z", policies: "3/s" },
          ],
        }),
      ),
    ).toEqual(["rules[1].policies"]);
    expect(
      problemsOf(() =>
        createHttpLimiter({
          rules: [
            { name: "x", policies: "1/s" },
            { name: "x", policies: "1/s" },
          ],
        }),
      ),
    ).toEqual(["rules[1].name"]);
  });
});

describe("handle", () => {
  it("is synchronous with the memory store and sync identities", () => {
    const { limiter } = build({ policies: "1/s" });
    const first = limiter.handle(req());
    expect(first).not.toBeInstanceOf(Promise);
    expect((first as HttpOutcome).action).toBe("continue");
    expect((limiter.handle(req()) as HttpOutcome).action).toBe("respond");
  });

  it("falls back to async for stores without a sync path", async () => {
    const inner = memoryStore();
    const remote: Store = {
      name: "remote",
      bind(ns, policies) {
        const b = inner.bind(ns, policies);
        return {
          consume: b.consume.bind(b),
          peek: b.peek.bind(b),
          refund: b.refund.bind(b),
          reset: b.reset.bind(b),
          block: b.block.bind(b),
          unblock: b.unblock.bind(b),
        };
      },
    };
    const { limiter } = build({ policies: "1/s", store: remote });
    expect(limiter.lists.shared).toBe(false);
    const out = limiter.handle(req());
    expect(out).toBeInstanceOf(Promise);
    expect((await out).action).toBe("continue");
    expect((await limiter.handle(req())).action).toBe("respond");
  });

  it("charges cost(req), and rejects a bad cost as a bug, not a 429", async () => {
    const { limiter } = build({
      rules: [
        { path: "/upload", policies: "5/min", cost: (r) => Number(r.header("x-size") ?? "1") },
      ],
    });
    const out = (await limiter.handle(req("/upload", { "x-size": "4" }))) as Extract<
      HttpOutcome,
      { action: "continue" }
    >;
    expect(out.decision?.remaining).toBe(1);
    expect((await limiter.handle(req("/upload", { "x-size": "2" }))).action).toBe("respond");
    await expect(async () =>
      limiter.handle(req("/upload", { "x-size": "1.5" })),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it("an identity returning garbage is a configuration fault, not a 401", async () => {
    const { limiter } = build({ policies: "1/s", identity: () => 42 as never });
    await expect(Promise.resolve().then(() => limiter.handle(req()))).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it("a GET rule covers HEAD", () => {
    const { limiter } = build({ rules: [{ path: "/x", methods: "GET", policies: "1/s" }] });
    expect((limiter.handle(req("/x", {}, "HEAD")) as HttpOutcome).action).toBe("continue");
    expect((limiter.handle(req("/x", {}, "GET")) as HttpOutcome).action).toBe("respond");
    expect((limiter.handle(req("/x", {}, "POST")) as HttpOutcome).reason).toBe("unmatched");
  });

  it("after(status) refunds only what the options say", async () => {
    const { limiter } = build({ policies: "1/s", countFailed: false });
    const ok = (await limiter.handle(req())) as Extract<HttpOutcome, { action: "continue" }>;
    ok.after?.(200); // a success stays counted
    expect((await limiter.handle(req())).action).toBe("respond");
    const { limiter: l2 } = build({ policies: "1/s", countFailed: false });
    const failed = (await l2.handle(req())) as Extract<HttpOutcome, { action: "continue" }>;
    failed.after?.(503);
    await new Promise((r) => setImmediate(r));
    expect((await l2.handle(req())).action).toBe("continue");
    const { limiter: l3 } = build({ policies: "1/s" });
    expect(
      ((await l3.handle(req())) as Extract<HttpOutcome, { action: "continue" }>).after,
    ).toBeUndefined();
  });
});

describe("identities", () => {
  it("jwt verifies against a JWKS document and reads user and group", async () => {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const { limiter, clock } = build({
      identity: jwt({ jwks: { keys: [jwk] }, groupClaim: "roles", issuer: "https://issuer.test/" }),
      policies: { default: "1/min", groups: { admin: UNLIMITED } },
    });
    const now = Math.floor(clock.now() / 1000);
    const token = (claims: object, iss = "https://issuer.test/", key = privateKey) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setSubject("bob")
        .setIssuer(iss)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .sign(key);
    const call = async (t: string) => limiter.handle(req("/", { authorization: `Bearer ${t}` }));
    const admin = await token({ roles: ["admin", "dev"] });
    for (let i = 0; i < 3; i++) expect((await call(admin)).reason).toBe("exempt");
    const user = await token({ roles: "user" });
    const first = (await call(user)) as Extract<HttpOutcome, { action: "continue" }>;
    expect(first.key).toBe("user:bob");
    expect((await call(user)).action).toBe("respond");
    expect((await call(await token({}, "https://evil.test/"))).reason).toBe("identity-error");
    const other = await generateKeyPair("ES256");
    expect((await call(await token({}, undefined, other.privateKey))).reason).toBe(
      "identity-error",
    );
    expect((await call("not.a.jwt")).reason).toBe("identity-error");
  });

  it("jwt options are validated", () => {
    expect(problemsOf(() => jwt({}))).toEqual(["jwt"]);
    expect(problemsOf(() => jwt({ secret: "s", algorithms: ["none"] }))).toEqual([
      "jwt.algorithms",
    ]);
    expect(problemsOf(() => jwt({ secret: "s", jwks: "https://x.test/jwks" }))).toEqual(["jwt"]);
  });

  it("jwt falls back for anonymous requests only", async () => {
    const { limiter } = build({
      policies: "1/min",
      identity: jwt({ secret: "s", fallback: () => "anon" }),
    });
    expect(((await limiter.handle(req())) as { key?: string }).key).toBe("anon");
    expect((await limiter.handle(req("/", { authorization: "Bearer x.y.z" }))).reason).toBe(
      "identity-error",
    );
  });

  it("apiKey counts per key, with groups", async () => {
    const { limiter } = build({
      identity: apiKey("x-api-key", { group: (k) => (k.startsWith("pro_") ? "pro" : undefined) }),
      policies: { default: "1/min", groups: { pro: "3/min" } },
    });
    const call = (k?: string) =>
      limiter.handle(req("/", k === undefined ? {} : { "x-api-key": k })) as HttpOutcome;
    expect(call().action).toBe("respond");
    expect(call().reason).toBe("identity-error");
    expect(call("free_1").action).toBe("continue");
    expect(call("free_1").action).toBe("respond");
    for (let i = 0; i < 3; i++) expect(call("pro_1").action).toBe("continue");
    expect(call("pro_1").action).toBe("respond");
    expect(call("x".repeat(300)).reason).toBe("identity-error");
  });

  it("session reads the framework's objects", async () => {
    const { limiter } = build({
      identity: session(
        (r) =>
          (r.raw as { session?: { id: string; plan: string } }).session && {
            user: (r.raw as { session: { id: string } }).session.id,
            group: (r.raw as { session: { plan: string } }).session.plan,
          },
      ),
      policies: { default: "1/min", groups: { staff: UNLIMITED } },
    });
    expect((limiter.handle(req("/", {}, "GET", {})) as HttpOutcome).reason).toBe("identity-error");
    const staff = req("/", {}, "GET", { session: { id: "7", plan: "staff" } });
    expect((limiter.handle(staff) as HttpOutcome).reason).toBe("exempt");
    const user = req("/", {}, "GET", { session: { id: "8", plan: "basic" } });
    expect((limiter.handle(user) as { key?: string }).key).toBe("user:8");
  });
});

describe("lists", () => {
  function withLists() {
    const store = Object.assign(memoryStore(), { lists: memoryLists() });
    return build({ policies: "1/min", store, identity: (r) => `user:${r.header("x-user")}` });
  }
  const as = (user: string) => req("/", { "x-user": user });

  it("deny wins over allow; an allow outlives an expired deny", async () => {
    const { limiter, clock } = withLists();
    expect(limiter.lists.shared).toBe(true);
    await limiter.lists.allow("user:a");
    await limiter.lists.deny("user:a", { for: "1m", reason: "test" });
    expect((await limiter.handle(as("a"))).reason).toBe("denied");
    clock.advance("1m");
    for (let i = 0; i < 3; i++) expect((await limiter.handle(as("a"))).reason).toBe("exempt");
    expect((await limiter.lists.entries()).map((e) => [e.list, e.value])).toEqual([
      ["allow", "user:a"],
    ]);
  });

  it("CIDR entries match the client address, exempt routes included", async () => {
    const store = Object.assign(memoryStore(), { lists: memoryLists() });
    const { limiter } = build({
      store,
      rules: [{ path: "/health", exempt: true }],
      policies: "1/min",
    });
    await limiter.lists.deny("192.0.2.0/24");
    expect((await limiter.handle(req("/health"))).reason).toBe("denied");
    await limiter.lists.remove("deny", "192.0.2.0/24");
    await limiter.lists.allow("192.0.2.1");
    for (let i = 0; i < 3; i++) expect((await limiter.handle(req("/"))).reason).toBe("exempt");
  });

  it("validates values and durations", async () => {
    const { limiter } = withLists();
    await expect(limiter.lists.deny("")).rejects.toBeInstanceOf(ConfigError);
    await expect(limiter.lists.deny("x", { for: "forever" })).rejects.toBeInstanceOf(ConfigError);
    await expect(limiter.lists.remove("grey" as never, "x")).rejects.toBeInstanceOf(ConfigError);
  });

  it("onDenied builds a custom response", async () => {
    const { limiter } = build({
      policies: "1/min",
      deny: ["192.0.2.1"],
      onDenied: () => ({ status: 404, body: "nothing here" }),
    });
    const out = await limiter.handle(req());
    expect(out).toMatchObject({
      action: "respond",
      status: 404,
      body: "nothing here",
      reason: "denied",
    });
    expect((out as { headers: Record<string, string> }).headers["Cache-Control"]).toBe("no-store");
  });
});
