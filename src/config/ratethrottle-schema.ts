import { type HttpLimiterOptions, type HttpRule, type Identity, ip } from "../http/index.js";
import type { PolicyOptions } from "../index.js";
import { child } from "./document.js";
import { isRecord, type Located } from "./located.js";
import { isRedisUrl } from "./store-spec.js";
import type { Translation } from "./translation.js";
import type { ParseConfigOptions, StoreSpec } from "./types.js";

/** Top-level sections of a ratethrottle.yaml (ratethrottle's ConfigManager.DEFAULT_CONFIG). */
export const RATETHROTTLE_KEYS = [
  "storage",
  "global",
  "rules",
  "ddos_protection",
  "monitoring",
  "alerts",
  "whitelist",
  "blacklist",
] as const;

/**
 * ratethrottle's strategies and the algorithm that does what each does. Its `sliding_window`
 * is a sliding log (its README: "Sliding Window Log (default)"), exact like ours.
 */
export const STRATEGIES: Readonly<Record<string, PolicyOptions["algorithm"]>> = {
  token_bucket: "token-bucket",
  leaky_bucket: "leaky-bucket",
  fixed_window: "fixed-window",
  sliding_window: "sliding-log",
  sliding_log: "sliding-log",
};
const STRATEGY_FORM = Object.keys(STRATEGIES).join(", ");
const SCOPES = ["ip", "user", "endpoint", "global"];
const RULE_KEYS = [
  "name",
  "limit",
  "window",
  "scope",
  "strategy",
  "block_duration",
  "burst",
  "paths",
  "methods",
];
const STORAGE_KEYS = ["type", "redis"];
const REDIS_KEYS = [
  "url",
  "host",
  "port",
  "db",
  "password",
  "username",
  "ssl",
  "key_prefix",
  "socket_timeout",
  "socket_connect_timeout",
  "max_connections",
  "retry_on_timeout",
  "health_check_interval",
];
const GLOBAL_KEYS = [
  "enabled",
  "default_strategy",
  "headers_enabled",
  "log_violations",
  "log_level",
];
const DDOS_KEYS = [
  "enabled",
  "threshold",
  "window",
  "auto_block",
  "block_duration",
  "suspicious_threshold",
  "max_unique_endpoints",
];
/** ratethrottle's defaults for a rule (RuleConfig): a rejected client is blocked 300 s. */
const DEFAULT_BLOCK_SECONDS = 300;
/** ratethrottle's ddos_protection defaults, applied to what a present section leaves out. */
const DDOS_DEFAULTS = { threshold: 10_000, window: 60, auto_block: true, block_duration: 3600 };

/** A whole or fractional number of seconds landing on a whole millisecond, > 0 (or ≥ 0). */
function seconds(v: unknown, zero: boolean): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v) || (zero ? v < 0 : v <= 0)) return undefined;
  const ms = v * 1000;
  return Number.isSafeInteger(Math.round(ms)) && Math.abs(Math.round(ms) - ms) < 1e-6
    ? Math.round(ms)
    : undefined;
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 1;
}

type Section = Record<string, unknown>;

/** Turns a ratethrottle.yaml into HTTP limiter options: what maps is mapped, the rest reported. */
export function fromRatethrottle(
  root: Record<string, unknown>,
  problems: Located,
  options: ParseConfigOptions,
): Translation {
  problems.unknownKeys(root, RATETHROTTLE_KEYS, "");
  const out: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  const section = (key: string, known: readonly string[]): Section => {
    const v = root[key];
    if (v === undefined || v === null) return {};
    if (!isRecord(v)) {
      problems.add(key, v, `a map of ${known.join(", ")}`);
      return {};
    }
    problems.unknownKeys(v, known, key);
    return v;
  };

  const store = storage(section("storage", STORAGE_KEYS), problems, out, origin);

  const global = section("global", GLOBAL_KEYS);
  if (global.enabled === false) {
    // ratethrottle's switch for all limiting: every request is left alone.
    out.skip = () => true;
    origin.set("skip", "global.enabled");
  } else if (global.enabled !== undefined && global.enabled !== true) {
    problems.add("global.enabled", global.enabled, "true or false");
  }
  let defaultStrategy = "sliding_window";
  if (global.default_strategy !== undefined) {
    if (typeof global.default_strategy === "string" && global.default_strategy in STRATEGIES)
      defaultStrategy = global.default_strategy;
    else
      problems.add("global.default_strategy", global.default_strategy, `one of ${STRATEGY_FORM}`);
  }
  if (global.headers_enabled === false) out.headers = false;
  else if (global.headers_enabled === undefined || global.headers_enabled === true)
    // ratethrottle sends X-RateLimit-Limit / -Remaining / -Reset: keep its clients' headers.
    out.headers = "legacy";
  else problems.add("global.headers_enabled", global.headers_enabled, "true or false");
  if (global.log_violations !== undefined) {
    problems.note(
      "global.log_violations",
      global.log_violations,
      "no effect: throttlekit never logs per request; listen to the `violation` event (limiter.on)",
    );
  }
  if (global.log_level !== undefined) {
    problems.note(
      "global.log_level",
      global.log_level,
      "no effect: pass a `logger` to the adapter",
    );
  }

  const limits: Record<string, PolicyOptions> = {};
  rulesOf(root.rules, defaultStrategy, problems, options, out, origin, limits);
  ddos(
    section("ddos_protection", DDOS_KEYS),
    root.ddos_protection !== undefined,
    problems,
    out,
    origin,
  );

  const monitoring = root.monitoring;
  if (isRecord(monitoring)) {
    if (monitoring.enabled !== false) {
      out.metrics = true;
      origin.set("metrics", "monitoring");
    }
    for (const k of Object.keys(monitoring)) {
      if (k === "enabled") continue;
      problems.note(
        child("monitoring", k),
        monitoring[k],
        "no effect: limiter.metrics() holds the counts; throttlekit/prometheus exports them and throttlekit/dashboard shows them",
      );
    }
  } else if (monitoring !== undefined && monitoring !== null) {
    problems.add("monitoring", monitoring, "a map of enabled, metrics_port, ...");
  }
  if (root.alerts !== undefined) {
    problems.note(
      "alerts",
      root.alerts,
      "no effect: send alerts from the `violation` and `autoBlock` events",
    );
  }
  for (const [from, to] of [
    ["whitelist", "allow"],
    ["blacklist", "deny"],
  ] as const) {
    const v = root[from];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v)) {
      problems.add(from, v, "a list of IP addresses, CIDRs or identity keys");
      continue;
    }
    out[to] = v;
    origin.set(to, from);
  }
  return { options: out as HttpLimiterOptions, store, origin, same: false, limits };
}

function storage(
  s: Section,
  problems: Located,
  out: Record<string, unknown>,
  origin: Map<string, string>,
): StoreSpec {
  const type = s.type ?? "memory";
  if (type === "memory") return { type: "memory" };
  if (type !== "redis") {
    problems.add("storage.type", type, '"memory" or "redis"');
    return { type: "memory" };
  }
  const r: Section = isRecord(s.redis) ? s.redis : {};
  if (s.redis !== undefined && s.redis !== null && !isRecord(s.redis)) {
    problems.add("storage.redis", s.redis, "a map of host, port, db, password, ...");
  }
  problems.unknownKeys(r, REDIS_KEYS, "storage.redis");
  const at = (k: string) => child("storage.redis", k);
  let url: string;
  if (r.url !== undefined) {
    if (!isRedisUrl(r.url))
      problems.add(at("url"), r.url, 'a Redis URL such as "redis://host:6379/0"');
    url = String(r.url);
  } else {
    const host = r.host ?? "localhost";
    const port = r.port ?? 6379;
    const db = r.db ?? 0;
    if (typeof host !== "string" || host === "")
      problems.add(at("host"), host, "a host name or address");
    if (!Number.isSafeInteger(port) || (port as number) < 1 || (port as number) > 65535)
      problems.add(at("port"), port, "a port number from 1 to 65535");
    if (!Number.isSafeInteger(db) || (db as number) < 0)
      problems.add(at("db"), db, "a database number ≥ 0");
    for (const k of ["password", "username"]) {
      if (r[k] !== undefined && r[k] !== null && typeof r[k] !== "string")
        problems.add(at(k), r[k], "a string");
    }
    if (r.ssl !== undefined && typeof r.ssl !== "boolean")
      problems.add(at("ssl"), r.ssl, "true or false");
    const auth =
      typeof r.password === "string" && r.password !== ""
        ? `${encodeURIComponent(typeof r.username === "string" ? r.username : "")}:${encodeURIComponent(r.password)}@`
        : "";
    const bracketed = typeof host === "string" && host.includes(":") ? `[${host}]` : host;
    url = `${r.ssl === true ? "rediss" : "redis"}://${auth}${String(bracketed)}:${String(port)}/${String(db)}`;
  }
  const spec: { type: "redis"; url: string; timeout?: number; connectTimeout?: number } = {
    type: "redis",
    url,
  };
  for (const [from, to] of [
    ["socket_timeout", "timeout"],
    ["socket_connect_timeout", "connectTimeout"],
  ] as const) {
    if (r[from] === undefined || r[from] === null) continue;
    const ms = seconds(r[from], false);
    if (ms === undefined) problems.add(at(from), r[from], "a positive number of seconds");
    else spec[to] = ms;
  }
  if (r.key_prefix !== undefined) {
    if (typeof r.key_prefix !== "string" || r.key_prefix.replace(/:$/, "") === "") {
      problems.add(at("key_prefix"), r.key_prefix, 'a non-empty prefix such as "ratethrottle:"');
    } else {
      // ratethrottle writes "ratethrottle:"; throttlekit adds the ":" itself.
      out.prefix = r.key_prefix.replace(/:$/, "");
      origin.set("prefix", at("key_prefix"));
    }
  }
  for (const k of ["max_connections", "retry_on_timeout", "health_check_interval"]) {
    if (r[k] === undefined) continue;
    problems.note(
      at(k),
      r[k],
      "no effect: throttlekit uses one ioredis connection (auto-pipelined, reconnecting by itself), not redis-py's pool",
    );
  }
  return spec;
}

/**
 * Rules with `paths` or `methods` become throttlekit rules, tried in file order (first match
 * wins). The first rule without either applies to every other request (the catch-all
 * `policies`); a second one is a problem, since nothing says where it applies.
 */
function rulesOf(
  input: unknown,
  defaultStrategy: string,
  problems: Located,
  options: ParseConfigOptions,
  out: Record<string, unknown>,
  origin: Map<string, string>,
  limits: Record<string, PolicyOptions>,
): void {
  if (input === undefined || input === null) return;
  if (!Array.isArray(input)) {
    problems.add("rules", input, "a list of rules { name, limit, window, ... }");
    return;
  }
  const rules: HttpRule[] = [];
  const ipRules: HttpRule[] = [];
  const catchAll: { policy: PolicyOptions; scope: string; at: string }[] = [];
  const names = new Map<string, string>();
  input.forEach((raw, i) => {
    const at = child("rules", i);
    if (!isRecord(raw)) {
      problems.add(
        at,
        raw,
        "a rule { name, limit, window, scope?, strategy?, block_duration?, ... }",
      );
      return;
    }
    problems.unknownKeys(raw, RULE_KEYS, at);
    const ok = problems.items.length;
    const name = raw.name;
    if (typeof name !== "string" || name === "")
      problems.add(child(at, "name"), name, "a non-empty name");
    else if (names.has(name))
      problems.add(child(at, "name"), name, `a name no other rule has (${names.get(name)} has it)`);
    else names.set(name, at);
    if (!isCount(raw.limit)) problems.add(child(at, "limit"), raw.limit, "a whole number ≥ 1");
    const windowMs = seconds(raw.window, false);
    if (windowMs === undefined)
      problems.add(child(at, "window"), raw.window, "a positive number of seconds");
    const strategy = raw.strategy ?? defaultStrategy;
    const algorithm = typeof strategy === "string" ? STRATEGIES[strategy] : undefined;
    if (algorithm === undefined || !Object.hasOwn(STRATEGIES, strategy as string))
      problems.add(child(at, "strategy"), raw.strategy, `one of ${STRATEGY_FORM}`);
    const scope = raw.scope ?? "ip";
    if (typeof scope !== "string" || !SCOPES.includes(scope))
      problems.add(child(at, "scope"), raw.scope, `one of ${SCOPES.join(", ")}`);
    const blockMs = seconds(raw.block_duration ?? DEFAULT_BLOCK_SECONDS, true);
    if (blockMs === undefined)
      problems.add(child(at, "block_duration"), raw.block_duration, "a number of seconds ≥ 0");
    const bucket = algorithm === "token-bucket" || algorithm === "leaky-bucket";
    if (raw.burst !== undefined && raw.burst !== null) {
      if (!isCount(raw.burst) || (isCount(raw.limit) && raw.burst < raw.limit))
        problems.add(child(at, "burst"), raw.burst, "a whole number ≥ limit");
      else if (!bucket)
        problems.note(
          child(at, "burst"),
          raw.burst,
          `no effect: burst applies to token_bucket and leaky_bucket, not ${String(strategy)}`,
        );
    }
    const paths = list(raw.paths, child(at, "paths"), problems);
    const methods = list(raw.methods, child(at, "methods"), problems);
    const identity = scopeIdentity(scope, child(at, "scope"), problems, options);
    if (problems.items.length > ok) return;
    const policy: PolicyOptions = {
      name: name as string,
      limit: raw.limit as number,
      window: windowMs!,
      algorithm: algorithm!,
      ...(bucket && raw.burst != null ? { burst: raw.burst as number } : {}),
      ...(blockMs! > 0 ? { blockFor: blockMs! } : {}),
    };
    limits[name as string] = policy;
    if (paths === undefined && methods === undefined) {
      catchAll.push({ policy, scope: scope as string, at });
      return;
    }
    origin.set(child("rules", rules.length), at);
    origin.set(`${child("rules", rules.length)}.path`, child(at, "paths"));
    const built: HttpRule = {
      name: name as string,
      policies: policy,
      ...(paths === undefined ? {} : { path: paths }),
      ...(methods === undefined ? {} : { methods }),
      ...(identity === undefined ? {} : { identity }),
    };
    rules.push(built);
    if (scope === "ip") ipRules.push(built);
  });
  if (rules.length > 0) out.rules = rules;
  const [first, ...rest] = catchAll;
  if (first === undefined) return;
  for (const c of rest) {
    // ratethrottle's code picks a rule by name (@limiter.limit, check_rate_limit); over HTTP a
    // rule applies by its paths. Enforcing it on every request would be wrong: it stays a named
    // limit for code (config.limits), and the note says how to apply it over HTTP.
    problems.note(
      c.at,
      c.policy.name,
      `not applied to HTTP requests (no paths; the catch-all is ${first.policy.name}): use config.limits.${c.policy.name} in code, as ratethrottle's check_rate_limit does, or give it paths`,
    );
  }
  out.policies = first.policy;
  origin.set("policies", first.at);
  const identity = scopeIdentity(first.scope, child(first.at, "scope"), problems, options);
  if (identity !== undefined) {
    out.identity = identity;
    origin.set("identity", child(first.at, "scope"));
    // The limiter's identity is no longer the address: rules scoped by ip say so themselves.
    for (const r of ipRules) r.identity = ip({ logger: false });
  }
}

/** ratethrottle's scopes: ip (the limiter's address), a global counter, per endpoint, or a user. */
function scopeIdentity(
  scope: unknown,
  at: string,
  problems: Located,
  options: ParseConfigOptions,
): Identity | undefined {
  switch (scope) {
    case "global":
      return () => "global";
    case "endpoint":
      return (req) => `endpoint:${req.path}`;
    case "user": {
      const user = options.identities?.user;
      if (user === undefined) {
        problems.add(
          at,
          scope,
          "an identity for users, which a file cannot build: pass loadConfig(path, { identities: { user: jwt({ ... }) } }), or use scope ip",
        );
      }
      return user;
    }
    default:
      return undefined;
  }
}

function list(v: unknown, at: string, problems: Located): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const items = typeof v === "string" ? [v] : v;
  if (!Array.isArray(items) || items.length === 0 || !items.every((x) => typeof x === "string")) {
    problems.add(at, v, "a non-empty list of strings");
    return undefined;
  }
  return items as string[];
}

function ddos(
  d: Section,
  present: boolean,
  problems: Located,
  out: Record<string, unknown>,
  origin: Map<string, string>,
): void {
  if (!present || d.enabled === false) return;
  if (d.enabled !== undefined && d.enabled !== true) {
    problems.add("ddos_protection.enabled", d.enabled, "true or false");
    return;
  }
  const at = (k: string) => child("ddos_protection", k);
  const v = { ...DDOS_DEFAULTS, ...d };
  const protect: Record<string, unknown> = {};
  if (!isCount(v.threshold)) problems.add(at("threshold"), v.threshold, "a whole number ≥ 1");
  else protect.threshold = v.threshold;
  const windowMs = seconds(v.window, false);
  if (windowMs === undefined) problems.add(at("window"), v.window, "a positive number of seconds");
  else protect.window = windowMs;
  if (typeof v.auto_block !== "boolean")
    problems.add(at("auto_block"), v.auto_block, "true or false");
  else protect.autoBlock = v.auto_block;
  const blockMs = seconds(v.block_duration, false);
  if (blockMs === undefined)
    problems.add(at("block_duration"), v.block_duration, "a positive number of seconds");
  else protect.blockDuration = blockMs;
  if (d.suspicious_threshold !== undefined) {
    const s = d.suspicious_threshold;
    if (typeof s !== "number" || !(s > 0 && s <= 1))
      problems.add(at("suspicious_threshold"), s, "a score above 0, at most 1");
    else protect.scoreThreshold = s;
  }
  if (d.max_unique_endpoints !== undefined) {
    problems.note(
      at("max_unique_endpoints"),
      d.max_unique_endpoints,
      "no effect: the detector scores scanning from the spread of distinct paths itself (docs/protection.md)",
    );
  }
  out.protect = protect;
  for (const [k, src] of [
    ["protect.threshold", "threshold"],
    ["protect.window", "window"],
    ["protect.autoBlock", "auto_block"],
    ["protect.blockDuration", "block_duration"],
    ["protect.scoreThreshold", "suspicious_threshold"],
  ] as const) {
    origin.set(k, at(src));
  }
  origin.set("protect", "ddos_protection");
}
