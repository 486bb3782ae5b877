import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { RawData, WebSocket, WebSocketServer } from "ws";
import {
  createHttpLimiter,
  type HeaderMap,
  type HttpLimiter,
  type HttpOutcome,
  type HttpRequest,
  headerRenderer,
  rejectedProblem,
  retryAfterSeconds,
  routingPath,
  withProblems,
} from "../../http/index.js";
import {
  type ConcurrencyLimiter,
  type ConfigProblem,
  createConcurrencyLimiter,
  createLimiter,
  type Decision,
  emitDecision,
  type Lease,
  type Limiter,
  memoryStore,
  SILENT_EVENTS,
} from "../../index.js";
import { Connection, type Meter, type Meters } from "./connection.js";
import { HTTP_KEYS, parseWsOptions, type WsRateLimitOptions, type WsRaw } from "./options.js";

export type {
  MessagePolicies,
  OnLimited,
  WsLimitedContext,
  WsRateLimitOptions,
  WsRaw,
} from "./options.js";

/** `verifyUpgrade`'s answer: admitted, or the HTTP response that refuses the upgrade. */
export type UpgradeVerdict =
  | {
      readonly allowed: true;
      /** The identity key; undefined for clients no limit applies to (allow list, UNLIMITED). */
      readonly key: string | undefined;
    }
  | {
      readonly allowed: false;
      /** 429 (limited), 503 (store outage), 403 (deny list), 401 (identity failed). */
      readonly status: number;
      readonly headers: HeaderMap;
      readonly body: string | undefined;
      readonly reason: string;
    };

/** What ws's `verifyClient` option takes in its asynchronous (two-argument) form. */
export type VerifyClient = (
  info: { origin: string; secure: boolean; req: IncomingMessage },
  callback: (
    result: boolean,
    code?: number,
    message?: string,
    headers?: Record<string, string>,
  ) => void,
) => void;

/** Counts of what the limiter holds now (for tests and metrics). */
export type WsStats = {
  /** Attached connections not yet closed. */
  readonly open: number;
  /** Verified upgrades whose connection is not attached yet. */
  readonly verifying: number;
  /** Keys in the in-process store of per-connection counters. */
  readonly localKeys: number;
};

export interface WsRateLimit {
  /**
   * Admits or refuses an upgrade request before the handshake: lists, identity, `connections`,
   * then a `maxConnections` slot. An admitted request's slot waits for `attach(ws, req)` (or is
   * freed if its socket closes first).
   */
  verifyUpgrade(req: IncomingMessage): Promise<UpgradeVerdict>;
  /**
   * For `noServer` setups: verifies, answers a refusal on the socket (then destroys it), or
   * completes the handshake with `wss.handleUpgrade`, attaches, and calls `callback`.
   */
  handleUpgrade(
    wss: WebSocketServer,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
  ): void;
  /** ws's `verifyClient` option; call `attach(ws, req)` on "connection". */
  readonly verifyClient: VerifyClient;
  /** Limits the messages of one open connection and frees its slot when it closes. */
  attach(ws: WebSocket, req: IncomingMessage): void;
  /**
   * traffik's explicit form: charges one message (or `cost`) to `ws`'s message policies and
   * answers whether it may be handled. No `onLimited`, no `closeAfter`: your handler decides.
   */
  check(ws: WebSocket, cost?: number): Promise<boolean>;
  /**
   * Like check, with the Decision, and `key` to count one kind of message apart
   * (`consume(ws, "chat")`): each key has its own counters per connection and per identity.
   */
  consume(ws: WebSocket, key?: string, cost?: number): Promise<Decision>;
  /** The HTTP limiter that admits upgrades (lists, clientAddress). */
  readonly limiter: HttpLimiter<WsRaw>;
  /** The open-connection slots, when `maxConnections` is set. */
  readonly slots: ConcurrencyLimiter | undefined;
  stats(): WsStats;
  /** Stops timers, and closes the limiter's own stores. Open sockets are left to you. */
  close(): Promise<void>;
}

/** The upgrade request as throttlekit/http's canonical request (headers read in place). */
class UpgradeRequest implements HttpRequest<WsRaw> {
  readonly method: string;
  readonly path: string;
  readonly remoteAddress: string | undefined;
  readonly raw: WsRaw;

  constructor(req: IncomingMessage) {
    this.method = req.method ?? "GET";
    this.path = routingPath(req.url ?? "/", { dotSegments: true });
    this.remoteAddress = req.socket.remoteAddress;
    this.raw = { req };
  }

  header(name: string): string | undefined {
    const v = this.raw.req.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/** An admitted upgrade waiting for its socket: the slot it holds and who holds it. */
type Pending = {
  readonly key: string | undefined;
  /** Allow-listed or UNLIMITED: admitted, and its messages are not limited either. */
  readonly exempt: boolean;
  lease: Lease | undefined;
  readonly onSocketClose: () => void;
};

/**
 * When `connections` is not set the admission limiter still resolves identities (lists, JWT,
 * trustProxy) through a rule that charges nothing.
 */
const IDENTIFY_ONLY = { limit: 1, window: "1s" } as const;
/** The rule name `maxConnections` decisions are reported under. */
const MAX_CONNECTIONS_RULE = "ws:maxConnections";
const UNAVAILABLE: UpgradeVerdict = Object.freeze({
  allowed: false,
  status: 503,
  headers: Object.freeze({ "Content-Type": "text/plain", "Cache-Control": "no-store" }),
  body: "Service Unavailable",
  reason: "error",
});

/**
 * Rate limits for `ws` 8 servers: connection admission before the handshake (new connections
 * per identity and connections open at once), and message and byte limits on open connections.
 *
 * @example
 * import { WebSocketServer } from "ws";
 * import { wsRateLimit } from "throttlekit/ws";
 *
 * const limit = wsRateLimit({ connections: "10/min", maxConnections: 3, messages: "20/s" });
 * const wss = new WebSocketServer({ port: 8080, verifyClient: limit.verifyClient });
 * wss.on("connection", (ws, req) => {
 *   limit.attach(ws, req);
 *   ws.on("message", (data) => ws.send(data));
 * });
 */
export function wsRateLimit(options: WsRateLimitOptions): WsRateLimit {
  const problems: ConfigProblem[] = [];
  if (typeof options !== "object" || options === null) {
    problems.push({ option: "options", received: options, expected: "an object" });
    return withProblems(problems, () => createHttpLimiter({ policies: "1/s" })) as never;
  }
  const parsed = parseWsOptions(options, problems);
  const http: Record<string, unknown> = {};
  for (const k of HTTP_KEYS) if (options[k] !== undefined) http[k] = options[k];
  const connections = options.connections;
  const limiter = withProblems(problems, () =>
    createHttpLimiter<WsRaw>({
      ...http,
      rules: [
        {
          // Named apart from an HTTP app's own rules: it is the `rule` of its events too.
          name: "ws-connections",
          policies: connections ?? IDENTIFY_ONLY,
          cost: connections === undefined ? 0 : 1,
        },
      ],
    }),
  );
  return new WsLimiter(limiter, options, parsed);
}

class WsLimiter implements WsRateLimit {
  readonly slots: ConcurrencyLimiter | undefined;
  readonly verifyClient: VerifyClient;
  private readonly pending = new WeakMap<IncomingMessage, Pending>();
  private verifying = 0;
  private readonly open = new Set<Connection>();
  private readonly byWs = new WeakMap<WebSocket, Connection>();
  private readonly meters: Meters;
  private readonly local = memoryStore();
  private readonly render: ((d: Decision) => HeaderMap) | undefined;
  private readonly onError: (error: unknown, req: IncomingMessage) => void;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private nextId = 0;
  private ticks = 0;
  private readonly renewEvery: number;

  constructor(
    readonly limiter: HttpLimiter<WsRaw>,
    private readonly options: WsRateLimitOptions,
    private readonly parsed: ReturnType<typeof parseWsOptions>,
  ) {
    const prefix = options.prefix ?? "tk";
    const store = options.store ?? undefined;
    const clock = options.clock;
    this.now = clock ?? Date.now;
    this.slots =
      options.maxConnections === undefined
        ? undefined
        : createConcurrencyLimiter({
            max: options.maxConnections,
            leaseMs: parsed.leaseMs,
            prefix: `${prefix}:ws:open`,
            ...(store !== undefined ? { store } : {}),
            ...(clock !== undefined ? { clock } : {}),
          });
    const style = options.headers === undefined ? "draft-10" : options.headers;
    this.render =
      this.slots === undefined
        ? undefined
        : headerRenderer(
            style,
            [
              {
                name: "concurrency",
                limit: this.slots.max,
                windowMs: this.slots.leaseMs,
                algorithm: "fixed-window",
                burst: this.slots.max,
                blockForMs: 0,
                mode: "reject",
                maxDelayMs: 0,
                id: `cc:${this.slots.max}`,
              },
            ],
            this.now,
          );
    const events = limiter.events;
    const meter = (
      policies: NonNullable<typeof parsed.messages.perIdentity>,
      perIdentity: boolean,
      bytes: boolean,
    ): Meter => {
      const rule = `ws:${bytes ? "bytes" : "messages"}${perIdentity ? ":identity" : ""}`;
      const l: Limiter = createLimiter({
        policies,
        store: perIdentity ? (store ?? this.local) : this.local,
        prefix: `${prefix}:ws:${bytes ? "bytes" : "msg"}${perIdentity ? "" : ":conn"}`,
        // Per identity, the limiter's key is the identity: it emits its decisions itself. Per
        // connection, its key is a connection id: the connection emits them under the identity.
        events: perIdentity ? events : SILENT_EVENTS,
        name: rule,
        ...(clock !== undefined ? { clock } : {}),
      });
      return { limiter: l, perIdentity, bytes, rule };
    };
    const list: Meter[] = [];
    const m = parsed.messages;
    const b = parsed.bytes;
    if (m.perConnection !== undefined) list.push(meter(m.perConnection, false, false));
    if (b.perConnection !== undefined) list.push(meter(b.perConnection, false, true));
    if (m.perIdentity !== undefined) list.push(meter(m.perIdentity, true, false));
    if (b.perIdentity !== undefined) list.push(meter(b.perIdentity, true, true));
    this.meters = {
      list,
      sync: list.every((x) => x.limiter.canConsumeSync),
      bytes: list.some((x) => x.bytes),
      cost: options.cost,
      onLimited: options.onLimited ?? "drop",
      closeAfter: parsed.closeAfter,
      now: this.now,
      events,
    };
    this.onError = options.onError ?? ((error) => console.error(error));
    this.renewEvery = Math.max(1, Math.floor(parsed.leaseMs / 3));
    this.verifyClient = (info, callback) => {
      this.verifyUpgrade(info.req).then((v) => {
        if (v.allowed) callback(true);
        else callback(false, v.status, v.body ?? "", { ...v.headers });
      });
    };
  }

  async verifyUpgrade(req: IncomingMessage): Promise<UpgradeVerdict> {
    let outcome: HttpOutcome;
    try {
      outcome = await this.limiter.handle(new UpgradeRequest(req));
    } catch (error) {
      this.onError(error, req);
      return UNAVAILABLE;
    }
    if (outcome.action === "respond") {
      return {
        allowed: false,
        status: outcome.status,
        headers: outcome.headers,
        body: outcome.body,
        reason: outcome.reason,
      };
    }
    const key = outcome.key;
    let lease: Lease | undefined;
    if (key !== undefined && this.slots !== undefined) {
      const events = this.limiter.events;
      const start = events.timing ? performance.now() : 0;
      const r = await this.slots.acquire(key).catch((error: unknown) => {
        this.onError(error, req);
        return undefined;
      });
      if (r === undefined) return UNAVAILABLE;
      // A concurrency limiter does not emit: its answer is reported here, once per upgrade.
      if (events.active) {
        const ms = events.timing ? performance.now() - start : undefined;
        emitDecision(events, this.now(), MAX_CONNECTIONS_RULE, key, 1, r.decision, false, ms);
      }
      if (!r.allowed) {
        const d = r.decision;
        const retryAfter = retryAfterSeconds(d);
        const headers: HeaderMap = this.render?.(d) ?? {};
        if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
        const p = rejectedProblem(d, retryAfter, headers);
        return {
          allowed: false,
          status: p.status,
          headers: p.headers,
          body: p.body,
          reason: d.reason,
        };
      }
      lease = r.lease;
    }
    if (lease !== undefined) {
      // The handshake may still fail (the client goes away first): the slot must not wait for
      // leaseMs then.
      const socket = req.socket;
      const entry: Pending = {
        key,
        exempt: false,
        lease,
        onSocketClose: () => {
          const p = this.pending.get(req);
          if (p === undefined) return;
          this.pending.delete(req);
          this.verifying--;
          if (p.lease !== undefined) void this.slots!.release(p.lease);
        },
      };
      if (socket.destroyed) {
        // Gone while we waited: its close event has passed, so nothing else would free it.
        void this.slots!.release(lease);
        return CLOSED;
      }
      socket.once("close", entry.onSocketClose);
      this.pending.set(req, entry);
      this.verifying++;
    } else {
      this.pending.set(req, {
        key,
        exempt: key === undefined,
        lease: undefined,
        onSocketClose: noop,
      });
    }
    return { allowed: true, key };
  }

  handleUpgrade(
    wss: WebSocketServer,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (ws: WebSocket, req: IncomingMessage) => void,
  ): void {
    this.verifyUpgrade(req)
      .then((v) => {
        if (!v.allowed) {
          refuse(socket, v.status, v.headers, v.body);
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          this.attach(ws, req);
          callback(ws, req);
        });
      })
      .catch((error: unknown) => {
        // ws refused the call itself (a closed server): the upgrade cannot go on.
        this.onError(error, req);
        socket.destroy();
      });
  }

  attach(ws: WebSocket, req: IncomingMessage): void {
    if (this.byWs.has(ws)) return;
    const p = this.pending.get(req);
    if (p !== undefined) {
      this.pending.delete(req);
      if (p.onSocketClose !== noop) {
        this.verifying--;
        req.socket.removeListener("close", p.onSocketClose);
      }
    }
    const conn = new Connection(
      ws,
      req,
      `c${(this.nextId++).toString(36)}`,
      p?.key,
      p?.exempt ?? false,
      p?.lease,
      this.meters,
      this.options.mode !== "manual",
      this.parsed.heartbeatMs !== undefined,
      (c) => this.closed(c),
    );
    if (ws.readyState > 1) {
      // Closed before it was attached: nothing to track.
      conn.dispose();
      this.closed(conn);
      return;
    }
    this.byWs.set(ws, conn);
    this.open.add(conn);
    if (this.timer === undefined && (conn.lease !== undefined || this.parsed.heartbeatMs)) {
      const every = Math.min(this.renewEvery, this.parsed.heartbeatMs ?? Number.POSITIVE_INFINITY);
      this.timer = setInterval(() => this.tick(every), every);
      this.timer.unref?.();
    }
  }

  check(ws: WebSocket, cost?: number): Promise<boolean> {
    return this.consume(ws, undefined, cost).then((d) => d.allowed);
  }

  consume(ws: WebSocket, key?: string, cost?: number): Promise<Decision> {
    let conn = this.byWs.get(ws);
    if (conn === undefined) {
      // Not attached: counted per connection only, for as long as the socket is alive.
      conn = new Connection(
        ws,
        undefined,
        `c${(this.nextId++).toString(36)}`,
        undefined,
        false,
        undefined,
        this.meters,
        false,
        false,
        (c) => this.closed(c),
      );
      this.byWs.set(ws, conn);
      this.open.add(conn);
    }
    return conn.consume(key, cost ?? 1);
  }

  stats(): WsStats {
    return { open: this.open.size, verifying: this.verifying, localKeys: this.local.size };
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.limiter.close();
  }

  private closed(conn: Connection): void {
    this.open.delete(conn);
    this.byWs.delete(conn.ws);
    if (conn.lease !== undefined) void this.slots!.release(conn.lease);
    conn.lease = undefined;
    if (this.open.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** One timer for every connection: lease renewal and the heartbeat. */
  private tick(every: number): void {
    this.ticks += every;
    const renew = this.slots !== undefined && this.ticks >= this.renewEvery;
    if (renew) this.ticks = 0;
    const heartbeat = this.parsed.heartbeatMs !== undefined;
    for (const conn of this.open) {
      if (heartbeat) conn.heartbeat();
      const lease = conn.lease;
      if (renew && lease !== undefined) {
        this.slots!.renew(lease).then(
          (r) => {
            if (conn.lease === undefined) return;
            if (r === false) {
              // The slot is gone (expired, or the store failed closed): someone else may hold
              // it now, so this connection may not stay open on it.
              conn.lease = undefined;
              conn.ws.close(1013, "connection slot lost");
            } else conn.lease = r;
          },
          () => {},
        );
      }
    }
  }
}

function noop(): void {}

const CLOSED: UpgradeVerdict = Object.freeze({
  allowed: false,
  status: 400,
  headers: Object.freeze({}),
  body: undefined,
  reason: "closed",
});

const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Answers a refused upgrade on the raw socket, then destroys it (as ws's abortHandshake). */
function refuse(socket: Duplex, status: number, headers: HeaderMap, body: string | undefined) {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const text = body ?? STATUS_CODES[status] ?? "";
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nConnection: close\r\n`;
  let type = false;
  for (const name in headers) {
    const value = String(headers[name]);
    if (!HEADER_VALUE.test(value) || !/^[\w!#$%&'*+.^`|~-]+$/.test(name)) continue;
    if (name.toLowerCase() === "content-type") type = true;
    if (name.toLowerCase() === "content-length" || name.toLowerCase() === "connection") continue;
    head += `${name}: ${value}\r\n`;
  }
  if (!type) head += "Content-Type: text/plain\r\n";
  head += `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n`;
  socket.once("finish", () => socket.destroy());
  socket.end(head + text);
}

export type { RawData };
