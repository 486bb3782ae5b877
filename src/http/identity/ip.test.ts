import { describe, expect, it } from "vitest";
import { ConfigError } from "../../core/errors/config-error.js";
import { IdentityError } from "../identity-error.js";
import type { HttpRequest } from "../request.js";
import { ip } from "./ip.js";

const ctx = { now: () => 0 };
const req = (remote: string | undefined, headers: Record<string, string> = {}): HttpRequest => ({
  method: "GET",
  path: "/",
  remoteAddress: remote,
  raw: undefined,
  header: (n) => headers[n],
});

describe("ip()", () => {
  it("keys IPv4, mapped IPv4 and IPv6 networks", () => {
    const id = ip();
    expect(id(req("203.0.113.7"), ctx)).toBe("203.0.113.7");
    expect(id(req("::ffff:203.0.113.7"), ctx)).toBe("203.0.113.7");
    expect(id(req("::FFFF:cb00:7107"), ctx)).toBe("203.0.113.7");
    expect(id(req("2001:db8:ab:cd12:1::9"), ctx)).toBe("2001:db8:ab:cd00::/56");
    expect(ip({ ipv6Prefix: 64 })(req("2001:db8:ab:cd12:1::9"), ctx)).toBe("2001:db8:ab:cd12::/64");
    expect(ip({ ipv4Prefix: 24 })(req("203.0.113.7"), ctx)).toBe("203.0.113.0/24");
  });

  it("fails as an identity error when no address is known", () => {
    expect(() => ip()(req(undefined), ctx)).toThrow(IdentityError);
    expect(() => ip()(req("not-an-ip"), ctx)).toThrow(IdentityError);
  });

  it("honours only trusted hops", () => {
    const headers = { "x-forwarded-for": "2001:db8::1, 198.51.100.3" };
    expect(ip()(req("10.0.0.1", headers), ctx)).toBe("10.0.0.1");
    expect(ip({ trustProxy: 1 })(req("10.0.0.1", headers), ctx)).toBe("198.51.100.3");
    expect(ip({ trustProxy: 2 })(req("10.0.0.1", headers), ctx)).toBe("2001:db8::/56");
    expect(ip({ trustProxy: ["10.0.0.0/8"] })(req("10.0.0.1", headers), ctx)).toBe("198.51.100.3");
  });

  it("warns once, with its own logger, about a forwarding header from a private peer", () => {
    const messages: string[] = [];
    let reads = 0;
    const counted = (remote: string, headers: Record<string, string>): HttpRequest => ({
      ...req(remote, headers),
      header: (n) => {
        reads++;
        return headers[n];
      },
    });
    const id = ip({ logger: { warn: (m) => void messages.push(m) } });
    const xff = { "x-forwarded-for": "203.0.113.5" };
    expect(id(counted("203.0.113.9", xff), ctx)).toBe("203.0.113.9"); // a public peer: a client
    expect(id(counted("::ffff:192.168.1.2", {}), ctx)).toBe("192.168.1.2"); // no header
    expect(messages).toEqual([]);
    expect(id(counted("fd00::1", { forwarded: "for=203.0.113.5" }), ctx)).toBe("fd00::/56");
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain("WARN_TK_PROXY_HEADER_IGNORED");
    // Once said, the check is a flag test: no header is read on the fast path any more.
    reads = 0;
    for (let i = 0; i < 5; i++) expect(id(counted("10.0.0.1", xff), ctx)).toBe("10.0.0.1");
    expect(reads).toBe(0);
    expect(messages).toHaveLength(1);
    // trustProxy set: no header is read for the watch at all.
    const trusted = ip({ trustProxy: 0, logger: { warn: (m) => void messages.push(m) } });
    expect(trusted(counted("10.0.0.1", xff), ctx)).toBe("10.0.0.1");
    expect(reads).toBe(0);
  });

  it("validates its options", () => {
    expect(() =>
      ip({ trustProxy: true as never, ipv6Prefix: 0, header: "x-client-ip" as never }),
    ).toThrow(ConfigError);
    try {
      ip({ logger: "console" as never, extra: 1 } as never);
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).problems.map((p) => p.option)).toEqual(["ip.extra", "ip.logger"]);
    }
  });
});
