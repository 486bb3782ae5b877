/**
 * Decorator fixtures through the real TypeScript compiler, in both decorator modes: "standard"
 * (TC39 decorators, TypeScript 5+ without a flag) and "legacy" (`experimentalDecorators` with
 * `emitDecoratorMetadata`, as NestJS projects compile). `typeCheck` runs the type checker on a
 * fixture as if it were a .ts file beside it; `load` transpiles it (target ES2022, module
 * ESNext) and imports the emitted JavaScript, so the decorators run exactly as each mode emits
 * them. Fixtures import only types: the emitted module imports nothing, and the test passes in
 * the values (`throttle`, limiters) through the fixture's `define` function.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

export type DecoratorMode = "standard" | "legacy";
export const MODES: readonly DecoratorMode[] = ["standard", "legacy"];

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");

function source(fixture: string): string {
  return readFileSync(join(HERE, `${fixture}.fixture.ts.txt`), "utf8");
}

function modeOptions(mode: DecoratorMode): ts.CompilerOptions {
  return mode === "legacy" ? { experimentalDecorators: true, emitDecoratorMetadata: true } : {};
}

/**
 * The type errors of fixtures compiled together in `mode`, with the repo's compiler options, one
 * per line (none when they type-check). Each fixture is served as `<name>.fixture.ts` in this
 * folder, so its relative imports reach the sources.
 */
export function typeCheck(fixtures: readonly string[], mode: DecoratorMode): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (config === undefined) throw new Error("tsconfig.json could not be read");
  const options: ts.CompilerOptions = { ...config.options, ...modeOptions(mode), noEmit: true };
  const virtual = new Map(fixtures.map((f) => [join(HERE, `${f}.fixture.ts`), source(f)]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError, create) => {
    const text = virtual.get(name);
    return text === undefined
      ? getSourceFile(name, language, onError, create)
      : ts.createSourceFile(name, text, language, true);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => virtual.has(name) || fileExists(name);
  const program = ts.createProgram({ rootNames: [...virtual.keys()], options, host });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file !== undefined && d.start !== undefined
        ? `${d.file.fileName.slice(ROOT.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}`
        : "";
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
}

/** The JavaScript the compiler emits for a fixture in `mode`. */
export function emit(fixture: string, mode: DecoratorMode): string {
  return ts.transpileModule(source(fixture), {
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      ...modeOptions(mode),
    },
    reportDiagnostics: false,
  }).outputText;
}

/** Imports the emitted JavaScript of a fixture in `mode` (from a temporary file, then removed). */
export async function load<T>(fixture: string, mode: DecoratorMode): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "tk-decorators-"));
  try {
    const file = join(dir, `${fixture}.${mode}.mjs`);
    writeFileSync(file, emit(fixture, mode));
    return (await import(pathToFileURL(file).href)) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
