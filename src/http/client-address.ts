import { forwardedFor, xForwardedFor, xRealIp } from "./forwarded.js";
import {
  type Cidr,
  cidrContains,
  type IpAddress,
  NAMED_RANGES,
  parseCidr,
  parseIp,
} from "./ip-address.js";
import type { HttpRequest } from "./request.js";

/**
 * Which proxies to believe: a number of hops (1 = the peer that connected to us is a proxy,
 * 2 = that proxy is behind another one) or the addresses/CIDRs of your proxies (also the names
 * "loopback", "linklocal", "uniquelocal"). Nothing is trusted by default: the client address is
 * the socket's, and forwarding headers are never read.
 */
export type TrustProxy = number | readonly string[];

/** The forwarding header your proxies write. Only that one is read; the others are ignored. */
export type ProxyHeader = "x-forwarded-for" | "forwarded" | "x-real-ip";

/** The forwarding headers `proxyHeader` accepts. */
export const PROXY_HEADERS: readonly ProxyHeader[] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/** Finds the client's address for a request; undefined when no trustworthy address exists. */
export type AddressResolver = (req: HttpRequest<unknown>) => IpAddress | undefined;

/** Validates `trustProxy`; returns the problem text, or undefined when it is valid. */
export function trustProxyProblem(trust: unknown): string | undefined {
  if (trust === undefined) return undefined;
  if (typeof trust === "number") {
    return Number.isSafeInteger(trust) && trust >= 0 && trust <= 32
      ? undefined
      : "a hop count (a whole number from 0 to 32)";
  }
  const expected =
    'a hop count, or an array of proxy addresses, CIDRs or "loopback" | "linklocal" | "uniquelocal"';
  if (!Array.isArray(trust)) return expected;
  for (const item of trust) {
    if (typeof item !== "string") return expected;
    if (!Object.hasOwn(NAMED_RANGES, item) && parseCidr(item) === undefined) {
      return `${expected}; ${JSON.stringify(item)} is none of these`;
    }
  }
  return undefined;
}

/**
 * Builds the resolver once (options already validated). The forwarding header lists hops left to
 * right and each proxy appends the peer it saw, so only the right end is trustworthy: walk from
 * the socket's peer leftwards while the hop is a trusted proxy, and the first untrusted hop is
 * the client (the same rule as RFC 7239 §8.1 and Express's `trust proxy`).
 */
export function addressResolver(
  trust: TrustProxy | undefined,
  header: ProxyHeader,
): AddressResolver {
  if (trust === undefined || trust === 0) return (req) => socketAddress(req.remoteAddress);
  const read =
    header === "forwarded" ? forwardedFor : header === "x-real-ip" ? xRealIp : xForwardedFor;
  if (typeof trust === "number") {
    return (req) => {
      const value = req.header(header);
      if (value === undefined) return socketAddress(req.remoteAddress);
      const hops = read(value);
      // hops[len] is the socket peer (hop 1). With n trusted hops the client sits n places left
      // of it; fewer entries than that means every hop was a proxy: take the leftmost.
      return walkFrom(hops, req.remoteAddress, Math.max(0, hops.length - trust));
    };
  }
  const blocks: Cidr[] = [];
  for (const item of trust) {
    for (const text of NAMED_RANGES[item] ?? [item]) blocks.push(parseCidr(text)!);
  }
  const trusted = (ip: IpAddress): boolean => {
    for (const b of blocks) if (cidrContains(b, ip)) return true;
    return false;
  };
  return (req) => {
    const peer = socketAddress(req.remoteAddress);
    // The socket's peer is the one hop nobody can forge: unless it is a trusted proxy, it is
    // the client and every header it sent is the client's own claim.
    if (peer === undefined || !trusted(peer)) return peer;
    const value = req.header(header);
    if (value === undefined) return peer;
    const hops = read(value);
    let last = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = parseIp(hops[i]!);
      // A hop that is not an address ("unknown", an obfuscated node, garbage) ends the walk:
      // the last proxy we believe is the best address left (RFC 7239 §6.2, §6.3).
      if (ip === undefined) return last;
      if (!trusted(ip)) return ip;
      last = ip;
    }
    return last;
  };
}

/**
 * The address at hops[index], or the nearest valid one to its right (the proxy that wrote the
 * bad entry) when it is not an IP address; the socket peer closes the chain.
 */
function walkFrom(
  hops: string[],
  remote: string | undefined,
  index: number,
): IpAddress | undefined {
  for (let i = index; i < hops.length; i++) {
    const ip = parseIp(hops[i]!);
    if (ip !== undefined) return ip;
  }
  return socketAddress(remote);
}

/** Parses the socket's address ("::ffff:192.0.2.1" from a dual-stack socket reads as IPv4). */
export function socketAddress(remote: string | undefined): IpAddress | undefined {
  return remote === undefined || remote === "" ? undefined : parseIp(remote);
}

/** The three forwarding headers, in the order they are looked for. */
const FORWARDING_HEADERS = ["x-forwarded-for", "forwarded", "x-real-ip"] as const;

let privateBlocks: Cidr[] | undefined;

/**
 * The forwarding header a request carries when its socket peer is a loopback, private
 * (RFC 1918, fc00::/7) or link-local address, else undefined: the signature of a proxy in front
 * of an app that trusts none, where every client shares the proxy's address (express-rate-limit's
 * ERR_ERL_UNEXPECTED_X_FORWARDED_FOR, as a one-time warning). Headers are looked up first, so a
 * request without any costs three lookups and no allocation.
 */
export function forwardedFromPrivatePeer(req: HttpRequest<unknown>): ProxyHeader | undefined {
  let found: ProxyHeader | undefined;
  for (const h of FORWARDING_HEADERS) {
    if (req.header(h) !== undefined) {
      found = h;
      break;
    }
  }
  if (found === undefined) return undefined;
  const peer = socketAddress(req.remoteAddress);
  if (peer === undefined) return undefined;
  privateBlocks ??= [
    ...NAMED_RANGES.loopback!,
    ...NAMED_RANGES.uniquelocal!,
    ...NAMED_RANGES.linklocal!,
  ].map((c) => parseCidr(c)!);
  for (const b of privateBlocks) if (cidrContains(b, peer)) return found;
  return undefined;
}
