import { BoundedMemo, type PolicySet, UNLIMITED, type Unlimited } from "../../http/index.js";
import {
  ConfigError,
  createLimiter,
  type Limiter,
  type ProblemList,
  SILENT_EVENTS,
  type Store,
} from "../../index.js";

/**
 * Policies per event name, first match wins: `{ "chat:*": "5/s", "*": "50/s" }`. A name is an
 * exact event name or a glob where `*` stands for any run of characters (`":"` included).
 * `UNLIMITED` leaves the matching events alone; events no entry matches are not limited.
 */
export type EventPolicies = Readonly<Record<string, PolicySet | Unlimited>>;

/** Event names seen per table before the memo starts over: clients choose the names. */
const MEMO_SIZE = 1024;
const NONE = -1;

/** A matching entry: its limiter and the rule name its decisions are reported under. */
export type EventRule = { readonly limiter: Limiter; readonly rule: string };

/** One table of event rules compiled: a matcher per entry and one limiter per entry. */
export class EventRules {
  private readonly matchers: ((event: string) => boolean)[] = [];
  /** The limiter of each entry; undefined for UNLIMITED entries. */
  readonly limiters: (Limiter | undefined)[] = [];
  /**
   * Each entry's limiter with its rule name, `socket.io:<option>:<name or glob>` (bounded: the
   * table is the server's, never a client's).
   */
  private readonly rules: (EventRule | undefined)[] = [];
  private readonly memo = new BoundedMemo<string, number>(MEMO_SIZE);

  constructor(
    option: string,
    table: unknown,
    store: Store,
    prefix: string,
    clock: (() => number) | undefined,
    problems: ProblemList,
  ) {
    if (typeof table !== "object" || table === null || Array.isArray(table)) {
      problems.add(option, table, '{ "<event name or glob>": policies }, e.g. { "chat:*": "5/s" }');
      return;
    }
    Object.entries(table).forEach(([name, policies], i) => {
      const where = `${option}[${JSON.stringify(name)}]`;
      if (name === "" || name.length > 256) {
        problems.add(where, name, "an event name or glob of 1 to 256 characters");
        return;
      }
      this.matchers.push(globMatcher(name));
      if (policies === UNLIMITED) {
        this.limiters.push(undefined);
        this.rules.push(undefined);
        return;
      }
      try {
        const options = {
          policies: policies as PolicySet,
          store,
          prefix: `${prefix}:${i}`,
          // The adapter reports each decision (SILENT_EVENTS).
          events: SILENT_EVENTS,
        };
        const limiter = createLimiter(clock === undefined ? options : { ...options, clock });
        this.limiters.push(limiter);
        this.rules.push({ limiter, rule: `socket.io:${option}:${name}` });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const p of error.problems) problems.add(where, p.received, p.expected);
        this.limiters.push(undefined);
        this.rules.push(undefined);
      }
    });
  }

  /** The first entry matching `event` (its limiter and rule name), or undefined (not limited). */
  find(event: string): EventRule | undefined {
    let i = this.memo.get(event);
    if (i === undefined) {
      i = this.matchers.findIndex((m) => m(event));
      this.memo.remember(event, i);
    }
    return i === NONE ? undefined : this.rules[i];
  }

  /** The limiter of the first entry matching `event`, or undefined (not limited). */
  match(event: string): Limiter | undefined {
    return this.find(event)?.limiter;
  }

  get empty(): boolean {
    return this.matchers.length === 0;
  }
}

function globMatcher(glob: string): (event: string) => boolean {
  if (glob === "*") return () => true;
  if (!glob.includes("*")) return (event) => event === glob;
  return (event) => globMatch(glob, event);
}

/**
 * `*` matches any run of characters. The usual two-pointer walk that backtracks only to the
 * last star: O(glob × event) at worst, never exponential, since clients choose event names.
 */
function globMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (g < glob.length && glob.charCodeAt(g) !== 42 && glob.charCodeAt(g) === text.charCodeAt(t)) {
      g++;
      t++;
    } else if (g < glob.length && glob.charCodeAt(g) === 42) {
      star = g++;
      mark = t;
    } else if (star !== -1) {
      g = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob.charCodeAt(g) === 42) g++;
  return g === glob.length;
}
