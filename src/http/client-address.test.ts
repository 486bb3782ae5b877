import { describe, expect, it } from "vitest";
import {
  addressResolver,
  forwardedFromPrivatePeer,
  type ProxyHeader,
  type TrustProxy,
  trustProxyProblem,
} from "./client-address.js";
import { formatIp } from "./ip-address.js";
import type { HttpRequest } from "./request.js";

function request(remote: string | undefined, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: "GET",
    path: "/",
    remoteAddress: remote,
    raw: undefined,
    header: (n) => headers[n],
  };
}

function client(
  trust: TrustProxy | undefined,
  remote: string | undefined,
  headers: Record<string, string> = {},
  header: ProxyHeader = "x-forwarded-for",
) {
  const a = addressResolver(trust, header)(request(remote, headers));
  return a === undefined ? undefined : formatIp(a);
}

describe("client address", () => {
  it("trusts nothing by default: headers are ignored", () => {
    expect(client(undefined, "10.0.0.1", { "x-forwarded-for": "203.0.113.7" })).toBe("10.0.0.1");
    expect(client(0, "10.0.0.1", { "x-forwarded-for": "203.0.113.7" })).toBe("10.0.0.1");
    expect(client(undefined, "::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(client(undefined, undefined)).toBeUndefined();
  });

  it("hop counts walk from the right", () => {
    const xff = { "x-forwarded-for": "198.51.100.1, 203.0.113.7, 10.0.0.2" };
    expect(client(1, "10.0.0.3", xff)).toBe("10.0.0.2");
    expect(client(2, "10.0.0.3", xff)).toBe("203.0.113.7");
    expect(client(3, "10.0.0.3", xff)).toBe("198.51.100.1");
    expect(client(9, "10.0.0.3", xff)).toBe("198.51.100.1"); // fewer hops than trusted: leftmost
    expect(client(1, "10.0.0.3")).toBe("10.0.0.3"); // no header: the peer
    // The entry a trusted proxy wrote is junk: take the proxy itself, never the junk.
    expect(client(1, "10.0.0.3", { "x-forwarded-for": "1.2.3.4, evil" })).toBe("10.0.0.3");
  });

  it("CIDR trust stops at the first untrusted hop", () => {
    const trust = ["10.0.0.0/8"];
    const xff = { "x-forwarded-for": "198.51.100.1, 203.0.113.7, 10.0.0.2" };
    expect(client(trust, "10.0.0.3", xff)).toBe("203.0.113.7");
    // The peer is not a trusted proxy: its headers are its own claims.
    expect(client(trust, "192.0.2.9", xff)).toBe("192.0.2.9");
    expect(client(trust, "10.0.0.3", { "x-forwarded-for": "10.0.0.9, 10.0.0.2" })).toBe("10.0.0.9");
    expect(client(trust, "10.0.0.3", { "x-forwarded-for": "unknown, 10.0.0.2" })).toBe("10.0.0.2");
    expect(client(["loopback"], "::1", { "x-forwarded-for": "2001:db8::5" })).toBe("2001:db8::5");
  });

  it("an invalid Forwarded hop is never believed (issue 13, item 7)", () => {
    // The client left a quote open; the trusted proxy appended its element after it.
    const spoof = { forwarded: 'for="[6.6.6.6], for=203.0.113.9' };
    expect(client(1, "10.0.0.1", spoof, "forwarded")).toBe("203.0.113.9");
    expect(client(["10.0.0.0/8"], "10.0.0.1", spoof, "forwarded")).toBe("203.0.113.9");
    // The hop the proxy vouches for is itself invalid (a bracketed IPv4): the proxy's own
    // address is the best one left, as for "unknown" (RFC 7239 §6.2).
    const bad = { forwarded: 'for=198.51.100.1, for="[6.6.6.6]"' };
    expect(client(1, "10.0.0.1", bad, "forwarded")).toBe("10.0.0.1");
    expect(client(["10.0.0.0/8"], "10.0.0.1", bad, "forwarded")).toBe("10.0.0.1");
    // Two trusted hops, the farther one unusable: the nearer proxy's report counts.
    const two = { forwarded: 'for="6.6.6.6, for=unknown, for=10.0.0.7' };
    expect(client(2, "10.0.0.1", two, "forwarded")).toBe("10.0.0.7");
    expect(client(["10.0.0.0/8"], "10.0.0.1", two, "forwarded")).toBe("10.0.0.7");
  });

  it("reads only the configured header", () => {
    const headers = {
      forwarded: "for=203.0.113.60",
      "x-forwarded-for": "198.51.100.8",
      "x-real-ip": "192.0.2.5",
    };
    expect(client(1, "10.0.0.1", headers, "forwarded")).toBe("203.0.113.60");
    expect(client(1, "10.0.0.1", headers, "x-forwarded-for")).toBe("198.51.100.8");
    expect(client(1, "10.0.0.1", headers, "x-real-ip")).toBe("192.0.2.5");
    expect(client(1, "10.0.0.1", { forwarded: "for=203.0.113.60" })).toBe("10.0.0.1");
  });

  it("spots a forwarding header from a loopback, private or link-local peer", () => {
    const xff = { "x-forwarded-for": "203.0.113.7" };
    for (const peer of [
      "127.0.0.1",
      "::1",
      "10.1.2.3",
      "172.31.0.1",
      "192.168.0.9",
      "fd12::1",
      "169.254.1.1",
      "fe80::1",
      "::ffff:10.0.0.1",
    ]) {
      expect(forwardedFromPrivatePeer(request(peer, xff))).toBe("x-forwarded-for");
    }
    for (const peer of ["203.0.113.9", "172.32.0.1", "2001:db8::1", undefined]) {
      expect(forwardedFromPrivatePeer(request(peer, xff))).toBeUndefined();
    }
    expect(forwardedFromPrivatePeer(request("10.0.0.1"))).toBeUndefined();
    expect(forwardedFromPrivatePeer(request("10.0.0.1", { forwarded: "for=x" }))).toBe("forwarded");
    expect(forwardedFromPrivatePeer(request("10.0.0.1", { "x-real-ip": "1.2.3.4" }))).toBe(
      "x-real-ip",
    );
  });

  it("validates trustProxy", () => {
    expect(trustProxyProblem(2)).toBeUndefined();
    expect(trustProxyProblem(["10.0.0.0/8", "loopback", "::1"])).toBeUndefined();
    for (const bad of [true, -1, 1.5, "10.0.0.0/8", ["10.0.0.0/99"], ["nope"], [1]]) {
      expect(trustProxyProblem(bad)).toBeTypeOf("string");
    }
  });
});
