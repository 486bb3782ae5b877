import { ProblemList } from "../../core/errors/config-error.js";
import { LOGGER_FORM, type Logger, resolveLogger, warnOnce } from "../../core/logger.js";
import {
  type AddressResolver,
  addressResolver,
  forwardedFromPrivatePeer,
  PROXY_HEADERS,
  type ProxyHeader,
  type TrustProxy,
  trustProxyProblem,
} from "../client-address.js";
import { IdentityError } from "../identity-error.js";
import { addressKey, isIpv4 } from "../ip-address.js";
import type { Identity } from "./types.js";

/** Options of ip(). */
export type IpOptions = {
  /**
   * Proxies to believe: a hop count or a list of proxy addresses/CIDRs. Without it the socket's
   * address is the client and forwarding headers are ignored: a client can write any
   * X-Forwarded-For it likes, so reading it unguarded lets anyone pick their own key.
   * @default undefined (trust nothing)
   */
  trustProxy?: TrustProxy;
  /**
   * The forwarding header your proxies write; the other two are ignored, so a client cannot
   * slip in one your proxy passes through untouched.
   * @default "x-forwarded-for"
   */
  header?: ProxyHeader;
  /**
   * IPv6 clients are counted per network of this prefix length: one subscriber typically holds
   * a /56 (RFC 6177) and could rotate addresses inside it.
   * @default 56
   */
  ipv6Prefix?: number;
  /** IPv4 clients are counted per network of this prefix length. @default 32 */
  ipv4Prefix?: number;
  /**
   * Where the one-time WARN_TK_PROXY_HEADER_IGNORED warning goes (a forwarding header from a
   * loopback or private peer while `trustProxy` is unset); `false` silences it.
   * @default console
   */
  logger?: Logger | false;
};

/** An identity by client address; it also exposes how it finds the address (for CIDR lists). */
export type IpIdentity = Identity & {
  readonly resolveAddress: AddressResolver;
};

const IP_KEYS = ["trustProxy", "header", "ipv6Prefix", "ipv4Prefix", "logger"] as const;

/**
 * Identifies clients by IP address: IPv4 as is ("203.0.113.7"), IPv6 by network
 * ("2001:db8:ab:cd00::/56"), IPv4-mapped IPv6 as the IPv4 it carries.
 *
 * @example
 * ip()                                   // the socket's address; headers ignored
 * ip({ trustProxy: 1 })                  // behind one proxy (a load balancer)
 * ip({ trustProxy: ["10.0.0.0/8"], header: "forwarded" })
 */
export function ip(options: IpOptions = {}): IpIdentity {
  const problems = new ProblemList();
  ipOptionProblems(options, "ip", problems);
  problems.throwIfAny();
  const resolve = addressResolver(options.trustProxy, options.header ?? "x-forwarded-for");
  const v4 = options.ipv4Prefix ?? 32;
  const v6 = options.ipv6Prefix ?? 56;
  const socketOnly = options.trustProxy === undefined || options.trustProxy === 0;
  const logger = resolveLogger(options.logger)!;
  // Watch for a proxy nobody told us about until it has been reported once: afterwards (and
  // with trustProxy set, or logger: false) this costs one flag test per request.
  let quiet = options.trustProxy !== undefined || options.logger === false;
  const watch = (req: Parameters<Identity>[0]): void => {
    const header = forwardedFromPrivatePeer(req);
    if (header === undefined) return;
    quiet = true;
    warnOnce(
      logger,
      "WARN_TK_PROXY_HEADER_IGNORED",
      `a request from the private or loopback address ${req.remoteAddress} carried ${header}, ` +
        "but trustProxy is unset, so forwarding headers are ignored and, if a proxy or load " +
        "balancer is in front, every client shares its address and one limit. Set trustProxy " +
        "(a hop count such as 1, or your proxies' CIDRs) and proxyHeader; if that peer is not " +
        "a proxy, pass logger: false or trustProxy: 0 to silence this.",
    );
  };
  const identity = (req: Parameters<Identity>[0]) => {
    if (!quiet) watch(req);
    // Fast path for the common case: no proxies and an IPv4 peer, which the OS already wrote in
    // canonical dotted form (dual-stack sockets prefix it with ::ffff:).
    if (socketOnly && v4 === 32) {
      const r = req.remoteAddress;
      if (r !== undefined && r.length <= 22) {
        if (r.indexOf(":") < 0 && isIpv4(r)) return r;
        if (r.startsWith("::ffff:") && isIpv4(r.slice(7))) return r.slice(7);
      }
    }
    const address = resolve(req);
    if (address === undefined) {
      throw new IdentityError(
        "The client address is unknown: the adapter passed no remote address and no trusted proxy header named one.",
      );
    }
    return addressKey(address, v4, v6);
  };
  return Object.assign(identity, { resolveAddress: resolve });
}

/** Validates ip() options into `problems`, naming them under `where` (shared with the limiter). */
export function ipOptionProblems(options: unknown, where: string, problems: ProblemList): void {
  if (typeof options !== "object" || options === null) {
    problems.add(
      where,
      options,
      "an object { trustProxy?, header?, ipv6Prefix?, ipv4Prefix?, logger? }",
    );
    return;
  }
  const o = options as Record<string, unknown>;
  problems.unknownKeys(o, IP_KEYS, where);
  const trust = trustProxyProblem(o.trustProxy);
  if (trust !== undefined) problems.add(`${where}.trustProxy`, o.trustProxy, trust);
  if (o.header !== undefined && !(PROXY_HEADERS as readonly unknown[]).includes(o.header)) {
    problems.add(`${where}.header`, o.header, PROXY_HEADERS.map((h) => `"${h}"`).join(" | "));
  }
  if (resolveLogger(o.logger) === undefined) problems.add(`${where}.logger`, o.logger, LOGGER_FORM);
  prefixProblem(o.ipv6Prefix, 128, `${where}.ipv6Prefix`, problems);
  prefixProblem(o.ipv4Prefix, 32, `${where}.ipv4Prefix`, problems);
}

function prefixProblem(v: unknown, max: number, option: string, problems: ProblemList): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= max)) {
    problems.add(option, v, `a prefix length from 1 to ${max}`);
  }
}

/** True for identities made by ip(). */
export function isIpIdentity(value: unknown): value is IpIdentity {
  return (
    typeof value === "function" &&
    typeof (value as Partial<IpIdentity>).resolveAddress === "function"
  );
}
