import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type ServerListener,
  type ServerMethodDefinition,
  status as Status,
} from "@grpc/grpc-js";
import {
  createHttpLimiter,
  type HeaderMap,
  type HeaderRenderer,
  type HeaderStyle,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpOutcome,
  type HttpRequest,
  type HttpRule,
  headerRenderer,
  type Identity,
  type IdentityResult,
  ip,
  isThenable,
  retryAfterSeconds,
  UNLIMITED,
} from "../http/index.js";
import {
  type ConcurrencyLimiter,
  ConfigError,
  type ConfigProblem,
  createConcurrencyLimiter,
  createLimiter,
  type Decision,
  type Duration,
  type EventHub,
  emitDecision,
  type Lease,
  type Limiter,
  memoryStore,
  type PolicyInput,
  SILENT_EVENTS,
} from "../index.js";

/** What callbacks (`identity`, `skip`, `cost`) see on `req.raw`: the call and its metadata. */
export type GrpcRaw = {
  /** The method being called (`path` is "/pkg.Service/Method"; `requestStream`, `responseStream`). */
  readonly method: ServerMethodDefinition<unknown, unknown>;
  readonly call: ServerInterceptingCallInterface;
  /** The call's request metadata; `req.header(name)` reads its text entries. */
  readonly metadata: Metadata;
};

/**
 * A rule over method paths: `path` is "/pkg.Service/Method", "/pkg.Service/*", "/pkg.*\/*" or a
 * RegExp (first match wins); `methods` does not apply (every gRPC call is a POST).
 */
export type GrpcRule = Omit<HttpRule<GrpcRaw>, "methods" | "concurrency" | "priority">;

/** Limits on the messages a client sends on client-streaming and bidi calls. */
export type GrpcMessageLimits = {
  /** A policy or policies ("100/s"), as for calls. */
  policies: PolicyInput | readonly PolicyInput[];
  /**
   * "call": each stream counts on its own (in this process; a stream lives on one server);
   * "identity": every stream of one client shares the count, in the limiter's store.
   * @default "call"
   */
  per?: "call" | "identity";
};

/** Options of grpcRateLimit: the HTTP layer's identities, rules and lists, plus gRPC's own. */
export type GrpcRateLimitOptions = Omit<
  HttpLimiterOptions<GrpcRaw>,
  | "rules"
  | "onLimited"
  | "onDenied"
  | "onIdentityError"
  | "countFailed"
  | "countSuccessful"
  | "concurrency"
  | "priority"
  | "shed"
  | "onShed"
> & {
  /** Rules by method path, first match wins. @default [] */
  rules?: readonly GrpcRule[];
  /**
   * Calls in flight at once per identity (calls a rule or `policies` counted), streams
   * included, across every server sharing the store. A slot is freed when the call ends
   * (status sent, cancelled, deadline exceeded, failed).
   * @default undefined (no cap)
   */
  maxConcurrent?: number;
  /**
   * How long a slot of `maxConcurrent` lives unless renewed: slots of a crashed server free
   * themselves after this long; slots of live calls are renewed every leaseMs / 3.
   * @default "30s"
   */
  leaseMs?: Duration;
  /** Limits on request messages of client-streaming and bidi calls. @default undefined */
  messages?: GrpcMessageLimits;
  /**
   * Called when the limiter fails unexpectedly (a bug, a user callback that threw); the call
   * is answered INTERNAL. Store outages never get here: they follow the store's onStoreError.
   * @default console.error
   */
  onError?: (error: unknown, path: string) => void;
};

/** A grpc-js server interceptor, plus the limiter behind it. */
export interface GrpcRateLimit extends ServerInterceptor {
  /** The underlying HTTP limiter (lists, close). */
  readonly limiter: HttpLimiter<GrpcRaw>;
  /** The concurrency limiter of `maxConcurrent`, when set. */
  readonly concurrency: ConcurrencyLimiter | undefined;
  /** The limiter of `messages`, when set (per call: on its own memory store). */
  readonly messages: Limiter | undefined;
  /** Stops lease renewal and list notifications; closes stores the limiter created. */
  close(): Promise<void>;
}

const NOT_FOR_GRPC = ["onLimited", "onDenied", "onIdentityError", "countFailed", "countSuccessful"];
/**
 * The HTTP layer's in-flight options hold a slot until the HTTP response ends, a hook gRPC calls
 * do not have: gRPC has its own (`maxConcurrent`, freed when the call ends).
 */
const HTTP_IN_FLIGHT = ["concurrency", "priority", "shed", "onShed"];
const IN_FLIGHT_FORM = "nothing: gRPC calls in flight are capped by maxConcurrent";
const MESSAGE_KEYS = ["policies", "per"];
/** Matches no path (an empty negative lookahead never succeeds). */
const NO_PATH = /(?!)/;
/** The rule names of the decisions the interceptor makes beside the HTTP layer's rules. */
const MAX_CONCURRENT_RULE = "grpc:maxConcurrent";
const MESSAGES_RULE = "grpc:messages";

/**
 * HTTP statuses of the HTTP layer's answers, as gRPC status codes: a quota refusal is
 * RESOURCE_EXHAUSTED, a store outage (fail-closed) UNAVAILABLE, never the other way round.
 */
function grpcCode(httpStatus: number): Status {
  switch (httpStatus) {
    case 429:
      return Status.RESOURCE_EXHAUSTED;
    case 503:
      return Status.UNAVAILABLE;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    default:
      return Status.INTERNAL;
  }
}

/** The canonical request over a call's metadata: entries are read in place, not copied. */
class GrpcRequest implements HttpRequest<GrpcRaw> {
  readonly method = "POST";
  readonly path: string;
  readonly remoteAddress: string | undefined;
  readonly raw: GrpcRaw;

  constructor(raw: GrpcRaw) {
    this.raw = raw;
    this.path = raw.method.path;
    this.remoteAddress = peerAddress(raw.call);
  }

  header(name: string): string | undefined {
    const values = this.raw.metadata.get(name);
    if (values.length === 1) return typeof values[0] === "string" ? values[0] : undefined;
    if (values.length === 0) return undefined;
    const text = values.filter((v): v is string => typeof v === "string");
    return text.length === 0 ? undefined : text.join(", ");
  }
}

/**
 * The peer's address without its port. getConnectionInfo() (grpc-js ≥ 1.10) has it as is;
 * otherwise getPeer() gives "address:port" (IPv6 without brackets) or "unknown".
 */
function peerAddress(call: ServerInterceptingCallInterface): string | undefined {
  const info = typeof call.getConnectionInfo === "function" ? call.getConnectionInfo() : undefined;
  if (info?.remoteAddress !== undefined) return info.remoteAddress;
  const peer = call.getPeer();
  if (peer === "unknown" || peer === "") return undefined;
  const colon = peer.lastIndexOf(":");
  return colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : peer;
}

/**
 * gRPC server interceptor for @grpc/grpc-js ≥ 1.10: rate limits per method path and identity,
 * `maxConcurrent` calls in flight per identity, and limits on streamed request messages. A
 * refused call ends with RESOURCE_EXHAUSTED and trailing metadata `retry-after` (seconds),
 * `grpc-retry-pushback-ms` (gRFC A6: clients with a retry policy wait that long) and the
 * RateLimit fields; a store outage with onStoreError "fail-closed" ends it UNAVAILABLE.
 *
 * @example
 * import { Server } from "@grpc/grpc-js";
 * import { grpcRateLimit } from "throttlekit/grpc";
 *
 * const limit = grpcRateLimit({
 *   rules: [{ path: "/shop.Orders/Create", policies: "10/min" }],
 *   policies: "100/s",
 *   maxConcurrent: 8,
 * });
 * const server = new Server({ interceptors: [limit] });
 */
export function grpcRateLimit(options: GrpcRateLimitOptions): GrpcRateLimit {
  const extra: ConfigProblem[] = [];
  const o = (typeof options === "object" && options !== null ? options : {}) as Record<
    string,
    unknown
  >;
  for (const k of NOT_FOR_GRPC) {
    if (o[k] !== undefined) {
      extra.push({
        option: k,
        received: o[k],
        expected: "nothing: throttlekit/grpc answers with gRPC statuses (docs/adapters/grpc.md)",
      });
    }
  }
  for (const k of HTTP_IN_FLIGHT) {
    if (o[k] !== undefined) extra.push({ option: k, received: o[k], expected: IN_FLIGHT_FORM });
  }
  const { rules, maxConcurrent, leaseMs, messages, onError, ...rest } = options;
  for (const k of [...NOT_FOR_GRPC, ...HTTP_IN_FLIGHT]) delete (rest as Record<string, unknown>)[k];
  if (
    maxConcurrent !== undefined &&
    (typeof maxConcurrent !== "number" || !Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1)
  ) {
    extra.push({
      option: "maxConcurrent",
      received: maxConcurrent,
      expected: "a whole number ≥ 1",
    });
  }
  if (rules !== undefined && Array.isArray(rules)) {
    rules.forEach((r, i) => {
      if (typeof r === "object" && r !== null && "methods" in r) {
        extra.push({
          option: `rules[${i}].methods`,
          received: (r as { methods: unknown }).methods,
          expected: 'nothing: gRPC rules match method paths ("/pkg.Service/Method")',
        });
      }
      for (const k of ["concurrency", "priority"]) {
        if (
          typeof r === "object" &&
          r !== null &&
          (r as Record<string, unknown>)[k] !== undefined
        ) {
          extra.push({
            option: `rules[${i}].${k}`,
            received: (r as Record<string, unknown>)[k],
            expected: IN_FLIGHT_FORM,
          });
        }
      }
    });
  }
  if (onError !== undefined && typeof onError !== "function") {
    extra.push({
      option: "onError",
      received: onError,
      expected: "a function (error, path) => void",
    });
  }
  let messageSpec:
    | { policies: PolicyInput | readonly PolicyInput[]; per: "call" | "identity" }
    | undefined;
  if (messages !== undefined) {
    if (typeof messages !== "object" || messages === null) {
      extra.push({ option: "messages", received: messages, expected: "{ policies, per? }" });
    } else {
      for (const k of Object.keys(messages)) {
        if (!MESSAGE_KEYS.includes(k)) {
          extra.push({ option: `messages.${k}`, received: k, expected: "one of policies, per" });
        }
      }
      const per = messages.per ?? "call";
      if (per !== "call" && per !== "identity") {
        extra.push({
          option: "messages.per",
          received: messages.per,
          expected: '"call" or "identity"',
        });
      }
      messageSpec = { policies: messages.policies, per };
    }
  }
  const store = rest.store ?? memoryStore();
  const prefix = rest.prefix ?? "tk";
  const clock = rest.clock === undefined ? {} : { clock: rest.clock };
  // maxConcurrent alone needs no rate policy: a rule that matches no path lets every call
  // through the HTTP layer as "unmatched", and the cap finds the identity itself.
  const capOnly = rest.policies === undefined && rules === undefined && maxConcurrent !== undefined;
  const httpOptions: HttpLimiterOptions<GrpcRaw> = {
    ...rest,
    store,
    ...(rules === undefined ? {} : { rules }),
    ...(capOnly ? { rules: [{ name: "grpc-no-rule", path: NO_PATH, policies: "1/h" }] } : {}),
  };
  // Every factory validates its own options; all their problems go out in one ConfigError.
  const limiter = collect(extra, () => createHttpLimiter<GrpcRaw>(httpOptions));
  // The message limiter per identity emits into the same hub as the HTTP layer's rules.
  const events: EventHub = limiter?.events ?? SILENT_EVENTS;
  const concurrency =
    maxConcurrent === undefined
      ? undefined
      : collect(
          extra,
          () =>
            createConcurrencyLimiter({
              max: maxConcurrent,
              leaseMs: leaseMs ?? "30s",
              store,
              prefix: `${prefix}:cc`,
              ...clock,
            }),
          (option) => (option === "max" ? "maxConcurrent" : option),
        );
  const messageLimiter =
    messageSpec === undefined
      ? undefined
      : collect(
          extra,
          () =>
            createLimiter({
              policies: messageSpec.policies,
              // A stream lives on one server: per-call counts stay in this process.
              store: messageSpec.per === "call" ? memoryStore() : store,
              prefix: `${prefix}:msg`,
              // Per call its keys are call numbers: the interceptor reports under the identity.
              events: messageSpec.per === "call" ? SILENT_EVENTS : events,
              name: MESSAGES_RULE,
              ...clock,
            }),
          (option) => `messages.${option}`,
        );
  if (extra.length > 0) {
    void limiter?.close();
    throw new ConfigError(extra);
  }
  if (limiter === undefined) throw new ConfigError(extra);
  const style: HeaderStyle | false = rest.headers ?? "draft-10";
  const now = rest.clock ?? Date.now;
  const ctx: Context = {
    limiter,
    events,
    concurrency,
    identity:
      rest.identity ??
      ip({
        ...(rest.trustProxy === undefined ? {} : { trustProxy: rest.trustProxy }),
        ...(rest.proxyHeader === undefined ? {} : { header: rest.proxyHeader }),
        ...(rest.ipv4Prefix === undefined ? {} : { ipv4Prefix: rest.ipv4Prefix }),
        ...(rest.ipv6Prefix === undefined ? {} : { ipv6Prefix: rest.ipv6Prefix }),
      }),
    messages: messageLimiter,
    messagesPerCall: messageSpec?.per === "call",
    style,
    now,
    renderers: new Map(),
    onError:
      onError ??
      ((error: unknown) => {
        console.error(error);
      }),
    identityContext: { now },
    held: new Set(),
    timer: undefined,
    renewEveryMs: concurrency === undefined ? 0 : Math.max(1, Math.floor(concurrency.leaseMs / 3)),
    seq: 0,
  };

  const interceptor = ((method: ServerMethodDefinition<unknown, unknown>, call) =>
    new Guard(ctx, method, call).intercepting) as GrpcRate;
  Object.defineProperty(interceptor, "limiter", { value: limiter, enumerable: true });
  Object.defineProperty(interceptor, "concurrency", { value: concurrency, enumerable: true });
  Object.defineProperty(interceptor, "messages", { value: messageLimiter, enumerable: true });
  interceptor.close = async () => {
    if (ctx.timer !== undefined) clearInterval(ctx.timer);
    ctx.timer = undefined;
    await limiter.close();
  };
  return interceptor;
}

type GrpcRate = { -readonly [K in keyof GrpcRateLimit]: GrpcRateLimit[K] } & ServerInterceptor;

type Context = {
  readonly limiter: HttpLimiter<GrpcRaw>;
  /** The HTTP limiter's hub: decisions of maxConcurrent and per-call messages are reported here. */
  readonly events: EventHub;
  readonly concurrency: ConcurrencyLimiter | undefined;
  /** Who the client is, for calls no rule counted (maxConcurrent still applies to them). */
  readonly identity: Identity<GrpcRaw>;
  readonly messages: Limiter | undefined;
  readonly messagesPerCall: boolean;
  readonly style: HeaderStyle | false;
  readonly now: () => number;
  /** Header renderers per set of policies (the concurrency cap, message policies), built once. */
  readonly renderers: Map<string, HeaderRenderer | undefined>;
  readonly onError: (error: unknown, path: string) => void;
  readonly identityContext: { readonly now: () => number };
  /** Calls holding a lease, renewed together by one timer (no timer per call). */
  readonly held: Set<Guard>;
  timer: ReturnType<typeof setInterval> | undefined;
  readonly renewEveryMs: number;
  seq: number;
};

/** One call's state: admission, its lease, its message count. */
class Guard {
  readonly intercepting: ServerInterceptingCall;
  private lease: Lease | undefined;
  private ended = false;
  private headers: HeaderMap | undefined;
  private messageKey: string | undefined;
  /** Who the caller is, for events: its identity key, else the call's own number. */
  private who: string | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly method: ServerMethodDefinition<unknown, unknown>,
    private readonly call: ServerInterceptingCallInterface,
  ) {
    // grpc-js calls onCancel when the call ends in any way: client cancel, deadline, a lost
    // connection, and after every status it sends (server-interceptors notifyOnCancel).
    const listener: ServerListener = {
      onReceiveMetadata: (metadata, next) => this.admit(metadata, next),
      onCancel: () => this.end(),
    };
    if (ctx.messages !== undefined && method.requestStream) {
      listener.onReceiveMessage = (message, next) => this.message(message, next);
    }
    this.intercepting = new ServerInterceptingCall(call, {
      start: (next) => next(listener),
      sendMetadata: (metadata, next) => {
        const h = this.headers;
        if (h !== undefined) for (const name in h) metadata.set(name, h[name]!);
        next(metadata);
      },
      sendStatus: (status, next) => {
        this.end();
        next(status);
      },
    });
  }

  private admit(metadata: Metadata, next: (m: Metadata) => void): void {
    let out: ReturnType<HttpLimiter<GrpcRaw>["handle"]>;
    try {
      out = this.ctx.limiter.handle(
        new GrpcRequest({ method: this.method, call: this.call, metadata }),
      );
    } catch (error) {
      this.failed(error);
      return;
    }
    if (isThenable<HttpOutcome>(out)) {
      out.then(
        (o) => this.decided(o, metadata, next),
        (e: unknown) => this.failed(e),
      );
    } else {
      this.decided(out, metadata, next);
    }
  }

  private decided(o: HttpOutcome, metadata: Metadata, next: (m: Metadata) => void): void {
    if (this.ended) return;
    if (o.action === "respond") {
      const trailers = new Metadata();
      for (const name in o.headers) {
        if (name === "Content-Type" || name === "Cache-Control") continue;
        trailers.set(name, o.headers[name]!);
      }
      if (o.status === 429 && o.decision !== undefined) setPushback(trailers, o.decision);
      this.refuse(grpcCode(o.status), o.reason, trailers);
      return;
    }
    this.headers = o.headers;
    if (this.ctx.concurrency === undefined) {
      this.admitted(o.key, metadata, next);
      return;
    }
    if (o.reason === "exempt" || o.reason === "skipped") {
      // Exempt, skipped or allow-listed: no cap either.
      this.admitted(o.key, metadata, next);
      return;
    }
    if (o.key !== undefined) {
      this.acquire(o.key, metadata, next);
      return;
    }
    // No rule counted the call, but maxConcurrent still caps its identity.
    let who: ReturnType<Identity<GrpcRaw>>;
    try {
      who = this.ctx.identity(
        new GrpcRequest({ method: this.method, call: this.call, metadata }),
        this.ctx.identityContext,
      );
    } catch {
      this.refuse(Status.UNAUTHENTICATED, "identity", new Metadata());
      return;
    }
    if (isThenable<IdentityResult>(who)) {
      who.then(
        (w) => this.identified(w, metadata, next),
        () => this.refuse(Status.UNAUTHENTICATED, "identity", new Metadata()),
      );
    } else {
      this.identified(who, metadata, next);
    }
  }

  private identified(who: IdentityResult, metadata: Metadata, next: (m: Metadata) => void): void {
    if (this.ended) return;
    if (who === UNLIMITED) this.admitted(undefined, metadata, next);
    else this.acquire(typeof who === "string" ? who : who.key, metadata, next);
  }

  private acquire(key: string, metadata: Metadata, next: (m: Metadata) => void): void {
    const concurrency = this.ctx.concurrency!;
    const events = this.ctx.events;
    const start = events.timing ? performance.now() : 0;
    concurrency.acquire(key).then(
      (r) => {
        // A concurrency limiter does not emit: its answer is reported here, once per call.
        if (events.active) this.report(MAX_CONCURRENT_RULE, key, r.decision, start);
        if (!r.allowed) {
          if (!this.ended) this.refuseDecision(r.decision);
          return;
        }
        if (this.ended) {
          // Cancelled while the store answered: nobody will release this slot but us.
          void concurrency.release(r.lease);
          return;
        }
        this.lease = r.lease;
        this.hold();
        this.admitted(key, metadata, next);
      },
      (e: unknown) => this.failed(e),
    );
  }

  private admitted(key: string | undefined, metadata: Metadata, next: (m: Metadata) => void): void {
    if (this.ctx.messages !== undefined && this.method.requestStream) {
      this.messageKey = this.ctx.messagesPerCall ? String(++this.ctx.seq) : key;
      this.who = key ?? `call:${this.messageKey}`;
    }
    next(metadata);
  }

  /** Emits a decision the interceptor made; only when the hub is active. */
  private report(rule: string, key: string, d: Decision, start: number): void {
    const events = this.ctx.events;
    const ms = events.timing ? performance.now() - start : undefined;
    emitDecision(events, this.ctx.now(), rule, key, 1, d, false, ms);
  }

  private message(message: unknown, next: (m: unknown) => void): void {
    const limiter = this.ctx.messages!;
    const key = this.messageKey;
    if (key === undefined || this.ended) {
      next(message);
      return;
    }
    // Per identity the limiter emits itself; per call its key is the call's number.
    const events = this.ctx.messagesPerCall ? this.ctx.events : undefined;
    const start = events?.timing ? performance.now() : 0;
    if (limiter.canConsumeSync) {
      const d = limiter.consumeSync(key);
      if (events?.active) this.report(MESSAGES_RULE, this.who!, d, start);
      if (d.allowed) next(message);
      else this.refuseDecision(d);
      return;
    }
    limiter.consume(key).then(
      (d) => {
        if (events?.active) this.report(MESSAGES_RULE, this.who!, d, start);
        if (this.ended) return;
        if (d.allowed) next(message);
        else this.refuseDecision(d);
      },
      (e: unknown) => this.failed(e),
    );
  }

  /** Ends the call for a refused Decision (a concurrency cap, a message limit). */
  private refuseDecision(d: Decision): void {
    const trailers = new Metadata();
    const render = this.renderer(d);
    if (render !== undefined) {
      const h = render(d);
      for (const name in h) trailers.set(name, h[name]!);
    }
    if (d.reason === "degraded") {
      this.refuse(Status.UNAVAILABLE, "degraded", trailers);
      return;
    }
    const seconds = retryAfterSeconds(d);
    if (seconds !== undefined) trailers.set("retry-after", String(seconds));
    setPushback(trailers, d);
    this.refuse(Status.RESOURCE_EXHAUSTED, d.reason, trailers);
  }

  private renderer(d: Decision): HeaderRenderer | undefined {
    const id = d.policies.map((p) => p.policy.id).join(",");
    const cache = this.ctx.renderers;
    if (!cache.has(id)) {
      cache.set(
        id,
        headerRenderer(
          this.ctx.style,
          d.policies.map((p) => p.policy),
          this.ctx.now,
        ),
      );
    }
    return cache.get(id);
  }

  private refuse(code: Status, reason: string, trailers: Metadata): void {
    this.headers = undefined;
    this.call.sendStatus({
      code,
      details:
        code === Status.UNAVAILABLE ? "rate limiter unavailable" : `rate limited (${reason})`,
      metadata: trailers,
    });
    this.end();
  }

  private failed(error: unknown): void {
    if (this.ended) return;
    this.ctx.onError(error, this.method.path);
    this.call.sendStatus({
      code: Status.INTERNAL,
      details: "rate limiter error",
      metadata: new Metadata(),
    });
    this.end();
  }

  /** Idempotent: the call is over; its slot (if any) goes back. */
  private end(): void {
    if (this.ended) return;
    this.ended = true;
    // A stream's own count dies with it (no key left behind per call).
    if (this.ctx.messagesPerCall && this.messageKey !== undefined) {
      void this.ctx.messages!.reset(this.messageKey).catch(() => {});
    }
    const lease = this.lease;
    if (lease === undefined) return;
    this.lease = undefined;
    const ctx = this.ctx;
    ctx.held.delete(this);
    if (ctx.held.size === 0 && ctx.timer !== undefined) {
      clearInterval(ctx.timer);
      ctx.timer = undefined;
    }
    void ctx.concurrency!.release(lease);
  }

  private hold(): void {
    const ctx = this.ctx;
    ctx.held.add(this);
    if (ctx.timer === undefined) {
      ctx.timer = setInterval(() => renewAll(ctx), ctx.renewEveryMs);
      ctx.timer.unref?.();
    }
  }

  /** Renews this call's lease when it is past a third of its life. */
  renew(now: number): void {
    const lease = this.lease;
    const concurrency = this.ctx.concurrency!;
    if (lease === undefined || lease.expiresAt - now > (concurrency.leaseMs * 2) / 3) return;
    concurrency.renew(lease).then(
      (renewed) => {
        if (this.lease === undefined) return;
        if (renewed !== false) {
          this.lease = renewed;
          return;
        }
        // Expired (a long outage): the slot may be someone else's now. The call goes on,
        // uncounted, rather than being cut off.
        this.lease = undefined;
        this.ctx.held.delete(this);
      },
      () => {},
    );
  }
}

function renewAll(ctx: Context): void {
  const now = ctx.now();
  for (const g of ctx.held) g.renew(now);
}

/**
 * gRFC A6: a client with a retry policy waits `grpc-retry-pushback-ms` before retrying; a
 * negative value tells it not to retry (a request that can never pass as sent).
 */
function setPushback(trailers: Metadata, d: Decision): void {
  const ms = d.retryAfterMs;
  trailers.set(
    "grpc-retry-pushback-ms",
    ms === Number.POSITIVE_INFINITY ? "-1" : String(Math.max(0, Math.ceil(ms))),
  );
}

/** Runs one factory; its ConfigError's problems join `problems` instead of being thrown alone. */
function collect<T>(
  problems: ConfigProblem[],
  build: () => T,
  rename: (option: string) => string = (option) => option,
): T | undefined {
  try {
    return build();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const p of error.problems) problems.push({ ...p, option: rename(p.option) });
      return undefined;
    }
    throw error;
  }
}
