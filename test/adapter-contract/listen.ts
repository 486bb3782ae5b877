import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningServer } from "./contract.js";

/**
 * Waits for a server told to listen on 127.0.0.1:0 and returns what the contract needs: its
 * URL, and a close that drops keep-alive sockets, then runs `release` (the limiter's close).
 */
export async function served(server: Server, release: () => Promise<void>): Promise<RunningServer> {
  if (!server.listening) await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await release();
    },
  };
}
