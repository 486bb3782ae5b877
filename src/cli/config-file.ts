import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { HttpLimiterOptions } from "../http/index.js";
import { memoryStore, type PolicyOptions, type Store } from "../index.js";
import { CliError, type CliIo, EXIT, isConfigError } from "./io.js";
import { type OpenedStore, openMemory, openRedis } from "./store.js";

/**
 * What the CLI uses of throttlekit/config (`LoadedConfig`, `parseConfig`, `redactConfig`).
 * Declared here and checked at run time, so the CLI builds while that module changes; the
 * shapes are its documented API (docs/config.md).
 */
export type LoadedConfig = {
  readonly file: string | undefined;
  readonly schema: "throttlekit" | "ratethrottle";
  readonly store: unknown;
  readonly http: HttpLimiterOptions;
  /** Every named rule's policy (a ratethrottle rule without paths is only here). */
  readonly limits?: Readonly<Record<string, PolicyOptions>>;
  readonly source: unknown;
  /** Keys accepted without effect, each with its position and why (shown by validate). */
  readonly notes?: readonly { option: string; received: unknown; expected: string }[];
  close(): Promise<void>;
};

type ConfigModule = {
  parseConfig(
    text: string,
    options: { file?: string; env?: Record<string, string | undefined>; store?: Store },
  ): LoadedConfig;
  loadConfig(
    path: string,
    options: { env?: Record<string, string | undefined>; store?: Store },
  ): Promise<LoadedConfig>;
  redactConfig(value: unknown): unknown;
};

export async function configModule(): Promise<ConfigModule> {
  const mod = (await import("../config/index.js")) as Partial<ConfigModule>;
  if (
    typeof mod.parseConfig !== "function" ||
    typeof mod.loadConfig !== "function" ||
    typeof mod.redactConfig !== "function"
  ) {
    throw new CliError("throttlekit/config is not available in this build", EXIT.failed);
  }
  return mod as ConfigModule;
}

/** Looked for in the working directory when neither --config nor THROTTLEKIT_CONFIG is set. */
export const DEFAULT_CONFIG_FILES = Object.freeze([
  "throttlekit.yaml",
  "throttlekit.yml",
  "throttlekit.json",
  "ratethrottle.yaml",
  "ratethrottle.yml",
]);

/** The config file to use: --config, THROTTLEKIT_CONFIG, or the first default file present. */
export function findConfig(option: string | undefined, io: CliIo): string | undefined {
  const given = option ?? io.env.THROTTLEKIT_CONFIG;
  if (given !== undefined && given !== "") return resolve(io.cwd, given);
  for (const name of DEFAULT_CONFIG_FILES) {
    const path = resolve(io.cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

export function requireConfig(option: string | undefined, io: CliIo): string {
  const path = findConfig(option, io);
  if (path === undefined) {
    throw new CliError(
      `no configuration file: pass --config <file>, set THROTTLEKIT_CONFIG, or create one of ${DEFAULT_CONFIG_FILES.join(", ")}`,
    );
  }
  return path;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new CliError(
      `cannot read ${path}: ${code === "ENOENT" ? "no such file" : (error as Error).message}`,
      EXIT.failed,
    );
  }
}

/**
 * Parses a config file without connecting anywhere (its store is replaced by `store`): for
 * `config validate|show` and `test`, which must work offline.
 */
export async function parseOffline(path: string, io: CliIo, store: Store): Promise<LoadedConfig> {
  const text = await readText(path);
  const config = await configModule();
  return config.parseConfig(text, { file: path, env: io.env, store });
}

/** A store opened for a command, and the config file it came with (if any). */
export type CommandStore = OpenedStore & {
  /** The config file's options, when a file was given or found (for its prefixes). */
  readonly http: HttpLimiterOptions | undefined;
};

/**
 * The store a command works against: --redis wins; else the config file's store (when a config
 * file is given or found: a Redis store is connected, a memory store is useless across
 * processes); else the memory store.
 */
export async function openStore(
  options: { redis?: string; config?: string },
  io: CliIo,
): Promise<CommandStore> {
  const path = findConfig(options.config, io);
  const parsed = path === undefined ? undefined : await parseOffline(path, io, memoryStore());
  await parsed?.close();
  const http = parsed?.http;
  if (options.redis !== undefined) return { ...(await openRedis(options.redis)), http };
  const spec = parsed?.store as { type?: string } | undefined;
  if (path === undefined || spec?.type !== "redis") return { ...openMemory(), http };
  const config = await configModule();
  let loaded: LoadedConfig;
  try {
    loaded = await config.loadConfig(path, { env: io.env });
  } catch (error) {
    if (isConfigError(error)) throw error;
    throw new CliError(
      `cannot open the store of ${path}: ${error instanceof Error ? error.message : String(error)}`,
      EXIT.failed,
    );
  }
  const store = loaded.http.store ?? memoryStore();
  return {
    store,
    kind: "config",
    label: `${store.name} (${path})`,
    http: loaded.http,
    close: () => loaded.close(),
  };
}

/** The HTTP limiters' prefix: --prefix, else the config's, else "tk". */
export function httpPrefix(
  option: string | undefined,
  http: HttpLimiterOptions | undefined,
): string {
  return option ?? http?.prefix ?? "tk";
}

/** The metrics collectors' prefix: --metrics-prefix, else the config's `metrics.prefix`, else "tk". */
export function metricsPrefix(
  option: string | undefined,
  http: HttpLimiterOptions | undefined,
): string {
  const m = http?.metrics;
  return option ?? (typeof m === "object" && m.prefix !== undefined ? m.prefix : "tk");
}

/** Prints a ConfigError's problems (each "file:line:col path: ..."), for exit code 1. */
export function configErrorMessage(error: unknown): string | undefined {
  if (!isConfigError(error)) return undefined;
  return error.message;
}
