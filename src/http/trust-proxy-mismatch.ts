import type { TrustProxy } from "./client-address.js";

/** A trust-proxy setting reduced to what can be compared across frameworks. */
type Trust =
  | { readonly kind: "none" | "all" | "custom" }
  | { readonly kind: "hops"; readonly hops: number }
  | { readonly kind: "list"; readonly items: readonly string[] };

/**
 * Express's and Fastify's `trust proxy` (proxy-addr's forms: a boolean, a hop count, a
 * comma-separated string or an array of addresses, CIDRs and "loopback"-style names, or a
 * function) and Koa's `app.proxy` + `maxIpsCount`, as comparable values.
 */
function frameworkTrust(value: unknown): Trust {
  if (value === undefined || value === null || value === false || value === 0)
    return { kind: "none" };
  if (value === true) return { kind: "all" };
  if (typeof value === "number") return { kind: "hops", hops: value };
  if (typeof value === "string") return list(value.split(","));
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return list(value);
  return { kind: "custom" };
}

function list(items: readonly string[]): Trust {
  const clean = items.map((s) => s.trim()).filter((s) => s !== "");
  return clean.length === 0
    ? { kind: "none" }
    : { kind: "list", items: [...new Set(clean)].sort() };
}

function ourTrust(value: TrustProxy | undefined): Trust {
  if (value === undefined || value === 0) return { kind: "none" };
  return typeof value === "number" ? { kind: "hops", hops: value } : list(value);
}

function describe(t: Trust): string {
  switch (t.kind) {
    case "none":
      return "unset (no proxy trusted)";
    case "all":
      return "true (every hop trusted)";
    case "custom":
      return "a function";
    case "hops":
      return `${t.hops} (hops)`;
    case "list":
      return JSON.stringify(t.items);
  }
}

/**
 * Compares a framework's own trust-proxy setting with throttlekit's `trustProxy` and says how
 * they differ, or returns undefined when they agree (or cannot be compared: a function). When
 * they differ, the framework's client address (`req.ip`, logs) and the limiter's key are two
 * different clients: log it once with the code `WARN_TK_TRUST_PROXY_MISMATCH`.
 *
 * @example
 * const m = trustProxyMismatch("Express's \"trust proxy\"", req.app.get("trust proxy"), options.trustProxy);
 * if (m !== undefined) warnOnce(limiter.logger, "WARN_TK_TRUST_PROXY_MISMATCH", m);
 */
export function trustProxyMismatch(
  setting: string,
  frameworkValue: unknown,
  trustProxy: TrustProxy | undefined,
): string | undefined {
  const theirs = frameworkTrust(frameworkValue);
  if (theirs.kind === "custom") return undefined;
  const ours = ourTrust(trustProxy);
  const a = describe(theirs);
  const b = describe(ours);
  if (a === b) return undefined;
  return (
    `${setting} is ${a} but throttlekit's trustProxy is ${b}: the framework's client address ` +
    "and the limiter's disagree. Set trustProxy to exactly your proxies (a hop count or their " +
    "addresses/CIDRs), the same as the framework's setting"
  );
}
