import { isIP } from "node:net";
import { type ListKind, parseDuration } from "../index.js";

/**
 * Validation of a list entry sent by the page, with the HTTP layer's rules (src/http/lists.ts):
 * a value is an identity key or an IP address or CIDR, 1 to 256 characters without control
 * characters; an expiry is a positive Duration; a reason at most 200 characters. A value that
 * looks like an address must be one, so a typo ("10.0.0.256", "10.0.0.0/33") is refused rather
 * than stored as an identity key that never matches.
 */
export type ListInput = {
  list: ListKind;
  value: string;
  /** ms from now; undefined: never expires. */
  forMs: number | undefined;
  reason: string | undefined;
};

export type FieldProblem = { field: string; expected: string };

const MAX_FOR_MS = 365 * 86_400_000;

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** True when the text is written like an IPv4/IPv6 address or CIDR rather than a key. */
function looksLikeAddress(text: string): boolean {
  if (/^[\d.]+(\/.*)?$/.test(text) && text.includes(".")) return true;
  return /^[0-9a-fA-F:.]+(%[\w.-]+)?(\/.*)?$/.test(text) && text.split(":").length > 2;
}

/** Why the value cannot be a list entry, or undefined. */
export function valueProblem(value: unknown): string | undefined {
  const form =
    "an identity key (user:42) or an IP/CIDR (203.0.113.7, 10.0.0.0/8): 1 to 256 characters, no control characters";
  if (typeof value !== "string" || value.length < 1 || value.length > 256 || hasControl(value))
    return form;
  if (value.trim() !== value) return "no leading or trailing spaces";
  if (looksLikeAddress(value)) {
    const slash = value.indexOf("/");
    const address = slash < 0 ? value : value.slice(0, slash);
    const version = isIP(address);
    if (version === 0) return "a valid IPv4 or IPv6 address (this looks like one but is not)";
    if (slash >= 0) {
      const bits = value.slice(slash + 1);
      const max = version === 4 ? 32 : 128;
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
        return `a CIDR prefix length from 0 to ${max}`;
    }
  }
  return undefined;
}

/** Reads and validates `{ list, value, for?, reason? }`; every problem at once. */
export function parseListInput(body: unknown): ListInput | FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return [{ field: "body", expected: "a JSON object { list, value, for?, reason? }" }];
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!["list", "value", "for", "reason"].includes(key))
      problems.push({ field: key, expected: "no such field: list, value, for, reason" });
  }
  if (b.list !== "allow" && b.list !== "deny")
    problems.push({ field: "list", expected: '"allow" or "deny"' });
  const vp = valueProblem(b.value);
  if (vp !== undefined) problems.push({ field: "value", expected: vp });
  let forMs: number | undefined;
  if (b.for !== undefined && b.for !== null && b.for !== "") {
    const ms =
      typeof b.for === "string" || typeof b.for === "number" ? parseDuration(b.for) : undefined;
    if (ms === undefined || ms <= 0 || ms > MAX_FOR_MS)
      problems.push({
        field: "for",
        expected: 'a positive duration up to 365d, like "30s", "10m", "1h", "7d" (empty: forever)',
      });
    else forMs = ms;
  }
  let reason: string | undefined;
  if (b.reason !== undefined && b.reason !== null && b.reason !== "") {
    if (typeof b.reason !== "string" || b.reason.length > 200 || hasControl(b.reason))
      problems.push({ field: "reason", expected: "text of at most 200 characters" });
    else reason = b.reason;
  }
  if (problems.length > 0) return problems;
  return { list: b.list as ListKind, value: b.value as string, forMs, reason };
}
