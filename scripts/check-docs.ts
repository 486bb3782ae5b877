/**
 * Docs that run: every ```ts block of README.md and docs/**\/*.md is type-checked against the
 * sources (one tsc run over all blocks), and blocks marked runnable are run.
 *
 * Info strings (the text after the opening fence):
 *   ```ts                 type-checked
 *   ```ts run             type-checked, then run with tsx; must exit 0 by itself
 *   ```ts serve=/path     type-checked, then started with PORT=<free port>; must answer
 *                         GET /path with 200, then is stopped with SIGTERM
 *   ```ts nocheck: why    not checked; the reason is required and every opt-out is listed
 * A fragment declares its free names in an HTML comment on the line(s) right above the fence:
 *   <!-- prelude: declare const userId: string; -->
 * The prelude is prepended to the block (for run/serve blocks it runs too, so make it code).
 *
 * "throttlekit", "throttlekit/http", ... resolve to the src/ entry files through a generated
 * tsconfig's "paths" (tsx reads the same file), so docs are checked against the code as it is.
 *
 * `npx tsx scripts/check-docs.ts` prints the report; test/docs.test.ts runs it under `npm test`.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:http";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { entries } from "../tsup.config.js";
import { freePort } from "../test/support/free-port.js";

export type BlockMode = "check" | "run" | "serve" | "nocheck";

export type DocBlock = {
  /** Doc file, relative to the root. */
  file: string;
  /** 1-based line of the first code line (the line after the fence). */
  line: number;
  mode: BlockMode;
  /** serve: the path that must answer 200; nocheck: the reason. */
  arg: string;
  prelude: string;
  code: string;
};

export type DocProblem = { file: string; line: number; message: string };

export type DocsReport = {
  blocks: DocBlock[];
  /** Type errors, mapped back to doc file and line. */
  typeErrors: DocProblem[];
  /** Runnable blocks that failed: exit code, timeout, no 200. */
  runErrors: DocProblem[];
  /** Malformed markers (unknown flag, nocheck without a reason, dangling prelude). */
  markerErrors: DocProblem[];
};

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const PRELUDE = /^<!--\s*prelude:([\s\S]*?)-->\s*$/;

/** The ```ts blocks of one markdown text, with their markers; bad markers are reported. */
export function extractBlocks(
  file: string,
  text: string,
): { blocks: DocBlock[]; problems: DocProblem[] } {
  const lines = text.split("\n");
  const blocks: DocBlock[] = [];
  const problems: DocProblem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? "");
    if (!open) continue;
    const [, indent = "", fence = "", info = ""] = open;
    const end = lines.findIndex(
      (l, j) => j > i && l.trimStart().startsWith(fence) && l.trim() === fence.trim(),
    );
    const close = end === -1 ? lines.length : end;
    const body = lines.slice(i + 1, close).map((l) => l.slice(Math.min(indent.length, l.search(/\S|$/))));
    const [lang = "", ...rest] = info.trim().split(/\s+/);
    if (lang === "ts" || lang === "typescript" || lang === "tsx") {
      const flag = rest.join(" ");
      const block: DocBlock = {
        file,
        line: i + 2,
        mode: "check",
        arg: "",
        prelude: preludeAbove(lines, i),
        code: body.join("\n"),
      };
      if (flag === "run") block.mode = "run";
      else if (flag.startsWith("serve=/")) {
        block.mode = "serve";
        block.arg = flag.slice("serve=".length);
      } else if (flag.startsWith("nocheck")) {
        block.mode = "nocheck";
        block.arg = flag.replace(/^nocheck:?/, "").trim();
        if (block.arg === "") {
          problems.push({ file, line: i + 1, message: "```ts nocheck needs a reason: ```ts nocheck: why" });
        }
      } else if (flag !== "") {
        problems.push({
          file,
          line: i + 1,
          message: `unknown marker "${flag}" (expected run, serve=/path or nocheck: reason)`,
        });
      }
      blocks.push(block);
    }
    i = close;
  }
  // A prelude not followed by a ts fence would silently do nothing: refuse it.
  lines.forEach((l, i) => {
    if (!l.trimStart().startsWith("<!-- prelude:")) return;
    let j = i;
    while (j < lines.length && !(lines[j] ?? "").includes("-->")) j++;
    const next = lines[j + 1] ?? "";
    if (!/^\s*(`{3,}|~{3,})\s*(ts|typescript|tsx)\b/.test(next)) {
      problems.push({ file, line: i + 1, message: "a prelude must sit right above a ```ts fence" });
    }
  });
  return { blocks, problems };
}

function preludeAbove(lines: string[], fenceIndex: number): string {
  const above = lines[fenceIndex - 1] ?? "";
  if (!above.trimEnd().endsWith("-->")) return "";
  let start = fenceIndex - 1;
  while (start > 0 && !(lines[start] ?? "").trimStart().startsWith("<!--")) start--;
  const match = PRELUDE.exec(lines.slice(start, fenceIndex).join("\n").trim());
  return match ? (match[1] ?? "").trim() : "";
}

/** README.md and every docs/**\/*.md, relative to root, sorted. */
export function docFiles(root = ROOT): string[] {
  const docs = readdirSync(join(root, "docs"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => join("docs", f));
  return ["README.md", ...docs.sort()];
}

type Written = { block: DocBlock; path: string; offset: number };

/**
 * Extracts, type-checks and runs the blocks of `files` (default: README and docs). Scratch
 * files go to `<root>/.tmp/docs-check` (gitignored), rewritten on each call.
 */
export async function checkDocs(
  options: { root?: string; files?: string[]; scratch?: string; runTimeoutMs?: number } = {},
): Promise<DocsReport> {
  const root = options.root ?? ROOT;
  const files = options.files ?? docFiles(root);
  const scratch = options.scratch ?? join(root, ".tmp", "docs-check");
  const runTimeoutMs = options.runTimeoutMs ?? 20_000;

  const blocks: DocBlock[] = [];
  const markerErrors: DocProblem[] = [];
  for (const file of files) {
    const found = extractBlocks(file, readFileSync(join(root, file), "utf8"));
    blocks.push(...found.blocks);
    markerErrors.push(...found.problems);
  }

  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(join(scratch, "blocks"), { recursive: true });
  const written: Written[] = [];
  for (const block of blocks) {
    if (block.mode === "nocheck") continue;
    const name = `${block.file.replace(/[^a-z0-9]+/gi, "-")}-L${block.line}.ts`;
    const path = join(scratch, "blocks", name);
    const head = block.prelude === "" ? "" : `${block.prelude}\n`;
    // `export {}` makes each block a module: its own scope, top-level await allowed.
    writeFileSync(path, `${head}${block.code}\nexport {};\n`);
    written.push({ block, path, offset: head === "" ? 0 : head.split("\n").length - 1 });
  }
  const tsconfig = join(scratch, "tsconfig.json");
  writeFileSync(tsconfig, JSON.stringify(docsTsconfig(root, scratch), null, 2));

  // tsx does not type-check, so the runs need not wait for tsc: overlap them.
  const typing = written.length === 0 ? Promise.resolve([]) : typecheck(root, tsconfig, written);
  // Two runs at a time (each is a node + tsx process of about a second): the docs grow run
  // blocks with every migration page, and one at a time they outgrew the docs test's budget.
  const runnable = written.filter((w) => w.block.mode === "run" || w.block.mode === "serve");
  const results: (DocProblem | undefined)[] = new Array(runnable.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runnable.length) {
      const i = next++;
      results[i] = await runBlock(root, tsconfig, runnable[i]!, runTimeoutMs);
    }
  };
  await Promise.all([worker(), worker()]);
  const runErrors = results.filter((p): p is DocProblem => p !== undefined);
  return { blocks, typeErrors: await typing, runErrors, markerErrors };
}

function docsTsconfig(root: string, scratch: string) {
  const rel = (p: string) => relative(scratch, join(root, p)).split("\\").join("/");
  const paths: Record<string, string[]> = {};
  // Each subpath of package.json "exports" to the source of the tsup entry its build comes from
  // ("./socket.io" is built as dist/socket-io.js from entries["socket-io"]).
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    exports: Record<string, { import?: { default?: string } }>;
  };
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const built = /^\.\/dist\/(.+)\.js$/.exec(target.import?.default ?? "");
    const entry = built === null ? undefined : entries[built[1] as keyof typeof entries];
    if (entry === undefined) continue;
    paths[subpath === "." ? "throttlekit" : `throttlekit/${subpath.slice(2)}`] = [rel(entry)];
  }
  return {
    extends: rel("tsconfig.json"),
    compilerOptions: {
      noEmit: true,
      // Outside the scratch dir, which is rewritten on each run: src/ is re-checked only when
      // it changed (tsc compares file hashes), which keeps the test well under a minute.
      incremental: true,
      tsBuildInfoFile: `../${basename(scratch)}.tsbuildinfo`,
      // Nest blocks use decorator syntax; throttlekit/nest never relies on emitted metadata,
      // so tsx (esbuild) runs them too.
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      paths,
    },
    include: ["blocks/*.ts"],
  };
}

function typecheck(root: string, tsconfig: string, written: Written[]): Promise<DocProblem[]> {
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [tsc, "--noEmit", "--pretty", "false", "-p", tsconfig], {
      cwd: root,
    });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    child.on("error", fail);
    child.on("close", () => {
      const byPath = new Map(written.map((w) => [resolve(w.path), w]));
      const problems: DocProblem[] = [];
      // Only the blocks' own errors: src/ is checked by the project's own tsc step.
      for (const m of out.matchAll(/^(.+?)\((\d+),(\d+)\): error (TS\d+: .*)$/gm)) {
        const w = byPath.get(resolve(root, m[1] ?? ""));
        if (!w) continue;
        const line = Number(m[2]) - w.offset;
        problems.push(
          line < 1
            ? { file: w.block.file, line: w.block.line - 1, message: `prelude: ${m[4]}` }
            : { file: w.block.file, line: w.block.line + line - 1, message: m[4] ?? "" },
        );
      }
      if (problems.length === 0 && !/^\s*$/.test(out) && !out.includes("error TS")) {
        problems.push({ file: "(tsc)", line: 0, message: out.trim() });
      }
      done(problems);
    });
  });
}


function get200(port: number, path: string): Promise<boolean> {
  return new Promise((done) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 1000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on("error", () => done(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function runBlock(
  root: string,
  tsconfig: string,
  w: Written,
  timeoutMs: number,
): Promise<DocProblem | undefined> {
  const where = { file: w.block.file, line: w.block.line - 1 };
  const port = w.block.mode === "serve" ? await freePort() : 0;
  const child = spawn(process.execPath, ["--import", "tsx", w.path], {
    cwd: root,
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  const deadline = Date.now() + timeoutMs;
  const tail = () => output.trim().split("\n").slice(-8).join("\n");

  if (w.block.mode === "run") {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    if (code === 0) return undefined;
    return {
      ...where,
      message: code === null ? `did not exit within ${timeoutMs} ms\n${tail()}` : `exit ${code}\n${tail()}`,
    };
  }

  let ok = false;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!ok && !gone && Date.now() < deadline) {
    ok = await get200(port, w.block.arg);
    if (!ok) await new Promise((r) => setTimeout(r, 150));
  }
  if (!gone) child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
  if (ok) return undefined;
  return {
    ...where,
    message: gone
      ? `exited before answering GET ${w.block.arg}\n${tail()}`
      : `GET ${w.block.arg} never answered 200 within ${timeoutMs} ms\n${tail()}`,
  };
}

/** One line per problem, `file:line: message`, and the counts. */
export function formatReport(report: DocsReport): string {
  const count = (mode: BlockMode) => report.blocks.filter((b) => b.mode === mode).length;
  const lines = [
    `${report.blocks.length} ts blocks: ${count("check") + count("run") + count("serve")} type-checked ` +
      `(${count("run")} run, ${count("serve")} served), ${count("nocheck")} opted out`,
    ...report.blocks
      .filter((b) => b.mode === "nocheck")
      .map((b) => `  nocheck ${b.file}:${b.line - 1}: ${b.arg}`),
  ];
  for (const p of [...report.markerErrors, ...report.typeErrors, ...report.runErrors]) {
    lines.push(`${p.file}:${p.line}: ${p.message}`);
  }
  return lines.join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const report = await checkDocs();
  console.log(formatReport(report));
  const failed = report.typeErrors.length + report.runErrors.length + report.markerErrors.length;
  process.exitCode = failed === 0 ? 0 : 1;
}
