/**
 * The canonical request every adapter builds (tRPC's idea: reduce each framework to one shape).
 * It is read-only and built per request, so adapters should make it cheap: a class whose
 * `header` method reads the framework's own header store, never a copied object.
 *
 * @example
 * class NodeRequest implements HttpRequest<NodeRaw> {
 *   constructor(readonly method: string, readonly path: string, readonly remoteAddress: string | undefined, readonly raw: NodeRaw) {}
 *   header(name: string) { const v = this.raw.req.headers[name]; return Array.isArray(v) ? v.join(", ") : v; }
 * }
 */
export interface HttpRequest<Raw = unknown> {
  /** Upper-case method ("GET"). */
  readonly method: string;
  /**
   * The path as the framework routes it ("/users/42"): no scheme, host, query or fragment, in
   * canonical percent-encoding, with the framework's own slash handling. Build it with
   * `routingPath(target, options)` so that no spelling the router sends to a handler escapes a
   * rule written for that handler's path.
   */
  readonly path: string;
  /**
   * True when the framework routes paths regardless of case (Express by default, Fastify with
   * `caseSensitive: false`, @koa/router): rules' paths then match regardless of case too.
   * @default false
   */
  readonly caseInsensitive?: boolean;
  /**
   * One header's value; `name` is lower-case. Repeated fields come joined by ", " (RFC 9110
   * §5.3). Undefined when absent.
   */
  header(name: string): string | undefined;
  /** The address of the socket's peer (the client, or your nearest proxy). */
  readonly remoteAddress: string | undefined;
  /**
   * The route template the framework matched ("/items/:id"), when it has one: what a rule with
   * `scope: "route"` counts by. Adapters fill it where the framework exposes it.
   * @default undefined (the rule's own path pattern that matched stands in)
   */
  readonly route?: string | undefined;
  /** The framework's own objects, for your callbacks (`session()`, `skip`, `cost`...). */
  readonly raw: Raw;
}

/** A value now, or later. The HTTP layer stays synchronous while every step is. */
export type MaybePromise<T> = T | Promise<T>;

/** A response described without a framework: adapters write it their own way. */
export type HttpResponse = {
  /** @default 429 for onLimited, 403 for onDenied, 401 for onIdentityError */
  readonly status?: number;
  /** Extra headers; they override the rate-limit headers of the same name. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A string is sent as is; any other value as JSON (with `application/json` unless set). */
  readonly body?: unknown;
};

/** True for promises and other thenables (a user callback may return either kind). */
export function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
