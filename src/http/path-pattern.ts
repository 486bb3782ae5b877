import { canonicalPercent } from "./request-path.js";

/**
 * Path patterns, compiled once at construction:
 * - `/users/:id` a named segment (one or more characters, no `/`);
 * - `*` any characters inside one segment (`/api/*`, `/files/*.png`);
 * - `**` as a whole segment: any number of segments, none included (`/static/**` matches
 *   `/static`, `/static/a/b.css`);
 * - a RegExp, tested as given (it must not carry the stateful `g` or `y` flags).
 * Patterns match the whole path; one trailing slash is tolerated (`/users` matches `/users/`).
 * Paths and string patterns are compared in one canonical percent-encoding (see routingPath):
 * `/%61dmin` is `/admin`, as it is to the routers that decode, so no limit can be side-stepped
 * by encoding; a slash stays a slash (`%2F` never becomes one). When the framework routes
 * regardless of case (Express by default), matching ignores case too; a RegExp then gets the
 * `i` flag.
 */
export type PathPattern = string | RegExp;

/**
 * A compiled matcher: true when the path (in canonical form, see routingPath) matches; with
 * `ignoreCase`, regardless of case (for frameworks that route that way).
 */
export type PathMatcher = (path: string, ignoreCase?: boolean) => boolean;

/** Why a pattern is invalid, or undefined when it is fine. */
export function pathPatternProblem(p: unknown): string | undefined {
  if (p instanceof RegExp) {
    return p.global || p.sticky
      ? "a RegExp without the g or y flag (they make test() stateful)"
      : undefined;
  }
  if (typeof p !== "string")
    return 'a path pattern ("/users/:id", "/api/*", "/static/**") or a RegExp';
  if (!p.startsWith("/")) return 'a path pattern starting with "/"';
  if (/[?#\s]/.test(p)) return "a path pattern without query, fragment or whitespace";
  for (const seg of p.split("/")) {
    if (seg.includes("**") && seg !== "**")
      return 'a pattern where "**" is a whole segment ("/static/**")';
    if (seg.startsWith(":") && !/^:[A-Za-z_]\w*$/.test(seg))
      return 'named segments like ":id" (letters, digits, _)';
  }
  return undefined;
}

/** Compiles one valid pattern. Literal paths skip the RegExp engine unless case is ignored. */
export function compilePath(pattern: PathPattern): PathMatcher {
  if (pattern instanceof RegExp) {
    const folded = pattern.ignoreCase ? pattern : new RegExp(pattern.source, `${pattern.flags}i`);
    return (path, ignoreCase) => (ignoreCase === true ? folded : pattern).test(path);
  }
  const p = canonicalPercent(pattern);
  if (!/[:*]/.test(p)) {
    const bare = p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
    const slashed = bare === "/" ? "/" : `${bare}/`;
    const folded = new RegExp(`^${escapeRegExp(bare)}${bare === "/" ? "" : "/?"}$`, "i");
    return (path, ignoreCase) =>
      path === bare || path === slashed || (ignoreCase === true && folded.test(path));
  }
  const segments = p.split("/").slice(1);
  let source = "^";
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === "**") {
      // Zero or more whole segments: "/static/**" also matches "/static" itself.
      source += "(?:/.*)?";
    } else if (seg.startsWith(":")) {
      source += "/[^/]+";
    } else {
      source += `/${seg.split("*").map(escapeRegExp).join("[^/]*")}`;
    }
  }
  const last = segments[segments.length - 1];
  source += last === "**" ? "$" : "/?$";
  const re = new RegExp(source);
  const folded = new RegExp(source, "i");
  return (path, ignoreCase) => (ignoreCase === true ? folded : re).test(path);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
