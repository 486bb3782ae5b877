import { memoryStore } from "throttlekit";
import { parseConfig } from "throttlekit/config";
import { createHttpLimiter, type HttpRequest, UNLIMITED } from "throttlekit/http";
import { describe, expect, it } from "vitest";

const env = {};
const parse = (text: string, extra: Parameters<typeof parseConfig>[1] = {}) =>
  parseConfig(text, { file: "throttlekit.yaml", env, ...extra });

function req(path: string, headers: Record<string, string> = {}, method = "GET"): HttpRequest {
  return {
    method,
    path,
    remoteAddress: "203.0.113.7",
    raw: undefined,
    header: (name) => headers[name],
  };
}

describe("throttlekit's schema: every key", () => {
  it("maps every top-level key to the HTTP limiter option of the same name", () => {
    const config = parse(`
store: { type: memory, maxKeys: 5000 }
policies: [10/s, { limit: 1000, window: 1h, algorithm: gcra, name: hourly }]
rules:
  - name: login
    path: /login
    methods: [POST]
    policies: 5/min
    blockFor: 15m
    ban: { after: 3, within: 1h, duration: 1d }
    priority: critical
  - name: api
    path: [/api/**, /v2/**]
    zone: api
    policies: { default: 100/min, groups: { admin: unlimited } }
    cost: 2
    concurrency: { max: 5, leaseMs: 1m }
    mode: shadow
    scope: path
    identity: ip
  - path: /static/**
    exempt: true
identity: ip
lists: { allow: [10.0.0.0/8], deny: [198.51.100.0/24], refresh: 10s }
headers: draft-8
protect: { threshold: 500, window: 30s, autoBlock: true, blockDuration: 2h, scoreThreshold: 0.9, maxClients: 1000 }
trustProxy: 1
proxyHeader: forwarded
ipv6Prefix: 64
ipv4Prefix: 24
prefix: app
countFailed: false
countSuccessful: true
identityFailures: { limit: 10, window: 1m }
concurrency: 20
priority: sheddable
mode: enforce
scope: route
shed: { maxInFlight: 200, reserve: { critical: 0.3 } }
metrics: true
`);
    expect(config.schema).toBe("throttlekit");
    expect(config.store).toEqual({ type: "memory", maxKeys: 5000 });
    const h = config.http;
    expect(h.policies).toEqual([
      "10/s",
      { limit: 1000, window: "1h", algorithm: "gcra", name: "hourly" },
    ]);
    expect(h.rules).toHaveLength(3);
    expect(h.rules![0]).toEqual({
      name: "login",
      path: "/login",
      methods: ["POST"],
      policies: "5/min",
      blockFor: "15m",
      ban: { after: 3, within: "1h", duration: "1d" },
      priority: "critical",
    });
    const api = h.rules![1]!;
    expect(api.policies).toEqual({ default: "100/min", groups: { admin: UNLIMITED } });
    expect(api).toMatchObject({
      zone: "api",
      cost: 2,
      mode: "shadow",
      scope: "path",
      concurrency: { max: 5, leaseMs: "1m" },
    });
    expect(typeof api.identity).toBe("function"); // identity: ip on a rule is ip() with the top level's settings
    expect(h.rules![2]).toEqual({ path: "/static/**", exempt: true });
    expect(h.identity).toBeUndefined(); // identity: ip at the top level is the default
    expect(h.allow).toEqual(["10.0.0.0/8"]);
    expect(h.deny).toEqual(["198.51.100.0/24"]);
    expect(h.listsRefresh).toBe("10s");
    expect(h.headers).toBe("draft-8");
    expect(h.scope).toBe("route");
    expect(h.protect).toEqual({
      threshold: 500,
      window: "30s",
      autoBlock: true,
      blockDuration: "2h",
      scoreThreshold: 0.9,
      maxClients: 1000,
    });
    expect(h).toMatchObject({
      trustProxy: 1,
      proxyHeader: "forwarded",
      ipv6Prefix: 64,
      ipv4Prefix: 24,
      prefix: "app",
      countFailed: false,
      countSuccessful: true,
      identityFailures: { limit: 10, window: "1m" },
      concurrency: 20,
      priority: "sheddable",
      mode: "enforce",
      shed: { maxInFlight: 200, reserve: { critical: 0.3 } },
      metrics: true,
    });
    expect(h.store).toBeUndefined(); // parseConfig builds no store
  });

  it("builds a limiter that enforces what the file says", async () => {
    const config = parse(`
rules:
  - { name: login, path: /login, methods: POST, policies: 2/min }
  - { path: /health, exempt: true }
policies: 3/min
`);
    const limiter = createHttpLimiter({ ...config.http, store: memoryStore(), logger: false });
    const statuses = async (r: HttpRequest, n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const o = await limiter.handle(r);
        out.push(o.action === "respond" ? String(o.status) : "ok");
      }
      return out;
    };
    expect(await statuses(req("/login", {}, "POST"), 3)).toEqual(["ok", "ok", "429"]);
    expect(await statuses(req("/health"), 5)).toEqual(["ok", "ok", "ok", "ok", "ok"]);
    expect(await statuses(req("/"), 4)).toEqual(["ok", "ok", "ok", "429"]);
    await limiter.close();
  });

  it("builds jwt, apiKey and ip identities, and names given in `identities`", async () => {
    const user = () => "user:from-session";
    const config = parse(
      `
identity: { type: apiKey, header: x-key, maxLength: 64, fallback: ip }
policies: 10/min
rules:
  - { path: /a, policies: 1/min, identity: { type: jwt, secret: "\${JWT_SECRET}", groupClaim: plan, fallback: { type: ip, ipv4Prefix: 24 } } }
  - { path: /b, policies: 1/min, identity: session }
`,
      { env: { JWT_SECRET: "s".repeat(32) }, identities: { session: user } },
    );
    expect(config.http.rules![1]!.identity).toBe(user);
    const limiter = createHttpLimiter({ ...config.http, store: memoryStore(), logger: false });
    const first = await limiter.handle(req("/", { "x-key": "k1" }));
    expect(first).toMatchObject({ action: "continue", key: "apikey:k1" });
    const anonymous = await limiter.handle(req("/"));
    expect(anonymous).toMatchObject({ key: "203.0.113.7" });
    const viaJwt = await limiter.handle(req("/a"));
    expect(viaJwt).toMatchObject({ key: "203.0.113.0/24" }); // the jwt's fallback, ip /24
    await limiter.close();
  });

  it("takes a redis store spec, with a cluster", () => {
    const c = parse(`
store:
  type: redis
  url: redis://:pw@10.0.0.1:6379/0
  timeout: 250ms
  connectTimeout: 2s
  onStoreError: fail-open
policies: 1/s
`);
    expect(c.store).toEqual({
      type: "redis",
      url: "redis://:pw@10.0.0.1:6379/0",
      timeout: "250ms",
      connectTimeout: "2s",
      onStoreError: "fail-open",
    });
    const cl = parse(
      "store: { type: redis, cluster: [redis://10.0.0.1:7000, redis://10.0.0.2:7000] }\npolicies: 1/s",
    );
    expect(cl.store).toEqual({
      type: "redis",
      url: "redis://10.0.0.1:7000",
      cluster: ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"],
    });
  });

  it("puts the given store in http.store and keeps the source document", () => {
    const store = memoryStore();
    const c = parse("policies: 5/s\nprotect: true\n", { store });
    expect(c.http.store).toBe(store);
    expect(c.http.protect).toEqual({});
    expect(c.source).toEqual({ policies: "5/s", protect: true });
    expect(c.file).toBe("throttlekit.yaml");
    expect(c.notes).toEqual([]);
  });

  it("refuses a file that limits nothing, as createHttpLimiter does", () => {
    expect(() => parse("# nothing yet\n")).toThrow(
      /throttlekit\.yaml:1:1 policies: received undefined; expected policies/,
    );
  });
});
