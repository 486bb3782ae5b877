import { isIP } from "node:net";
import { createHttpLimiter, type HttpOutcome, type HttpRequest } from "../http/index.js";
import { type Decision, memoryStore, parseDuration } from "../index.js";
import { type LoadedConfig, parseOffline, requireConfig } from "./config-file.js";
import { CliError, type CliIo, EXIT, humanMs } from "./io.js";

export type TestOptions = {
  config?: string;
  rule: string;
  identifier: string;
  group?: string;
  requests: number;
  interval: string;
  quiet?: boolean;
  json?: boolean;
  expectAllowed?: number;
  expectLimited?: number;
};

/** One simulated request and what the rule answered. */
export type TestLine = {
  readonly n: number;
  /** Simulated ms since the run began. */
  readonly at: number;
  /** allowed, limited, blocked, denied, exempt, shadow (refused but let through by shadow mode). */
  readonly outcome: string;
  readonly status: number;
  readonly remaining: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly policy: string | undefined;
};

export type TestSummary = {
  readonly rule: string;
  readonly identifier: string;
  readonly requests: number;
  readonly intervalMs: number;
  readonly allowed: number;
  readonly refused: number;
  readonly byOutcome: Readonly<Record<string, number>>;
  readonly firstRefusal: number | undefined;
  readonly firstRetryAfterMs: number | undefined;
  readonly lines: readonly TestLine[];
};

/** The most requests one run simulates: output stays readable and the run instant. */
export const MAX_TEST_REQUESTS = 1_000_000;

/**
 * The name a file gave the catch-all, if any: a ratethrottle.yaml's first rule without paths
 * becomes the limiter's catch-all `policies` (named "default" by the HTTP layer); the config's
 * `limits` hold that very policy under the rule's own name.
 */
function catchAllName(loaded: Pick<LoadedConfig, "http" | "limits">): string | undefined {
  const policies = loaded.http.policies;
  if (policies === undefined) return undefined;
  for (const [name, policy] of Object.entries(loaded.limits ?? {})) {
    if (policy === policies) return name;
  }
  return undefined;
}

/**
 * The rule names of a config, in order; the catch-all `policies` last, as "default" or by the
 * name its file gave it.
 */
export function ruleNames(loaded: Pick<LoadedConfig, "http" | "limits">): string[] {
  const names = (loaded.http.rules ?? []).map((r, i) =>
    typeof r.name === "string" ? r.name : `r${i}`,
  );
  if (loaded.http.policies !== undefined) names.push(catchAllName(loaded) ?? "default");
  return names;
}

/**
 * Named limits a file declares that no HTTP request reaches (a ratethrottle rule without paths
 * after the first): code checks them by name, and so can `test`.
 */
function namedOnly(loaded: Pick<LoadedConfig, "http" | "limits">): string[] {
  const names = new Set(ruleNames(loaded));
  return Object.keys(loaded.limits ?? {}).filter((n) => !names.has(n));
}

/**
 * Runs `requests` requests of one client through one rule of a config, on a private memory store
 * and a simulated clock advanced by `interval` per request: instant, deterministic, and never
 * touching live counters. Time starts at 0 ms, a boundary of every window.
 */
export async function simulate(loaded: LoadedConfig, options: TestOptions): Promise<TestSummary> {
  const intervalMs = parseDuration(options.interval);
  if (intervalMs === undefined || intervalMs < 0) {
    throw new CliError(
      `--interval: not a duration: ${JSON.stringify(options.interval)} (e.g. 10ms, 1s)`,
    );
  }
  const named = namedOnly(loaded);
  // A named limit no HTTP request reaches is tried as the catch-all of a config of its own.
  const http = named.includes(options.rule)
    ? { ...loaded.http, rules: [], policies: loaded.limits![options.rule]! }
    : loaded.http;
  const names = named.includes(options.rule) ? [options.rule] : ruleNames(loaded);
  const catchAll = http.policies === undefined ? -1 : names.length - 1;
  const index = options.rule === "default" ? catchAll : names.indexOf(options.rule);
  if (index === -1) {
    throw new CliError(
      `--rule: no rule named ${JSON.stringify(options.rule)} in ${loaded.file ?? "the config"}; its rules: ${[...names, ...named].join(", ") || "(none)"}`,
    );
  }
  let now = 0;
  const key = options.identifier;
  const group = options.group;
  const rules = http.rules ?? [];
  // The rule as configured, minus what selects requests (every simulated request is its own)
  // and its own identity (the client is --identifier).
  const picked = index < rules.length ? rules[index] : undefined;
  const base = {
    store: memoryStore(),
    prefix: "cli-test",
    clock: () => now,
    headers: false as const,
    logger: false as const,
    identityFailures: false as const,
    identity: () => (group === undefined ? key : { key, group }),
    ...(http.allow === undefined ? {} : { allow: http.allow }),
    ...(http.deny === undefined ? {} : { deny: http.deny }),
  };
  let limiter: ReturnType<typeof createHttpLimiter>;
  if (picked !== undefined) {
    const { path: _p, methods: _m, identity: _i, ...rule } = picked;
    limiter = createHttpLimiter({ ...base, rules: [rule] });
  } else {
    limiter = createHttpLimiter({
      ...base,
      ...(http.policies === undefined ? {} : { policies: http.policies }),
      ...(http.concurrency === undefined ? {} : { concurrency: http.concurrency }),
      ...(http.mode === undefined ? {} : { mode: http.mode }),
    });
  }
  const req: HttpRequest = {
    method: "GET",
    path: "/",
    header: () => undefined,
    // An address identifier also meets the config's address entries (allow/deny CIDRs).
    remoteAddress: isIP(key) === 0 ? undefined : key,
    raw: undefined,
  };
  const lines: TestLine[] = [];
  const byOutcome: Record<string, number> = {};
  let allowed = 0;
  let firstRefusal: number | undefined;
  let firstRetryAfterMs: number | undefined;
  try {
    for (let n = 1; n <= options.requests; n++) {
      now = (n - 1) * intervalMs;
      const outcome = await limiter.handle(req);
      const line = describeOutcome(n, now, outcome);
      if (outcome.action === "continue") {
        allowed++;
        outcome.after?.(200);
      } else if (firstRefusal === undefined) {
        firstRefusal = n;
        firstRetryAfterMs = line.retryAfterMs;
      }
      byOutcome[line.outcome] = (byOutcome[line.outcome] ?? 0) + 1;
      lines.push(line);
    }
  } finally {
    await limiter.close();
  }
  return {
    rule: options.rule,
    identifier: key,
    requests: options.requests,
    intervalMs,
    allowed,
    refused: options.requests - allowed,
    byOutcome,
    firstRefusal,
    firstRetryAfterMs,
    lines,
  };
}

function policyLabel(d: Decision | undefined): string | undefined {
  if (d === undefined) return undefined;
  const p = d.policy;
  return p.name !== "" ? p.name : `${p.limit}/${humanMs(p.windowMs)}`;
}

function describeOutcome(n: number, at: number, outcome: HttpOutcome): TestLine {
  const d = outcome.decision;
  if (outcome.action === "continue") {
    const shadow = d !== undefined && !d.allowed;
    return {
      n,
      at,
      outcome: shadow ? "shadow" : d?.reason === "exempt" ? "exempt" : "allowed",
      status: 200,
      remaining: d === undefined || d.reason === "exempt" ? undefined : d.remaining,
      retryAfterMs: undefined,
      policy: policyLabel(d),
    };
  }
  const reason = outcome.reason;
  const kind =
    reason === "denied" || reason === "blocked" || reason === "limited"
      ? reason
      : reason === "cost-exceeds-limit"
        ? "limited"
        : String(reason);
  return {
    n,
    at,
    outcome: kind,
    status: outcome.status,
    remaining: d?.remaining,
    retryAfterMs: d?.retryAfterMs,
    policy: reason === "denied" ? "deny-list" : policyLabel(d),
  };
}

/** The lines `test` prints: one per request (unless quiet), then the summary. */
export function formatTest(s: TestSummary, quiet: boolean): string[] {
  const out: string[] = [];
  const width = String(s.requests).length;
  if (!quiet) {
    for (const l of s.lines) {
      const parts = [
        `#${String(l.n).padStart(width)}`,
        `t=${humanMs(l.at)}`.padEnd(12),
        l.outcome.padEnd(8),
        String(l.status),
      ];
      if (l.remaining !== undefined && l.outcome !== "denied")
        parts.push(`remaining=${l.remaining}`);
      if (l.retryAfterMs !== undefined && l.status !== 200)
        parts.push(`retry-after=${humanMs(l.retryAfterMs)}`);
      if (l.policy !== undefined) parts.push(`policy=${l.policy}`);
      out.push(parts.join("  "));
    }
    out.push("");
  }
  const span = humanMs(Math.max(0, (s.requests - 1) * s.intervalMs));
  out.push(
    `rule ${s.rule}, identifier ${s.identifier}: ${s.requests} requests, one every ${humanMs(s.intervalMs)} (${span} simulated)`,
  );
  const kinds = Object.entries(s.byOutcome);
  const counts = kinds.map(([k, v]) => `${k} ${v}`).join(", ");
  const refusedKinds = kinds.filter(([k]) => k !== "allowed" && k !== "exempt" && k !== "shadow");
  out.push(`  ${counts}${refusedKinds.length > 1 ? ` (refused ${s.refused})` : ""}`);
  const first = s.firstRefusal === undefined ? undefined : s.lines[s.firstRefusal - 1];
  if (first === undefined) out.push("  no request refused");
  else if (first.outcome === "denied")
    out.push(`  first refusal at request ${first.n}: on the deny list`);
  else
    out.push(
      `  first refusal at request ${first.n}, retry after ${humanMs(first.retryAfterMs ?? 0)}`,
    );
  return out;
}

export async function runTest(options: TestOptions, io: CliIo): Promise<number> {
  if (
    !Number.isSafeInteger(options.requests) ||
    options.requests < 1 ||
    options.requests > MAX_TEST_REQUESTS
  ) {
    throw new CliError(`--requests: expected a whole number from 1 to ${MAX_TEST_REQUESTS}`);
  }
  const path = requireConfig(options.config, io);
  const loaded = await parseOffline(path, io, memoryStore());
  let summary: TestSummary;
  try {
    summary = await simulate(loaded, options);
  } finally {
    await loaded.close();
  }
  if (options.json === true) {
    io.out(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    io.out(`${formatTest(summary, options.quiet === true).join("\n")}\n`);
  }
  const failures: string[] = [];
  if (options.expectAllowed !== undefined && summary.allowed !== options.expectAllowed)
    failures.push(`expected ${options.expectAllowed} allowed, got ${summary.allowed}`);
  if (options.expectLimited !== undefined && summary.refused !== options.expectLimited)
    failures.push(`expected ${options.expectLimited} refused, got ${summary.refused}`);
  if (failures.length > 0) {
    io.err(`throttlekit test: check failed: ${failures.join("; ")}\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}
