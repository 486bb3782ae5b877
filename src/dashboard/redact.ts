/**
 * The running config as the page may see it. A config holds secrets (a Redis URL with its
 * password, JWT keys, API keys); none of them may reach a browser, whatever the caller passed,
 * so redaction errs on the side of hiding: a key that merely looks sensitive is hidden.
 */

/** What replaces a hidden value. */
export const REDACTED = "[redacted]";

/**
 * Key names whose values are hidden: password, passphrase, secret, token, any *key* (apiKey,
 * privateKey, publicKey, keyfile), credentials, auth / authorization, cookie, session, jwks,
 * certificates, connection strings. Matched on the name split into words (camelCase, snake_case,
 * kebab-case): "privateKey", "redis_password" and "apiKeys" are caught, "monkey" is not. The
 * words in TAIL_ONLY count only as the last word, so "keyPrefix" and "tokenBucket" (names, not
 * secrets) stay visible while "signingKey" and "accessToken" are hidden.
 */
const SECRET_WORDS = new Set([
  "password",
  "passwd",
  "pass",
  "pwd",
  "passphrase",
  "secret",
  "secrets",
  "token",
  "tokens",
  "key",
  "keys",
  "apikey",
  "credential",
  "credentials",
  "auth",
  "authorization",
  "cookie",
  "cookies",
  "session",
  "jwk",
  "jwks",
  "cert",
  "certificate",
  "pem",
  "private",
  "signature",
  "salt",
  "dsn",
  "connectionstring",
]);

const TAIL_ONLY = new Set(["key", "keys", "token", "tokens", "session"]);

/** Splits a key into lower-case words: "privateKey" → private, key; "redis_url" → redis, url. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** True when a value under this key must not be shown. */
export function isSecretKey(key: string): boolean {
  const lower = key.toLowerCase();
  if (SECRET_WORDS.has(lower.replace(/[^a-z0-9]/g, ""))) return true;
  const list = words(key);
  return list.some((w, i) => SECRET_WORDS.has(w) && (i === list.length - 1 || !TAIL_ONLY.has(w)));
}

/** "redis://user:pw@host:6379/0" → "redis://[redacted]@host:6379/0"; other text as it is. */
export function redactText(text: string): string {
  if (/-----BEGIN [A-Z ]*-----/.test(text)) return REDACTED;
  // scheme://userinfo@ : whatever sits before the @ of an authority is a credential.
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]*@/gi, `$1${REDACTED}@`);
  // ...and query parameters named like secrets (?password=..., &token=...).
  out = out.replace(/([?&])([^=&#\s]+)=([^&#\s]*)/g, (whole, sep: string, name: string) =>
    isSecretKey(decodeSafe(name)) ? `${sep}${name}=${REDACTED}` : whole,
  );
  return out;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const MAX_DEPTH = 32;
const MAX_NODES = 20_000;

/**
 * A deep copy of `value` with secrets replaced by "[redacted]". Plain data only (objects,
 * arrays, strings, finite numbers, booleans, null); functions, class instances with no JSON
 * form and the like are shown as a type name, never called. Throws on cycles or data too big to
 * show.
 */
export function redactConfig(value: unknown): unknown {
  let nodes = 0;
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (++nodes > MAX_NODES) throw new Error(`more than ${MAX_NODES} values`);
    if (v === null || typeof v === "boolean") return v;
    if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
    if (typeof v === "string") return redactText(v);
    if (typeof v === "bigint") return `${v}`;
    if (typeof v === "function") return "[function]";
    if (typeof v !== "object") return `[${typeof v}]`;
    if (v instanceof RegExp) return redactText(String(v));
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "[invalid date]" : v.toISOString();
    if (depth >= MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH} levels`);
    if (seen.has(v)) throw new Error("a cycle");
    seen.add(v);
    let out: unknown;
    if (Array.isArray(v)) out = v.map((item) => walk(item, depth + 1));
    else {
      const proto = Object.getPrototypeOf(v) as object | null;
      if (proto !== Object.prototype && proto !== null) {
        // A client, a store, a Buffer...: never walked (it may hold a connection's password).
        out = `[${(v.constructor as { name?: string } | undefined)?.name ?? "object"}]`;
      } else {
        const copy: Record<string, unknown> = {};
        for (const [k, item] of Object.entries(v)) {
          copy[k] = isSecretKey(k) && item !== undefined ? REDACTED : walk(item, depth + 1);
        }
        out = copy;
      }
    }
    seen.delete(v);
    return out;
  };
  return walk(value, 0);
}
