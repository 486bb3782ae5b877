import { Reflector } from "@nestjs/core";
import {
  createHttpLimiter,
  type HttpLimiter,
  type HttpLimiterOptions,
  type HttpRequest,
  type IdentityResult,
  type MaybePromise,
} from "../../http/index.js";
import type { PolicyOptions } from "../../index.js";
import { applyOverride, inFixedWindows, type NamedPolicy } from "./named-policies.js";
import type { NestRequest } from "./nest-request.js";
import type { SkipThrottleMetadata } from "./skip-throttle.js";
import type { ThrottleMetadata } from "./throttle.js";
import { wholeNumber } from "./throttler-compat.js";
import { SKIP_THROTTLE_METADATA, THROTTLE_METADATA } from "./tokens.js";

/** One guarded handler: its throttlers, as one rule of an HTTP limiter of its own. */
export type Route = {
  /** The rule its decisions are emitted under: `nest.<Controller>.<handler>` (rule names' form). */
  readonly rule: string;
  /** The route's throttler names, joined by "+" (passed to generateKey). */
  readonly throttlers: string;
  /** throttlekit/http's limiter of this handler: lists, identity, cost, responses, events. */
  readonly limiter: HttpLimiter<object>;
};

/**
 * What every handler's limiter shares: the module's HTTP-layer options, with the root limiter's
 * abuse detector and load shedder (one of each for the application, not one per handler).
 */
export type SharedOptions = Omit<HttpLimiterOptions<object>, "rules" | "policies" | "identity">;

/** The rule options a module applies to every handler (cost, concurrency, mode, priority). */
export type RuleDefaults = Pick<
  NonNullable<HttpLimiterOptions<object>["rules"]>[number],
  "cost" | "concurrency" | "mode" | "priority" | "scope"
>;

// Reflector holds no state: one instance reads every class's metadata, no injection needed.
const reflector = new Reflector();

/**
 * The limiters of a module's guarded handlers, built on a handler's first request and kept for
 * the module's life (one per handler, never per request). Every guard instance of the module
 * (APP_GUARD's, @UseGuards') shares them, so key management (ThrottlekitService) reaches the
 * counters of every handler this process has guarded.
 *
 * A handler's counters live in its own namespace of the store (`<prefix>:r:<rule>`), keyed by
 * the client's tracker. A guard that overrides generateKey counts in one namespace shared by
 * every handler (`<prefix>:z:nest`), keyed by generateKey's answer, so returning the tracker
 * alone shares one budget across handlers, as with @nestjs/throttler.
 */
export class RouteLimiters {
  private readonly byHandler = [new WeakMap(), new WeakMap()] as [Handlers, Handlers];
  /** Every route built, by rule name (two handlers may share one: controllers of one name). */
  private readonly byRule = new Map<string, Route[]>();

  constructor(
    private readonly throttlers: readonly NamedPolicy[],
    private readonly shared: SharedOptions,
    private readonly defaults: RuleDefaults,
    /** The store is a ThrottlerStorage (the `storage` option): it counts fixed windows only. */
    private readonly storageCounts = false,
  ) {}

  /**
   * The route of a handler, or null when it has no throttlers (skipped, or every throttler
   * dropped). `sharedKeys`: the guard overrides generateKey (see the class comment).
   */
  route(cls: object, handler: object, sharedKeys: boolean, http = true): Route | null {
    const byHandler = this.byHandler[sharedKeys ? 1 : 0];
    let handlers = byHandler.get(cls);
    if (handlers === undefined) {
      handlers = new WeakMap();
      byHandler.set(cls, handlers);
    }
    let route = handlers.get(handler);
    if (route === undefined) {
      route = this.build(cls, handler, sharedKeys, http);
      handlers.set(handler, route);
      if (route !== null) {
        const list = this.byRule.get(route.rule) ?? [];
        list.push(route);
        this.byRule.set(route.rule, list);
      }
    }
    return route;
  }

  /** Routes built so far: all of them, or those of one rule name. */
  routes(rule?: string): Route[] {
    if (rule !== undefined) return this.byRule.get(rule) ?? [];
    return [...this.byRule.values()].flat();
  }

  /** Stops every handler limiter's list notifications and lease renewals. */
  async close(): Promise<void> {
    await Promise.all(this.routes().map((r) => r.limiter.close()));
  }

  /**
   * `http`: the handler answers HTTP requests (a controller). `concurrency` counts those in
   * flight; a GraphQL resolver or a gateway's message handler has no request of its own to hold
   * a slot through (a query's resolvers run together), so its rule has none.
   */
  private build(cls: object, handler: object, sharedKeys: boolean, http: boolean): Route | null {
    const policies = this.policiesOf(cls, handler);
    if (policies === null) return null;
    const rule = ruleOf(cls, handler);
    const dynamic = policies.some((p) => p.dynamic !== undefined);
    const limiter = createHttpLimiter<object>({
      ...this.shared,
      identity: identify,
      rules: [
        {
          ...(http ? this.defaults : withoutConcurrency(this.defaults)),
          name: rule,
          ...(sharedKeys ? { zone: "nest" } : {}),
          policies: dynamic
            ? (req: HttpRequest<object>) => resolveDynamic(policies, req)
            : policies.map(toPolicy),
        },
      ],
    });
    return { rule, throttlers: policies.map((p) => p.name).join("+"), limiter };
  }

  /** Resolves a handler's throttlers: module, then class, then method; minus skipped ones. */
  private policiesOf(cls: object, handler: object): NamedPolicy[] | null {
    const classSkip = read<SkipThrottleMetadata>(SKIP_THROTTLE_METADATA, cls);
    const handlerSkip = read<SkipThrottleMetadata>(SKIP_THROTTLE_METADATA, handler);
    const skipAll =
      typeof handlerSkip === "boolean"
        ? handlerSkip
        : typeof classSkip === "boolean"
          ? classSkip
          : false;
    // A skipped class whose method says { name: false } keeps only those throttlers
    // (@nestjs/throttler's `@SkipThrottle({ default: false })`).
    const keepOnly =
      classSkip === true && typeof handlerSkip === "object"
        ? Object.keys(handlerSkip).filter((n) => handlerSkip[n] === false)
        : undefined;
    if (keepOnly === undefined ? skipAll : keepOnly.length === 0) return null;
    const skipNamed: Record<string, boolean> = {
      ...(typeof classSkip === "object" && handlerSkip !== false ? classSkip : {}),
      ...(typeof handlerSkip === "object" ? handlerSkip : {}),
    };
    let set = new Map<string, NamedPolicy>();
    for (const p of this.throttlers) set.set(p.name, p);
    for (const meta of [
      read<ThrottleMetadata>(THROTTLE_METADATA, cls),
      read<ThrottleMetadata>(THROTTLE_METADATA, handler),
    ]) {
      if (meta === undefined) continue;
      if (meta.replace) set = new Map();
      for (const p of meta.policies) set.set(p.name, p);
      // Field by field over what the module, then the class, set (@nestjs/throttler's guard
      // reads each field from the method, else the class, else the module's throttler).
      for (const o of meta.overrides ?? []) {
        const p = applyOverride(set.get(o.name), o);
        if (p !== undefined) set.set(o.name, p);
      }
    }
    for (const name in skipNamed) if (skipNamed[name] === true) set.delete(name);
    if (keepOnly !== undefined) {
      for (const name of [...set.keys()]) if (!keepOnly.includes(name)) set.delete(name);
    }
    if (set.size === 0) return null;
    const out = [...set.values()];
    // A ThrottlerStorage (the module's `storage`) counts fixed windows only: throttlers in
    // @nestjs/throttler's shape count there its way, the module's and @Throttle()'s alike.
    return this.storageCounts ? out.map((p) => inFixedWindows(p) ?? p) : out;
  }
}

type Handlers = WeakMap<object, WeakMap<object, Route | null>>;

function withoutConcurrency({ concurrency: _, ...rest }: RuleDefaults): RuleDefaults {
  return rest;
}

/** Every handler limiter's identity: the guard's getTracker/generateKey, through the request. */
function identify(req: HttpRequest<object>): MaybePromise<IdentityResult> {
  return (req as NestRequest).identify();
}

function toPolicy({ dynamic: _, ...p }: NamedPolicy): PolicyOptions {
  return p;
}

/**
 * The values of @nestjs/throttler's function-valued limit/ttl/blockDuration for this request.
 * Numeric strings are numbers, as @nestjs/throttler's toNumber makes them; without a
 * blockDuration the block lasts the resolved ttl, @nestjs/throttler's default.
 */
async function resolveDynamic(
  policies: readonly NamedPolicy[],
  req: HttpRequest<object>,
): Promise<PolicyOptions[]> {
  const context = (req as NestRequest).context;
  // Anything but a whole number (or its string) goes as it is, for the limiter to refuse.
  const numeric = (value: number): number => wholeNumber(value) ?? value;
  const out: PolicyOptions[] = [];
  for (const named of policies) {
    const { dynamic, blockFor, ...p } = named;
    if (dynamic === undefined) {
      out.push(toPolicy(named));
      continue;
    }
    const limit = dynamic.limit === undefined ? p.limit : numeric(await dynamic.limit(context));
    const window = dynamic.ttl === undefined ? p.window : numeric(await dynamic.ttl(context));
    const block =
      dynamic.blockDuration !== undefined
        ? numeric(await dynamic.blockDuration(context))
        : dynamic.blockForTtl === true
          ? window
          : blockFor;
    out.push({ ...p, limit, window, ...(block ? { blockFor: block } : {}) });
  }
  return out;
}

const RULE_NAME_MAX = 40;

/**
 * `nest.<Controller>.<handler>` in a rule name's form (letters, digits, _ . -; at most 40): one
 * per handler, so bounded, and readable as a metrics label. A longer one keeps its first 31
 * characters and a hash of the whole, so two long names stay apart.
 */
export function ruleOf(cls: object, handler: object): string {
  const name = (f: object) => (f as { name?: unknown }).name;
  const c = name(cls);
  const h = name(handler);
  const raw = `nest.${typeof c === "string" && c !== "" ? c : "_"}.${typeof h === "string" && h !== "" ? h : "_"}`;
  const clean = raw.replace(/[^\w.-]/g, "_");
  if (clean.length <= RULE_NAME_MAX) return clean;
  return `${clean.slice(0, RULE_NAME_MAX - 9)}-${fnv1a(raw)}`;
}

/** 32-bit FNV-1a, as 8 hex digits: the same name on every process. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

function read<T>(key: string, target: object): T | undefined {
  return reflector.get<T | undefined>(key, target as never);
}
