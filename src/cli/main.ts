#!/usr/bin/env node
/**
 * The `throttlekit` command (package.json "bin"). (issue 18; being built: see docs/cli.md)
 */
console.log("throttlekit: the CLI is being built (issue 18)");
