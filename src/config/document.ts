import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  parse as parseYaml,
  Scalar,
} from "yaml";
import { interpolate } from "./interpolate.js";
import type { Located } from "./located.js";
import type { ConfigFormat } from "./types.js";

/** A position in the file, 1-based, as editors show it. */
export type Position = { readonly line: number; readonly col: number };

/** A parsed document: plain values, and where each value (and each map key) was written. */
export type ParsedDocument = {
  readonly value: unknown;
  /** Path (`rules[2].limit`) → position of its value. */
  readonly values: ReadonlyMap<string, Position>;
  /** Path → position of its key (for unknown keys). */
  readonly keys: ReadonlyMap<string, Position>;
};

/** Joins a path and one key or index the way problems name options: `a.b`, `a[2]`. */
export function child(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/**
 * Parses YAML or JSON (JSON through the YAML parser, a superset, so both get positions),
 * interpolates `${ENV}` in string scalars, and reports syntax errors and missing variables
 * into `problems` with their positions.
 */
export function readDocument(
  text: string,
  format: ConfigFormat,
  env: Readonly<Record<string, string | undefined>>,
  problems: Located,
): ParsedDocument | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    // JSON read as YAML 1.2 core: `yes` stays a string, as JSON and YAML 1.2 both want.
    schema: "core",
  });
  const at = (offset: number): Position => lineCounter.linePos(offset);
  // After the first error on a line the parser's recovery makes more up: one per line is real.
  const lines = new Set<number>();
  for (const e of doc.errors) {
    const where = at(e.pos[0]);
    if (lines.has(where.line)) continue;
    lines.add(where.line);
    const message = e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, "");
    problems.addAt(
      where,
      "",
      lineOf(text, where.line),
      `valid ${format.toUpperCase()}: ${message}`,
    );
  }
  if (doc.errors.length > 0) return undefined;
  if (format === "json" && !strictJson(text, at, problems)) return undefined;
  const values = new Map<string, Position>();
  const keys = new Map<string, Position>();
  const seen = new Set<Node>();
  const walk = (node: unknown, path: string, fallback: Position): unknown => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      values.set(path, node.range ? at(node.range[0]) : fallback);
      // An alias cycle would never end; YAML allows none in maps we read, but guard anyway.
      if (target === undefined || seen.has(target)) return null;
      seen.add(target);
      const v = walk(target, path, values.get(path)!);
      seen.delete(target);
      return v;
    }
    const pos = (node as Node | null)?.range ? at((node as Node).range![0]) : fallback;
    values.set(path, pos);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key;
        const key = String(isScalar(keyNode) ? keyNode.value : keyNode);
        const p = child(path, key);
        const keyPos = isScalar(keyNode) && keyNode.range ? at(keyNode.range[0]) : pos;
        keys.set(p, keyPos);
        // `key:` with nothing after it: null, located at its key.
        Object.defineProperty(out, key, {
          value: pair.value == null ? null : walk(pair.value, p, keyPos),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        if (pair.value == null) values.set(p, keyPos);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => walk(item, child(path, i), pos));
    if (isScalar(node)) return scalarValue(node, format, env, path, pos, problems);
    return null;
  };
  const start: Position = { line: 1, col: 1 };
  return { value: walk(doc.contents, "", start), values, keys };
}

function scalarValue(
  node: Scalar,
  format: ConfigFormat,
  env: Readonly<Record<string, string | undefined>>,
  path: string,
  pos: Position,
  problems: Located,
): unknown {
  const v = node.value;
  if (typeof v !== "string") return v;
  const r = interpolate(v, env);
  if (!r.ok) {
    problems.addAt(pos, path, r.received, r.expected);
    return v;
  }
  // A plain YAML scalar (or a JSON string) that is exactly one reference reads as YAML would
  // read its value: `limit: ${LIMIT}` with LIMIT=100 is the number 100. Quoted YAML stays text.
  if (r.whole && r.text.trim() !== "" && (node.type === Scalar.PLAIN || format === "json")) {
    try {
      const typed: unknown = parseYaml(r.text, { schema: "core" });
      if (typed === null || ["number", "boolean"].includes(typeof typed)) return typed;
    } catch {
      // Not a scalar YAML would read: keep it as text.
    }
  }
  return r.text;
}

/**
 * YAML reads more than JSON allows (trailing commas, comments, unquoted keys): a .json file
 * must also be JSON, or the next tool to read it would fail where we did not.
 */
function strictJson(text: string, at: (offset: number) => Position, problems: Located): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = Number(/position (\d+)/.exec(message)?.[1] ?? 0);
    const where = at(offset);
    problems.addAt(where, "", lineOf(text, where.line), `valid JSON: ${message}`);
    return false;
  }
}

function lineOf(text: string, line: number): string {
  return (text.split(/\r?\n/)[line - 1] ?? "").trim();
}
