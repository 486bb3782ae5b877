/**
 * When a response has really ended, for outcomes whose `after` gives capacity back (a rule's
 * `concurrency` slot, the load shedder's count): every adapter calls `after` exactly once, when
 * the response is sent or when the client leaves before it was. One implementation for the
 * Node-based adapters (express, fastify, koa, node) and one for the Web ones (fetch, hono).
 */

/** nginx's "client closed request": the status `after` gets when the client left first. */
export const CLIENT_CLOSED = 499;

/** The part of Node's `ServerResponse` this needs (typed structurally: no `node:*` import). */
export type NodeResponseLike = {
  readonly destroyed: boolean;
  readonly writableFinished: boolean;
  readonly statusCode: number;
  once(event: "finish" | "close", listener: () => void): unknown;
};

/**
 * Calls `after` exactly once: when the response is sent ("finish", with its status) or when the
 * connection closes before it was (the client aborted: 499), so a concurrency slot or the load
 * shedder's count is given back either way. Node emits "close" after "finish" too; the flag
 * keeps it to one call. A response already destroyed (the client left while the decision
 * awaited the store) is settled at once: no event would come.
 */
export function afterNodeResponse(res: NodeResponseLike, after: (status: number) => void): void {
  if (res.destroyed) {
    after(CLIENT_CLOSED);
    return;
  }
  let called = false;
  const done = (): void => {
    if (called) return;
    called = true;
    after(res.writableFinished ? res.statusCode : CLIENT_CLOSED);
  };
  res.once("finish", done);
  res.once("close", done);
}

/** How a Web request holding capacity gives it back: once its response has really ended. */
export type HeldResponse = {
  /** The handler's response, passed on (wrapped when its end must be watched). */
  sent(response: Response): Response;
  /** The handler threw: settle now with 500. */
  failed(): void;
};

/**
 * Watches the end of a Web response whose `after` gives capacity back, calling it exactly once.
 * On @hono/node-server (the Node response is handed beside the Request as `outgoing`: pass that
 * context) it waits for the Node response as afterNodeResponse does. Elsewhere (Bun, Deno,
 * Workers) it waits for the body's end: a body is passed through a stream that settles when it
 * is read to the end (the status), fails (500), or is cancelled (499), and an abort of the
 * Request's signal (the client left early) settles with 499.
 */
export function holdUntilSent(
  after: (status: number) => void,
  request: Request,
  context: unknown,
): HeldResponse {
  let done = false;
  const settle = (status: number): void => {
    if (done) return;
    done = true;
    after(status);
  };
  const outgoing = nodeResponse(context);
  if (outgoing !== undefined) {
    afterNodeResponse(outgoing, settle);
    return { sent: (response) => response, failed: () => settle(500) };
  }
  const signal = request.signal as AbortSignal | undefined;
  if (signal?.aborted) settle(CLIENT_CLOSED);
  else signal?.addEventListener("abort", () => settle(CLIENT_CLOSED), { once: true });
  return { sent: (response) => settledAtEnd(response, settle), failed: () => settle(500) };
}

/** @hono/node-server passes `{ incoming, outgoing }` beside the Request: the Node response. */
function nodeResponse(context: unknown): NodeResponseLike | undefined {
  if (typeof context !== "object" || context === null) return undefined;
  const out = (context as { outgoing?: unknown }).outgoing;
  return typeof out === "object" &&
    out !== null &&
    typeof (out as NodeResponseLike).once === "function" &&
    typeof (out as NodeResponseLike).writableFinished === "boolean"
    ? (out as NodeResponseLike)
    : undefined;
}

/** The response with a body that calls `settle` when read to its end, failed, or cancelled. */
function settledAtEnd(response: Response, settle: (status: number) => void): Response {
  const body = response.body;
  const status = response.status;
  if (body === null) {
    settle(status);
    return response;
  }
  const reader = body.getReader();
  const watched = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          settle(status);
        } else controller.enqueue(value);
      } catch (error) {
        controller.error(error);
        settle(500);
      }
    },
    cancel(reason) {
      settle(CLIENT_CLOSED);
      return reader.cancel(reason);
    },
  });
  return new Response(watched, {
    status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
