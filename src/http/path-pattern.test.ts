import { describe, expect, it } from "vitest";
import { compilePath, pathPatternProblem } from "./path-pattern.js";

const matches = (pattern: string | RegExp, path: string) => compilePath(pattern)(path);

describe("path patterns", () => {
  it("literal paths, with one trailing slash tolerated", () => {
    expect(matches("/users", "/users")).toBe(true);
    expect(matches("/users", "/users/")).toBe(true);
    expect(matches("/users", "/users/1")).toBe(false);
    expect(matches("/users", "/Users")).toBe(false);
    expect(matches("/", "/")).toBe(true);
    expect(matches("/", "/a")).toBe(false);
  });

  it("patterns are compared in canonical percent-encoding, like the paths", () => {
    expect(matches("/caf%c3%a9", "/café")).toBe(true);
    expect(matches("/café", "/café")).toBe(true);
    expect(matches("/a%2Fb", "/a%2Fb")).toBe(true);
    expect(matches("/a%2fb", "/a%2Fb")).toBe(true);
    expect(matches("/a/b", "/a%2Fb")).toBe(false);
  });

  it("ignores case only when the framework does", () => {
    const login = compilePath("/login");
    expect(login("/LOGIN")).toBe(false);
    expect(login("/LOGIN", true)).toBe(true);
    expect(login("/Login/", true)).toBe(true);
    expect(login("/Login//", true)).toBe(false);
    expect(compilePath("/users/:id")("/USERS/7", true)).toBe(true);
    expect(compilePath("/users/:id")("/USERS/7")).toBe(false);
    expect(compilePath(/^\/admin$/)("/ADMIN", true)).toBe(true);
    expect(compilePath(/^\/admin$/)("/ADMIN")).toBe(false);
    expect(compilePath("/")("/", true)).toBe(true);
    expect(compilePath("/")("//", true)).toBe(false);
  });

  it("named segments and single-segment globs", () => {
    expect(matches("/users/:id", "/users/42")).toBe(true);
    expect(matches("/users/:id", "/users/")).toBe(false);
    expect(matches("/users/:id", "/users/42/posts")).toBe(false);
    expect(matches("/users/:id/posts", "/users/42/posts/")).toBe(true);
    expect(matches("/api/*", "/api/x")).toBe(true);
    expect(matches("/api/*", "/api/x/y")).toBe(false);
    expect(matches("/files/*.png", "/files/cat.png")).toBe(true);
    expect(matches("/files/*.png", "/files/catXpng")).toBe(false);
  });

  it("** spans any number of segments, none included", () => {
    expect(matches("/static/**", "/static")).toBe(true);
    expect(matches("/static/**", "/static/a/b/c.css")).toBe(true);
    expect(matches("/static/**", "/staticky")).toBe(false);
    expect(matches("/**", "/anything/at/all")).toBe(true);
    expect(matches("/a/**/z", "/a/b/c/z")).toBe(true);
  });

  it("RegExp as given", () => {
    expect(matches(/^\/v\d+\//, "/v2/items")).toBe(true);
    expect(matches(/^\/v\d+\//, "/items")).toBe(false);
  });

  it("rejects malformed patterns", () => {
    for (const bad of ["users", "/a?b=1", "/a/**b", "/:1d", /x/g, /x/y, 42]) {
      expect(pathPatternProblem(bad)).toBeTypeOf("string");
    }
    expect(pathPatternProblem("/users/:id/**")).toBeUndefined();
  });
});
