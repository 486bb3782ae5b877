import type { ConfigProblem } from "../index.js";
import { child, type ParsedDocument, type Position } from "./document.js";

/**
 * Problems named by where they are written: `ratethrottle.yaml:12:5 rules[2].limit`. Every
 * problem is collected; one ConfigError is thrown at the end (STYLE.md).
 */
export class Located {
  readonly items: ConfigProblem[] = [];
  readonly notes: ConfigProblem[] = [];
  doc: ParsedDocument | undefined;

  constructor(readonly file: string) {}

  /** The position of a path's value, or of its nearest written ancestor. */
  position(path: string): Position | undefined {
    const values = this.doc?.values;
    if (values === undefined) return undefined;
    for (let p: string | undefined = path; p !== undefined; p = parent(p)) {
      const pos = values.get(p);
      if (pos !== undefined) return pos;
    }
    return undefined;
  }

  /** `file:line:col path`, or `file path` when the path was never written. */
  name(path: string, pos = this.position(path)): string {
    const where = pos === undefined ? this.file : `${this.file}:${pos.line}:${pos.col}`;
    return path === "" ? where : `${where} ${path}`;
  }

  add(path: string, received: unknown, expected: string): void {
    this.items.push({ option: this.name(path), received, expected });
  }

  addAt(pos: Position, path: string, received: unknown, expected: string): void {
    this.items.push({ option: this.name(path, pos), received, expected });
  }

  /** A key accepted without effect: reported as a note, with why. */
  note(path: string, received: unknown, why: string): void {
    this.notes.push({ option: this.name(path, this.keyPosition(path)), received, expected: why });
  }

  keyPosition(path: string): Position | undefined {
    return this.doc?.keys.get(path) ?? this.position(path);
  }

  /** Every key of `object` not in `known`, at the key's own position. */
  unknownKeys(object: Record<string, unknown>, known: readonly string[], path: string): void {
    for (const key of Object.keys(object)) {
      if (known.includes(key)) continue;
      const p = child(path, key);
      this.items.push({
        option: this.name(p, this.keyPosition(p)),
        received: object[key],
        expected: `one of the known keys${path === "" ? "" : ` of ${path}`}: ${known.join(", ")}`,
      });
    }
  }
}

/** The parent of a path: `rules[2].limit` → `rules[2]` → `rules` → ``; undefined above the root. */
export function parent(path: string): string | undefined {
  if (path === "") return undefined;
  const m = /(?:\.[^.[\]]+|\[\d+\]|^[^.[\]]+)$/.exec(path);
  return m === null ? "" : path.slice(0, m.index);
}

/** A plain object (a YAML map), not an array or null. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
