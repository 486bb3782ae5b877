import type { IncomingMessage } from "node:http";
import type { RawData, WebSocket } from "ws";
import type { HttpLimiterOptions, PolicySet } from "../../http/index.js";
import {
  type ConfigProblem,
  type Decision,
  type Duration,
  ProblemList,
  parseDuration,
  parsePolicies,
  parseTimerDuration,
  type Reason,
  TIMER_DURATION_FORM,
} from "../../index.js";

/** The raw objects the upgrade request carries, for identities and callbacks (`req.raw.req`). */
export type WsRaw = { readonly req: IncomingMessage };

/** Message policies: one set for every connection alone, or split per connection and per identity. */
export type MessagePolicies =
  | PolicySet
  | {
      /** Counted per connection, in this process (a connection lives in one process). */
      readonly perConnection?: PolicySet;
      /** Counted per identity across every connection of that client, in `store`. */
      readonly perIdentity?: PolicySet;
    };

/** What an `onLimited` function receives for a refused message. */
export type WsLimitedContext = {
  readonly ws: WebSocket;
  /** The upgrade request the connection was opened with. */
  readonly req: IncomingMessage;
  readonly data: RawData;
  readonly isBinary: boolean;
  /** The refusing decision (per connection or per identity, messages or bytes). */
  readonly decision: Decision;
  /** "limited", "blocked", "cost-exceeds-limit", or "degraded" (the store is out). */
  readonly reason: Reason;
  /** The identity key; undefined when the connection was not verified. */
  readonly key: string | undefined;
  /** Refusals on this connection within `closeAfter.within`, this one included. */
  readonly violations: number;
};

/** What to do with a refused message. */
export type OnLimited = "drop" | "reply" | "close" | ((context: WsLimitedContext) => void);

/**
 * Options of wsRateLimit: the identity options of throttlekit/http (`identity`, `trustProxy`,
 * `proxyHeader`, `ipv4Prefix`, `ipv6Prefix`, `allow`, `deny`, `store`, `prefix`, `clock`,
 * `headers`, `logger`, `identityFailures`, `onDenied`, `onIdentityError`, `listsRefresh`), its
 * `events` and `metrics` (every decision of the adapter goes to that hub: docs/adapters/ws.md,
 * "Events and metrics"), plus the connection and message limits below.
 */
export type WsRateLimitOptions = Omit<
  HttpLimiterOptions<WsRaw>,
  | "policies"
  | "rules"
  | "skip"
  | "countFailed"
  | "countSuccessful"
  | "onLimited"
  | "concurrency"
  | "priority"
  | "shed"
  | "onShed"
  // ws's `mode` (below) is auto or manual gating; shadow mode and abuse detection are HTTP's.
  | "mode"
  | "protect"
> & {
  /** New connections per identity, e.g. "10/min" (refused with 429 before the handshake). @default undefined */
  connections?: PolicySet;
  /** Connections open at once per identity, across every process sharing `store`. @default undefined */
  maxConnections?: number;
  /**
   * How long a connection slot outlives its process: slots are renewed every leaseMs / 3 while
   * the socket is open, so a crashed process frees its slots after at most this long.
   * @default "60s"
   */
  leaseMs?: Duration;
  /**
   * Pings every open connection this often and terminates one that did not answer the previous
   * ping (its slot is freed then). @default false
   */
  heartbeat?: Duration | false;
  /** Messages allowed: per connection (a plain policy set) and/or per identity. @default undefined */
  messages?: MessagePolicies;
  /** Bytes of payload allowed, in the same form as `messages` (a message costs its size). @default undefined */
  bytes?: MessagePolicies;
  /** Units one message costs against `messages` (a whole number ≥ 0). @default 1 */
  cost?: (data: RawData, isBinary: boolean) => number;
  /**
   * A refused message is never delivered; then: "drop" (nothing more), "reply" (a JSON frame
   * `{"error":"rate_limited","reason","retryAfterMs"}`), "close" (close code 1008 policy
   * violation; 1013 try again later when the store is out), or your function.
   * @default "drop"
   */
  onLimited?: OnLimited;
  /** Closes the connection (1008) after this many refused messages within this long. @default undefined */
  closeAfter?: { readonly violations: number; readonly within: Duration };
  /**
   * "auto": attach() limits every message before your listeners see it. "manual": attach()
   * only tracks the connection; your handlers call `check(ws)` / `consume(ws, key)`.
   * @default "auto"
   */
  mode?: "auto" | "manual";
  /** A fault while verifying an upgrade (a store down without a decision): the upgrade is answered 503 either way. @default console.error */
  onError?: (error: unknown, req: IncomingMessage) => void;
};

/** The ws-only option keys (the rest go to createHttpLimiter, which checks its own). */
export const WS_KEYS = [
  "connections",
  "maxConnections",
  "leaseMs",
  "heartbeat",
  "messages",
  "bytes",
  "cost",
  "onLimited",
  "closeAfter",
  "mode",
  "onError",
] as const;

/** The options passed on to createHttpLimiter (identity, lists, store, headers). */
export const HTTP_KEYS = [
  "identity",
  "trustProxy",
  "proxyHeader",
  "ipv6Prefix",
  "ipv4Prefix",
  "logger",
  "store",
  "prefix",
  "clock",
  "headers",
  "onDenied",
  "onIdentityError",
  "allow",
  "deny",
  "listsRefresh",
  "identityFailures",
  "events",
  "metrics",
] as const;

const TIMER_FORM = TIMER_DURATION_FORM;

export type SplitPolicies = {
  readonly perConnection: PolicySet | undefined;
  readonly perIdentity: PolicySet | undefined;
};

export type ParsedWsOptions = {
  readonly leaseMs: number;
  readonly heartbeatMs: number | undefined;
  readonly messages: SplitPolicies;
  readonly bytes: SplitPolicies;
  readonly closeAfter: { readonly violations: number; readonly withinMs: number } | undefined;
};

function timer(value: unknown): number | undefined {
  return parseTimerDuration(value);
}

function policySet(value: unknown, option: string, problems: ConfigProblem[]): boolean {
  try {
    parsePolicies(value as PolicySet, option);
    return true;
  } catch (error) {
    const list = (error as { problems?: ConfigProblem[] }).problems;
    if (!Array.isArray(list)) throw error;
    problems.push(...list);
    return false;
  }
}

function split(
  value: MessagePolicies | undefined,
  option: string,
  problems: ConfigProblem[],
): SplitPolicies {
  const none = { perConnection: undefined, perIdentity: undefined };
  if (value === undefined) return none;
  const isSplit =
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    ("perConnection" in value || "perIdentity" in value);
  if (!isSplit) {
    return policySet(value, option, problems)
      ? { perConnection: value as PolicySet, perIdentity: undefined }
      : none;
  }
  const v = value as { perConnection?: PolicySet; perIdentity?: PolicySet };
  const list = new ProblemList();
  list.unknownKeys(v, ["perConnection", "perIdentity"], option);
  problems.push(...list.items);
  const perConnection =
    v.perConnection !== undefined && policySet(v.perConnection, `${option}.perConnection`, problems)
      ? v.perConnection
      : undefined;
  const perIdentity =
    v.perIdentity !== undefined && policySet(v.perIdentity, `${option}.perIdentity`, problems)
      ? v.perIdentity
      : undefined;
  return { perConnection, perIdentity };
}

/** Checks the ws-only options; every problem goes into `problems` (thrown with the HTTP ones). */
export function parseWsOptions(
  options: WsRateLimitOptions,
  problems: ConfigProblem[],
): ParsedWsOptions {
  const { maxConnections, onLimited, closeAfter, mode } = options;
  const known = new ProblemList();
  known.unknownKeys(options, [...HTTP_KEYS, ...WS_KEYS]);
  problems.push(...known.items);
  if (options.connections !== undefined) policySet(options.connections, "connections", problems);
  if (
    maxConnections !== undefined &&
    !(Number.isSafeInteger(maxConnections) && maxConnections >= 1)
  ) {
    problems.push({
      option: "maxConnections",
      received: maxConnections,
      expected: "a whole number ≥ 1",
    });
  }
  const leaseMs = options.leaseMs === undefined ? 60_000 : timer(options.leaseMs);
  if (leaseMs === undefined)
    problems.push({ option: "leaseMs", received: options.leaseMs, expected: TIMER_FORM });
  let heartbeatMs: number | undefined;
  if (options.heartbeat !== undefined && options.heartbeat !== false) {
    heartbeatMs = timer(options.heartbeat);
    if (heartbeatMs === undefined) {
      problems.push({
        option: "heartbeat",
        received: options.heartbeat,
        expected: `${TIMER_FORM}, or false`,
      });
    }
  }
  const messages = split(options.messages, "messages", problems);
  const bytes = split(options.bytes, "bytes", problems);
  for (const k of ["cost", "onError"] as const) {
    if (options[k] !== undefined && typeof options[k] !== "function")
      problems.push({ option: k, received: options[k], expected: "a function" });
  }
  if (
    onLimited !== undefined &&
    typeof onLimited !== "function" &&
    onLimited !== "drop" &&
    onLimited !== "reply" &&
    onLimited !== "close"
  ) {
    problems.push({
      option: "onLimited",
      received: onLimited,
      expected: '"drop" | "reply" | "close" | a function (context) => void',
    });
  }
  if (mode !== undefined && mode !== "auto" && mode !== "manual")
    problems.push({ option: "mode", received: mode, expected: '"auto" | "manual"' });
  let parsedCloseAfter: ParsedWsOptions["closeAfter"];
  if (closeAfter !== undefined) {
    const ok = typeof closeAfter === "object" && closeAfter !== null;
    const violations = ok ? closeAfter.violations : undefined;
    const withinMs = ok ? parseDuration(closeAfter.within) : undefined;
    if (!ok || !Number.isSafeInteger(violations) || (violations as number) < 1) {
      problems.push({
        option: "closeAfter.violations",
        received: violations,
        expected: "a whole number ≥ 1",
      });
    } else if (withinMs === undefined || withinMs <= 0) {
      problems.push({
        option: "closeAfter.within",
        received: closeAfter.within,
        expected: 'a positive duration such as "1m" or 60000',
      });
    } else {
      const list = new ProblemList();
      list.unknownKeys(closeAfter, ["violations", "within"], "closeAfter");
      problems.push(...list.items);
      parsedCloseAfter = { violations: violations as number, withinMs };
    }
  }
  return { leaseMs: leaseMs ?? 60_000, heartbeatMs, messages, bytes, closeAfter: parsedCloseAfter };
}
