/**
 * Readers for the three headers proxies use to pass on the client's address. Each returns the
 * hops left to right (client first, nearest proxy last) as raw node strings; the caller decides
 * how many of them to believe (see client-address.ts).
 */

/**
 * `for=` nodes of an RFC 7239 `Forwarded` field, in order. Elements are comma-separated
 * (§4), pairs semicolon-separated, values tokens or quoted-strings; node names (§6) lose their
 * brackets and port. An element without `for=` yields "" so positions still count as hops.
 */
export function forwardedFor(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = value.length;
  let current = "";
  while (i <= n) {
    const c = i < n ? value.charCodeAt(i) : 44; // a virtual ',' closes the last element
    if (c === 44 /* , */) {
      out.push(current);
      current = "";
      i++;
      continue;
    }
    // Parse one pair: token "=" (token / quoted-string).
    while (i < n && (value[i] === " " || value[i] === "\t" || value[i] === ";")) i++;
    const eq = value.indexOf("=", i);
    const stop = nextDelimiter(value, i);
    if (eq < 0 || eq > stop) {
      i = stop;
      continue;
    }
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let v: string;
    if (value[i] === '"') {
      // quoted-string (RFC 9110 §5.6.4): backslash escapes the next character.
      let s = "";
      i++;
      while (i < n && value[i] !== '"') {
        if (value[i] === "\\" && i + 1 < n) i++;
        s += value[i];
        i++;
      }
      i++; // closing quote
      v = s;
      i = nextDelimiter(value, i);
    } else {
      const end = nextDelimiter(value, i);
      v = value.slice(i, end).trim();
      i = end;
    }
    if (name === "for") current = nodeName(v);
    if (i < n && value[i] === ";") i++;
  }
  return out;
}

function nextDelimiter(value: string, from: number): number {
  for (let i = from; i < value.length; i++) {
    const c = value[i];
    if (c === ";" || c === ",") return i;
  }
  return value.length;
}

/** RFC 7239 §6: `"[2001:db8::1]:4711"` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1`. */
function nodeName(node: string): string {
  if (node.startsWith("[")) {
    const close = node.indexOf("]");
    return close < 0 ? node : node.slice(1, close);
  }
  const colon = node.indexOf(":");
  // One colon is IPv4 with a port; several are a bare IPv6 (not valid per §6, tolerated).
  return colon >= 0 && node.indexOf(":", colon + 1) < 0 ? node.slice(0, colon) : node;
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
