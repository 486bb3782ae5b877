#!/usr/bin/env node
/**
 * The `throttlekit` command (package.json "bin"): test rules, validate and show configs, edit the
 * fleet's allow/deny lists, export fleet metrics, monitor live and serve the dashboard.
 * docs/cli.md lists every command, option and exit code.
 */
import { processIo } from "./io.js";
import { run } from "./program.js";

run(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`throttlekit: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
