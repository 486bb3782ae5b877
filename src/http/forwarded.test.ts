import { describe, expect, it } from "vitest";
import { forwardedFor, xForwardedFor, xRealIp } from "./forwarded.js";

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
  });

  it("keeps a position for elements without for=, and survives junk", () => {
    expect(forwardedFor("proto=https, for=192.0.2.1")).toEqual(["", "192.0.2.1"]);
    expect(forwardedFor('for="a,b";by=x, for=192.0.2.2')).toEqual(["a,b", "192.0.2.2"]);
    expect(forwardedFor('for="unterminated')).toEqual(["unterminated"]);
    expect(forwardedFor(";;,,")).toEqual(["", "", ""]);
    expect(forwardedFor("garbage")).toEqual([""]);
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
    expect(xRealIp(" 198.51.100.4 ")).toEqual(["198.51.100.4"]);
  });
});
