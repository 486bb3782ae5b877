/**
 * 10,000 connect/message/disconnect cycles leave nothing behind: no open connection, no
 * pending upgrade, no per-connection counter or lease in the memory stores, no listener, and
 * no heap growth after GC; the server-side sockets themselves are collected (the limiter keeps
 * no reference to a closed socket).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { wsRateLimit } from "../../src/adapters/ws/index.js";
import { memoryStore } from "../../src/core/memory-store.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const CYCLES = 10_000;
const PARALLEL = 25;

async function collect(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

it(`${CYCLES} connect/disconnect cycles leave no limiter state, listener or heap growth`, async () => {
  const store = memoryStore();
  const limit = wsRateLimit({
    store,
    maxConnections: PARALLEL * 2,
    messages: { perConnection: "100/s", perIdentity: "1000000/s" },
    bytes: "1000000/s",
    heartbeat: "10s",
    logger: false,
  });
  const server = createServer();
  const wss = new WebSocketServer({ noServer: true });
  const refs: WeakRef<WebSocket>[] = [];
  let accepted = 0;
  server.on("upgrade", (req, socket, head) =>
    limit.handleUpgrade(wss, req, socket, head, (ws) => {
      if (accepted++ % 500 === 0) refs.push(new WeakRef(ws));
      ws.on("message", (data) => ws.send(data));
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;

  const cycle = () =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.once("open", () => ws.send("x"));
      ws.once("message", () => ws.close());
      ws.once("close", () => resolve());
      ws.once("error", reject);
    });
  const rounds = async (n: number) => {
    for (let i = 0; i < n; i += PARALLEL)
      await Promise.all(Array.from({ length: Math.min(PARALLEL, n - i) }, cycle));
  };
  const settled = async () => {
    const end = Date.now() + 5000;
    while ((limit.stats().open > 0 || store.size > 1) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
  };

  try {
    await rounds(1000); // warm up: JIT, pools, the identity's counters
    await settled();
    const listeners = server.listenerCount("upgrade") + wss.listenerCount("connection");
    const before = await collect();
    const started = Date.now();
    await rounds(CYCLES);
    await settled();
    const after = await collect();
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(limit.stats()).toEqual({ open: 0, verifying: 0, localKeys: 0 });
    // The shared store holds only the identity's per-identity counters; no lease key is left.
    expect(await limit.slots!.inFlight("127.0.0.1")).toBe(0);
    expect(store.size).toBeLessThanOrEqual(2);
    expect(server.listenerCount("upgrade") + wss.listenerCount("connection")).toBe(listeners);
    expect(process.listenerCount("exit")).toBeLessThan(20);
    // 10,000 sockets of a few KB each would be tens of MB: allow noise, not retention.
    expect(after - before).toBeLessThan(8 * 1024 * 1024);
    expect(refs.length).toBeGreaterThan(10);
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
  } finally {
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await limit.close();
  }
}, 120_000);
