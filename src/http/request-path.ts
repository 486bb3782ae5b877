/**
 * The path a request is routed by, from its request target (RFC 9112 §3.2). Rules are matched
 * against this path, so that no request a framework routes to a handler can escape a rule
 * written for that handler's path by spelling the path differently (issue 13, item 6):
 * - the query and a `#fragment` are cut off (routers ignore both);
 * - an absolute-form target (`POST http://host/login`) is reduced to its path;
 * - percent-encoding is put in one canonical form (RFC 3986 §6.2.2.1-2): every `%XX` is decoded
 *   except `%2F`, `%3F`, `%23` and `%25` (a slash, `?`, `#` and `%` stay encoded, so decoding
 *   never adds a segment or a second round of decoding), and those keep upper-case hex. Path
 *   patterns are put in the same form, so `/log%69n`, `/%6Cogin` and `/login` are one path, as
 *   they are to Fastify's and Hono's routers;
 * - options follow the framework's own router: `mergeSlashes` (Fastify's
 *   `ignoreDuplicateSlashes`), `semicolon` (Fastify's `useSemicolonDelimiter`), `dotSegments`
 *   (`.` and `..` resolved as WHATWG URL parsing does).
 *
 * Case is not folded here: a case-insensitive framework says so on the request
 * (`HttpRequest.caseInsensitive`) and rules then match regardless of case.
 */
export type RoutingPathOptions = {
  /** Runs of `/` count as one (Fastify's `ignoreDuplicateSlashes`). @default false */
  readonly mergeSlashes?: boolean;
  /** `;` ends the path, as `?` does (Fastify's `useSemicolonDelimiter`). @default false */
  readonly semicolon?: boolean;
  /** `.` and `..` segments are resolved (RFC 3986 §5.2.4), as `new URL()` does. @default false */
  readonly dotSegments?: boolean;
};

const NONE: RoutingPathOptions = Object.freeze({});

/**
 * The routing path of a request target (`req.url`, `originalUrl`, or the path of a Web Request's
 * URL). Costs one scan of the path when it holds no `%`, `#`, `//` or absolute form.
 *
 * @example
 * routingPath("/log%69n?x=1")                 // "/login"
 * routingPath("http://127.0.0.1/login#x")     // "/login"
 * routingPath("//login//", { mergeSlashes: true }) // "/login/"
 */
export function routingPath(target: string, options: RoutingPathOptions = NONE): string {
  let start = 0;
  if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute-form: scheme "://" authority path-abempty (RFC 9112 §3.2.2). Anything else
    // (asterisk-form "*", junk) is left as is: it matches no path pattern.
    const scheme = target.indexOf("://");
    if (scheme < 0) return target;
    start = scheme + 3;
    for (; start < target.length; start++) {
      const c = target.charCodeAt(start);
      if (c === 47) break;
      if (c === 63 || c === 35) return "/";
    }
    if (start === target.length) return "/";
  }
  const semicolon = options.semicolon === true;
  const dots = options.dotSegments === true;
  let end = target.length;
  let special = false;
  for (let i = start; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */ || (semicolon && c === 59) /* ; */) {
      end = i;
      break;
    }
    if (c === 37 /* % */) special = true;
    else if (c === 47 /* / */) {
      const n = target.charCodeAt(i + 1);
      if (n === 47 || (dots && n === 46) /* . */) special = true;
    }
  }
  let path = start === 0 && end === target.length ? target : target.slice(start, end);
  if (!special) return path;
  path = canonicalPercent(path);
  if (options.mergeSlashes === true) path = path.replace(MANY_SLASHES, "/");
  if (dots) path = removeDotSegments(path);
  return path;
}

const MANY_SLASHES = /\/{2,}/g;
const TRIPLETS = /(?:%[0-9A-Fa-f]{2})+/g;
const KEPT = /[/?#%]/g;
const KEPT_AS: Readonly<Record<string, string>> = {
  "/": "%2F",
  "?": "%3F",
  "#": "%23",
  "%": "%25",
};

/**
 * Percent-encoding in canonical form: every valid `%XX` sequence decoded except a slash, `?`,
 * `#` and `%`, which stay encoded with upper-case hex (as do bytes that are not valid UTF-8).
 * Path patterns are compiled in this form too. Without a `%` the string is returned as is.
 */
export function canonicalPercent(path: string): string {
  if (!path.includes("%")) return path;
  return path.replace(TRIPLETS, decodeRun);
}

function decodeRun(run: string): string {
  let text: string;
  try {
    text = decodeURIComponent(run);
  } catch {
    // Not valid UTF-8: decode the ASCII bytes one by one, keep the others as upper-case hex.
    let out = "";
    for (let i = 0; i < run.length; i += 3) {
      const byte = Number.parseInt(run.slice(i + 1, i + 3), 16);
      const c = String.fromCharCode(byte);
      out += byte >= 0x80 ? run.slice(i, i + 3).toUpperCase() : (KEPT_AS[c] ?? c);
    }
    return out;
  }
  return text.replace(KEPT, (c) => KEPT_AS[c]!);
}

/** RFC 3986 §5.2.4 on a path that starts with "/". */
function removeDotSegments(path: string): string {
  const segments = path.split("/");
  const out: string[] = [];
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const s = segments[i]!;
    if (s === "." || s === "..") {
      if (s === "..") out.pop();
      if (i === last) out.push("");
      continue;
    }
    out.push(s);
  }
  return `/${out.join("/")}`;
}
