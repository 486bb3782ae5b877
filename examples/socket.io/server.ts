/**
 * A Socket.IO chat server on 127.0.0.1:3000 (or $PORT) limited by throttlekit/socket.io:
 * at most 10 new connections a minute and 3 open at once per client address, "chat:*" events
 * at 5/s per connection, everything else at 20/s, and a client refused 20 events within a
 * minute is disconnected. Run `node --import tsx examples/socket.io/server.ts`, then
 * `node --import tsx examples/socket.io/client.ts` in another terminal.
 */
import { createServer } from "node:http";
import { Server } from "socket.io";
import { socketIoRateLimit } from "throttlekit/socket.io";

const limit = socketIoRateLimit({
  connections: "10/min",
  maxConnections: 3,
  events: { "chat:*": "5/s", "*": "20/s" },
  closeAfter: { violations: 20, within: "1m" },
  // Behind a proxy you control, e.g. one nginx: trustProxy: 1
});

const http = createServer();
// allowRequest refuses over-rate clients before Engine.IO builds a session; io.use() admits
// the rest (maxConnections) and limits their events.
const io = new Server(http, { allowRequest: limit.allowRequest });
io.use(limit.middleware);

io.on("connection", (socket) => {
  socket.on("chat:message", (text: string, ack?: (answer: unknown) => void) => {
    socket.broadcast.emit("chat:message", text);
    ack?.({ ok: true });
  });
});

const port = Number(process.env.PORT ?? 3000);
http.listen(port, "127.0.0.1", () => console.log(`socket.io chat on http://127.0.0.1:${port}`));
