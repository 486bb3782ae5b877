import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExtendedError, Socket } from "socket.io";
import {
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  isThenable,
  type RulePolicies,
  withProblems,
} from "../../http/index.js";
import {
  type ConcurrencyLimiter,
  ConfigError,
  createConcurrencyLimiter,
  type Decision,
  type Duration,
  type EventHub,
  emitDecision,
  type Lease,
  memoryStore,
  ProblemList,
  parseDuration,
  parseTimerDuration,
  type Store,
  TIMER_DURATION_FORM,
} from "../../index.js";
import { type EventPolicies, EventRules } from "./events.js";
import { type Held, Renewals } from "./leases.js";
import { CLOSED, type EventRefusal, refusal, responded, unavailable, waitOf } from "./refusal.js";
import { type SocketIoRaw, SocketRequest } from "./request.js";

export type { EventPolicies } from "./events.js";
export type { ConnectionRefusal, EventRefusal, RefusalCode } from "./refusal.js";
export { authToken, type SocketIoRaw } from "./request.js";

/** The HTTP layer's options that apply to a Socket.IO handshake (identity, proxies, lists). */
type HandshakeOptions = Pick<
  HttpLimiterOptions<SocketIoRaw>,
  | "identity"
  | "trustProxy"
  | "proxyHeader"
  | "ipv6Prefix"
  | "ipv4Prefix"
  | "logger"
  | "store"
  | "prefix"
  | "clock"
  | "headers"
  | "allow"
  | "deny"
  | "listsRefresh"
  | "identityFailures"
  | "metrics"
>;

/** Options of socketIoRateLimit: the HTTP layer's identity options plus connection and event limits. */
export type SocketIoRateLimitOptions = HandshakeOptions & {
  /** New connections per identity, e.g. "10/min" (or policies per group). @default undefined (not limited) */
  connections?: RulePolicies;
  /** Connections open at once per identity, across every process sharing the store. @default undefined */
  maxConnections?: number;
  /** Lease of each open connection, renewed every third of it while connected. @default "30s" */
  leaseMs?: Duration;
  /** Per-event policies per connection, first match wins: `{ "chat:*": "5/s", "*": "50/s" }`. @default undefined */
  events?: EventPolicies;
  /** Per-event policies per identity (all its connections, every process). @default undefined */
  identityEvents?: EventPolicies;
  /** Disconnects a client refused this many events within this long. @default undefined */
  closeAfter?: { readonly violations: number; readonly within: Duration };
  /**
   * Where every decision goes (the handshake's `socket.io-connections`, `socket.io:maxConnections`,
   * `socket.io:events:<glob>`, `socket.io:identityEvents:<glob>`), with the store's `degraded`
   * and `recovered`: the HTTP layer's `events` option, named apart because `events` here holds
   * the per-event policies.
   * @default a hub of its own (`limit.http.events`)
   */
  eventHub?: EventHub;
};

type Next = (err?: ExtendedError) => void;

/** What `socketIoRateLimit` returns: install both parts, or either. */
export interface SocketIoRateLimit {
  /**
   * For `new Server(httpServer, { allowRequest })`: refuses new Engine.IO sessions over their
   * `connections` rate or lists before any Socket.IO state exists. It sees no `auth` payload.
   */
  readonly allowRequest: (
    req: IncomingMessage,
    fn: (err: string | null | undefined, success: boolean) => void,
  ) => void;
  /** For `io.use()` (or a namespace's `use()`): admission, `maxConnections`, event limits. */
  readonly middleware: (socket: Socket, next: Next) => void;
  /** The HTTP limiter behind the handshake (lists, clientAddress). */
  readonly http: HttpLimiter<SocketIoRaw>;
  /** The `maxConnections` limiter, when configured. */
  readonly connections: ConcurrencyLimiter | undefined;
  /**
   * What the limiter holds in this process now (for tests and metrics): connections it limits,
   * leases it renews, and per-connection event counters.
   */
  stats(): { readonly connections: number; readonly leases: number; readonly counters: number };
  /** Stops renewals and list notifications; closes the store if the limiter created it. */
  close(): Promise<void>;
}

const KNOWN = [
  "connections",
  "maxConnections",
  "leaseMs",
  "events",
  "identityEvents",
  "closeAfter",
  "identity",
  "trustProxy",
  "proxyHeader",
  "ipv6Prefix",
  "ipv4Prefix",
  "logger",
  "store",
  "prefix",
  "clock",
  "headers",
  "allow",
  "deny",
  "listsRefresh",
  "identityFailures",
  "eventHub",
  "metrics",
];
/** Without `connections` the handshake still resolves the identity and lists: never refuses. */
const UNCOUNTED = { limit: 1_000_000_000, window: "1s" } as const;
const EXEMPT = Symbol("exempt");
const CONNECTIONS_RULE = "rules[0].policies";
/** The rule name `maxConnections` decisions are reported under. */
const MAX_CONNECTIONS_RULE = "socket.io:maxConnections";

/** One admitted connection: its identity key, counters' key, lease and violations. */
type Tracked = Held & {
  readonly seq: string;
  violations: number;
  since: number;
};

/**
 * Rate limiting for Socket.IO 4: connection admission at the engine handshake and in
 * `io.use()`, connections open at once per identity, per-event policies per connection and per
 * identity, and disconnection of clients that keep hitting the limits.
 *
 * @example
 * import { Server } from "socket.io";
 * import { socketIoRateLimit } from "throttlekit/socket.io";
 *
 * const limit = socketIoRateLimit({
 *   connections: "10/min",
 *   maxConnections: 5,
 *   events: { "chat:*": "5/s", "*": "50/s" },
 *   closeAfter: { violations: 20, within: "1m" },
 * });
 * const io = new Server(httpServer, { allowRequest: limit.allowRequest });
 * io.use(limit.middleware);
 */
export function socketIoRateLimit(options: SocketIoRateLimitOptions): SocketIoRateLimit {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      {
        option: "options",
        received: options,
        expected: "an object { connections?, events?, ... }",
      },
    ]);
  }
  const problems = new ProblemList();
  problems.unknownKeys(options, KNOWN);
  const {
    connections: connectionPolicies,
    maxConnections,
    leaseMs: leaseInput,
    events,
    identityEvents,
    closeAfter,
    eventHub,
    ...handshake
  } = options;
  const ownStore = handshake.store === undefined;
  const store: Store = handshake.store ?? memoryStore();
  const prefix = typeof handshake.prefix === "string" ? handshake.prefix : "tk";
  const clock = handshake.clock;
  const now = clock ?? Date.now;

  let concurrency: ConcurrencyLimiter | undefined;
  const leaseMs = parseTimerDuration(leaseInput ?? "30s");
  if (leaseMs === undefined) {
    problems.add("leaseMs", leaseInput, TIMER_DURATION_FORM);
  }
  if (maxConnections !== undefined) {
    try {
      concurrency = createConcurrencyLimiter({
        max: maxConnections,
        leaseMs: leaseMs ?? 30_000,
        store,
        prefix: `${prefix}:sio:conn`,
        ...(clock === undefined ? {} : { clock }),
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const p of error.problems)
        problems.add(p.option === "max" ? "maxConnections" : p.option, p.received, p.expected);
    }
  }
  // Per-connection counters live in this process whatever the store: a connection is here.
  const local = memoryStore();
  const perConnection =
    events === undefined
      ? undefined
      : new EventRules("events", events, local, "sio:c", clock, problems);
  const perIdentity =
    identityEvents === undefined
      ? undefined
      : new EventRules("identityEvents", identityEvents, store, `${prefix}:sio:e`, clock, problems);
  let violationsMax = 0;
  let withinMs = 0;
  if (closeAfter !== undefined) {
    const v = (closeAfter as { violations?: unknown })?.violations;
    const w = parseDuration((closeAfter as { within?: unknown })?.within);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      problems.add("closeAfter.violations", v, "a whole number ≥ 1");
    } else violationsMax = v;
    if (w === undefined || w <= 0) {
      problems.add("closeAfter.within", closeAfter?.within, 'a positive duration, e.g. "1m"');
    } else withinMs = w;
  }

  const http = withProblems(problems.items, () => {
    try {
      return createHttpLimiter<SocketIoRaw>({
        ...handshake,
        store,
        ...(eventHub === undefined ? {} : { events: eventHub }),
        rules: [{ name: "socket.io-connections", policies: connectionPolicies ?? UNCOUNTED }],
      });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The one rule is built from `connections`, the hub is `eventHub`: name the options the
      // user wrote.
      throw new ConfigError(
        error.problems.map((p) =>
          p.option.startsWith(CONNECTIONS_RULE)
            ? { ...p, option: `connections${p.option.slice(CONNECTIONS_RULE.length)}` }
            : p.option === "events"
              ? { ...p, option: "eventHub" }
              : p,
        ),
      );
    }
  });

  /** Keys resolved at the engine handshake, so io.use() neither counts nor identifies again. */
  const handshakes = new WeakMap<IncomingMessage, string | typeof EXEMPT>();
  /** Connections holding a lease, renewed together on one timer. */
  const renewals = concurrency === undefined ? undefined : new Renewals(concurrency);
  let tracked = 0;
  let seq = 0;

  const track = (socket: Socket, key: string, lease: Lease | undefined): void => {
    const t: Tracked = { key, seq: String(++seq), lease, violations: 0, since: 0 };
    tracked++;
    if (lease !== undefined) renewals?.add(t);
    const conn = socket.conn;
    const done = (): void => {
      socket.off("disconnect", done);
      conn.off("close", done);
      tracked--;
      renewals?.delete(t);
      if (perConnection !== undefined)
        for (const l of perConnection.limiters)
          if (l !== undefined) void l.reset(t.seq).catch(noop);
    };
    // "disconnect" when the socket leaves; the engine's "close" when the transport dies before
    // the socket ever connected (the client vanished while admission was pending).
    socket.on("disconnect", done);
    conn.on("close", done);
    if (perConnection !== undefined || perIdentity !== undefined)
      socket.use((packet, next) => onPacket(socket, t, packet, next));
  };

  const refuseEvent = (
    socket: Socket,
    t: Tracked,
    packet: unknown[],
    d: Decision | undefined,
  ): void => {
    const quota = d !== undefined && d.reason !== "degraded";
    const info: EventRefusal = {
      code: quota ? "RATE_LIMITED" : "UNAVAILABLE",
      retryAfterMs: d === undefined ? null : waitOf(d.retryAfterMs),
      event: packet[0] as string,
    };
    const ack = packet[packet.length - 1];
    if (packet.length > 1 && typeof ack === "function") ack(info);
    else socket.emit("rate_limited", info);
    if (!quota || violationsMax === 0) return;
    const at = now();
    if (t.violations === 0 || at - t.since >= withinMs) {
      t.since = at;
      t.violations = 0;
    }
    if (++t.violations >= violationsMax) socket.disconnect(true);
  };

  const onPacket = (socket: Socket, t: Tracked, packet: unknown[], next: Next): void => {
    const event = packet[0];
    if (typeof event !== "string") {
      next();
      return;
    }
    const hub = http.events;
    const own = perConnection?.find(event);
    if (own !== undefined) {
      const start = hub.timing ? performance.now() : 0;
      const d = own.limiter.consumeSync(t.seq);
      if (hub.active) report(own.rule, t.key, d, start);
      if (!d.allowed) {
        refuseEvent(socket, t, packet, d);
        return;
      }
    }
    const shared = perIdentity?.find(event);
    if (shared === undefined) {
      next();
      return;
    }
    const start = hub.timing ? performance.now() : 0;
    if (shared.limiter.canConsumeSync) {
      const d = shared.limiter.consumeSync(t.key);
      if (hub.active) report(shared.rule, t.key, d, start);
      if (d.allowed) next();
      else refuseEvent(socket, t, packet, d);
      return;
    }
    shared.limiter.consume(t.key).then(
      (d) => {
        if (hub.active) report(shared.rule, t.key, d, start);
        if (d.allowed) next();
        else refuseEvent(socket, t, packet, d);
      },
      () => refuseEvent(socket, t, packet, undefined),
    );
  };

  /**
   * Emits one decision the adapter made (the event rules' and the concurrency limiter's
   * limiters do not emit: SILENT_EVENTS); call it only when the hub is active. `start` is
   * performance.now() before the decision when the hub wants timings.
   */
  const report = (rule: string, key: string, d: Decision, start: number): void => {
    const hub = http.events;
    const ms = hub.timing ? performance.now() - start : undefined;
    emitDecision(hub, now(), rule, key, 1, d, false, ms);
  };

  const admitted = (socket: Socket, key: string | typeof EXEMPT, next: Next): void => {
    // Allow-listed and UNLIMITED identities bypass every limit.
    if (key === EXEMPT) {
      next();
      return;
    }
    if (concurrency === undefined) {
      // An asynchronous admission (a Redis store) may outlive the client: nothing to track then.
      if (socket.conn.readyState !== "open") next(new Error(CLOSED));
      else {
        track(socket, key, undefined);
        next();
      }
      return;
    }
    const start = http.events.timing ? performance.now() : 0;
    concurrency.acquire(key).then(
      (r) => {
        if (http.events.active) report(MAX_CONNECTIONS_RULE, key, r.decision, start);
        if (!r.allowed) {
          next(refusal(r.decision, "maxConnections"));
          return;
        }
        if (socket.conn.readyState !== "open") {
          void concurrency?.release(r.lease).catch(noop);
          next(new Error(CLOSED));
          return;
        }
        track(socket, key, r.lease);
        next();
      },
      (error: unknown) => next(unavailable(error)),
    );
  };

  const middleware = (socket: Socket, next: Next): void => {
    const req = socket.request;
    const known = handshakes.get(req);
    if (known !== undefined) {
      admitted(socket, known, next);
      return;
    }
    let out: ReturnType<typeof http.handle>;
    try {
      out = http.handle(
        new SocketRequest(req, socket.handshake.address, socket.handshake.auth, socket.nsp.name),
      );
    } catch (error) {
      next(unavailable(error));
      return;
    }
    const then = (o: HttpOutcome): void => {
      if (o.action === "continue") admitted(socket, o.key ?? EXEMPT, next);
      else next(responded(o));
    };
    if (!isThenable<HttpOutcome>(out)) {
      then(out);
      return;
    }
    out.then(then, (error: unknown) => next(unavailable(error)));
  };

  const allowRequest: SocketIoRateLimit["allowRequest"] = (req, fn) => {
    const then = (o: HttpOutcome): void => {
      if (o.action === "continue") {
        handshakes.set(req, o.key ?? EXEMPT);
        fn(null, true);
        return;
      }
      // Polling handshakes carry their response (engine.io sets req.res): answer it ourselves
      // with the status, Retry-After and body a client can act on; engine.io then only ends it.
      // A WebSocket handshake is answered by engine.io (a 400 with this message).
      const res = (req as IncomingMessage & { res?: ServerResponse }).res;
      if (res !== undefined && !res.headersSent) res.writeHead(o.status, o.headers).end(o.body);
      fn(responded(o).message, false);
    };
    let out: ReturnType<typeof http.handle>;
    try {
      out = http.handle(new SocketRequest(req, req.socket?.remoteAddress, undefined, undefined));
    } catch {
      fn("Service Unavailable", false);
      return;
    }
    if (!isThenable<HttpOutcome>(out)) then(out);
    else out.then(then, () => fn("Service Unavailable", false));
  };

  return {
    allowRequest,
    middleware,
    http,
    connections: concurrency,
    stats: () => ({ connections: tracked, leases: renewals?.size ?? 0, counters: local.size }),
    async close() {
      renewals?.stop();
      await http.close();
      await local.close?.();
      if (ownStore) await store.close?.();
    },
  };
}

function noop(): void {}
