import { describe, expect, it } from "vitest";
import { trustProxyMismatch } from "./trust-proxy-mismatch.js";

const differs = (theirs: unknown, ours?: number | string[]) =>
  trustProxyMismatch("X's trust proxy", theirs, ours) !== undefined;

describe("trustProxyMismatch", () => {
  it("agrees when both trust nothing, the same hops, or the same list", () => {
    expect(differs(false)).toBe(false);
    expect(differs(undefined)).toBe(false);
    expect(differs(0, 0)).toBe(false);
    expect(differs(1, 1)).toBe(false);
    expect(differs("loopback, 10.0.0.0/8", ["10.0.0.0/8", "loopback"])).toBe(false);
    expect(differs(["loopback"], ["loopback"])).toBe(false);
  });

  it("differs when one side trusts a proxy the other does not, or another number or list", () => {
    expect(differs(1)).toBe(true);
    expect(differs(false, 1)).toBe(true);
    expect(differs(true, 1)).toBe(true);
    expect(differs(2, 1)).toBe(true);
    expect(differs("loopback", ["10.0.0.0/8"])).toBe(true);
    expect(trustProxyMismatch('Express\'s "trust proxy"', 1, undefined)).toMatch(
      /^Express's "trust proxy" is 1 \(hops\) but throttlekit's trustProxy is unset/,
    );
  });

  it("says nothing about a function (it cannot be compared)", () => {
    expect(differs(() => true, 1)).toBe(false);
  });
});
