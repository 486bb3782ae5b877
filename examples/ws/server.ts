/**
 * A ws echo server on 127.0.0.1:8080 (or $PORT) with connection and message limits. Run
 * `node --import tsx examples/ws/server.ts`, then connect with any WebSocket client, e.g.
 *   npx wscat -c ws://127.0.0.1:8080
 * Each client address may open 10 connections a minute and hold 3 at once (a refused upgrade is
 * answered 429 with Retry-After); each connection may send 5 messages a second (a refused
 * message gets a JSON error frame), and 20 refusals within a minute close it with 1008.
 */
import { createServer } from "node:http";
import { wsRateLimit } from "throttlekit/ws";
import { WebSocketServer } from "ws";

const limit = wsRateLimit({
  connections: "10/min",
  maxConnections: 3,
  heartbeat: "30s",
  messages: { perConnection: "5/s", perIdentity: "20/s" },
  bytes: { perIdentity: { limit: 65_536, window: "1s" } }, // 64 KiB of payload a second
  onLimited: "reply",
  closeAfter: { violations: 20, within: "1m" },
});

const server = createServer((_req, res) => res.end("a WebSocket echo server\n"));
const wss = new WebSocketServer({ noServer: true });

server.on("upgrade", (req, socket, head) => {
  limit.handleUpgrade(wss, req, socket, head, (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
});

server.listen(Number(process.env.PORT ?? 8080), "127.0.0.1", () => {
  console.log(`ws echo on ws://127.0.0.1:${Number(process.env.PORT ?? 8080)}`);
});
