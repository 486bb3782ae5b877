import { describe, expect, it } from "vitest";
import { canonicalPercent, routingPath } from "./request-path.js";

describe("routingPath", () => {
  it("returns a plain origin-form path as is (the same string)", () => {
    const target = "/users/42";
    expect(routingPath(target)).toBe(target);
    expect(routingPath("/")).toBe("/");
  });

  it("cuts the query, a fragment, and with `semicolon` a ;-delimited part", () => {
    expect(routingPath("/login?x=1")).toBe("/login");
    expect(routingPath("/login#x")).toBe("/login");
    expect(routingPath("/login#x?y")).toBe("/login");
    expect(routingPath("/login;x")).toBe("/login;x");
    expect(routingPath("/login;x", { semicolon: true })).toBe("/login");
  });

  it("reduces an absolute-form target to its path (RFC 9112 §3.2.2)", () => {
    expect(routingPath("http://127.0.0.1/login")).toBe("/login");
    expect(routingPath("https://example.com:8443/a/b?q")).toBe("/a/b");
    expect(routingPath("http://example.com")).toBe("/");
    expect(routingPath("http://example.com?x=/login")).toBe("/");
    expect(routingPath("*")).toBe("*");
  });

  it("decodes percent-encoding except / ? # %, with upper-case hex for what stays", () => {
    expect(routingPath("/%6cogin")).toBe("/login");
    expect(routingPath("/log%69n")).toBe("/login");
    expect(routingPath("/a%2fb")).toBe("/a%2Fb");
    expect(routingPath("/a%3f%23%25")).toBe("/a%3F%23%25");
    expect(routingPath("/caf%c3%a9")).toBe("/café");
    expect(routingPath("/%ff%61%2f")).toBe("/%FFa%2F");
    expect(routingPath("/100%")).toBe("/100%");
    expect(canonicalPercent("/%2541")).toBe("/%2541");
  });

  it("merges slashes only with mergeSlashes (Fastify's ignoreDuplicateSlashes)", () => {
    expect(routingPath("//login//")).toBe("//login//");
    expect(routingPath("//login//", { mergeSlashes: true })).toBe("/login/");
  });

  it("resolves dot segments only with dotSegments, encoded dots included", () => {
    expect(routingPath("/a/../login")).toBe("/a/../login");
    expect(routingPath("/a/../login", { dotSegments: true })).toBe("/login");
    expect(routingPath("/a/%2e%2E/login", { dotSegments: true })).toBe("/login");
    expect(routingPath("/a/./b/.", { dotSegments: true })).toBe("/a/b/");
    expect(routingPath("/../..", { dotSegments: true })).toBe("/");
    expect(routingPath("/.well-known/x", { dotSegments: true })).toBe("/.well-known/x");
  });
});
