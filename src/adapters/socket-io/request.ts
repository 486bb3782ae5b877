import type { IncomingMessage } from "node:http";
import type { HttpRequest } from "../../http/index.js";

/** What identities and `skip` see on `req.raw` for a Socket.IO connection. */
export type SocketIoRaw = {
  /** The HTTP request that opened the Engine.IO session (the handshake). */
  readonly req: IncomingMessage;
  /**
   * The `auth` payload of the client's CONNECT packet (`io(url, { auth: { token } })`).
   * Undefined at the engine handshake (`allowRequest`): the client sends it afterwards.
   */
  readonly auth: Readonly<Record<string, unknown>> | undefined;
  /** The namespace being joined ("/", "/chat"); undefined at the engine handshake. */
  readonly namespace: string | undefined;
};

/**
 * The canonical request over a Socket.IO handshake: headers are read in place. The path is the
 * namespace (or "/" at the engine handshake), so identities that look at `req.path` see where
 * the client is going.
 */
export class SocketRequest implements HttpRequest<SocketIoRaw> {
  readonly method = "GET";
  readonly path: string;
  readonly raw: SocketIoRaw;

  constructor(
    req: IncomingMessage,
    readonly remoteAddress: string | undefined,
    auth: Readonly<Record<string, unknown>> | undefined,
    namespace: string | undefined,
  ) {
    this.path = namespace ?? "/";
    this.raw = { req, auth, namespace };
  }

  header(name: string): string | undefined {
    const v = this.raw.req.headers[name];
    return typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : undefined;
  }
}

/**
 * Reads a token from the CONNECT packet's `auth` payload, for `jwt({ token: authToken() })` or
 * `apiKey`-style identities: `io(url, { auth: { token } })` on the client.
 *
 * @example
 * socketIoRateLimit({ identity: jwt({ secret, token: authToken() }), events: { "*": "20/s" } })
 */
export function authToken(field = "token"): (req: HttpRequest<never>) => string | undefined {
  return (req) => {
    const auth = (req.raw as SocketIoRaw | undefined)?.auth;
    const v = auth?.[field];
    return typeof v === "string" && v !== "" ? v : undefined;
  };
}
