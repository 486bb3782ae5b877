import type { AcquireResult, ConcurrencyLimiter } from "../core/concurrency.js";
import type { Decision } from "../core/decision.js";
import { ConfigError } from "../core/errors/config-error.js";
import { emitDecision } from "../core/events.js";
import type { Logger } from "../core/logger.js";
import { refundByStatus, releaseOnce } from "./after.js";
import type { AddressResolver } from "./client-address.js";
import { deniedOutcome } from "./denied.js";
import { type HeaderMap, retryAfterSeconds } from "./headers.js";
import type { Identity, IdentityContext, IdentityResult } from "./identity/types.js";
import { type IdentityFailures, identityFailed } from "./identity-failed.js";
import type { Held, InFlight } from "./in-flight.js";
import { formatIp } from "./ip-address.js";
import type { ListHit, ListIndex } from "./lists.js";
import type { ContinueOutcome, HttpLimiterOptions, HttpOutcome } from "./options.js";
import { EXEMPT, SKIPPED, UNMATCHED } from "./outcomes.js";
import { analyzedAfter } from "./protect.js";
import { refusedOutcome, shadowOutcome } from "./refused.js";
import { type HttpRequest, isThenable, type MaybePromise } from "./request.js";
import { type CompiledRule, matchRule, type Target } from "./rules.js";
import { counterKey } from "./scope.js";
import { throughShedder } from "./shed-gate.js";
import type { LoadShedder, Priority } from "./shedder.js";
import { UNLIMITED, type Unlimited } from "./unlimited.js";
import { type Watch, Watching } from "./watch.js";

const COST_ONE = Object.freeze({ cost: 1 });
/**
 * Retry-After of a concurrency refusal. The refusal's own retryAfterMs is the wait until the
 * oldest lease expires (docs/concurrency.md), but over HTTP a slot frees as soon as any of the
 * client's requests ends, usually far sooner: a short, fixed wait is the honest hint.
 */
const CONCURRENCY_RETRY_AFTER = 1;

/** What bounds requests in flight: concurrency slots (per identity) and the load shedder. */
export type Capacity = {
  /** The slots held by this limiter's requests, renewed together; undefined without concurrency. */
  readonly inFlight: InFlight | undefined;
  readonly shed: LoadShedder | undefined;
  /** The shedder's priority of requests no rule matched. */
  readonly priority: Priority;
  /** How often `inFlight` renews leases (a third of the shortest lease); undefined without it. */
  readonly renewEveryMs: number | undefined;
};

/**
 * Whether a request's decision is reported, carried from the store call to the one place that
 * emits: undefined when nobody listens (nothing is done), else the performance.now() taken
 * before the store call, or -1 when no listener wants timings.
 */
type Watched = number | undefined;

/**
 * One configuration's per-request path, built by createHttpLimiter and by each `reload()` (not
 * constructed by users). Match a rule, pass the load shedder, screen the lists, resolve the
 * identity, consume, take a concurrency slot, and turn the decisions into an outcome. Each step
 * stays synchronous while its inputs are (the memory store, sync identities), so the common case
 * allocates no promise. Immutable: a reload builds another, and a request finishes on the one it
 * started with (LiveLimiter in reload.ts holds the current one).
 */
export class Engine<Raw> extends Watching {
  private readonly context: IdentityContext;
  private readonly skip: HttpLimiterOptions<Raw>["skip"];
  private readonly refundFailed: boolean;
  private readonly refundSuccessful: boolean;

  constructor(
    /** The compiled rules, in order (key-management.ts reads them). */
    readonly rules: readonly CompiledRule<Raw>[],
    private readonly identity: Identity<Raw>,
    private readonly resolve: AddressResolver,
    private readonly now: () => number,
    readonly lists: ListIndex,
    private readonly options: HttpLimiterOptions<Raw>,
    /** Where one-time warnings go (the `logger` option, resolved). */
    readonly logger: Logger,
    private readonly failures: IdentityFailures | undefined,
    readonly capacity: Capacity,
    watch: Watch,
  ) {
    super(watch);
    this.context = Object.freeze({ now });
    this.skip = options.skip;
    this.refundFailed = options.countFailed === false;
    this.refundSuccessful = options.countSuccessful === false;
  }

  handle(req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    try {
      if (this.skip !== undefined) {
        const s = this.skip(req);
        if (isThenable<boolean>(s))
          return Promise.resolve(s).then((v) => (v ? SKIPPED : this.route(req)));
        if (s) return SKIPPED;
      }
      return this.route(req);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  clientAddress(req: HttpRequest<Raw>): string | undefined {
    const a = this.resolve(req);
    return a === undefined ? undefined : formatIp(a);
  }

  /**
   * The identity key the request is counted under: that of the identity of the rule it matches
   * (or the limiter's); undefined when the identity answers UNLIMITED. Rejects as the identity
   * throws.
   */
  async keyOf(req: HttpRequest<Raw>): Promise<string | undefined> {
    const rule = matchRule(this.rules, req);
    const result = await (rule?.identity ?? this.identity)(req, this.context);
    if (result === UNLIMITED) return undefined;
    return typeof result === "string" ? result : result.key;
  }

  /** The rules' names, in order (the `reloaded` event's `rules`). */
  get ruleNames(): string[] {
    return this.rules.map((r) => r.name);
  }

  private route(req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    const rule = matchRule(this.rules, req);
    const shed = this.capacity.shed;
    if (rule === undefined)
      return shed === undefined ? UNMATCHED : this.admit(req, undefined, shed);
    if (rule.skip !== undefined) {
      const s = rule.skip(req);
      if (isThenable<boolean>(s)) {
        return Promise.resolve(s).then((v) =>
          v ? SKIPPED : shed === undefined ? this.screen(req, rule) : this.admit(req, rule, shed),
        );
      }
      if (s) return SKIPPED;
    }
    return shed === undefined ? this.screen(req, rule) : this.admit(req, rule, shed);
  }

  /** Through the load shedder first (shed-gate.ts), then the rest of the path. */
  private admit(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw> | undefined,
    shed: LoadShedder,
  ): MaybePromise<HttpOutcome> {
    const priority = rule === undefined ? this.capacity.priority : rule.priority;
    return throughShedder(shed, priority, req, rule?.name, this.options.onShed, () =>
      rule === undefined ? UNMATCHED : this.screen(req, rule),
    );
  }

  /** Address entries apply to every request not skipped, exempt routes included. */
  private screen(req: HttpRequest<Raw>, rule: CompiledRule<Raw>): MaybePromise<HttpOutcome> {
    // The lists never fail a request: ready() resolves on the last good snapshot when the store
    // is out, and a request waits for it at most once.
    if (this.lists.needsReload) return this.lists.ready().then(() => this.screened(req, rule));
    return this.screened(req, rule);
  }

  private screened(req: HttpRequest<Raw>, rule: CompiledRule<Raw>): MaybePromise<HttpOutcome> {
    const lists = this.lists;
    if (!lists.empty && lists.hasAddresses) {
      const hit = lists.matchAddress(this.resolve(req), this.now());
      if (hit !== undefined)
        return hit.list === "deny" ? this.denied(req, rule, undefined, hit) : EXEMPT;
    }
    if (rule.exempt) return EXEMPT;
    const identity = rule.identity ?? this.identity;
    let result: MaybePromise<IdentityResult>;
    try {
      result = identity(req, this.context);
    } catch (error) {
      return this.identityFailed(error, req);
    }
    if (isThenable<IdentityResult>(result)) {
      return Promise.resolve(result).then(
        (r) => this.limit(req, rule, r),
        (error: unknown) => this.identityFailed(error, req),
      );
    }
    return this.limit(req, rule, result);
  }

  private limit(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    result: IdentityResult,
  ): MaybePromise<HttpOutcome> {
    if (result === UNLIMITED) return EXEMPT;
    let key: unknown;
    let group: string | undefined;
    if (typeof result === "string") {
      key = result;
    } else if (typeof result === "object" && result !== null) {
      key = result.key;
      group = typeof result.group === "string" ? result.group : undefined;
    }
    if (typeof key !== "string" || key === "" || key.length > 1024) {
      // A bug in an identity function, not a client's fault: surface it as one.
      throw new ConfigError([
        {
          option: "identity",
          received: result,
          expected: "a key string of 1 to 1024 characters, { key, group? }, or UNLIMITED",
        },
      ]);
    }
    const lists = this.lists;
    if (!lists.empty) {
      const hit = lists.matchKey(key, this.now());
      if (hit !== undefined) return hit.list === "deny" ? this.denied(req, rule, key, hit) : EXEMPT;
    }
    const dynamic = rule.dynamic;
    if (dynamic !== undefined) {
      // Policies from the request (issue 19 item 3); a value that is no policy is a ConfigError,
      // a fault of the function routed as a bad `cost(req)` is.
      const p = dynamic.fn(req, { key, group });
      if (isThenable<unknown>(p)) {
        return Promise.resolve(p).then((v) =>
          this.priced(req, rule, dynamic.target(v), key as string, group),
        );
      }
      return this.priced(req, rule, dynamic.target(p), key, group);
    }
    const target = (group !== undefined ? rule.groups?.get(group) : undefined) ?? rule.fallback;
    return this.priced(req, rule, target, key, group);
  }

  /** The request's target is known: its cost, then the store. */
  private priced(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    target: Target | Unlimited | undefined,
    key: string,
    group: string | undefined,
  ): MaybePromise<HttpOutcome> {
    if (target === UNLIMITED) return EXEMPT;
    if (target === undefined) {
      // A rule with concurrency and no policies: the slot is all there is to check.
      const slots = rule.slots;
      return slots === undefined
        ? EXEMPT
        : this.acquire(req, rule, slots, undefined, key, key, group, 0, this.watched());
    }
    const cost = rule.cost;
    if (typeof cost === "number") return this.consume(req, rule, target, key, group, cost);
    const c = cost(req);
    if (isThenable<number>(c)) {
      return Promise.resolve(c).then((v) =>
        this.consume(req, rule, target, key, group, checkCost(v)),
      );
    }
    return this.consume(req, rule, target, key, group, checkCost(c));
  }

  private consume(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    target: Target,
    key: string,
    group: string | undefined,
    cost: number,
  ): MaybePromise<HttpOutcome> {
    const opts = cost === 1 ? COST_ONE : { cost };
    const w = this.watched();
    const counter = rule.scope === "rule" ? key : counterKey(rule, req, key);
    if (target.limiter.canConsumeSync) {
      const d = target.limiter.consumeSync(counter, opts);
      return this.decided(req, rule, target, key, counter, group, cost, d, w);
    }
    return target.limiter
      .consume(counter, opts)
      .then((d) => this.decided(req, rule, target, key, counter, group, cost, d, w));
  }

  /** Whether this request's decision is reported (the one `hub.active` check per request). */
  private watched(): Watched {
    const events = this.events;
    if (!events.active) return undefined;
    return events.timing ? performance.now() : -1;
  }

  /** The request's one decision event (emitDecision: decision, limited/blocked, violation). */
  private report(rule: CompiledRule<Raw>, key: string, cost: number, d: Decision, w: number): void {
    const ms = w >= 0 ? performance.now() - w : undefined;
    const shadow = rule.shadow && !d.allowed;
    emitDecision(this.events, this.now(), rule.name, key, cost, d, shadow, ms);
  }

  private decided(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    target: Target,
    key: string,
    counter: string,
    group: string | undefined,
    cost: number,
    d: Decision,
    w: Watched,
  ): MaybePromise<HttpOutcome> {
    if (d.allowed) {
      // Rate first, then the slot: a request the rate refuses never reaches the concurrency
      // store, so a flood stays one round trip per request.
      if (rule.slots !== undefined)
        return this.acquire(req, rule, rule.slots, target, key, counter, group, cost, w, d);
      if (w !== undefined) this.report(rule, key, cost, d, w);
      return this.continued(req, rule, target, key, counter, cost, d, undefined);
    }
    if (w !== undefined) this.report(rule, key, cost, d, w);
    // Shadow mode: refused on paper (events, metrics), never for the client. Nothing was
    // charged (a refusal charges nothing), so there is nothing to refund either.
    if (rule.shadow) return this.shadowed(req, key, d);
    const retryAfter = retryAfterSeconds(d);
    const headers: HeaderMap = target.render?.(d) ?? {};
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    return this.refused(req, rule, key, group, d, retryAfter, headers);
  }

  /**
   * The request may go on: its headers, and the `after` that refunds, gives its slot back and
   * tells the abuse detector the final status. A shadow rule sends no headers and never delays:
   * it is not live for clients.
   */
  private continued(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    target: Target | undefined,
    key: string,
    counter: string,
    cost: number,
    d: Decision,
    held: Held | undefined,
  ): MaybePromise<HttpOutcome> {
    const refund =
      target !== undefined && cost > 0 && (this.refundFailed || this.refundSuccessful)
        ? refundByStatus(target, counter, cost, this.refundFailed, this.refundSuccessful)
        : undefined;
    let after = held === undefined ? refund : releaseOnce(this.capacity.inFlight!, held, refund);
    if (this.protect !== undefined)
      after = analyzedAfter(this.protect, req, key, after, this.logger);
    const shadow = rule.shadow;
    const outcome: ContinueOutcome = {
      action: "continue",
      reason: d.reason,
      headers: shadow ? undefined : target?.render?.(d),
      decision: d,
      key,
      after,
      holds: held !== undefined,
    };
    // leaky-bucket "delay" mode: smooth the request instead of rejecting it (nginx's delay).
    if (d.delayMs > 0 && !shadow)
      return new Promise((resolve) => setTimeout(() => resolve(outcome), d.delayMs));
    return outcome;
  }

  /** A refusal of a rule in shadow mode (refused.ts): the request goes on. */
  private shadowed(req: HttpRequest<Raw>, key: string, d: Decision): ContinueOutcome {
    return shadowOutcome(req, key, d, this.protect, this.logger);
  }

  /**
   * Takes a concurrency slot for a request the rate policies admitted (`rated`, charged `cost`).
   * Refused: the rate charge is refunded (fire and forget; a refund that fails keeps the charge,
   * the safe side) and the client gets 429 naming the "concurrency" policy, or 503 when the
   * store is out and fails closed.
   */
  private acquire(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    slots: ConcurrencyLimiter,
    target: Target | undefined,
    key: string,
    counter: string,
    group: string | undefined,
    cost: number,
    w: Watched,
    rated?: Decision,
  ): Promise<HttpOutcome> {
    const refund = (): void => {
      if (target !== undefined && cost > 0) target.limiter.refund(counter, cost).catch(() => {});
    };
    return slots.acquire(key).then(
      (r: AcquireResult): MaybePromise<HttpOutcome> => {
        if (r.allowed) {
          const d = rated ?? r.decision;
          // The rate decision and its cost, or the slot's (one unit) on a rule without policies.
          if (w !== undefined) this.report(rule, key, rated === undefined ? 1 : cost, d, w);
          const held = this.capacity.inFlight!.hold(slots, r.lease);
          return this.continued(req, rule, target, key, counter, cost, d, held);
        }
        // Refused here, in shadow mode too: the rate charge is refunded as "enforce" would,
        // so counters read what enforcing would have left.
        refund();
        const d = r.decision;
        if (w !== undefined) this.report(rule, key, 1, d, w);
        if (rule.shadow) return this.shadowed(req, key, d);
        const retryAfter = d.reason === "degraded" ? retryAfterSeconds(d) : CONCURRENCY_RETRY_AFTER;
        // No RateLimit fields: the rate charge was refunded (they would be stale), and their
        // reset `t` may lie past this Retry-After, which draft-10 §6 forbids.
        const headers: HeaderMap = {};
        if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
        return this.refused(req, rule, key, group, d, retryAfter, headers);
      },
      (error: unknown) => {
        refund();
        throw error;
      },
    );
  }

  /** A refused request: the default problem response, or `onLimited`'s (refused.ts). */
  private refused(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    key: string,
    group: string | undefined,
    d: Decision,
    retryAfter: number | undefined,
    headers: HeaderMap,
  ): MaybePromise<HttpOutcome> {
    const { onLimited } = this.options;
    const args = [d, retryAfter, headers, onLimited, this.protect, this.logger] as const;
    return refusedOutcome(req, rule.name, key, group, ...args);
  }

  private denied(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    key: string | undefined,
    hit: ListHit,
  ): MaybePromise<HttpOutcome> {
    const address = () => this.clientAddress(req);
    const onDenied = this.options.onDenied;
    return deniedOutcome(req, rule.name, key, address, hit, this.now(), this.events, onDenied);
  }

  private identityFailed(error: unknown, req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    return identityFailed(error, req, this.failures, this.resolve, this.options.onIdentityError);
  }
}

function checkCost(v: unknown): number {
  if (Number.isSafeInteger(v) && (v as number) >= 0) return v as number;
  throw new ConfigError([{ option: "cost(req)", received: v, expected: "a whole number ≥ 0" }]);
}
