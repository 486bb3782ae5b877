import type { IncomingMessage, ServerResponse } from "node:http";
import { type Duration, ProblemList, parseDuration, type Store } from "../index.js";
import { redactConfig } from "./redact.js";

/** Options of `dashboard()`. */
export type DashboardOptions = {
  /** Where the fleet metrics and the lists live (the store your limiters and collectors use). */
  store: Store;
  /** The secret that opens the dashboard: at least 16 characters. Never sent to the page. */
  token: string;
  /** The HTTP limiters' prefix, whose allow and deny lists are managed. @default "tk" */
  prefix?: string;
  /** The collectors' fleet prefix (`createMetrics({ store, prefix })`). @default "tk" */
  metricsPrefix?: string;
  /**
   * The running config, shown on the page after redaction (pass a LoadedConfig's `source`).
   * Values under keys named like password, secret, token, key, credential or auth are replaced
   * by "[redacted]", and credentials in URLs are stripped, whatever the caller did.
   * @default undefined (no config section)
   */
  config?: unknown;
  /** Where the handler is mounted, e.g. "/admin/throttlekit". @default "" */
  basePath?: string;
  /** How often the live view is pushed (server-sent events), 250 ms to 1 min. @default "1s" */
  interval?: Duration;
  /** Span of the charts and totals, 10 s to 15 min (each push reads it whole). @default "1m" */
  window?: Duration;
  /**
   * Recent violations kept from this process's limiters (read on `node:diagnostics_channel`
   * `throttlekit:violation`); 0 turns the subscription off. @default 50
   */
  recentViolations?: number;
  /** Server-sent event streams open at once; more are refused with 503. @default 20 */
  maxClients?: number;
};

/** A request handler for node:http, Express (as middleware) or Fastify (raw request/reply). */
export type DashboardHandler = ((
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void) & {
  /** Ends every live stream and stops the timers and subscriptions. */
  close(): void;
};

/** Options after validation. */
export type ResolvedOptions = {
  readonly store: Store;
  readonly token: string;
  readonly prefix: string;
  readonly metricsPrefix: string;
  /** The config already redacted, or undefined. */
  readonly config: unknown;
  readonly basePath: string;
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly recentViolations: number;
  readonly maxClients: number;
};

const KEYS = [
  "store",
  "token",
  "prefix",
  "metricsPrefix",
  "config",
  "basePath",
  "interval",
  "window",
  "recentViolations",
  "maxClients",
];

/** A URL path without a trailing slash: characters a browser keeps as they are. */
const BASE_PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*$/;

function wholeIn(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** Validates every option at once; one ConfigError lists every problem. */
export function resolveOptions(options: DashboardOptions): ResolvedOptions {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    problems.add("dashboard(options)", options, "an object { store, token, ... }");
    problems.throwIfAny();
  }
  problems.unknownKeys(options, KEYS, "dashboard");
  const store = options.store as Store | undefined;
  if (typeof store !== "object" || store === null || typeof store.metrics !== "function") {
    problems.add(
      "dashboard.store",
      options.store,
      "a store with fleet metrics: memoryStore() or redisStore({ client })",
    );
  }
  const token = options.token as unknown;
  if (typeof token !== "string" || token.length < 16 || token.length > 4096) {
    // Never echo a token back, not even a short one: it may be a real secret mistyped.
    problems.add(
      "dashboard.token",
      typeof token === "string" ? `a string of ${token.length} characters` : token,
      "a secret string of at least 16 characters (e.g. openssl rand -hex 24)",
    );
  }
  const name = (option: "prefix" | "metricsPrefix"): string => {
    const v = options[option] ?? "tk";
    if (typeof v !== "string" || v.length === 0 || v.length > 128) {
      problems.add(`dashboard.${option}`, options[option], "a string of 1 to 128 characters");
      return "tk";
    }
    return v;
  };
  const prefix = name("prefix");
  const metricsPrefix = name("metricsPrefix");
  const basePath = options.basePath ?? "";
  if (typeof basePath !== "string" || basePath.length > 200 || !BASE_PATH.test(basePath)) {
    problems.add(
      "dashboard.basePath",
      options.basePath,
      'a path like "/admin/throttlekit" (no trailing slash, query or fragment), or ""',
    );
  }
  const duration = (
    option: "interval" | "window",
    fallback: number,
    min: number,
    max: number,
    form: string,
  ): number => {
    if (options[option] === undefined) return fallback;
    const ms = parseDuration(options[option]);
    if (ms === undefined || ms < min || ms > max) {
      problems.add(`dashboard.${option}`, options[option], form);
      return fallback;
    }
    return ms;
  };
  const intervalMs = duration("interval", 1000, 250, 60_000, 'a duration from "250ms" to "1m"');
  const windowMs = duration("window", 60_000, 10_000, 900_000, 'a duration from "10s" to "15m"');
  const recentViolations = options.recentViolations ?? 50;
  if (!wholeIn(recentViolations, 0, 1000)) {
    problems.add(
      "dashboard.recentViolations",
      options.recentViolations,
      "a whole number from 0 to 1000",
    );
  }
  const maxClients = options.maxClients ?? 20;
  if (!wholeIn(maxClients, 1, 1000)) {
    problems.add("dashboard.maxClients", options.maxClients, "a whole number from 1 to 1000");
  }
  let config: unknown;
  try {
    config = options.config === undefined ? undefined : redactConfig(options.config);
  } catch (error) {
    problems.add(
      "dashboard.config",
      "(not shown)",
      `plain data (objects, arrays, strings, numbers, booleans, null): ${(error as Error).message}`,
    );
  }
  problems.throwIfAny();
  return {
    store: store!,
    token: token as string,
    prefix,
    metricsPrefix,
    config,
    basePath,
    intervalMs,
    windowMs,
    recentViolations,
    maxClients,
  };
}
