/**
 * A small parser of the Prometheus text exposition format (version 0.0.4), enough to read what
 * prom-client's `registry.metrics()` writes: `# TYPE` lines and samples
 * `name{label="value",...} number`, label values with \\, \" and \n escapes.
 */
export type Sample = {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
};

export type Exposition = {
  readonly samples: readonly Sample[];
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
};

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (m !== null) types.set(m[1]!, m[2]!);
      continue;
    }
    samples.push(parseSample(line));
  }
  return { samples, types };
}

function parseSample(line: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (name === undefined) throw new Error(`not a sample: ${line}`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const eq = line.indexOf("=", i);
      const label = line.slice(i, eq);
      if (line[eq + 1] !== '"') throw new Error(`unquoted label value: ${line}`);
      let j = eq + 2;
      let value = "";
      while (line[j] !== '"') {
        if (j >= line.length) throw new Error(`unterminated label value: ${line}`);
        if (line[j] === "\\") {
          const next = line[j + 1];
          value += next === "n" ? "\n" : next;
          j += 2;
        } else value += line[j++];
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ",") i++;
    }
    i++;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  // Prometheus parses values as Go's ParseFloat does: NaN and Inf in any case (prom-client
  // writes "Nan" for a gauge not measured yet).
  const raw = rest[0]!.toLowerCase();
  const value =
    raw === "+inf" || raw === "inf" ? Infinity : raw === "-inf" ? -Infinity : Number(raw);
  if (Number.isNaN(value) && raw !== "nan") throw new Error(`bad value: ${line}`);
  return { name, labels, value };
}

/** The value of the one sample of `name` whose labels include `labels`; 0 when there is none. */
export function sampleValue(
  e: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const found = e.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length > 1)
    throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value ?? 0;
}

/** Every sample of `name`. */
export function series(e: Exposition, name: string): Sample[] {
  return e.samples.filter((s) => s.name === name);
}
