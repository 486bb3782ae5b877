import { type FSWatcher, readFileSync, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import {
  ConfigError,
  consoleLogger,
  type Logger,
  parseTimerDuration,
  type Store,
  silentLogger,
  TIMER_DURATION_FORM,
  warn,
} from "../index.js";
import { type BuiltStore, buildStore } from "./build-store.js";
import { parseConfig } from "./parse-config.js";
import { sameStore } from "./store-spec.js";
import type { ConfigWatcher, LoadedConfig, StoreSpec, WatchConfigOptions } from "./types.js";

const DEFAULT_DEBOUNCE_MS = 100;

/**
 * Watches a configuration file and hands each valid edit to `onChange` (typically
 * `(config) => limiter.reload(config.http)`). An edit is read once the file has been quiet for
 * `debounce`, parsed and validated; a valid one is passed on with the running store (the one you
 * give as `store`, else one built from the file's first version and kept); an invalid one (a
 * ConfigError, or a change of store, which needs a restart) is refused: the running config keeps
 * serving, `onError` gets the error, a `reloadRejected` event goes to `events`, and one
 * WARN_TK_RELOAD_REJECTED line goes to the logger per bad edit. The file's own directory is
 * watched too, since editors save by writing a new file and renaming it over the old one.
 *
 * @example
 * const config = await loadConfig("throttlekit.yaml");
 * const limit = expressRateLimit(config.http);
 * const watcher = watchConfig("throttlekit.yaml", (next) => limit.limiter.reload(next.http, { source: "throttlekit.yaml" }), {
 *   store: config.http.store,
 * });
 */
export function watchConfig(
  path: string,
  onChange: (config: LoadedConfig) => void | Promise<void>,
  options: WatchConfigOptions = {},
): ConfigWatcher {
  const problems: { option: string; received: unknown; expected: string }[] = [];
  if (typeof path !== "string" || path === "")
    problems.push({ option: "path", received: path, expected: "a file path" });
  if (typeof onChange !== "function")
    problems.push({
      option: "onChange",
      received: onChange,
      expected: "a function (config) => void",
    });
  const debounceMs =
    options.debounce === undefined ? DEFAULT_DEBOUNCE_MS : parseTimerDuration(options.debounce);
  if (debounceMs === undefined)
    problems.push({
      option: "debounce",
      received: options.debounce,
      expected: TIMER_DURATION_FORM,
    });
  const logger = loggerOf(options.logger);
  if (logger === undefined) {
    problems.push({
      option: "logger",
      received: options.logger,
      expected: "an object with a warn(message) method (console works), or false",
    });
  }
  if (options.onError !== undefined && typeof options.onError !== "function")
    problems.push({ option: "onError", received: options.onError, expected: "a function" });
  if (problems.length > 0) throw new ConfigError(problems);

  const { logger: _l, events, debounce: _d, onError, ...parseOptions } = options;
  const file = resolve(path);
  const name = basename(file);
  let lastText: string | undefined;
  let running: StoreSpec | undefined;
  let built: Promise<BuiltStore> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;

  const refuse = (error: ConfigError): void => {
    try {
      onError?.(error);
    } catch {
      // The caller's handler must not stop the watcher.
    }
    events?.emit("reloadRejected", {
      type: "reloadRejected",
      time: Date.now(),
      error,
      source: path,
    });
    warn(
      logger!,
      "WARN_TK_RELOAD_REJECTED",
      `${path} was changed but the change was refused; the running configuration keeps serving. ${error.message}`,
    );
  };

  const parse = (text: string, store: Store | undefined): LoadedConfig =>
    parseConfig(text, { ...parseOptions, file: path, ...(store === undefined ? {} : { store }) });

  // The first version: its store is the one every later version must keep.
  try {
    lastText = readFileSync(file, "utf8");
    running = parse(lastText, options.store).store;
  } catch (error) {
    if (error instanceof ConfigError) refuse(error);
    else if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }

  const check = async (): Promise<void> => {
    if (closed) return;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return; // Between an editor's unlink and rename: the next event brings the new file.
    }
    if (text === lastText) return;
    lastText = text;
    let config: LoadedConfig;
    try {
      config = parse(text, options.store);
      if (running !== undefined && !sameStore(running, config.store)) {
        throw new ConfigError([
          {
            option: storeOption(path, text),
            received: config.store.type,
            expected: `the running store (${running.type}): store changes need a restart`,
          },
        ]);
      }
    } catch (error) {
      if (error instanceof ConfigError) refuse(error);
      else throw error;
      return;
    }
    running ??= config.store;
    let store = options.store;
    if (store === undefined) {
      built ??= buildStore(running);
      store = (await built).store;
    }
    const next: LoadedConfig = Object.freeze({
      ...config,
      http: { ...config.http, store },
      // The watcher owns the store it built: close the watcher, not each version.
      close: async () => {},
    });
    try {
      await onChange(next);
    } catch (error) {
      // limiter.reload refused it (and said so itself), or the callback failed.
      if (error instanceof ConfigError) {
        try {
          onError?.(error);
        } catch {
          // as above
        }
      } else {
        warn(
          logger!,
          "WARN_TK_LISTENER_FAILED",
          `watchConfig's onChange for ${path} threw: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      // One check at a time, in order: a slow onChange never overlaps the next edit.
      chain = chain.then(check).catch((error: unknown) => {
        warn(
          logger!,
          "WARN_TK_LISTENER_FAILED",
          `watchConfig could not read ${path}: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }, debounceMs);
  };

  // The directory, not the file: a rename over the file ends a watch on the file itself.
  const watcher: FSWatcher = watch(dirname(file), (_event, changed) => {
    if (changed === null || changed === name) schedule();
  });
  watcher.on("error", () => {});

  return {
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      watcher.close();
      if (timer !== undefined) clearTimeout(timer);
      await chain;
      if (built !== undefined) await (await built).close();
    },
  };
}

function loggerOf(option: unknown): Logger | undefined {
  if (option === undefined) return consoleLogger;
  if (option === false) return silentLogger;
  if (
    typeof option === "object" &&
    option !== null &&
    typeof (option as Logger).warn === "function"
  )
    return option as Logger;
  return undefined;
}

/** `file:line:1 store` where the file writes its store (`store:` or ratethrottle's `storage:`). */
function storeOption(path: string, text: string): string {
  const lines = text.split(/\r?\n/);
  const i = lines.findIndex((l) => /^(store|storage)\s*:/.test(l));
  if (i < 0) return `${path} store`;
  return `${path}:${i + 1}:1 ${lines[i]!.startsWith("storage") ? "storage" : "store"}`;
}
