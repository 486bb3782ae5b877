import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The dependency direction of DESIGN.md §1, enforced: adapters import only the public subpaths
 * (`throttlekit` = src/index.ts, `throttlekit/http` = src/http/index.ts), exactly as a
 * third-party adapter would, plus their own folder's files and external packages; the core
 * imports nothing outside itself, `node:*` included (it runs on edge runtimes).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** Every module specifier of `import … from`, `export … from`, `import "…"` and `import("…")`. */
function specifiers(code: string): string[] {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const re of [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ]) {
    for (const m of text.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

/** The public entries others may import: the core, the HTTP layer, and (for the config, the
 * dashboard and the CLI, which build stores and serve pages) the Redis store, config and
 * dashboard subpaths. */
const PUBLIC = [
  join(src, "index.ts"),
  join(src, "http", "index.ts"),
  join(src, "stores", "redis", "index.ts"),
  join(src, "config", "index.ts"),
  join(src, "dashboard", "index.ts"),
];

/**
 * Problems of one adapter or protocol integration file (src/adapters, src/graphql): relative
 * imports other than the public entries and its own folder.
 */
function adapterProblems(file: string, code = readFileSync(file, "utf8")): string[] {
  const own = dirname(file);
  const nested = own !== join(src, "adapters");
  return specifiers(code).flatMap((s) => {
    if (!s.startsWith(".")) return []; // external packages (frameworks, node:*)
    const target = resolve(own, s).replace(/\.js$/, ".ts");
    if (PUBLIC.includes(target)) return [];
    if (nested && dirname(target) === own) return [];
    return [`${relative(root, file)} imports ${s}`];
  });
}

function coreProblems(file: string, code = readFileSync(file, "utf8")): string[] {
  const core = join(src, "core");
  return specifiers(code).flatMap((s) => {
    if (!s.startsWith(".")) return [`${relative(root, file)} imports ${s}`];
    const target = resolve(dirname(file), s);
    return relative(core, target).startsWith("..")
      ? [`${relative(root, file)} imports ${s} (outside src/core)`]
      : [];
  });
}

describe("layering", () => {
  it("finds the specifiers of every import and re-export form", () => {
    const code = [
      'import type { A } from "./a.js";',
      'import {\n  b,\n  type C,\n} from "../b.js";',
      'export { d } from "./d.js";',
      'export * from "./e.js";',
      'import "./f.js";',
      'const g = await import("./g.js");',
      '// import { h } from "./h.js";',
    ].join("\n");
    expect(specifiers(code)).toEqual(["./a.js", "../b.js", "./d.js", "./e.js", "./f.js", "./g.js"]);
  });

  it("flags internal imports, and only those", () => {
    const code = [
      'import { memoryStore } from "../index.js";',
      'import { createHttpLimiter } from "../http/index.js";',
      'import { BoundedMemo } from "../http/bounded-memo.js";',
      'import { memoryStore as m } from "../core/memory-store.js";',
      'import type { FastifyInstance } from "fastify";',
    ].join("\n");
    expect(adapterProblems(join(src, "adapters", "x.ts"), code)).toEqual([
      "src/adapters/x.ts imports ../http/bounded-memo.js",
      "src/adapters/x.ts imports ../core/memory-store.js",
    ]);
    const nest = 'import { g } from "./guard.js";\nimport { h } from "../express.js";';
    expect(adapterProblems(join(src, "adapters", "nest", "m.ts"), nest)).toEqual([
      "src/adapters/nest/m.ts imports ../express.js",
    ]);
    const core =
      'import { x } from "./x.js";\nimport { y } from "../http/y.js";\nimport "node:fs";';
    expect(coreProblems(join(src, "core", "c.ts"), core)).toEqual([
      "src/core/c.ts imports ../http/y.js (outside src/core)",
      "src/core/c.ts imports node:fs",
    ]);
  });

  const adapters = [
    ...sources(join(src, "adapters")),
    ...sources(join(src, "graphql")),
    ...sources(join(src, "observe")),
    ...sources(join(src, "config")),
    ...sources(join(src, "dashboard")),
    ...sources(join(src, "cli")),
  ];
  it("has adapters to check", () => {
    const files = adapters.map((f) => relative(src, f));
    expect(files).toContain(join("adapters", "express.ts"));
    expect(files).toContain(join("graphql", "index.ts"));
    expect(files).toContain(join("observe", "prometheus.ts"));
  });

  for (const file of adapters) {
    it(`${relative(src, file)} imports only public entries, its folder and packages`, () => {
      expect(adapterProblems(file)).toEqual([]);
    });
  }

  it("src/core imports nothing outside src/core, node:* included", () => {
    expect(sources(join(src, "core")).flatMap((f) => coreProblems(f))).toEqual([]);
  });

  it("src/protect imports only src/core and its own folder: it runs wherever the core does", () => {
    const problems = sources(join(src, "protect")).flatMap((file) =>
      specifiers(readFileSync(file, "utf8")).flatMap((s) => {
        const target = resolve(dirname(file), s);
        const inside = ["core", "protect"].some(
          (d) => !relative(join(src, d), target).startsWith(".."),
        );
        return s.startsWith(".") && inside ? [] : [`${relative(root, file)} imports ${s}`];
      }),
    );
    expect(problems).toEqual([]);
  });
});
