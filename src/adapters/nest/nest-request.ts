import type { ExecutionContext } from "@nestjs/common";
import {
  type HeaderMap,
  type HttpRequest,
  type IdentityResult,
  type MaybePromise,
  routingPath,
} from "../../http/index.js";

// The platforms' objects are read structurally: throttlekit/nest imports neither Express,
// Fastify, ws nor Socket.IO.
type Headers = Record<string, string | string[] | undefined>;
type Raw = {
  readonly method?: string;
  readonly url?: string;
  readonly headers?: Headers;
  readonly socket?: { readonly remoteAddress?: string };
  readonly raw?: { readonly socket?: { readonly remoteAddress?: string } };
  /** A `ws` WebSocket keeps its net.Socket here. */
  readonly _socket?: { readonly remoteAddress?: string };
  /** A Socket.IO socket. */
  readonly handshake?: { readonly address?: string; readonly headers?: Headers };
};

/** Which kind of handler a guard call is for, and the objects it answers through. */
export type Target = {
  readonly kind: "http" | "graphql" | "ws";
  /** The platform's request (Express, Fastify), or the WebSocket client. */
  readonly req: object;
  /** The platform's response (Express response, Fastify reply), when there is one. */
  readonly res: object | undefined;
};

/**
 * Finds the request behind a guard call without switchToHttp() (it allocates closures per
 * call). Undefined for contexts the guard does not limit (rpc, or a GraphQL context that
 * carries no request): the guard lets those through rather than crash.
 */
export function targetOf(context: ExecutionContext): Target | undefined {
  const type = context.getType<string>();
  if (type === "http") {
    const req = context.getArgByIndex<object | undefined>(0);
    return req === undefined ? undefined : { kind: "http", req, res: context.getArgByIndex(1) };
  }
  if (type === "graphql") {
    // GraphQL resolvers get (root, args, context, info); Nest's drivers put the HTTP request
    // in the context as `req` (Express) or `request`/`reply` (Fastify).
    const ctx = context.getArgByIndex<Record<string, unknown> | undefined>(2);
    const req = (ctx?.req ?? ctx?.request) as { res?: object } | undefined;
    if (typeof req !== "object" || req === null) return undefined;
    const res = (ctx?.res ?? ctx?.reply ?? req.res) as object | undefined;
    return { kind: "graphql", req, res };
  }
  if (type === "ws") {
    const client = context.getArgByIndex<object | undefined>(0);
    return typeof client === "object" && client !== null
      ? { kind: "ws", req: client, res: undefined }
      : undefined;
  }
  return undefined;
}

/**
 * The canonical request (throttlekit/http's HttpRequest) over a platform request or a
 * WebSocket client: headers are read in place, the path only when an identity asks.
 */
export class NestRequest implements HttpRequest<object> {
  readonly remoteAddress: string | undefined;
  /** The tracker the guard's getTracker answered, once the identity ran (errorMessage's). */
  tracker: string | undefined;

  constructor(
    readonly raw: object,
    /** The guard call's context (the handler, its class; executionContext(req) reads it). */
    readonly context: ExecutionContext,
    /** Who the client is, as the guard says (getTracker, and generateKey when overridden). */
    readonly identify: () => MaybePromise<IdentityResult> = NO_IDENTITY,
  ) {
    const r = raw as Raw;
    this.remoteAddress =
      r.socket?.remoteAddress ??
      r.raw?.socket?.remoteAddress ??
      r._socket?.remoteAddress ??
      r.handshake?.address;
  }

  get method(): string {
    return (this.raw as Raw).method ?? "GET";
  }

  /** The path as the platforms route it: no query or fragment, percent-encoding canonical. */
  get path(): string {
    return routingPath((this.raw as Raw).url ?? "/");
  }

  header(name: string): string | undefined {
    const r = this.raw as Raw;
    const v = (r.headers ?? r.handshake?.headers)?.[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

function NO_IDENTITY(): never {
  throw new Error("throttlekit: a NestRequest without an identity");
}

/**
 * The Nest ExecutionContext of a request a throttlekit/nest callback receives (`cost`,
 * `onLimited`, `onDenied`, `skip`...): which handler and class it is for. Undefined for a request
 * that did not come through the guard.
 *
 * @example
 * cost: (req) => (executionContext(req)?.getHandler().name === "export" ? 10 : 1)
 */
export function executionContext(req: HttpRequest<object>): ExecutionContext | undefined {
  return req instanceof NestRequest ? req.context : undefined;
}

/** Sets headers on an Express response (node's setHeader) or a Fastify reply (header). */
export function writeHeaders(res: object | undefined, headers: HeaderMap): void {
  if (res === undefined || res === null) return;
  const r = res as {
    setHeader?: (name: string, value: string) => void;
    header?: (name: string, value: string) => void;
    headersSent?: boolean;
  };
  if (r.headersSent === true) return;
  if (typeof r.setHeader === "function") {
    for (const name in headers) r.setHeader(name, headers[name]!);
  } else if (typeof r.header === "function") {
    for (const name in headers) r.header(name, headers[name]!);
  }
}
