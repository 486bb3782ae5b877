import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addressResolver } from "./client-address.js";
import { forwardedFor, nodeName, xForwardedFor, xRealIp } from "./forwarded.js";
import { formatIp, parseIp } from "./ip-address.js";
import type { HttpRequest } from "./request.js";

describe("Forwarded (RFC 7239)", () => {
  it("reads for= nodes left to right", () => {
    expect(forwardedFor("for=192.0.2.60;proto=http;by=203.0.113.43")).toEqual(["192.0.2.60"]);
    expect(forwardedFor('for=192.0.2.43, for="[2001:db8:cafe::17]:4711"')).toEqual([
      "192.0.2.43",
      "2001:db8:cafe::17",
    ]);
    expect(forwardedFor('For="192.0.2.1:8080" ; Proto=https,for=unknown')).toEqual([
      "192.0.2.1",
      "unknown",
    ]);
    expect(forwardedFor('for="_gazonk"')).toEqual(["_gazonk"]);
    expect(forwardedFor('for="_gazonk:_p0rt", for=unknown:80')).toEqual(["_gazonk", "unknown"]);
    // RFC 7239 §4's own examples.
    expect(forwardedFor('for="_gazonk"')).toEqual(["_gazonk"]);
    expect(forwardedFor('For="[2001:db8:cafe::17]:4711"')).toEqual(["2001:db8:cafe::17"]);
    expect(forwardedFor("for=192.0.2.60;proto=http;by=203.0.113.43")).toEqual(["192.0.2.60"]);
    expect(forwardedFor("for=192.0.2.43, for=198.51.100.17")).toEqual([
      "192.0.2.43",
      "198.51.100.17",
    ]);
    // A quoted-string may hold commas and escapes; they do not split the element.
    expect(forwardedFor('host="a,b";for="192.0.2.9", for=192.0.2.2')).toEqual([
      "192.0.2.9",
      "192.0.2.2",
    ]);
    expect(forwardedFor('for="\\192.0.2.\\9"')).toEqual(["192.0.2.9"]);
    // Tolerated: an unquoted, unbracketed IPv6 (common in proxy configs, not valid per §6).
    expect(forwardedFor("for=2001:db8::1")).toEqual(["2001:db8::1"]);
  });

  it("keeps a position for elements without for=, and empty list elements", () => {
    expect(forwardedFor("proto=https, for=192.0.2.1")).toEqual(["", "192.0.2.1"]);
    expect(forwardedFor(";;,,")).toEqual(["", "", ""]);
    expect(forwardedFor("")).toEqual([""]);
  });

  it("voids a malformed element without swallowing the ones after it", () => {
    // Issue 13, item 7: the open quote used to run to the end and take the proxy's element in.
    expect(forwardedFor('for="[6.6.6.6], for=192.0.2.7')).toEqual(["", "192.0.2.7"]);
    expect(forwardedFor('for="[6.6.6.6], for="[2001:db8::7]"')).toEqual(["", "2001:db8::7"]);
    expect(forwardedFor('for="x, y="z, for="[2001:db8::7]"')).toEqual(["", "", "2001:db8::7"]);
    expect(forwardedFor('for="unterminated')).toEqual([""]);
    expect(forwardedFor("garbage, for=192.0.2.1")).toEqual(["", "192.0.2.1"]);
    expect(forwardedFor('for="192.0.2.1"junk, for=192.0.2.2')).toEqual(["", "192.0.2.2"]);
    expect(forwardedFor("for=192.0.2.1 192.0.2.3, for=192.0.2.2")).toEqual(["", "192.0.2.2"]);
    expect(forwardedFor("=192.0.2.1, for=")).toEqual(["", ""]);
    expect(forwardedFor('for="a\\')).toEqual([""]);
    // §4: a parameter occurs at most once per element.
    expect(forwardedFor("for=192.0.2.1;for=6.6.6.6, for=192.0.2.2")).toEqual(["", "192.0.2.2"]);
  });

  it("recovers in linear time: a hostile 64 KB field costs milliseconds, not seconds", () => {
    // Each recovery restarts after a comma; a parser that rescanned to the end from every
    // comma would spend ~2·10^9 steps here.
    for (const unit of ['for="a,', '"=a=",', 'a=",a=', 'x="a,b;', "\\,"]) {
      const value = `for="${unit.repeat(Math.ceil(65536 / unit.length))}, for=192.0.2.1`;
      const start = performance.now();
      expect(forwardedFor(value).at(-1)).toBe("192.0.2.1");
      expect(performance.now() - start).toBeLessThan(500);
    }
  });

  it("accepts only the nodes §6 defines", () => {
    expect(nodeName("[6.6.6.6]")).toBe(""); // brackets hold IPv6 only
    expect(nodeName("[6.6.6.6]:80")).toBe("");
    expect(nodeName("[2001:db8::1")).toBe("");
    expect(nodeName("[2001:db8::1]x")).toBe("");
    expect(nodeName("[2001:db8::1]:123456")).toBe("");
    expect(nodeName("192.0.2.1:")).toBe("");
    expect(nodeName("192.0.2.1:http")).toBe("");
    expect(nodeName("example.com")).toBe("");
    expect(nodeName("_")).toBe("");
    expect(nodeName("UNKNOWN")).toBe("unknown");
    expect(nodeName("[::ffff:192.0.2.1]:8")).toBe("::ffff:192.0.2.1");
  });
});

function request(remote: string, headers: Record<string, string>): HttpRequest {
  return {
    method: "GET",
    path: "/",
    remoteAddress: remote,
    raw: undefined,
    header: (n) => headers[n],
  };
}

/** Characters a client uses to break a parser, plus whole fragments that look like elements. */
const hostile = fc.string({
  unit: fc.oneof(
    fc.constantFrom('"', "\\", ",", ";", "[", "]", "=", " ", "\t", ":", "_", "%"),
    fc.constantFrom(
      "for=",
      'for="',
      'for="[',
      "6.6.6.6",
      "2001:db8::6",
      "unknown",
      "by=",
      "\u00e9",
    ),
    fc.string({ maxLength: 3 }),
  ),
  maxLength: 40,
});

/** What a proxy writes for the peer it saw: RFC 7239 §6 forms, with optional port and params. */
const proxyElement = fc
  .record({
    ip: fc.oneof(fc.ipV4(), fc.ipV6()),
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    params: fc.constantFrom("", ";proto=https", ";by=_lb1;proto=http", ';host="example.com"'),
  })
  .map(({ ip, port, params }) => {
    const v6 = ip.includes(":");
    const node = v6
      ? `[${ip}]${port === undefined ? "" : `:${port}`}`
      : `${ip}${port === undefined ? "" : `:${port}`}`;
    const value = v6 || port !== undefined ? `"${node}"` : node;
    return { ip, element: `for=${value}${params}` };
  });

describe("Forwarded through a trusted proxy (property)", () => {
  it("whatever the client sent, the element the proxy appended is the hop that counts", () => {
    const resolve = addressResolver(1, "forwarded");
    fc.assert(
      fc.property(
        fc.array(hostile, { maxLength: 3 }),
        proxyElement,
        fc.constantFrom(", ", ",", " ,\t"),
        (clientLines, proxy, sep) => {
          // A proxy either appends to the client's field or adds its own line; both reach us as
          // one value joined by ", " (RFC 9110 §5.3). No client field: the proxy's alone.
          const value =
            clientLines.length === 0
              ? proxy.element
              : `${clientLines.join(", ")}${sep}${proxy.element}`;
          const expected = formatIp(parseIp(proxy.ip)!);
          const hops = forwardedFor(value);
          expect(formatIp(parseIp(hops.at(-1)!)!)).toBe(expected);
          const got = resolve(request("10.0.0.1", { forwarded: value }));
          expect(got && formatIp(got)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("two trusted proxies: the first proxy's element counts", () => {
    const resolve = addressResolver(2, "forwarded");
    fc.assert(
      fc.property(hostile, proxyElement, proxyElement, (client, first, second) => {
        const value = `${client}, ${first.element}, ${second.element}`;
        const got = resolve(request("10.0.0.1", { forwarded: value }));
        expect(got && formatIp(got)).toBe(formatIp(parseIp(first.ip)!));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("X-Forwarded-For and X-Real-IP", () => {
  it("splits, trims and drops ports", () => {
    expect(xForwardedFor("203.0.113.1, 10.0.0.1,10.0.0.2")).toEqual([
      "203.0.113.1",
      "10.0.0.1",
      "10.0.0.2",
    ]);
    expect(xForwardedFor("203.0.113.1:5555, [2001:db8::1]:443, 2001:db8::2")).toEqual([
      "203.0.113.1",
      "2001:db8::1",
      "2001:db8::2",
    ]);
    expect(xForwardedFor("::ffff:192.0.2.1")).toEqual(["::ffff:192.0.2.1"]);
    expect(xForwardedFor("[6.6.6.6]:80, 192.0.2.1")).toEqual(["", "192.0.2.1"]);
    expect(xRealIp(" 198.51.100.4 ")).toEqual(["198.51.100.4"]);
  });
});
