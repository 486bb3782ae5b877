import { stringify } from "yaml";
import { createHttpLimiter } from "../http/index.js";
import { memoryStore } from "../index.js";
import { configModule, parseOffline, requireConfig } from "./config-file.js";
import { type CliIo, EXIT, isConfigError } from "./io.js";
import { ruleNames } from "./test-rule.js";

export type ConfigOptions = { config?: string; json?: boolean };

/**
 * `config validate`: parses the file (no connection is made: its store is not built) and builds
 * the HTTP limiter its options describe, so every problem either step finds is reported.
 */
export async function runValidate(options: ConfigOptions, io: CliIo): Promise<number> {
  const path = requireConfig(options.config, io);
  try {
    const loaded = await parseOffline(path, io, memoryStore());
    try {
      const limiter = createHttpLimiter({ ...loaded.http, store: memoryStore(), logger: false });
      await limiter.close();
    } finally {
      await loaded.close();
    }
    const rules = ruleNames(loaded);
    const notes = loaded.notes ?? [];
    if (options.json === true) {
      const result = { ok: true, file: path, schema: loaded.schema, rules, notes };
      io.out(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      for (const n of notes) io.err(`note: ${n.option}: ${n.expected}\n`);
      io.out(
        `ok: ${path} (${loaded.schema} schema): ${rules.length} rule${rules.length === 1 ? "" : "s"}${rules.length > 0 ? ` (${rules.join(", ")})` : ""}\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    if (!isConfigError(error)) throw error;
    if (options.json === true) {
      const problems = error.problems.map((p) => ({
        option: p.option,
        received: p.received,
        expected: p.expected,
      }));
      io.out(`${JSON.stringify({ ok: false, file: path, problems }, null, 2)}\n`);
    } else {
      io.err(`${error.message}\n`);
    }
    return EXIT.failed;
  }
}

/** `config show`: the file as throttlekit reads it, secrets redacted (YAML, or JSON). */
export async function runShow(options: ConfigOptions, io: CliIo): Promise<number> {
  const path = requireConfig(options.config, io);
  const loaded = await parseOffline(path, io, memoryStore());
  await loaded.close();
  const config = await configModule();
  const view = {
    file: path,
    schema: loaded.schema,
    rules: ruleNames(loaded),
    store: config.redactConfig(loaded.store),
    config: config.redactConfig(loaded.source),
  };
  io.out(options.json === true ? `${JSON.stringify(view, null, 2)}\n` : stringify(view));
  return EXIT.ok;
}
