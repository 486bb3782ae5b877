/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/** Keys whose values are secrets (compared without case, `_` or `-`): these, or ending in one. */
const SECRET_KEYS = new Set(["key", "auth", "pass", "credentials", "authorization"]);
const SECRET_ENDINGS = /(password|passwd|secret|token|apikey|privatekey|accesskey)$/;

function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_]/g, "");
  return SECRET_KEYS.has(k) || SECRET_ENDINGS.test(k);
}

/**
 * A copy of a configuration with its secrets replaced by "[redacted]": values of keys such as
 * password, secret, key, token, api_key; passwords inside URLs (`redis://:pw@host` →
 * `redis://:[redacted]@host`); API keys on the lists (`apikey:<value>`). For printing a
 * configuration (`throttlekit config show`, the dashboard); the structure is kept.
 *
 * @example
 * console.log(JSON.stringify(redactConfig(config.source), null, 2));
 */
export function redactConfig(value: unknown): unknown {
  return redact(value, new WeakSet());
}

function redact(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return REDACTED;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== null && v !== undefined ? REDACTED : redact(v, seen);
  }
  return out;
}

function redactString(text: string): string {
  if (text.startsWith("apikey:")) return `apikey:${REDACTED}`;
  // scheme://user:password@host: keep the user, drop the password.
  return text.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^@/\s]+)@/i,
    (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`,
  );
}
