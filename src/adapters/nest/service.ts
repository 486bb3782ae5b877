import { Inject, Injectable } from "@nestjs/common";
import type { HttpLists } from "../../http/index.js";
import { ConfigError, type Decision, type Duration } from "../../index.js";
import type { ThrottlekitConfig } from "./options.js";
import type { Route } from "./route-limiters.js";
import { THROTTLEKIT_CONFIG } from "./tokens.js";

/**
 * Which handler's counters a ThrottlekitService call means: its rule name
 * (`"nest.AuthController.login"`, as events and metrics name it) or its class and method name
 * (`[AuthController, "login"]`, which reaches a handler this process has not guarded yet).
 */
export type RouteRef = string | readonly [controller: object, method: string];

/** Options of ThrottlekitService's key management. */
export type NestKeyOptions = {
  /** One handler. @default every handler this process has guarded */
  readonly route?: RouteRef;
  /**
   * With the module's `scope: "path"`: the concrete path whose counter is meant
   * (`"/items/42"`); without it, handlers counting per path are left alone.
   */
  readonly path?: string;
};

/**
 * Key management and lists for a Nest application, over the counters the guard keeps
 * (throttlekit/http's resetKey, getKey, block, unblock, per handler). Inject it anywhere once
 * ThrottlekitModule is imported.
 *
 * The key is the one a client is counted under, as `@RateLimit()`'s `key` and the events show:
 * the tracker (the identity's key, `getTracker`'s answer), or generateKey's answer when the
 * guard overrides generateKey.
 *
 * @example
 * @Post("login")
 * async login(@RateLimit() info: RateLimitInfo | undefined) {
 *   // ...credentials checked: the client's failed attempts no longer count
 *   if (info) await this.throttle.resetKey(info.key, { route: [AuthController, "login"] });
 * }
 */
export class ThrottlekitService {
  constructor(private readonly config: ThrottlekitConfig) {}

  /**
   * The allow and deny lists every handler reads: entries live in the store, so every instance
   * sharing it sees them (`lists.deny("203.0.113.7", { for: "1h" })`).
   */
  get lists(): HttpLists {
    return this.config.root.lists;
  }

  /** Resets the key's counters on one handler, or on every handler guarded so far. */
  async resetKey(key: string, options?: NestKeyOptions): Promise<void> {
    const at = pathOf(options);
    await Promise.all(this.routes(options, "resetKey").map((r) => r.limiter.resetKey(key, at)));
  }

  /**
   * Peeks the key's counters without charging them: the Decision a request on that handler
   * would get now (undefined when there is nothing to peek: function-valued limits); without
   * `route`, `{ [rule]: Decision }` for every handler guarded so far.
   */
  getKey(
    key: string,
    options: NestKeyOptions & { readonly route: RouteRef },
  ): Promise<Decision | undefined>;
  getKey(key: string, options?: NestKeyOptions): Promise<Record<string, Decision>>;
  async getKey(
    key: string,
    options?: NestKeyOptions,
  ): Promise<Record<string, Decision> | Decision | undefined> {
    const routes = this.routes(options, "getKey");
    const at = pathOf(options);
    // Each handler's limiter has one rule: its record holds it, or nothing to peek.
    const peeks = await Promise.all(
      routes.map(async (r) => [r.rule, (await r.limiter.getKey(key, at))[r.rule]] as const),
    );
    if (options?.route !== undefined) return peeks[0]?.[1];
    const out: Record<string, Decision> = {};
    for (const [rule, d] of peeks) if (d !== undefined) out[rule] = d;
    return out;
  }

  /** Blocks the key for `duration` on one handler or every one guarded so far (429 "blocked"). */
  async block(key: string, duration: Duration, options?: NestKeyOptions): Promise<void> {
    const at = pathOf(options);
    await Promise.all(this.routes(options, "block").map((r) => r.limiter.block(key, duration, at)));
  }

  /** Ends a block (of `block`, or of a `blockDuration` penalty). */
  async unblock(key: string, options?: NestKeyOptions): Promise<void> {
    const at = pathOf(options);
    await Promise.all(this.routes(options, "unblock").map((r) => r.limiter.unblock(key, at)));
  }

  private routes(options: NestKeyOptions | undefined, call: string): Route[] {
    const bad = (received: unknown, expected: string) =>
      new ConfigError([{ option: `${call}(options.route)`, received, expected }]);
    const ref = options?.route;
    const routes = this.config.routes;
    if (ref === undefined) return routes.routes();
    if (typeof ref === "string") {
      const found = routes.routes(ref);
      if (found.length > 0) return found;
      throw bad(
        ref,
        `the rule of a handler this process has guarded (${routes
          .routes()
          .map((r) => `"${r.rule}"`)
          .join(", ")}), or [Controller, "method"]`,
      );
    }
    const [cls, method] = Array.isArray(ref) ? ref : [];
    const handler = (cls as { prototype?: Record<string, unknown> } | undefined)?.prototype?.[
      method as string
    ];
    if (typeof handler !== "function") throw bad(ref, '[Controller, "method"] of a handler');
    const route = routes.route(cls as object, handler, this.config.generateKey !== undefined);
    if (route === null) throw bad(ref, "a handler with throttlers (this one is skipped)");
    return [route];
  }
}

/** The `path` option as throttlekit/http's key options take it. */
function pathOf(options: NestKeyOptions | undefined): { path: string } | undefined {
  return options?.path === undefined ? undefined : { path: options.path };
}

Injectable()(ThrottlekitService);
Inject(THROTTLEKIT_CONFIG)(ThrottlekitService, undefined, 0);
