import { createLimiter, memoryStore } from "throttlekit";
import { parseConfig } from "throttlekit/config";
import { createHttpLimiter, type HttpRequest } from "throttlekit/http";
import { describe, expect, it } from "vitest";

const parse = (text: string, extra: Parameters<typeof parseConfig>[1] = {}) =>
  parseConfig(text, { file: "ratethrottle.yaml", env: {}, ...extra });

function req(path: string, method = "GET", remoteAddress = "203.0.113.7"): HttpRequest {
  return { method, path, remoteAddress, raw: undefined, header: () => undefined };
}

const FULL = `
storage:
  type: redis
  redis:
    host: cache.internal
    port: 6380
    db: 2
    password: \${REDIS_PASSWORD}
    key_prefix: "ratethrottle:"
    socket_timeout: 0.5
    socket_connect_timeout: 5
    max_connections: 50
    retry_on_timeout: true
    health_check_interval: 30
global:
  enabled: true
  default_strategy: fixed_window
  headers_enabled: true
  log_violations: true
  log_level: INFO
rules:
  - name: api_default
    limit: 1000
    window: 3600
    strategy: token_bucket
    burst: 1500
  - name: auth_strict
    limit: 5
    window: 60
    strategy: sliding_window
    block_duration: 900
    paths: [/login, /register]
    methods: [POST]
  - name: search
    limit: 30
    window: 60
    scope: global
    paths: [/search]
  - name: reports
    limit: 10
    window: 60
    scope: endpoint
    strategy: leaky_bucket
    block_duration: 0
    paths: [/reports/*]
ddos_protection:
  enabled: true
  threshold: 5000
  window: 30
  auto_block: true
  block_duration: 600
  suspicious_threshold: 0.9
  max_unique_endpoints: 50
monitoring:
  enabled: true
  metrics_port: 9090
alerts:
  enabled: false
whitelist: [10.0.0.0/8]
blacklist: [198.51.100.7]
`;

describe("the seed's ratethrottle.yaml, exactly as its README shows it", () => {
  const SEED = `# Storage backend
storage:
  type: redis
  redis:
    host: localhost
    port: 6379
    db: 0

# Global settings
global:
  enabled: true
  default_strategy: sliding_window
  headers_enabled: true

# Rate limiting rules
rules:
  - name: api_default
    limit: 1000
    window: 3600
    strategy: token_bucket
    
  - name: auth_strict
    limit: 5
    window: 60
    strategy: sliding_window
    block_duration: 900

# DDoS Protection
ddos_protection:
  enabled: true
  threshold: 10000
  auto_block: true
  block_duration: 3600
`;

  it("loads: the first rule limits every request, both are named limits for code", async () => {
    const config = parse(SEED);
    expect(config.schema).toBe("ratethrottle");
    expect(config.store).toMatchObject({ type: "redis", url: "redis://localhost:6379/0" });
    expect(config.http.policies).toMatchObject({ name: "api_default", limit: 1000 });
    expect(config.http.rules ?? []).toEqual([]);
    expect(config.limits.api_default).toBe(config.http.policies);
    expect(config.limits.auth_strict).toEqual({
      name: "auth_strict",
      limit: 5,
      window: 60_000,
      algorithm: "sliding-log",
      blockFor: 900_000,
    });
    // Said, with its line, never dropped in silence.
    expect(config.notes.find((n) => n.option.includes("rules[1]"))?.option).toMatch(
      /^ratethrottle\.yaml:22:5 rules\[1\]/,
    );
    // What ratethrottle's check_rate_limit(identifier, "auth_strict") does, in code.
    const strict = createLimiter({ policies: config.limits.auth_strict!, store: memoryStore() });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await strict.consume("192.168.1.1")).allowed);
    expect(answers).toEqual([true, true, true, true, true, false]);
  });
});

describe("a ratethrottle.yaml as it is: every key", () => {
  const config = parse(FULL, { env: { REDIS_PASSWORD: "p@ss" } });

  it("is recognised by its sections", () => {
    expect(config.schema).toBe("ratethrottle");
  });

  it("storage: a redis URL from host, port, db and password; key_prefix and timeouts in seconds", () => {
    expect(config.store).toEqual({
      type: "redis",
      url: "redis://:p%40ss@cache.internal:6380/2",
      timeout: 500,
      connectTimeout: 5000,
    });
    expect(config.http.prefix).toBe("ratethrottle");
  });

  it("rules: windows in seconds, strategies by name, block_duration (default 300 s), paths, methods, scopes", () => {
    expect(config.http.policies).toEqual({
      name: "api_default",
      limit: 1000,
      window: 3_600_000,
      algorithm: "token-bucket",
      burst: 1500,
      blockFor: 300_000,
    });
    const [auth, search, reports] = config.http.rules!;
    expect(auth).toEqual({
      name: "auth_strict",
      path: ["/login", "/register"],
      methods: ["POST"],
      policies: {
        name: "auth_strict",
        limit: 5,
        window: 60_000,
        algorithm: "sliding-log",
        blockFor: 900_000,
      },
    });
    expect(search!.policies).toMatchObject({ algorithm: "fixed-window" }); // global.default_strategy
    expect(typeof search!.identity).toBe("function");
    expect(reports!.policies).toEqual({
      name: "reports",
      limit: 10,
      window: 60_000,
      algorithm: "leaky-bucket",
    });
  });

  it("global, ddos_protection, monitoring, whitelist and blacklist", () => {
    expect(config.http.headers).toBe("legacy");
    expect(config.http.skip).toBeUndefined();
    expect(config.http.protect).toEqual({
      threshold: 5000,
      window: 30_000,
      autoBlock: true,
      blockDuration: 600_000,
      scoreThreshold: 0.9,
    });
    expect(config.http.metrics).toBe(true);
    expect(config.http.allow).toEqual(["10.0.0.0/8"]);
    expect(config.http.deny).toEqual(["198.51.100.7"]);
  });

  it("reports the keys it accepts without effect as notes, with their lines", () => {
    expect(config.notes.map((n) => n.option)).toEqual([
      "ratethrottle.yaml:12:5 storage.redis.max_connections",
      "ratethrottle.yaml:13:5 storage.redis.retry_on_timeout",
      "ratethrottle.yaml:14:5 storage.redis.health_check_interval",
      "ratethrottle.yaml:19:3 global.log_violations",
      "ratethrottle.yaml:20:3 global.log_level",
      "ratethrottle.yaml:53:3 ddos_protection.max_unique_endpoints",
      "ratethrottle.yaml:56:3 monitoring.metrics_port",
      "ratethrottle.yaml:57:1 alerts",
    ]);
    expect(config.notes[0]!.expected).toMatch(/no effect/);
  });

  it("scopes: global is one counter, endpoint one per path, ip per client", async () => {
    const limiter = createHttpLimiter({
      ...config.http,
      prefix: "t",
      store: memoryStore(),
      logger: false,
    });
    const a = await limiter.handle(req("/search", "GET", "192.0.2.1"));
    const b = await limiter.handle(req("/reports/x", "GET", "192.0.2.2"));
    const c = await limiter.handle(req("/login", "POST", "192.0.2.3"));
    expect([a.key, b.key, c.key]).toEqual(["global", "endpoint:/reports/x", "192.0.2.3"]);
    await limiter.close();
  });

  it("global.enabled: false leaves every request alone; headers_enabled: false sends none", async () => {
    const off = parse(
      "global: { enabled: false, headers_enabled: false }\nrules: [{ name: a, limit: 1, window: 1 }]",
    );
    expect(off.http.headers).toBe(false);
    const limiter = createHttpLimiter({ ...off.http, store: memoryStore(), logger: false });
    for (let i = 0; i < 3; i++)
      expect(await limiter.handle(req("/"))).toMatchObject({
        action: "continue",
        reason: "skipped",
      });
    await limiter.close();
  });

  it("ddos_protection present takes ratethrottle's defaults; enabled: false turns it off", () => {
    expect(
      parse("ddos_protection: {}\nrules: [{ name: a, limit: 1, window: 1 }]").http.protect,
    ).toEqual({
      threshold: 10_000,
      window: 60_000,
      autoBlock: true,
      blockDuration: 3_600_000,
    });
    expect(
      parse("ddos_protection: { enabled: false }\nrules: [{ name: a, limit: 1, window: 1 }]").http
        .protect,
    ).toBeUndefined();
  });

  it("storage: memory by default, and redis by url", () => {
    expect(parse("rules: [{ name: a, limit: 1, window: 1 }]").store).toEqual({ type: "memory" });
    expect(
      parse(
        "storage: { type: redis, redis: { url: 'rediss://u:p@h:1/0' } }\nrules: [{ name: a, limit: 1, window: 1 }]",
      ).store,
    ).toEqual({ type: "redis", url: "rediss://u:p@h:1/0" });
  });

  it("scope user takes the `user` identity you pass; without it, a problem says how", () => {
    const user = () => "user:1";
    const text = "rules: [{ name: a, limit: 1, window: 1, scope: user }]";
    expect(parse(text, { identities: { user } }).http.identity).toBe(user);
    expect(() => parse(text)).toThrow(
      /ratethrottle\.yaml:1:48 rules\[0\]\.scope: received "user"; expected an identity for users/,
    );
  });

  it("a second rule without paths is a named limit for code, and a note says so (ratethrottle's code picks rules by name)", () => {
    const config = parse(
      "rules:\n  - { name: a, limit: 1, window: 1 }\n  - { name: b, limit: 2, window: 1 }\n",
    );
    expect(config.http.policies).toMatchObject({ name: "a" });
    expect(Object.keys(config.limits)).toEqual(["a", "b"]);
    expect(config.notes).toContainEqual(
      expect.objectContaining({
        option: "ratethrottle.yaml:3:5 rules[1]",
        expected: expect.stringMatching(/not applied to HTTP requests .*config\.limits\.b/),
      }),
    );
  });
});
