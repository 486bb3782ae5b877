import { describe, expect, it } from "vitest";
import { addressKey, cidrContains, formatIp, isIpv6, parseCidr, parseIp } from "./ip-address.js";

const fmt = (s: string) => {
  const ip = parseIp(s);
  return ip === undefined ? undefined : formatIp(ip);
};

describe("parseIp / formatIp", () => {
  it("reads IPv4 strictly", () => {
    expect(fmt("192.0.2.1")).toBe("192.0.2.1");
    expect(fmt("255.255.255.255")).toBe("255.255.255.255");
    for (const bad of [
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "1.2.3.4.5",
      "1.2.3.4:80",
      "",
      "unknown",
      "_hidden",
    ]) {
      expect(fmt(bad)).toBeUndefined();
    }
  });

  it("isIpv6 accepts IPv6 forms only (a Forwarded bracket must not hold IPv4)", () => {
    for (const good of ["::1", "2001:db8::1", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8"]) {
      expect(isIpv6(good)).toBe(true);
    }
    for (const bad of ["192.0.2.1", "", ":", "1:2:3:4:5:6:7:8:9", "[::1]", "2001:db8::g"]) {
      expect(isIpv6(bad)).toBe(false);
    }
  });

  it("writes IPv6 in RFC 5952 canonical form", () => {
    expect(fmt("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(fmt("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1"); // first of equal runs
    expect(fmt("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // a single 0 stays
    expect(fmt("::")).toBe("::");
    expect(fmt("::1")).toBe("::1");
    expect(fmt("fe80::1%eth0")).toBe("fe80::1");
    expect(fmt("64:ff9b::192.0.2.33")).toBe("64:ff9b::c000:221");
    for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", ":::", "1:2:3:4:5:6:7"]) {
      expect(fmt(bad)).toBeUndefined();
    }
  });

  it("reads IPv4-mapped IPv6 as the IPv4 address", () => {
    expect(parseIp("::ffff:192.0.2.1")).toEqual(parseIp("192.0.2.1"));
    expect(fmt("::FFFF:c000:0201")).toBe("192.0.2.1");
  });
});

describe("CIDR", () => {
  it("matches inside the block only, never across versions", () => {
    const net = parseCidr("10.1.0.0/16")!;
    expect(cidrContains(net, parseIp("10.1.255.7")!)).toBe(true);
    expect(cidrContains(net, parseIp("10.2.0.1")!)).toBe(false);
    expect(cidrContains(net, parseIp("::ffff:10.1.2.3")!)).toBe(true);
    const v6 = parseCidr("2001:db8::/32")!;
    expect(cidrContains(v6, parseIp("2001:db8:ffff::1")!)).toBe(true);
    expect(cidrContains(v6, parseIp("2001:db9::1")!)).toBe(false);
    expect(cidrContains(v6, parseIp("10.1.2.3")!)).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0")!, parseIp("203.0.113.1")!)).toBe(true);
    expect(cidrContains(parseCidr("2001:db8::7")!, parseIp("2001:db8::7")!)).toBe(true);
    expect(cidrContains(parseCidr("2001:db8::7")!, parseIp("2001:db8::8")!)).toBe(false);
  });

  it("clears host bits and rejects bad prefixes", () => {
    expect(formatIp(parseCidr("10.1.2.3/8")!)).toBe("10.0.0.0");
    expect(parseCidr("::ffff:10.0.0.0/104")?.bits).toBe(8);
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/a", "host/8"]) {
      expect(parseCidr(bad)).toBeUndefined();
    }
  });
});

describe("addressKey", () => {
  it("groups IPv6 by prefix and leaves IPv4 whole", () => {
    const key = (s: string, v6 = 56) => addressKey(parseIp(s)!, 32, v6);
    expect(key("2001:db8:ab:cd01::1")).toBe("2001:db8:ab:cd00::/56");
    expect(key("2001:db8:ab:cdff:ffff::1")).toBe(key("2001:db8:ab:cd00::2"));
    expect(key("2001:db8:ab:ce00::1")).not.toBe(key("2001:db8:ab:cd00::1"));
    expect(key("2001:db8::1", 128)).toBe("2001:db8::1");
    expect(key("2001:db8:1:2:3::1", 64)).toBe("2001:db8:1:2::/64");
    expect(key("203.0.113.9")).toBe("203.0.113.9");
    expect(addressKey(parseIp("203.0.113.9")!, 24, 56)).toBe("203.0.113.0/24");
  });
});
