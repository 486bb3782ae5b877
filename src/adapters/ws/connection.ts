import type { IncomingMessage } from "node:http";
import type { RawData, WebSocket } from "ws";
import {
  ConfigError,
  type Decision,
  type EventHub,
  emitDecision,
  type Lease,
  type Limiter,
} from "../../index.js";
import type { OnLimited } from "./options.js";

/** One limiter applied to messages: per connection or per identity, counting messages or bytes. */
export type Meter = {
  readonly limiter: Limiter;
  readonly perIdentity: boolean;
  readonly bytes: boolean;
  /** The rule its decisions are reported under ("ws:messages", "ws:bytes:identity", ...). */
  readonly rule: string;
};

/** Everything a connection needs from its wsRateLimit, shared by all connections. */
export type Meters = {
  readonly list: readonly Meter[];
  /** Every meter answers in-process (the memory store): messages are decided synchronously. */
  readonly sync: boolean;
  readonly bytes: boolean;
  readonly cost: ((data: RawData, isBinary: boolean) => number) | undefined;
  readonly onLimited: OnLimited;
  readonly closeAfter: { readonly violations: number; readonly withinMs: number } | undefined;
  readonly now: () => number;
  /**
   * The adapter's hub. Per-identity meters emit into it themselves; per-connection ones count
   * under a connection id, so the connection reports their decisions under its identity key.
   */
  readonly events: EventHub;
};

/**
 * Messages awaiting a store's answer on one connection before the socket is paused: TCP then
 * holds the client back, so nothing piles up in this process.
 */
const MAX_PENDING = 32;
const COST_ONE = Object.freeze({ cost: 1 });
/** Reused for synchronous consumes only (the memory store reads it before returning). */
const scratch = { cost: 1 };

type Emit = WebSocket["emit"];

/**
 * One open connection: its identity key, its slot, and the gate in front of its "message"
 * events. It is referenced by the limiter only while open.
 */
export class Connection {
  private pending = 0;
  private tail: Promise<void> | undefined;
  private closed = false;
  private alive = true;
  private pausedByUs = false;
  private times: number[] | undefined;
  private violations = 0;
  private subKeys: Set<string> | undefined;
  private readonly original: Emit | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly req: IncomingMessage | undefined,
    readonly id: string,
    readonly key: string | undefined,
    /** Allow-listed or UNLIMITED: no message limits. */
    private readonly exempt: boolean,
    public lease: Lease | undefined,
    private readonly meters: Meters,
    gate: boolean,
    heartbeat: boolean,
    private readonly onClosed: (conn: Connection) => void,
  ) {
    ws.once("close", () => this.dispose());
    if (heartbeat) ws.on("pong", () => (this.alive = true));
    if (gate && !exempt && meters.list.length > 0) {
      // ws emits "message" synchronously from its receiver: the gate sits in front of every
      // listener, whenever it was added, and a refused message is never delivered.
      const original = ws.emit;
      this.original = original;
      const conn = this;
      ws.emit = function gated(this: WebSocket, event: string | symbol, a?: unknown, b?: unknown) {
        if (event === "message") return conn.message(a as RawData, b as boolean);
        // biome-ignore lint/complexity/noArguments: forwards every argument without an array per event
        return original.apply(this, arguments as never);
      } as Emit;
    }
  }

  /** The socket closed (close frame, terminate, error, or the peer vanished). */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pausedByUs) this.ws.resume();
    for (const m of this.meters.list) {
      if (m.perIdentity) continue;
      void m.limiter.reset(this.id).catch(() => {});
      if (this.subKeys !== undefined)
        for (const k of this.subKeys) void m.limiter.reset(`${this.id}:${k}`).catch(() => {});
    }
    this.onClosed(this);
  }

  heartbeat(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    try {
      this.ws.ping();
    } catch {
      // Not open yet or closing: the close event frees the slot.
    }
  }

  private message(data: RawData, isBinary: boolean): boolean {
    if (this.closed) return false;
    const meters = this.meters;
    if (this.pending === 0 && meters.sync) {
      const d = this.decideSync(data, isBinary);
      if (d === undefined) return this.original!.call(this.ws, "message", data, isBinary);
      this.limited(d, data, isBinary);
      return false;
    }
    this.pending++;
    if (this.pending >= MAX_PENDING && !this.pausedByUs) {
      this.pausedByUs = true;
      this.ws.pause();
    }
    const decided = this.decideAsync(data, isBinary);
    const prev = this.tail;
    const next = (prev === undefined ? decided : prev.then(() => decided)).then((d) => {
      this.pending--;
      if (this.tail === next) this.tail = undefined;
      if (this.pausedByUs && this.pending < MAX_PENDING / 2) {
        this.pausedByUs = false;
        if (!this.closed) this.ws.resume();
      }
      if (this.closed) return;
      if (d !== undefined) {
        this.limited(d, data, isBinary);
        return;
      }
      try {
        this.original!.call(this.ws, "message", data, isBinary);
      } catch (error) {
        // As if the listener had thrown synchronously: an uncaught exception, not a lost one.
        process.nextTick(() => {
          throw error;
        });
      }
    });
    this.tail = next;
    return true;
  }

  private units(data: RawData, isBinary: boolean): number {
    const cost = this.meters.cost;
    if (cost === undefined) return 1;
    const c = cost(data, isBinary);
    if (Number.isSafeInteger(c) && c >= 0) return c;
    throw new ConfigError([{ option: "cost(data)", received: c, expected: "a whole number ≥ 0" }]);
  }

  /** The refusing decision, or undefined when every meter allowed the message. */
  private decideSync(data: RawData, isBinary: boolean): Decision | undefined {
    const list = this.meters.list;
    const units = this.units(data, isBinary);
    const size = this.meters.bytes ? sizeOf(data) : 0;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      const key = m.perIdentity ? this.key : this.id;
      const cost = m.bytes ? size : units;
      if (key === undefined || cost === 0) continue;
      let options: { readonly cost: number } = COST_ONE;
      if (cost !== 1) {
        scratch.cost = cost;
        options = scratch;
      }
      const events = this.meters.events;
      let d: Decision;
      if (m.perIdentity || !events.active) d = m.limiter.consumeSync(key, options);
      else {
        const start = events.timing ? performance.now() : 0;
        d = m.limiter.consumeSync(key, options);
        this.report(m, undefined, cost, d, events.timing ? performance.now() - start : undefined);
      }
      if (!d.allowed) {
        this.refund(i, units, size, undefined);
        return d;
      }
    }
    return undefined;
  }

  private decideAsync(data: RawData, isBinary: boolean): Promise<Decision | undefined> {
    let units: number;
    try {
      units = this.units(data, isBinary);
    } catch {
      return Promise.resolve(unavailable(this.meters.list[0]!.limiter));
    }
    const size = this.meters.bytes ? sizeOf(data) : 0;
    const list = this.meters.list;
    const asked: Promise<Decision | undefined>[] = [];
    for (const m of list) {
      const key = m.perIdentity ? this.key : this.id;
      const cost = m.bytes ? size : units;
      asked.push(
        key === undefined || cost === 0
          ? Promise.resolve(undefined)
          : this.ask(m, key, undefined, cost === 1 ? COST_ONE : { cost }),
      );
    }
    return Promise.all(asked).then(
      (ds) => this.settle(ds, units, size),
      // A store that throws instead of answering per onStoreError: refuse as unavailable, and
      // keep the connection's queue going.
      () => unavailable(list[0]!.limiter),
    );
  }

  private settle(ds: (Decision | undefined)[], units: number, size: number): Decision | undefined {
    const list = this.meters.list;
    let refused: Decision | undefined;
    for (const d of ds) if (d !== undefined && !d.allowed) refused ??= d;
    if (refused === undefined) return undefined;
    // Every meter decided at once: give back what the others charged for a refused message.
    ds.forEach((d, i) => {
      if (d?.allowed) {
        const m = list[i]!;
        void m.limiter
          .refund(m.perIdentity ? this.key! : this.id, m.bytes ? size : units)
          .catch(() => {});
      }
    });
    return refused;
  }

  /** Gives back the charges of meters before `upTo` (a later one refused the message). */
  private refund(upTo: number, units: number, size: number, sub: string | undefined): void {
    const list = this.meters.list;
    for (let i = 0; i < upTo; i++) {
      const m = list[i]!;
      const key = m.perIdentity ? this.key : this.id;
      const cost = m.bytes ? size : units;
      if (key === undefined || cost === 0) continue;
      void m.limiter.refund(sub === undefined ? key : `${key}:${sub}`, cost).catch(() => {});
    }
  }

  private limited(d: Decision, data: RawData, isBinary: boolean): void {
    const ws = this.ws;
    const violations = this.violation();
    const action = this.meters.onLimited;
    const degraded = d.reason === "degraded";
    if (action === "reply") {
      if (ws.readyState === 1) {
        ws.send(
          JSON.stringify({
            error: degraded ? "unavailable" : "rate_limited",
            reason: d.reason,
            retryAfterMs: Number.isFinite(d.retryAfterMs) ? Math.ceil(d.retryAfterMs) : null,
          }),
        );
      }
    } else if (action === "close") {
      // RFC 6455 §7.4.1: 1008 policy violation; 1013 (IANA registry) try again later.
      ws.close(degraded ? 1013 : 1008, degraded ? "try again later" : "rate limited");
    } else if (typeof action === "function") {
      action({
        ws,
        req: this.req as IncomingMessage,
        data,
        isBinary,
        decision: d,
        reason: d.reason,
        key: this.key,
        violations,
      });
    }
    const closeAfter = this.meters.closeAfter;
    if (closeAfter !== undefined && violations >= closeAfter.violations && ws.readyState === 1) {
      ws.close(1008, "too many rate-limited messages");
    }
  }

  /** Refusals within closeAfter.within, this one included (a sliding log of at most `violations`). */
  private violation(): number {
    const closeAfter = this.meters.closeAfter;
    if (closeAfter === undefined) return ++this.violations;
    const now = this.meters.now();
    this.times ??= [];
    const times = this.times;
    times.push(now);
    while (
      times.length > 0 &&
      (times[0]! <= now - closeAfter.withinMs || times.length > closeAfter.violations)
    )
      times.shift();
    return times.length;
  }

  /** The explicit form: one kind of message (`sub`) charged to the message meters. */
  consume(sub: string | undefined, units: number): Promise<Decision> {
    const list = this.meters.list.filter((m) => !m.bytes);
    if (this.exempt && list.length > 0) return list[0]!.limiter.consume(this.id, { cost: 0 });
    if (list.length === 0) {
      return Promise.reject(
        new ConfigError([
          {
            option: "messages",
            received: undefined,
            expected: "message policies, for check() and consume()",
          },
        ]),
      );
    }
    if (sub !== undefined) {
      this.subKeys ??= new Set();
      this.subKeys.add(sub);
    }
    const keyOf = (m: Meter) => {
      const k = m.perIdentity ? this.key : this.id;
      return k === undefined ? undefined : sub === undefined ? k : `${k}:${sub}`;
    };
    const asked = list.map((m) => {
      const k = keyOf(m);
      return k === undefined ? undefined : this.ask(m, k, sub, { cost: units });
    });
    return Promise.all(asked).then((ds) => {
      let refused: Decision | undefined;
      let last: Decision | undefined;
      for (const d of ds) {
        if (d === undefined) continue;
        last = d;
        if (!d.allowed) refused ??= d;
      }
      if (refused !== undefined) {
        ds.forEach((d, i) => {
          const k = keyOf(list[i]!);
          if (d?.allowed && k !== undefined) void list[i]!.limiter.refund(k, units).catch(() => {});
        });
        return refused;
      }
      // Per identity only, on a connection without an identity: the per-connection decision
      // is all there is; a connection with neither is counted per connection.
      return last ?? this.ask(list[0]!, this.id, undefined, { cost: units });
    });
  }

  /** One meter's consume; a per-connection meter's decision is reported here (see Meters.events). */
  private ask(
    m: Meter,
    key: string,
    sub: string | undefined,
    options: { readonly cost: number },
  ): Promise<Decision> {
    const events = this.meters.events;
    if (m.perIdentity || !events.active) return m.limiter.consume(key, options);
    const start = events.timing ? performance.now() : 0;
    return m.limiter.consume(key, options).then((d) => {
      this.report(m, sub, options.cost, d, events.timing ? performance.now() - start : undefined);
      return d;
    });
  }

  /**
   * Emits a per-connection meter's decision under the connection's identity key (its id when
   * it has none), with the message kind of `consume(ws, kind)` appended as a per-identity
   * meter's own key has it.
   */
  private report(
    m: Meter,
    sub: string | undefined,
    cost: number,
    d: Decision,
    ms: number | undefined,
  ): void {
    const who = this.key ?? this.id;
    const key = sub === undefined ? who : `${who}:${sub}`;
    emitDecision(this.meters.events, this.meters.now(), m.rule, key, cost, d, false, ms);
  }
}

/** A refusal for a store fault without a decision: "degraded", no known wait. */
function unavailable(limiter: Limiter): Decision {
  const policy = limiter.policies[0]!;
  return {
    allowed: false,
    limit: policy.limit,
    remaining: 0,
    resetMs: 0,
    retryAfterMs: Number.POSITIVE_INFINITY,
    reason: "degraded",
    policy,
    policies: [],
    delayMs: 0,
  };
}

/** Payload bytes of a message in any of ws's binaryType forms. */
function sizeOf(data: RawData): number {
  if (Array.isArray(data)) {
    let n = 0;
    for (const b of data) n += b.length;
    return n;
  }
  return (data as Buffer | ArrayBuffer).byteLength;
}
