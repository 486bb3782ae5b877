import { readFile } from "node:fs/promises";
import { buildStore } from "./build-store.js";
import { parseConfig } from "./parse-config.js";
import type { LoadConfigOptions, LoadedConfig } from "./types.js";

/**
 * Reads, validates and builds a configuration file (YAML or JSON by its extension; either
 * schema): `http` is what every HTTP adapter takes, its `store` built from the file's `store`
 * (or `storage`) unless you pass one. A bad file rejects with one ConfigError listing every
 * problem with its `file:line:column`.
 *
 * @example
 * const config = await loadConfig("throttlekit.yaml");
 * app.use(expressRateLimit(config.http));
 * process.once("SIGTERM", () => void config.close());
 */
export async function loadConfig(
  path: string,
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  const text = await readFile(path, "utf8");
  const parsed = parseConfig(text, { ...options, file: path });
  if (options.store !== undefined) return parsed;
  const built = await buildStore(parsed.store);
  return Object.freeze({
    ...parsed,
    http: { ...parsed.http, store: built.store },
    close: built.close,
  });
}
