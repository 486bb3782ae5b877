import { canonicalPercent } from "./request-path.js";

/**
 * Helpers for adapters over Web-standard Request/Response (throttlekit/fetch, throttlekit/hono):
 * where the path and the peer address are, and how to add headers to a finished Response.
 */

/**
 * The routing path of a Web Request's URL (see routingPath), without building a URL object:
 * Request.url is already normalised by URL parsing (absolute, dot segments resolved, no
 * duplicate work left but the canonical percent-encoding, which Hono's router decodes too).
 */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  return canonicalPercent(url.slice(start, end));
}

type RuntimeContext = {
  requestIP?: (r: Request) => { address?: string } | null | undefined;
  remoteAddr?: { hostname?: string };
  incoming?: { socket?: { remoteAddress?: string } };
};

/**
 * The peer address where runtimes hand it to a fetch handler beside the Request (its second
 * argument, Hono's `c.env`): @hono/node-server's `incoming.socket`, Deno's `info.remoteAddr`,
 * Bun's `server.requestIP(req)`. Undefined anywhere else.
 */
export function runtimeAddress(request: Request, context: unknown): string | undefined {
  if (typeof context !== "object" || context === null) return undefined;
  const c = context as RuntimeContext;
  if (c.incoming?.socket !== undefined) return c.incoming.socket.remoteAddress;
  if (c.remoteAddr !== undefined) return c.remoteAddr.hostname;
  if (typeof c.requestIP === "function") return c.requestIP(request)?.address ?? undefined;
  return undefined;
}

/**
 * Sets headers on a response, in place when it can; a copy when its headers are immutable
 * (Response.redirect() and fetch() responses: the Fetch §5.2 guard).
 */
export function withHeaders(
  response: Response,
  headers: Readonly<Record<string, string>>,
): Response {
  try {
    for (const name in headers) response.headers.set(name, headers[name]!);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const name in headers) copy.headers.set(name, headers[name]!);
    return copy;
  }
}
