/**
 * IP addresses and CIDR blocks without `node:net`, so the HTTP layer runs on edge runtimes too.
 * An address is held as 32-bit words: one for IPv4, four for IPv6. IPv4-mapped IPv6
 * (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) is read as the IPv4 address it carries: a dual-stack
 * socket reports IPv4 clients that way, and one client must not get two keys.
 */

/** A parsed address: `words` holds 1 (IPv4) or 4 (IPv6) unsigned 32-bit words. */
export type IpAddress = {
  readonly version: 4 | 6;
  readonly words: Uint32Array;
};

/** A CIDR block: the network's words (host bits zeroed) and the prefix length. */
export type Cidr = IpAddress & { readonly bits: number };

const IPV4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** True for a dotted-quad IPv4 address (no leading zeros: "010" could be read as octal). */
export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** True for an IPv6 address in any RFC 4291 §2.2 form (an IPv4-mapped one included). */
export function isIpv6(text: string): boolean {
  return parseIpv6(text) !== undefined;
}

/**
 * Parses an IPv4 or IPv6 address (zone ids like `%eth0` are dropped). Undefined for anything
 * else, including hostnames, ports and RFC 7239's "unknown" and obfuscated nodes.
 */
export function parseIp(text: string): IpAddress | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { version: 4, words: Uint32Array.of(v4) };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6[0] === 0 && v6[1] === 0 && v6[2] === 0xffff) {
    return { version: 4, words: Uint32Array.of(v6[3]!) };
  }
  return { version: 6, words: v6 };
}

function parseIpv4(text: string): number | undefined {
  const m = IPV4.exec(text);
  if (m === null) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

function parseIpv6(input: string): Uint32Array | undefined {
  const zone = input.indexOf("%");
  const text = zone < 0 ? input : input.slice(0, zone);
  if (text.length < 2 || text.length > 45 || !text.includes(":")) return undefined;
  const groups: number[] = [];
  let tailIpv4: number | undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string, isLast: boolean): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (isLast && i === pieces.length - 1 && piece.includes(".")) {
        tailIpv4 = parseIpv4(piece);
        if (tailIpv4 === undefined) return undefined;
        out.push(tailIpv4 >>> 16, tailIpv4 & 0xffff);
      } else if (HEX_GROUP.test(piece)) {
        out.push(Number.parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  if (halves.length === 1) {
    const all = parse(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups.push(...all);
  } else {
    const head = parse(halves[0]!, false);
    const tail = parse(halves[1]!, true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return words;
}

/** Zeroes every bit after the first `bits`, in place, and returns the words. */
function mask(words: Uint32Array, bits: number): Uint32Array {
  for (let i = 0; i < words.length; i++) {
    const keep = Math.min(32, Math.max(0, bits - 32 * i));
    words[i] = keep === 0 ? 0 : keep === 32 ? words[i]! : (words[i]! & (~0 << (32 - keep))) >>> 0;
  }
  return words;
}

/** Formats an address: dotted quad, or RFC 5952 canonical IPv6 (lowercase, longest zero run as ::). */
export function formatIp(ip: IpAddress): string {
  const w = ip.words;
  if (ip.version === 4) {
    const v = w[0]!;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 4; i++) groups.push(w[i]! >>> 16, w[i]! & 0xffff);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups (the first, on a tie).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

/**
 * Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128). Host bits after the
 * prefix are cleared. Undefined for anything else.
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === undefined) return undefined;
  const max = ip.version === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const raw = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(raw)) return undefined;
    bits = Number(raw);
    // "::ffff:10.0.0.0/104" was read as IPv4: its prefix counts the 96 mapping bits too.
    if (ip.version === 4 && text.slice(0, slash).includes(":")) bits -= 96;
    if (bits < 0 || bits > max) return undefined;
  }
  return { version: ip.version, words: mask(Uint32Array.from(ip.words), bits), bits };
}

/** True when the address lies inside the block (always false across IP versions). */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.version !== ip.version) return false;
  let left = cidr.bits;
  for (let i = 0; left > 0; i++, left -= 32) {
    const keep = Math.min(32, left);
    const m = keep === 32 ? 0xffffffff : (~0 << (32 - keep)) >>> 0;
    if ((ip.words[i]! & m) >>> 0 !== cidr.words[i]) return false;
  }
  return true;
}

/**
 * The rate-limit key for an address: IPv4 as written; IPv6 reduced to its first `ipv6Prefix`
 * bits and written "network/prefix", because one subscriber usually holds a whole /56 or /64
 * and can otherwise rotate through more addresses than any limit (RFC 6177 §3).
 */
export function addressKey(ip: IpAddress, ipv4Prefix: number, ipv6Prefix: number): string {
  const bits = ip.version === 4 ? ipv4Prefix : ipv6Prefix;
  const max = ip.version === 4 ? 32 : 128;
  if (bits === max) return formatIp(ip);
  const net = { version: ip.version, words: mask(Uint32Array.from(ip.words), bits) };
  return `${formatIp(net)}/${bits}`;
}

/** Named ranges accepted in trust and list settings, as in proxy-addr. */
export const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};
