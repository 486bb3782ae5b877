/**
 * Shows what a client sees from examples/socket.io/server.ts: acks with { code: "RATE_LIMITED",
 * retryAfterMs } once over 5 messages a second, a "rate_limited" event for limited events sent
 * without an ack, and a connect_error once 3 connections are open.
 * Run `node --import tsx examples/socket.io/client.ts` (URL in $URL, default 127.0.0.1:3000).
 */
import { io, type Socket } from "socket.io-client";

const url = process.env.URL ?? "http://127.0.0.1:3000";
const open = (): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (error: Error & { data?: unknown }) => {
      socket.close();
      reject(error);
    });
  });

const socket = await open();
socket.on("rate_limited", (info) => console.log("rate_limited event:", info));

for (let i = 1; i <= 7; i++) {
  const answer = await socket.emitWithAck("chat:message", `hello ${i}`);
  console.log(`chat:message ${i} ack:`, answer);
}
socket.emit("chat:message", "no ack"); // limited: answered by a "rate_limited" event

const others = [await open(), await open()];
try {
  await open();
} catch (error) {
  const e = error as Error & { data?: unknown };
  console.log("4th connection refused:", e.message, e.data);
}

await new Promise((resolve) => setTimeout(resolve, 100));
for (const s of [socket, ...others]) s.close();
