import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Store } from "../index.js";
import {
  configModule,
  findConfig,
  httpPrefix,
  type LoadedConfig,
  metricsPrefix,
  openStore,
} from "./config-file.js";
import { CliError, type CliIo, EXIT } from "./io.js";
import { requireShared } from "./store.js";

export type DashboardOptions = {
  config?: string;
  redis?: string;
  prefix?: string;
  metricsPrefix?: string;
  port: number;
  host: string;
  token?: string;
};

/** What the CLI uses of throttlekit/dashboard (docs/dashboard.md), checked at run time. */
type DashboardModule = {
  dashboard(options: {
    store: Store;
    token: string;
    prefix?: string;
    metricsPrefix?: string;
    config?: unknown;
  }): ((req: IncomingMessage, res: ServerResponse, next?: () => void) => void) & {
    close(): void;
  };
};

/** The shortest token accepted: a guessable token is no lock. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * `dashboard`: serves throttlekit/dashboard on host:port until SIGINT or SIGTERM. A token is
 * required (--token or THROTTLEKIT_DASHBOARD_TOKEN; the environment keeps it out of `ps`).
 */
export async function runDashboard(options: DashboardOptions, io: CliIo): Promise<number> {
  const token = options.token ?? io.env.THROTTLEKIT_DASHBOARD_TOKEN;
  if (token === undefined || token === "") {
    throw new CliError(
      "dashboard: a token is required: set THROTTLEKIT_DASHBOARD_TOKEN (or pass --token); the page answers 401 without it",
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new CliError(`dashboard: the token must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  if (!Number.isSafeInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new CliError("--port: expected a port number from 0 to 65535");
  }
  const mod = (await import("../dashboard/index.js")) as Partial<DashboardModule>;
  if (typeof mod.dashboard !== "function") {
    throw new CliError("throttlekit/dashboard is not available in this build", EXIT.failed);
  }
  const opened = await openStore(options, io);
  try {
    requireShared(opened, "dashboard");
  } catch (error) {
    await opened.close();
    throw error;
  }
  let config: unknown;
  const path = findConfig(options.config, io);
  if (path !== undefined) {
    const cfg = await configModule();
    const { readFile } = await import("node:fs/promises");
    const loaded: LoadedConfig = cfg.parseConfig(await readFile(path, "utf8"), {
      file: path,
      env: io.env,
      store: opened.store,
    });
    config = cfg.redactConfig(loaded.source);
  }
  const handler = mod.dashboard({
    store: opened.store,
    token,
    prefix: httpPrefix(options.prefix, opened.http),
    metricsPrefix: metricsPrefix(options.metricsPrefix, opened.http),
    ...(config === undefined ? {} : { config }),
  });
  const server = createServer((req, res) => {
    handler(req, res, () => {
      res.statusCode = 404;
      res.end("not found\n");
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => resolve());
    });
  } catch (error) {
    handler.close();
    await opened.close();
    const e = error as { code?: string; message: string };
    throw new CliError(
      `dashboard: cannot listen on ${options.host}:${options.port}: ${e.code ?? e.message}`,
      EXIT.failed,
    );
  }
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  io.out(`dashboard on http://${host}:${port}/ (store ${opened.label}); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  handler.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await opened.close();
  return EXIT.ok;
}
