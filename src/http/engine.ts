import type { Decision } from "../core/decision.js";
import { ConfigError } from "../core/errors/config-error.js";
import { isThrottlekitError } from "../core/errors/throttlekit-error.js";
import type { Limiter } from "../core/limiter.js";
import type { Logger } from "../core/logger.js";
import type { Store } from "../core/store.js";
import type { AddressResolver } from "./client-address.js";
import { type HeaderMap, retryAfterSeconds } from "./headers.js";
import type { HttpLimiter } from "./http-limiter.js";
import type { Identity, IdentityContext, IdentityResult } from "./identity/types.js";
import { addressKey, formatIp } from "./ip-address.js";
import type { ListIndex } from "./lists.js";
import type {
  ContinueOutcome,
  HttpLimiterOptions,
  HttpOutcome,
  RespondOutcome,
} from "./options.js";
import {
  deniedProblem,
  limitedProblem,
  type PlainResponse,
  rejectedProblem,
  rejectedStatus,
  unauthorizedProblem,
} from "./problem.js";
import { type HttpRequest, type HttpResponse, isThenable, type MaybePromise } from "./request.js";
import { type CompiledRule, matchRule, type Target } from "./rules.js";
import { UNLIMITED } from "./unlimited.js";

/**
 * The per-request path of the HTTP limiter: match a rule, screen the lists, resolve the identity,
 * consume, and turn the decision into an outcome. Each step stays synchronous while its inputs
 * are (the memory store, sync identities), so the common case allocates no promise.
 */
function fixed(reason: ContinueOutcome["reason"]): ContinueOutcome {
  return Object.freeze({
    action: "continue",
    reason,
    headers: undefined,
    decision: undefined,
    key: undefined,
    after: undefined,
  });
}
const SKIPPED = fixed("skipped");
const UNMATCHED = fixed("unmatched");
const EXEMPT = fixed("exempt");
const COST_ONE = Object.freeze({ cost: 1 });
const NO_STORE: HeaderMap = Object.freeze({ "Cache-Control": "no-store" }) as HeaderMap;

/** The `identityFailures` budget: failed identifications counted per client address. */
export type IdentityFailures = {
  readonly limiter: Limiter;
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
};

/** The HttpLimiter returned by createHttpLimiter (built there; not constructed by users). */
export class Engine<Raw> implements HttpLimiter<Raw> {
  private readonly context: IdentityContext;
  private readonly skip: HttpLimiterOptions<Raw>["skip"];
  private readonly refundFailed: boolean;
  private readonly refundSuccessful: boolean;

  constructor(
    private readonly rules: readonly CompiledRule<Raw>[],
    private readonly identity: Identity<Raw>,
    private readonly resolve: AddressResolver,
    private readonly now: () => number,
    readonly lists: ListIndex,
    private readonly options: HttpLimiterOptions<Raw>,
    private readonly ownStore: Store | undefined,
    /** Where one-time warnings go (the `logger` option, resolved). */
    readonly logger: Logger,
    private readonly failures: IdentityFailures | undefined,
  ) {
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

  async close(): Promise<void> {
    this.lists.close();
    await this.ownStore?.close?.();
  }

  private route(req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    const rule = matchRule(this.rules, req);
    if (rule === undefined) return UNMATCHED;
    if (rule.skip !== undefined) {
      const s = rule.skip(req);
      if (isThenable<boolean>(s))
        return Promise.resolve(s).then((v) => (v ? SKIPPED : this.screen(req, rule)));
      if (s) return SKIPPED;
    }
    return this.screen(req, rule);
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
      if (hit === "deny") return this.denied(req, undefined);
      if (hit === "allow") return EXEMPT;
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
      if (hit === "deny") return this.denied(req, key);
      if (hit === "allow") return EXEMPT;
    }
    const target = (group !== undefined ? rule.groups?.get(group) : undefined) ?? rule.fallback;
    if (target === UNLIMITED || target === undefined) return EXEMPT;
    const cost = rule.cost;
    if (typeof cost === "number") return this.consume(req, rule, target, key, group, cost);
    const c = cost(req);
    if (isThenable<number>(c)) {
      return Promise.resolve(c).then((v) =>
        this.consume(req, rule, target, key as string, group, checkCost(v)),
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
    if (target.limiter.canConsumeSync) {
      const d = target.limiter.consumeSync(key, opts);
      return this.decided(req, rule, target, key, group, cost, d);
    }
    return target.limiter
      .consume(key, opts)
      .then((d) => this.decided(req, rule, target, key, group, cost, d));
  }

  private decided(
    req: HttpRequest<Raw>,
    rule: CompiledRule<Raw>,
    target: Target,
    key: string,
    group: string | undefined,
    cost: number,
    d: Decision,
  ): MaybePromise<HttpOutcome> {
    if (d.allowed) {
      const outcome: ContinueOutcome = {
        action: "continue",
        reason: d.reason,
        headers: target.render?.(d),
        decision: d,
        key,
        after:
          cost > 0 && (this.refundFailed || this.refundSuccessful)
            ? this.refunder(target, key, cost)
            : undefined,
      };
      // leaky-bucket "delay" mode: smooth the request instead of rejecting it (nginx's delay).
      if (d.delayMs > 0)
        return new Promise((resolve) => setTimeout(() => resolve(outcome), d.delayMs));
      return outcome;
    }
    const retryAfter = retryAfterSeconds(d);
    const headers: HeaderMap = target.render?.(d) ?? {};
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    const onLimited = this.options.onLimited;
    // A store outage's refusal is a 503 temporary-reduced-capacity, never a quota 429 (issue 13,
    // item 4): the client exceeded nothing.
    if (onLimited === undefined)
      return respond(rejectedProblem(d, retryAfter, headers), d.reason, d, key);
    const status = rejectedStatus(d);
    const custom = onLimited({
      req,
      decision: d,
      reason: d.reason,
      status,
      key,
      group,
      rule: rule.name,
      retryAfter,
      headers,
    });
    return finish(custom, status, { ...headers, "Cache-Control": "no-store" }, d.reason, d, key);
  }

  private refunder(target: Target, key: string, cost: number): (status: number) => void {
    return (status) => {
      if (status >= 400 ? this.refundFailed : this.refundSuccessful) {
        // A refund that fails leaves the request counted: the safe side.
        target.limiter.refund(key, cost).catch(() => {});
      }
    };
  }

  private denied(req: HttpRequest<Raw>, key: string | undefined): MaybePromise<HttpOutcome> {
    const onDenied = this.options.onDenied;
    if (onDenied === undefined) return respond(deniedProblem(), "denied", undefined, key);
    return finish(onDenied({ req, key }), 403, NO_STORE, "denied", undefined, key);
  }

  private identityFailed(error: unknown, req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    // A configuration fault (jose not installed, a bad identity result) is the operator's to
    // see, not a client's 401.
    if (isThrottlekitError(error) && error.code === "ERR_TK_CONFIG") throw error;
    const failures = this.failures;
    if (failures === undefined) return this.unauthorized(error, req);
    const address = this.resolve(req);
    if (address === undefined) return this.unauthorized(error, req);
    // Count the failure against the address (issue 13, item 11): token guessing spends a budget.
    // Counting never turns a 401 into a fault: a store error leaves the 401.
    const key = addressKey(address, failures.ipv4Prefix, failures.ipv6Prefix);
    try {
      if (failures.limiter.canConsumeSync)
        return this.failureCounted(error, req, failures.limiter.consumeSync(key));
      return failures.limiter.consume(key).then(
        (d) => this.failureCounted(error, req, d),
        () => this.unauthorized(error, req),
      );
    } catch {
      return this.unauthorized(error, req);
    }
  }

  /** Over the failure budget: 429 with Retry-After instead of the 401. */
  private failureCounted(error: unknown, req: HttpRequest<Raw>, d: Decision) {
    // A degraded refusal (the store is out) says nothing about this client: keep the 401.
    if (d.allowed || d.reason === "degraded") return this.unauthorized(error, req);
    const retryAfter = retryAfterSeconds(d);
    const headers: HeaderMap = {};
    if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
    return respond(limitedProblem(d, retryAfter, headers), d.reason, d, undefined);
  }

  private unauthorized(error: unknown, req: HttpRequest<Raw>): MaybePromise<HttpOutcome> {
    const handler = this.options.onIdentityError;
    if (handler === undefined)
      return respond(unauthorizedProblem(error), "identity-error", undefined, undefined);
    return finish(handler(error, req), 401, NO_STORE, "identity-error", undefined, undefined);
  }
}

function checkCost(v: unknown): number {
  if (Number.isSafeInteger(v) && (v as number) >= 0) return v as number;
  throw new ConfigError([{ option: "cost(req)", received: v, expected: "a whole number ≥ 0" }]);
}

function respond(
  r: PlainResponse,
  reason: RespondOutcome["reason"],
  decision: Decision | undefined,
  key: string | undefined,
): RespondOutcome {
  return {
    action: "respond",
    status: r.status,
    headers: r.headers,
    body: r.body,
    reason,
    decision,
    key,
  };
}

/** Turns a user's response description into a finished response (sync when it is). */
function finish(
  r: MaybePromise<HttpResponse>,
  status: number,
  base: HeaderMap,
  reason: RespondOutcome["reason"],
  decision: Decision | undefined,
  key: string | undefined,
): MaybePromise<RespondOutcome> {
  if (isThenable<HttpResponse>(r))
    return Promise.resolve(r).then((v) => finish(v, status, base, reason, decision, key));
  if (typeof r !== "object" || r === null) {
    throw new ConfigError([
      {
        option: "onLimited/onDenied/onIdentityError result",
        received: r,
        expected: "an object { status?, headers?, body? }",
      },
    ]);
  }
  const s = r.status ?? status;
  if (!Number.isSafeInteger(s) || s < 200 || s > 599) {
    throw new ConfigError([
      { option: "response status", received: r.status, expected: "an HTTP status from 200 to 599" },
    ]);
  }
  const headers: HeaderMap = { ...base, ...r.headers };
  let body = r.body;
  if (body !== undefined && typeof body !== "string") {
    body = JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
      headers["Content-Type"] = "application/json";
  }
  return respond({ status: s, headers, body: body as string | undefined }, reason, decision, key);
}
