import { type HttpLimiterOptions, type HttpRule, UNLIMITED } from "../http/index.js";
import { child } from "./document.js";
import { buildIdentity, type IdentityContext } from "./identity-spec.js";
import { isRecord, type Located } from "./located.js";
import { readStoreSpec } from "./store-spec.js";
import type { Translation } from "./translation.js";
import type { ParseConfigOptions } from "./types.js";

/** Passed to the limiter as written; it validates them and names problems by these paths. */
const AS_IS = [
  "headers",
  "trustProxy",
  "proxyHeader",
  "ipv6Prefix",
  "ipv4Prefix",
  "prefix",
  "countFailed",
  "countSuccessful",
  "identityFailures",
  "concurrency",
  "priority",
  "mode",
  "scope",
  "shed",
  "metrics",
] as const;

/** Top-level keys of throttlekit's schema: HttpLimiterOptions' data options, by their names. */
export const THROTTLEKIT_KEYS = [
  "store",
  "policies",
  "rules",
  "identity",
  "lists",
  "protect",
  ...AS_IS,
] as const;

/** A rule's keys a file can write (functions such as `skip` and `cost(req)` need code). */
const RULE_KEYS = [
  "name",
  "path",
  "methods",
  "policies",
  "zone",
  "exempt",
  "cost",
  "blockFor",
  "ban",
  "identity",
  "concurrency",
  "priority",
  "mode",
  "scope",
];
const LIST_KEYS = ["allow", "deny", "refresh"];

/** Turns a document of throttlekit's schema into HTTP limiter options. */
export function fromThrottlekit(
  root: Record<string, unknown>,
  problems: Located,
  options: ParseConfigOptions,
): Translation {
  problems.unknownKeys(root, THROTTLEKIT_KEYS, "");
  const out: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  for (const k of AS_IS) if (root[k] !== undefined) out[k] = root[k];
  const ctx: IdentityContext = {
    problems,
    identities: options.identities ?? {},
    address: root,
  };
  if (root.policies !== undefined) out.policies = unlimited(root.policies);
  if (root.identity !== undefined) {
    const identity = buildIdentity(root.identity, "identity", ctx, true);
    if (identity !== undefined) out.identity = identity;
  }
  if (root.rules !== undefined) {
    if (!Array.isArray(root.rules)) problems.add("rules", root.rules, "a list of rules");
    else out.rules = root.rules.map((r, i) => rule(r, child("rules", i), ctx));
  }
  if (root.lists !== undefined) {
    if (!isRecord(root.lists)) {
      problems.add("lists", root.lists, "{ allow?, deny?, refresh? }");
    } else {
      problems.unknownKeys(root.lists, LIST_KEYS, "lists");
      const renames = { allow: "allow", deny: "deny", refresh: "listsRefresh" } as const;
      for (const [from, to] of Object.entries(renames)) {
        if (root.lists[from] === undefined) continue;
        out[to] = root.lists[from];
        origin.set(to, `lists.${from}`);
      }
    }
  }
  if (root.protect !== undefined && root.protect !== false) {
    out.protect = root.protect === true ? {} : root.protect;
  }
  return {
    options: out as HttpLimiterOptions,
    store: readStoreSpec(root.store, "store", problems),
    origin,
    same: true,
  };
}

function rule(input: unknown, path: string, ctx: IdentityContext): HttpRule {
  if (!isRecord(input)) return input as HttpRule; // the limiter names it: "a rule object"
  ctx.problems.unknownKeys(input, RULE_KEYS, path);
  const out: Record<string, unknown> = {};
  for (const k of RULE_KEYS) if (input[k] !== undefined) out[k] = input[k];
  if (input.policies !== undefined) out.policies = unlimited(input.policies);
  if (input.identity !== undefined) {
    const identity = buildIdentity(input.identity, child(path, "identity"), ctx, false);
    if (identity === undefined) delete out.identity;
    else out.identity = identity;
  }
  return out as HttpRule;
}

/** `unlimited` written as a policy (alone or for a group) is UNLIMITED. */
function unlimited(policies: unknown): unknown {
  if (policies === "unlimited" || policies === "UNLIMITED") return UNLIMITED;
  if (!isRecord(policies) || !("default" in policies || "groups" in policies)) return policies;
  const out: Record<string, unknown> = { ...policies };
  if (out.default !== undefined) out.default = unlimited(out.default);
  if (isRecord(policies.groups)) {
    out.groups = Object.fromEntries(
      Object.entries(policies.groups).map(([g, p]) => [g, unlimited(p)]),
    );
  }
  return out;
}

export type { HttpLimiterOptions };
