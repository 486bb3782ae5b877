import { isIpv4, isIpv6 } from "./ip-address.js";

/**
 * Readers for the three headers proxies use to pass on the client's address. Each returns the
 * hops left to right (client first, nearest proxy last) as node strings; the caller decides how
 * many of them to believe (see client-address.ts). A hop that is not a usable node comes back as
 * "" (never as an address), so positions still count.
 */

// RFC 9110 §5.6.2 tchar: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT ALPHA.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;
// Values also take ":" "[" "]" unquoted: RFC 7239 §6 wants IPv6 and ports quoted, yet common
// proxy configurations write `for=2001:db8::1` bare. None of the three is a delimiter or a quote,
// so tolerating them changes no element boundary.
const VCHAR_TOKEN = TCHAR.slice();
for (const c of ":[]") VCHAR_TOKEN[c.charCodeAt(0)] = 1;

const COMMA = 44;
const SEMI = 59;
const EQ = 61;
const DQUOTE = 34;
const BACKSLASH = 92;

/**
 * `for=` nodes of an RFC 7239 `Forwarded` field, one per forwarded-element, left to right. Node
 * names (§6) lose their brackets and port; "unknown" and obfuscated `_…` nodes are kept as
 * written; an element without `for=`, or one that breaks the §4 grammar (an unterminated
 * quoted-string, junk after a value, a repeated `for`, a node §6 does not define such as a
 * bracketed IPv4), yields "".
 *
 * A broken element never swallows the elements after it: parsing resumes after the first comma
 * that follows the broken element's start, quotes or not. A trusted proxy appends
 * `, for=<peer>` (or a header line, which HTTP joins with ", "); whatever the client wrote
 * before it, that comma begins an element and the proxy's text parses as its own element, so
 * the last hop is always what the proxy wrote (issue 13, item 7; property-tested).
 */
export function forwardedFor(value: string): string[] {
  const out: string[] = [];
  const n = value.length;
  let i = 0;
  for (;;) {
    const start = i;
    const end = element(value, i, out);
    if (end >= 0) {
      if (end >= n) return out;
      i = end + 1; // past the comma
      continue;
    }
    out.push("");
    const comma = value.indexOf(",", start);
    if (comma < 0) return out;
    i = comma + 1;
  }
}

/**
 * Parses one forwarded-element from `i`: `[pair] *( ";" [pair] )`, pair = token "=" (token /
 * quoted-string), OWS tolerated around ";" and ",". Pushes its node and returns the index of
 * the comma (or the end) that closes it, or -1 when the element is malformed (nothing pushed).
 */
function element(value: string, from: number, out: string[]): number {
  const n = value.length;
  let i = skipOws(value, from);
  let node: string | undefined;
  for (;;) {
    if (i >= n || value.charCodeAt(i) === COMMA) break;
    if (value.charCodeAt(i) === SEMI) {
      i = skipOws(value, i + 1);
      continue;
    }
    const nameStart = i;
    while (i < n && isIn(TCHAR, value.charCodeAt(i))) i++;
    if (i === nameStart || i >= n || value.charCodeAt(i) !== EQ) return -1;
    const isFor = i - nameStart === 3 && value.slice(nameStart, i).toLowerCase() === "for";
    i++;
    let v: string;
    if (i < n && value.charCodeAt(i) === DQUOTE) {
      // quoted-string (RFC 9110 §5.6.4); a backslash escapes the next character.
      const open = ++i;
      let escaped = false;
      for (;;) {
        if (i >= n) return -1; // unterminated: the whole element is void
        const c = value.charCodeAt(i);
        if (c === DQUOTE) break;
        if (c === BACKSLASH) {
          if (i + 1 >= n || !qdChar(value.charCodeAt(i + 1))) return -1;
          escaped = true;
          i += 2;
          continue;
        }
        if (!qdChar(c)) return -1;
        i++;
      }
      v = escaped ? value.slice(open, i).replace(/\\(.)/g, "$1") : value.slice(open, i);
      i++; // the closing quote
    } else {
      const valueStart = i;
      while (i < n && isIn(VCHAR_TOKEN, value.charCodeAt(i))) i++;
      if (i === valueStart) return -1;
      v = value.slice(valueStart, i);
    }
    if (isFor) {
      // §4: a parameter MUST NOT occur more than once per element; which one would count?
      if (node !== undefined) return -1;
      node = nodeName(v);
    }
    i = skipOws(value, i);
    if (i < n) {
      const c = value.charCodeAt(i);
      if (c !== SEMI && c !== COMMA) return -1;
    }
  }
  out.push(node ?? "");
  return i;
}

function skipOws(value: string, i: number): number {
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

function isIn(table: Uint8Array, c: number): boolean {
  return c < 128 && table[c] === 1;
}

/** qdtext and quoted-pair characters: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.6.4). */
function qdChar(c: number): boolean {
  return c === 9 || (c >= 32 && c !== 127);
}

const OBFUSCATED = /^_[A-Za-z0-9._-]+$/;
const PORT = /^(?:\d{1,5}|_[A-Za-z0-9._-]+)$/;

/**
 * RFC 7239 §6 node → its name without brackets or port: `"[2001:db8::1]:4711"` → `2001:db8::1`,
 * `192.0.2.1:80` → `192.0.2.1`, `unknown`, `_hidden`. "" for anything §6 does not define
 * (brackets hold IPv6 only: `[6.6.6.6]` is not a node). A bare IPv6 address is tolerated.
 */
export function nodeName(node: string): string {
  if (node.charCodeAt(0) === 91 /* [ */) {
    const close = node.indexOf("]");
    if (close < 0) return "";
    const rest = node.length - close - 1;
    if (rest > 0 && !(node.charCodeAt(close + 1) === 58 && PORT.test(node.slice(close + 2)))) {
      return "";
    }
    const name = node.slice(1, close);
    return isIpv6(name) ? name : "";
  }
  const colon = node.indexOf(":");
  if (colon >= 0 && node.indexOf(":", colon + 1) >= 0) return isIpv6(node) ? node : "";
  const name = colon < 0 ? node : node.slice(0, colon);
  if (colon >= 0 && !PORT.test(node.slice(colon + 1))) return "";
  if (isIpv4(name) || OBFUSCATED.test(name)) return name;
  return name.toLowerCase() === "unknown" ? "unknown" : "";
}

/** `X-Forwarded-For: client, proxy1, proxy2` (repeated fields arrive joined by ", "). */
export function xForwardedFor(value: string): string[] {
  const parts = value.split(",");
  for (let i = 0; i < parts.length; i++) parts[i] = stripPort(parts[i]!.trim());
  return parts;
}

/** `X-Real-IP` carries one address, written by the proxy that terminated the connection. */
export function xRealIp(value: string): string[] {
  return [stripPort(value.trim())];
}

/** Some proxies append a port ("192.0.2.1:1234", "[2001:db8::1]:443"); keys never include it. */
function stripPort(node: string): string {
  return node.startsWith("[") || (node.includes(".") && node.includes(":")) ? nodeName(node) : node;
}
