import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { nodeRateLimit } from "../adapters/node.js";
import { ConfigError } from "../core/errors/config-error.js";
import { consoleLogger, type Logger } from "../core/logger.js";
import { manualClock } from "../testing/manual-clock.js";
import type { HttpLimiterOptions } from "./options.js";

// End to end over a real node:http server on 127.0.0.1: the test plays both the client and the
// trusted proxy in front (the socket peer, 127.0.0.1, is "the proxy"), writing raw requests so
// that repeated header lines reach the server exactly as sent.

const open: Server[] = [];
const limiters: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  for (const l of limiters.splice(0)) await l.close();
});

async function serve(options: HttpLimiterOptions): Promise<number> {
  const limit = nodeRateLimit(options);
  limiters.push(limit.limiter);
  const server = createServer(limit.wrap((_req, res) => res.end("ok")));
  open.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** Sends one GET with these header lines (repeats allowed) and returns the status code. */
async function get(port: number, lines: readonly string[]): Promise<number> {
  const socket = connect(port, "127.0.0.1");
  socket.setEncoding("latin1");
  socket.write(
    `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${lines.map((l) => `${l}\r\n`).join("")}\r\n`,
    "latin1",
  );
  let text = "";
  socket.on("data", (d: string) => {
    text += d;
  });
  await once(socket, "end");
  return Number(text.slice(9, 12));
}

function spyLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  return { messages, warn: (m: string) => void messages.push(m) };
}

describe("a Forwarded spoof through a trusted proxy (issue 13, item 7)", () => {
  const options = (): HttpLimiterOptions => ({
    policies: "5/min",
    trustProxy: 1,
    proxyHeader: "forwarded",
    clock: manualClock().now,
    logger: false,
  });

  it("a quote left open does not take in the proxy's line: the 6th request is 429", async () => {
    const port = await serve(options());
    const statuses: number[] = [];
    for (let i = 1; i <= 8; i++) {
      // The client's own line, then the line the proxy adds for the peer it saw.
      statuses.push(
        await get(port, [`Forwarded: for="[6.6.6.${i}]`, "Forwarded: for=203.0.113.9"]),
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
  });

  it("the same when the proxy appends to the client's line", async () => {
    const port = await serve(options());
    const statuses: number[] = [];
    for (let i = 1; i <= 6; i++) {
      statuses.push(
        await get(port, [`Forwarded: for="[6.6.6.${i}]:80;proto=http, for=203.0.113.9`]),
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe("WARN_TK_PROXY_HEADER_IGNORED (issue 13, item 12)", () => {
  it("warns once per limiter when a private peer sends a forwarding header and trustProxy is unset", async () => {
    const logger = spyLogger();
    const port = await serve({ policies: "100/min", logger });
    expect(await get(port, [])).toBe(200);
    expect(logger.messages).toEqual([]); // no forwarding header: nothing to say
    for (let i = 0; i < 3; i++) expect(await get(port, ["X-Forwarded-For: 203.0.113.5"])).toBe(200);
    expect(await get(port, ["Forwarded: for=203.0.113.5"])).toBe(200);
    expect(logger.messages).toHaveLength(1);
    expect(logger.messages[0]).toMatch(/^\[throttlekit\] WARN_TK_PROXY_HEADER_IGNORED: /);
    expect(logger.messages[0]).toContain("x-forwarded-for");
    expect(logger.messages[0]).toContain("trustProxy");

    // A second limiter with its own logger says it again, once.
    const other = spyLogger();
    const port2 = await serve({ policies: "100/min", logger: other });
    expect(await get(port2, ["X-Real-IP: 203.0.113.5"])).toBe(200);
    expect(await get(port2, ["X-Real-IP: 203.0.113.5"])).toBe(200);
    expect(other.messages).toHaveLength(1);
    expect(other.messages[0]).toContain("x-real-ip");
  });

  it("stays silent when trustProxy is set (even to 0) or logger is false", async () => {
    for (const options of [
      { trustProxy: 1 },
      { trustProxy: 0 },
      { trustProxy: ["loopback"] },
    ] as const) {
      const logger = spyLogger();
      const port = await serve({ policies: "100/min", logger, ...options });
      expect(await get(port, ["X-Forwarded-For: 203.0.113.5"])).toBe(200);
      expect(logger.messages).toEqual([]);
    }
    // logger: false reaches no console: nothing to spy on but that it neither throws nor warns.
    const port = await serve({ policies: "100/min", logger: false });
    expect(await get(port, ["X-Forwarded-For: 203.0.113.5"])).toBe(200);
  });

  it("a broken logger never breaks a request", async () => {
    const port = await serve({
      policies: "100/min",
      logger: {
        warn() {
          throw new Error("logger down");
        },
      },
    });
    expect(await get(port, ["X-Forwarded-For: 203.0.113.5"])).toBe(200);
  });

  it("exposes the logger in use: console by default", () => {
    const logger = spyLogger();
    for (const [option, expected] of [
      [logger, logger],
      [undefined, consoleLogger],
    ] as const) {
      const { limiter } = nodeRateLimit({ policies: "1/s", ...(option ? { logger: option } : {}) });
      limiters.push(limiter);
      expect(limiter.logger).toBe(expected);
    }
  });

  it("validates logger", () => {
    for (const bad of ["console", null, {}, true]) {
      let error: unknown;
      try {
        nodeRateLimit({ policies: "1/s", logger: bad as never });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.map((p) => p.option)).toEqual(["logger"]);
    }
  });
});
