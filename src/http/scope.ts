import { MAX_KEY_LENGTH } from "../core/limiter.js";
import type { HttpRequest } from "./request.js";
import type { CompiledRule } from "./rules.js";

/**
 * What one counter of a rule covers (issue 19 item 4): every request the rule matches ("rule"),
 * each route template ("route"), or each concrete path ("path").
 */
export type RuleScope = "rule" | "route" | "path";
export const RULE_SCOPES: readonly RuleScope[] = Object.freeze(["rule", "route", "path"]);

/**
 * Longest path or route kept as written in a counter's key; a longer one is replaced by a hash
 * of it, so a client sending long paths cannot make long keys (the number of keys is the
 * store's to bound: memoryStore's `maxKeys`, Redis's own memory policy).
 */
export const MAX_SCOPE_LENGTH = 200;

/**
 * The counter key of `key` (an identity key) for one path or route: `<part>\0<key>`. The part
 * comes first and never holds a NUL (one that does is hashed), so no identity key can be spelled
 * to reach another identity's counter of another path.
 */
export function scopedKey(key: string, part: string): string {
  const p = part.length <= MAX_SCOPE_LENGTH && !part.includes("\u0000") ? part : `#${hash(part)}`;
  const k = p.length + 1 + key.length <= MAX_KEY_LENGTH ? key : `#${hash(key)}`;
  return `${p}\u0000${k}`;
}

/**
 * The counter key of a rule scoped per path or route: the concrete path, or the framework's
 * route template, else the rule's path pattern that matched (a rule without `path` then counts
 * as scope "rule" does).
 */
export function counterKey<Raw>(
  rule: CompiledRule<Raw>,
  req: HttpRequest<Raw>,
  key: string,
): string {
  if (rule.scope === "path") return scopedKey(key, pathPart(req.path));
  const route = req.route ?? matchedPattern(rule, req);
  return route === undefined ? key : scopedKey(key, route);
}

/**
 * What a "path" counter is kept under: the path, with the spellings frameworks route alike
 * folded together (repeated slashes, a trailing slash, letter case), so a client cannot
 * multiply its budget by spelling one path several ways. Folding only ever merges counters: two
 * paths a case-sensitive router tells apart (`/files/A`, `/files/a`) share one, stricter, never
 * looser. Percent-encoding is the adapters' (their `req.path` is canonical already).
 */
export function pathPart(path: string): string {
  let p = path;
  if (p.includes("//")) p = p.replace(MANY_SLASHES, "/");
  if (p.length > 1 && p.charCodeAt(p.length - 1) === 47 /* / */) p = p.slice(0, -1);
  return p.toLowerCase();
}

const MANY_SLASHES = /\/{2,}/g;

function matchedPattern<Raw>(rule: CompiledRule<Raw>, req: HttpRequest<Raw>): string | undefined {
  const paths = rule.paths;
  if (paths === undefined) return undefined;
  const path = req.path;
  const ignoreCase = req.caseInsensitive === true;
  for (let i = 0; i < paths.length; i++) if (paths[i]!(path, ignoreCase)) return rule.patterns![i];
  return undefined;
}

/** cyrb53: 53 bits, the same on every process and runtime (no node:crypto in the HTTP layer). */
function hash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
