import type { Decision } from "../core/decision.js";
import type { Policy } from "../core/policy.js";
import { BoundedMemo } from "./bounded-memo.js";

/**
 * Which rate-limit header fields to send:
 * - "draft-10" (also "draft-11"): draft-ietf-httpapi-ratelimit-headers-10/-11 §3-4, RFC 9651
 *   Lists with one item per policy: `RateLimit-Policy: "10/1s";q=10;w=1` and
 *   `RateLimit: "10/1s";r=9;t=1`.
 * - "draft-8": the same fields; on a rejection each violated item's `t` equals Retry-After, as
 *   draft-08 §5 asks.
 * - "draft-7": `RateLimit-Policy: 10;w=1` and the Dictionary `RateLimit: limit=10, remaining=9, reset=1`.
 * - "draft-6": `RateLimit-Policy` plus `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
 * - "legacy": `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix seconds).
 * The single-policy forms (7, 6, legacy) report the binding policy.
 */
export type HeaderStyle = "draft-10" | "draft-11" | "draft-8" | "draft-7" | "draft-6" | "legacy";

/** Every accepted `headers` value besides false. */
export const HEADER_STYLES: readonly HeaderStyle[] = [
  "draft-10",
  "draft-11",
  "draft-8",
  "draft-7",
  "draft-6",
  "legacy",
];

/** Header name → value, as adapters set them. */
export type HeaderMap = Record<string, string>;

/** Renders one limiter's headers; the static parts were rendered when it was built. */
export type HeaderRenderer = (decision: Decision) => HeaderMap;

/** RFC 9651 §3.3.1: Integers have at most 15 digits. */
const MAX_SF_INTEGER = 999_999_999_999_999;

/** Whole seconds, rounded up (a client that waits this long is never early), capped for sf-integer. */
export function ceilSeconds(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(Math.ceil(ms / 1000), MAX_SF_INTEGER);
}

/**
 * Retry-After (RFC 9110 §10.2.3) for a rejected decision: delay-seconds rounded up, at least 1,
 * and never earlier than any `t` we send (draft-10 §6). Undefined when the request can never
 * pass (cost above capacity): no wait would help.
 */
export function retryAfterSeconds(decision: Decision): number | undefined {
  if (decision.allowed || decision.retryAfterMs === Number.POSITIVE_INFINITY) return undefined;
  return Math.max(1, ceilSeconds(decision.retryAfterMs));
}

/**
 * An RFC 9651 §4.1.6 sf-string: printable ASCII, with `"` and `\` escaped. Policy names are
 * already restricted to that range by parsePolicies; anything else is replaced, never sent raw.
 */
export function sfString(text: string): string {
  return `"${text.replace(/[^\x20-\x7e]/g, "?").replace(/["\\]/g, "\\$&")}"`;
}

function integer(n: number): number {
  return n <= 0 ? 0 : Math.min(Math.floor(n), MAX_SF_INTEGER);
}

/** RFC 9651 §3.1.2 wants w non-zero and in whole seconds: sub-second windows show as 1. */
function windowSeconds(p: Policy): number {
  return Math.max(1, ceilSeconds(p.windowMs));
}

/**
 * Builds the renderer for one limiter's policies, or undefined for `false`. Everything that does
 * not change per request (names, quotas, windows, the whole RateLimit-Policy field) is a string
 * here already. `now` (ms) is read by the legacy style only, whose reset is a Unix time: the
 * draft styles send relative seconds and cost no clock read.
 */
export function headerRenderer(
  style: HeaderStyle | false,
  policies: readonly Policy[],
  now: () => number,
): HeaderRenderer | undefined {
  if (style === false) return undefined;
  if (style === "legacy") {
    return (d) => {
      const wait = d.allowed ? d.resetMs : retryAfterMs(d);
      return {
        "X-RateLimit-Limit": String(d.limit),
        "X-RateLimit-Remaining": String(integer(d.remaining)),
        "X-RateLimit-Reset": String(Math.ceil((now() + wait) / 1000)),
      };
    };
  }
  if (style === "draft-7" || style === "draft-6") {
    // draft-07 §3 / draft-06 §2: one Integer item per policy, its window as the w parameter.
    const policy = policies.map((p) => `${p.limit};w=${windowSeconds(p)}`).join(", ");
    if (style === "draft-7") {
      return (d) => ({
        "RateLimit-Policy": policy,
        RateLimit: `limit=${d.limit}, remaining=${integer(d.remaining)}, reset=${reset(d)}`,
      });
    }
    return (d) => ({
      "RateLimit-Policy": policy,
      "RateLimit-Limit": String(d.limit),
      "RateLimit-Remaining": String(integer(d.remaining)),
      "RateLimit-Reset": String(reset(d)),
    });
  }
  // draft-08 and later: named items, one per policy (draft-10 §3.1, §4.1). q= is an RFC 9651
  // Integer (at most 15 digits): parsePolicies refuses limits above MAX_LIMIT, so it always is.
  const names = policies.map((p) => sfString(p.name));
  const policy = policies
    .map((p, i) => `${names[i]};q=${p.limit};w=${windowSeconds(p)}`)
    .join(", ");
  const draft8 = style === "draft-8";
  const n = policies.length;
  const allowedItem = n === 1 ? memoisedItem(names[0]!) : undefined;
  return (d) => {
    if (allowedItem !== undefined && d.allowed) {
      return {
        "RateLimit-Policy": policy,
        RateLimit: allowedItem(integer(d.remaining), ceilSeconds(d.resetMs)),
      };
    }
    let out = "";
    const retry = d.allowed ? 0 : (retryAfterSeconds(d) ?? -1);
    for (let i = 0; i < n; i++) {
      // One policy: its verdict is the decision's own fields (the same numbers as policies[0]).
      const pd = n === 1 ? d : d.policies[i]!;
      if (i > 0) out += ", ";
      out += `${names[i]};r=${integer(pd.remaining)}`;
      if (d.allowed) {
        out += `;t=${ceilSeconds(pd.resetMs)}`;
      } else if (!pd.allowed && pd.retryAfterMs !== Number.POSITIVE_INFINITY) {
        out += `;t=${draft8 && retry > 0 ? retry : ceilSeconds(pd.retryAfterMs)}`;
      }
      // A policy that passed while another rejected gets no t: its window may end long after
      // Retry-After, and draft-10 §6 forbids Retry-After earlier than a t we send.
    }
    return { "RateLimit-Policy": policy, RateLimit: out };
  };
}

/** Entries a memoised item map holds before it starts over; ~100 KB at most. */
const ITEM_MEMO_SIZE = 1024;

/**
 * A single policy's allowed item, `"name";r=R;t=T`, memoised by (R, T). Node checks every header
 * value with a regular expression, and a string just built by concatenation must first be
 * flattened into one piece: a call into the runtime that costs more than all the rest of
 * rendering (measured: a fresh 31-character value costs a Fastify server ~1 µs a request more
 * than a reused one). The same (R, T) recurs across clients and requests (every client of a
 * "100/min" policy shares at most 101 × 61 values), so a value is concatenated and flattened once
 * and then reused. Bounded: the map starts over when full, never grows past ITEM_MEMO_SIZE.
 */
function memoisedItem(name: string): (r: number, t: number) => string {
  const memo = new BoundedMemo<number, string>(ITEM_MEMO_SIZE);
  return (r, t) => {
    // One exact number per pair: r below 2^36 and t below 2^16 keep r·2^16 + t under 2^52.
    if (r >= 2 ** 36 || t >= 2 ** 16) return `${name};r=${r};t=${t}`;
    const k = r * 65536 + t;
    return memo.get(k) ?? memo.remember(k, `${name};r=${r};t=${t}`);
  };
}

function retryAfterMs(d: Decision): number {
  return d.retryAfterMs === Number.POSITIVE_INFINITY ? d.resetMs : d.retryAfterMs;
}

/** The single-policy reset: seconds until the binding policy refills, or until the retry. */
function reset(d: Decision): number {
  if (d.allowed) return ceilSeconds(d.resetMs);
  const retry = retryAfterSeconds(d);
  return retry ?? ceilSeconds(d.resetMs);
}
