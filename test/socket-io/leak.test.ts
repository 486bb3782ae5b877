/**
 * Connect/disconnect cycles leave nothing behind: no limiter state (connections, leases,
 * per-connection counters, store keys), no listeners, no heap growth after GC.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, expect, it } from "vitest";
import { memoryStore } from "../../src/core/memory-store.js";
import { ask, closeClients, connect, eventually, type Harness, serve } from "./harness.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const CYCLES = 10_000;
const PARALLEL = 50;
let harness: Harness | undefined;
afterAll(async () => {
  closeClients();
  await harness?.close();
});

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

it(`${CYCLES} connect/disconnect cycles leave no limiter state, listeners or heap growth`, async () => {
  const store = memoryStore();
  harness = await serve({
    store,
    logger: false,
    connections: "1000000/min",
    maxConnections: PARALLEL,
    events: { "chat:*": "1000/s", "*": "1000/s" },
    identityEvents: { "*": "1000000/min" },
    closeAfter: { violations: 100, within: "1m" },
  });
  const h = harness;
  const engineListeners = () =>
    h.io.engine.eventNames().reduce((n, e) => n + h.io.engine.listenerCount(e), 0);
  const cycle = async () => {
    const s = await connect(h.url);
    await ask(s, "chat:message");
    s.disconnect();
  };
  const round = async (n: number) => {
    for (let i = 0; i < n; i += PARALLEL)
      await Promise.all(Array.from({ length: PARALLEL }, cycle));
    closeClients();
    await eventually(() => h.limit.stats().connections === 0 && h.io.engine.clientsCount === 0);
  };
  const started = Date.now();
  await round(1000); // warm-up: JIT, pools, memos
  const heapBefore = heapAfterGc();
  const keysBefore = store.size;
  const listenersBefore = engineListeners();
  await round(CYCLES - 1000);
  await eventually(() => h.limit.stats().counters === 0);
  expect(h.limit.stats()).toEqual({ connections: 0, leases: 0, counters: 0 });
  expect(await h.limit.connections!.inFlight("127.0.0.1")).toBe(0);
  expect(store.size).toBe(keysBefore);
  expect(engineListeners()).toBe(listenersBefore);
  expect(h.io.sockets.sockets.size).toBe(0);
  const growth = heapAfterGc() - heapBefore;
  console.log(
    `socket.io leak test: ${CYCLES} cycles in ${Date.now() - started} ms, heap growth ${(growth / 1024).toFixed(0)} KiB`,
  );
  expect(growth).toBeLessThan(4 * 1024 * 1024);
}, 120_000);
