/**
 * Docs that run (issue 13): every ```ts block of README.md and docs/ type-checks against src/,
 * runnable ones run, and no block is skipped without a stated reason. See scripts/check-docs.ts
 * for the markers.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkDocs, type DocsReport, extractBlocks, formatReport } from "../scripts/check-docs.js";

const ROOT = join(import.meta.dirname, "..");

describe("extractBlocks", () => {
  it("reads markers and preludes, and refuses an opt-out without a reason", () => {
    const md = [
      "```ts",
      "a();",
      "```",
      "<!-- prelude: declare const userId: string; -->",
      "```ts run",
      "console.log(userId);",
      "```",
      "```ts serve=/health",
      "```",
      "```ts nocheck: needs Bun",
      "```",
      "```ts nocheck",
      "```",
      "```ts runn",
      "```",
      "<!-- prelude: declare const x: 1; -->",
      "",
      "```sh",
      "echo not ts",
      "```",
    ].join("\n");
    const { blocks, problems } = extractBlocks("x.md", md);
    expect(blocks.map((b) => [b.line, b.mode, b.arg])).toEqual([
      [2, "check", ""],
      [6, "run", ""],
      [9, "serve", "/health"],
      [11, "nocheck", "needs Bun"],
      [13, "nocheck", ""],
      [15, "check", ""],
    ]);
    expect(blocks[1]?.prelude).toBe("declare const userId: string;");
    expect(problems.map((p) => p.line)).toEqual([12, 14, 16]);
  });
});

describe("checkDocs on a doc with faults", () => {
  it("maps type errors and failed runs back to the doc's lines", async () => {
    const dir = join(ROOT, ".tmp", "docs-fixture");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "bad.md"),
      [
        "# bad",
        "<!-- prelude: const n: number = 1; -->",
        "```ts run",
        "const s: string = n;",
        "```",
        "```ts run",
        "process.exit(3);",
        "```",
        "```ts run",
        'import { createLimiter } from "throttlekit";',
        'if (!createLimiter({ policies: "1/s" }).consumeSync("k").allowed) process.exit(1);',
        "```",
      ].join("\n"),
    );
    const report = await checkDocs({
      files: [".tmp/docs-fixture/bad.md"],
      scratch: join(dir, "scratch"),
    });
    expect(report.typeErrors).toEqual([
      expect.objectContaining({ file: ".tmp/docs-fixture/bad.md", line: 4 }),
    ]);
    expect(report.runErrors.map((p) => [p.line, p.message.split("\n")[0]])).toEqual([
      [6, "exit 3"],
    ]);
  }, 60_000);
});

describe("README.md and docs/", () => {
  let report: DocsReport;
  beforeAll(async () => {
    report = await checkDocs();
    console.log(formatReport(report));
  }, 180_000);

  it("has ts blocks, and every opt-out says why", () => {
    expect(report.blocks.length).toBeGreaterThan(20);
    expect(report.markerErrors).toEqual([]);
  });
  it("every block type-checks against src/", () => {
    expect(report.typeErrors).toEqual([]);
  });
  it("every runnable block runs (run: exits 0; serve: answers 200, stops on SIGTERM)", () => {
    expect(report.runErrors).toEqual([]);
  });
});
