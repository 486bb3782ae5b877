import type { IncomingMessage, ServerResponse } from "node:http";
import { createLimiter, type ListStore, memoryStore, SILENT_EVENTS } from "../index.js";
import {
  Auth,
  bearer,
  COOKIE,
  CSRF_HEADER,
  readCookie,
  type Session,
  safeEqual,
  sameOrigin,
  sessionCookie,
} from "./auth.js";
import { newNonce, readBody, securityHeaders, sendHtml, sendJson, sendProblem } from "./http-io.js";
import { parseListInput } from "./list-values.js";
import { LiveHub } from "./live-hub.js";
import { LocalEvents } from "./local-events.js";
import type { DashboardHandler, ResolvedOptions } from "./options.js";
import { dashboardPage, loginPage } from "./page.js";
import { buildSnapshot, describeError } from "./snapshot.js";

/** How a request proved it may look: a Bearer token, or a session cookie (with its nonce). */
type Access = { readonly via: "bearer" } | { readonly via: "cookie"; readonly session: Session };

/** Wrong tokens allowed per client address before it must wait (guessing costs time). */
const FAILURES = "10/1m";

export function createHandler(o: ResolvedOptions): DashboardHandler {
  const auth = new Auth(o.token);
  const lists: ListStore | undefined = o.store.lists?.(o.prefix);
  const local = new LocalEvents(o.recentViolations);
  const hub = new LiveHub(() => buildSnapshot(o, lists, local), o.intervalMs, o.maxClients);
  // Our own limiter for failed sign-ins, in process and silent (its refusals are no one's
  // traffic to show).
  const failures = createLimiter({
    policies: FAILURES,
    store: memoryStore({ maxKeys: 10_000 }),
    prefix: "dashboard-auth",
    events: SILENT_EVENTS,
  });
  const cookiePath = o.basePath === "" ? "/" : o.basePath;
  const home = `${o.basePath}/`;
  let closed = false;

  const access = (req: IncomingMessage): Access | undefined => {
    const token = bearer(req);
    if (token !== undefined) return auth.checkToken(token) ? { via: "bearer" } : undefined;
    const session = auth.session(readCookie(req, COOKIE), Date.now());
    return session === undefined ? undefined : { via: "cookie", session };
  };

  /** A state-changing call: Bearer, or the cookie with this session's CSRF token and origin. */
  const mayChange = (req: IncomingMessage, a: Access): boolean => {
    if (a.via === "bearer") return true;
    const header = req.headers[CSRF_HEADER];
    return (
      typeof header === "string" && safeEqual(header, auth.csrf(a.session.nonce)) && sameOrigin(req)
    );
  };

  const clientAddress = (req: IncomingMessage) => req.socket.remoteAddress ?? "unknown";

  /** True (and answered 429) when this address has guessed wrong too often. */
  const tooManyFailures = async (req: IncomingMessage, res: ServerResponse) => {
    const d = await failures.peek(clientAddress(req));
    if (d.allowed) return false;
    sendProblem(
      res,
      429,
      "Too Many Requests",
      "Too many wrong tokens; try again later.",
      {},
      {
        "Retry-After": String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))),
      },
    );
    return true;
  };

  const unauthorized = (req: IncomingMessage, res: ServerResponse, detail: string) => {
    if (bearer(req) !== undefined) void failures.consume(clientAddress(req));
    sendProblem(
      res,
      401,
      "Unauthorized",
      detail,
      {},
      {
        "WWW-Authenticate": 'Bearer realm="throttlekit dashboard"',
      },
    );
  };

  const signIn = (req: IncomingMessage, res: ServerResponse) => {
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    securityHeaders(res);
    res.writeHead(303, {
      Location: home,
      "Set-Cookie": sessionCookie(auth.newSession(Date.now()), cookiePath, secure),
    });
    res.end();
  };

  const login = (res: ServerResponse, status: number, error?: string) => {
    const nonce = newNonce();
    sendHtml(
      res,
      status,
      loginPage({ nonce, basePath: o.basePath, ...(error !== undefined ? { error } : {}) }),
      nonce,
    );
  };

  const page = async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => {
    const token = query.get("token");
    if (token !== null) {
      // ?token= is exchanged for the cookie at once, and the URL loses it (303 to the page).
      if (await tooManyFailures(req, res)) return;
      if (auth.checkToken(token)) return signIn(req, res);
      void failures.consume(clientAddress(req));
      return login(res, 401, "Wrong token.");
    }
    const a = access(req);
    if (a === undefined) return login(res, 401);
    if (a.via === "bearer") {
      // A page must hold a session to make state-changing calls (its CSRF token derives from it).
      return signIn(req, res);
    }
    const nonce = newNonce();
    sendHtml(
      res,
      200,
      dashboardPage({ nonce, basePath: o.basePath, csrf: auth.csrf(a.session.nonce) }),
      nonce,
    );
  };

  const postLogin = async (req: IncomingMessage, res: ServerResponse) => {
    if (!sameOrigin(req)) return sendProblem(res, 403, "Forbidden", "Cross-site sign-in refused.");
    if (await tooManyFailures(req, res)) return;
    const body = await readBody(req);
    const token =
      typeof body === "string"
        ? new URLSearchParams(body).get("token")
        : (body as { token?: unknown } | undefined)?.token;
    if (typeof token === "string" && auth.checkToken(token)) return signIn(req, res);
    void failures.consume(clientAddress(req));
    login(res, 401, "Wrong token.");
  };

  const listsApi = async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => {
    if (req.method === "GET" || req.method === "HEAD") {
      const entries = lists === undefined ? [] : await lists.entries(Date.now());
      return sendJson(res, 200, { managed: lists !== undefined, entries });
    }
    if (lists === undefined)
      return sendProblem(res, 409, "Conflict", `The ${o.store.name} store keeps no lists.`);
    if (req.method === "POST") {
      let body: unknown;
      try {
        const raw = await readBody(req);
        body = typeof raw === "string" ? JSON.parse(raw) : raw;
      } catch {
        return sendProblem(res, 400, "Bad Request", "The body must be JSON, at most 8 KB.");
      }
      const input = parseListInput(body);
      if (Array.isArray(input))
        return sendProblem(res, 400, "Bad Request", "Invalid list entry.", { problems: input });
      const now = Date.now();
      const expiresAt = input.forMs === undefined ? undefined : now + input.forMs;
      await lists.add(
        { list: input.list, value: input.value, expiresAt, reason: input.reason },
        now,
      );
      void hub.tick();
      return sendJson(res, 201, {
        list: input.list,
        value: input.value,
        addedAt: now,
        expiresAt: expiresAt ?? null,
        reason: input.reason ?? null,
      });
    }
    if (req.method === "DELETE") {
      const list = query.get("list");
      const value = query.get("value");
      if ((list !== "allow" && list !== "deny") || value === null || value === "")
        return sendProblem(res, 400, "Bad Request", "Give ?list=allow|deny&value=<entry>.");
      const removed = await lists.remove(list, value);
      void hub.tick();
      return sendJson(res, removed ? 200 : 404, { removed });
    }
    return sendProblem(
      res,
      405,
      "Method Not Allowed",
      "GET, POST or DELETE.",
      {},
      {
        Allow: "GET, HEAD, POST, DELETE",
      },
    );
  };

  const events = (req: IncomingMessage, res: ServerResponse, a: Access) => {
    if (hub.full)
      return sendProblem(
        res,
        503,
        "Service Unavailable",
        "Too many live views open.",
        {},
        {
          "Retry-After": "10",
        },
      );
    securityHeaders(res);
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      Connection: "keep-alive",
      // Proxies (nginx) must pass each event on at once.
      "X-Accel-Buffering": "no",
    });
    req.socket.setNoDelay(true);
    hub.add(res, a.via === "cookie" ? a.session.expiresAt : Number.POSITIVE_INFINITY);
  };

  const route = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
  ) => {
    const method = req.method ?? "GET";
    const read = method === "GET" || method === "HEAD";
    if (path === "/" || path === "") {
      if (!read)
        return sendProblem(res, 405, "Method Not Allowed", "GET.", {}, { Allow: "GET, HEAD" });
      return page(req, res, query);
    }
    if (path === "/login") {
      if (method !== "POST") return login(res, 200);
      return postLogin(req, res);
    }
    if (!path.startsWith("/api/") && path !== "/logout")
      return sendProblem(res, 404, "Not Found", "No such dashboard page.");
    if (bearer(req) !== undefined && (await tooManyFailures(req, res))) return;
    const a = access(req);
    if (a === undefined)
      return unauthorized(req, res, "Sign in, or send Authorization: Bearer <token>.");
    if (!read && !mayChange(req, a)) {
      return sendProblem(
        res,
        403,
        "Forbidden",
        `A change needs the ${CSRF_HEADER} header of this session, from this origin (or a Bearer token).`,
      );
    }
    if (path === "/logout") {
      if (method !== "POST")
        return sendProblem(res, 405, "Method Not Allowed", "POST.", {}, { Allow: "POST" });
      securityHeaders(res);
      res.writeHead(204, { "Set-Cookie": sessionCookie("", cookiePath, false, 0) });
      return res.end();
    }
    if (path === "/api/lists") return listsApi(req, res, query);
    if (!read)
      return sendProblem(res, 405, "Method Not Allowed", "GET.", {}, { Allow: "GET, HEAD" });
    if (path === "/api/snapshot") return sendJson(res, 200, await buildSnapshot(o, lists, local));
    if (path === "/api/config") return sendJson(res, 200, { config: o.config ?? null });
    if (path === "/api/events") return events(req, res, a);
    return sendProblem(res, 404, "Not Found", "No such dashboard endpoint.");
  };

  const handler = ((
    req: IncomingMessage,
    res: ServerResponse,
    next?: (error?: unknown) => void,
  ) => {
    // Express hands a mounted middleware a stripped req.url; originalUrl is the whole one.
    const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? "/";
    const q = url.indexOf("?");
    const fullPath = q < 0 ? url : url.slice(0, q);
    const inside =
      fullPath === o.basePath ||
      (fullPath.startsWith(o.basePath) && fullPath[o.basePath.length] === "/");
    if (!inside) {
      if (next !== undefined) return next();
      return sendProblem(res, 404, "Not Found", "Not the dashboard.");
    }
    if (closed) return sendProblem(res, 503, "Service Unavailable", "The dashboard is closed.");
    const query = new URLSearchParams(q < 0 ? "" : url.slice(q + 1));
    route(req, res, fullPath.slice(o.basePath.length), query).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      if (error instanceof RangeError)
        return sendProblem(res, 413, "Content Too Large", "At most 8 KB.");
      // The store failed (an outage): say so, without its message (it may name hosts).
      sendProblem(
        res,
        503,
        "Service Unavailable",
        `The store did not answer (${describeError(error)}).`,
        {},
        {
          "Retry-After": "5",
        },
      );
    });
  }) as DashboardHandler;
  handler.close = () => {
    closed = true;
    hub.close();
    local.close();
  };
  return handler;
}
