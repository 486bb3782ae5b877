/**
 * A real ws server on 127.0.0.1:0 behind wsRateLimit, and ws clients that report how each
 * upgrade and connection ended: what the tests of throttlekit/ws share.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import type { WsRateLimit } from "../../src/adapters/ws/index.js";

export type Served = {
  readonly port: number;
  readonly wss: WebSocketServer;
  /** Server-side sockets, in the order they were accepted. */
  readonly sockets: WebSocket[];
  close(): Promise<void>;
};

/** An echo server; `how` picks noServer + handleUpgrade (default) or ws's verifyClient. */
export async function serve(
  limit: WsRateLimit,
  how: "handleUpgrade" | "verifyClient" = "handleUpgrade",
): Promise<Served> {
  const server: Server = createServer((_req, res) => res.end("ok"));
  const sockets: WebSocket[] = [];
  const echo = (ws: WebSocket) => {
    sockets.push(ws);
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  };
  let wss: WebSocketServer;
  if (how === "handleUpgrade") {
    wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => limit.handleUpgrade(wss, req, socket, head, echo));
  } else {
    wss = new WebSocketServer({ server, verifyClient: limit.verifyClient });
    wss.on("connection", (ws: WebSocket, req: IncomingMessage) => {
      limit.attach(ws, req);
      echo(ws);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    wss,
    sockets,
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Refused = {
  readonly refused: true;
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
};
export type Opened = { readonly refused: false; readonly ws: Client };

/** A client that records every frame it receives and how it closed. */
export type Client = WebSocket & {
  readonly frames: string[];
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `n` frames have arrived (or rejects after `ms`). */
  frameCount(n: number, ms?: number): Promise<string[]>;
};

/** Opens a client; resolves with the open socket or the HTTP response that refused it. */
export function connect(
  port: number,
  headers: Record<string, string> = {},
): Promise<Opened | Refused> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers }) as Client;
    const frames: string[] = [];
    const waiters: (() => void)[] = [];
    Object.assign(ws, {
      frames,
      closed: new Promise((done) =>
        ws.once("close", (code, reason) => done({ code, reason: reason.toString() })),
      ),
      frameCount(n: number, ms = 5000) {
        return new Promise<string[]>((ok, fail) => {
          const timer = setTimeout(
            () => fail(new Error(`${frames.length} of ${n} frames: ${frames.join(" | ")}`)),
            ms,
          );
          const check = () => {
            if (frames.length >= n) {
              clearTimeout(timer);
              ok(frames);
            } else waiters.push(check);
          };
          check();
        });
      },
    });
    ws.on("message", (data) => {
      frames.push(data.toString());
      for (const w of waiters.splice(0)) w();
    });
    ws.once("open", () => resolve({ refused: false, ws }));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () =>
        resolve({ refused: true, status: res.statusCode ?? 0, headers: res.headers, body }),
      );
      res.on("error", () =>
        resolve({ refused: true, status: res.statusCode ?? 0, headers: res.headers, body }),
      );
    });
    ws.once("error", (e) => {
      if (ws.readyState !== WebSocket.OPEN) reject(e);
    });
  });
}

/** Opens a client that must be admitted. */
export async function open(port: number, headers: Record<string, string> = {}): Promise<Client> {
  const r = await connect(port, headers);
  if (r.refused) throw new Error(`refused ${r.status}: ${r.body}`);
  return r.ws;
}

/** Waits (bounded) until `probe` holds: for effects of a socket closing on the server side. */
export async function until(probe: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
