/**
 * The server of `npm run bench:operate`: one node:http hello-world server on 127.0.0.1 whose
 * mode the bench switches between phases (an IPC message), so every mode runs in the same
 * process. Usage (the bench spawns it with an IPC channel and REDIS_PORT in the environment):
 *   node --import tsx bench/operate/server.ts <throttlekit.yaml>
 * Prints `PORT <n> TOKEN <t>` once listening. Messages in: a mode; out: `{ mode, reloads,
 * rejected }` once switched, the counts being those of the reload mode just left (else 0).
 *
 * Modes: "bare" (no limiter), "limiter" (throttlekit/node with the options loadConfig read from
 * the file, on the Redis store it names), "metrics" (a second limiter with the same options +
 * `metrics: { store }`, the fleet buckets the dashboard reads), "dashboard" (metrics + the
 * throttlekit/dashboard handler in front, live while the bench holds one SSE stream open),
 * "reload" (metrics + watchConfig on the file, each edit handed to `limiter.reload()`).
 * "bare-again" answers as "bare" does: the A/A pair that shows the machine's own noise.
 *
 * The two limiters live from the start (a limiter's `metrics` cannot be added by a reload); the
 * dashboard and the watcher are created when their mode starts and closed when it ends, so
 * their subscriptions and timers weigh on no other mode.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type ConfigWatcher, loadConfig, watchConfig } from "throttlekit/config";
import { type DashboardHandler, dashboard } from "throttlekit/dashboard";
import { nodeRateLimit } from "throttlekit/node";

export const MODES = ["bare", "limiter", "metrics", "dashboard", "reload", "bare-again"] as const;
export type Mode = (typeof MODES)[number];
export type Switched = { mode: Mode; reloads: number; rejected: number };

export const BASE_PATH = "/admin/throttlekit";
/** The server exits on its own after this long, whatever happens to the bench. */
const MAX_LIFETIME_MS = 10 * 60_000;

async function main(): Promise<void> {
  const file = process.argv[2];
  if (file === undefined) throw new Error("usage: server.ts <throttlekit.yaml>");
  const config = await loadConfig(file);
  const store = config.http.store!;
  const plain = nodeRateLimit({ ...config.http, logger: false });
  const metered = nodeRateLimit({ ...config.http, logger: false, metrics: { store } });
  const token = randomBytes(24).toString("hex");

  const hello = (_req: IncomingMessage, res: ServerResponse) => {
    res.setHeader("Content-Type", "text/plain");
    res.end("hello");
  };
  const plainLimited = plain.wrap(hello);
  const meteredLimited = metered.wrap(hello);

  let mode: Mode = "bare";
  let ui: DashboardHandler | undefined;
  let watcher: ConfigWatcher | undefined;
  let reloads = 0;
  let rejected = 0;
  metered.limiter.on("reloaded", () => reloads++);
  metered.limiter.on("reloadRejected", () => rejected++);

  const server = createServer((req, res) => {
    switch (mode) {
      case "limiter":
        return plainLimited(req, res);
      case "metrics":
      case "reload":
        return meteredLimited(req, res);
      case "dashboard":
        // As docs/dashboard.md mounts it: the dashboard first, everything else to the limiter.
        return ui!(req, res, () => meteredLimited(req, res));
      default:
        return hello(req, res);
    }
  });

  const leave = async (): Promise<void> => {
    ui?.close();
    ui = undefined;
    await watcher?.close();
    watcher = undefined;
  };

  process.on("message", async (next: Mode) => {
    await leave();
    const counts = { reloads, rejected };
    reloads = 0;
    rejected = 0;
    if (next === "dashboard") {
      ui = dashboard({ store, token, basePath: BASE_PATH, config: config.source });
    } else if (next === "reload") {
      watcher = watchConfig(file, (edit) => metered.limiter.reload(edit.http, { source: file }), {
        store,
        events: metered.limiter.events,
        logger: false,
      });
    }
    mode = next;
    process.send!({ mode, ...counts } satisfies Switched);
  });

  const stop = async () => {
    await leave();
    server.close();
    server.closeAllConnections();
    await Promise.all([plain.limiter.close(), metered.limiter.close()]);
    await config.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("disconnect", () => void stop());
  setTimeout(() => void stop(), MAX_LIFETIME_MS).unref();
  server.listen(0, "127.0.0.1", () => {
    console.log(`PORT ${(server.address() as AddressInfo).port} TOKEN ${token}`);
  });
}

// Run only as the server process: the bench imports this file for its mode names.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
