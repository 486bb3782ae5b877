/**
 * `${NAME}` and `${NAME:-default}` in string values, as docker compose and the shell read them:
 * the default applies when the variable is unset or empty; `$${` writes a literal `${`.
 */

/** The result of interpolating one string: the text, or why it cannot be built. */
export type Interpolated =
  | { readonly ok: true; readonly text: string; readonly whole: boolean }
  | { readonly ok: false; readonly expected: string; readonly received: string };

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces every reference in `text`. `whole` is true when the text was exactly one reference:
 * such a value takes the type its text reads as (`limit: ${LIMIT}` is a number).
 */
export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
): Interpolated {
  if (!text.includes("${")) return { ok: true, text, whole: false };
  let out = "";
  let last = 0;
  let refs = 0;
  let whole = false;
  for (const m of text.matchAll(REFERENCE)) {
    out += text.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[0] === "$${") {
      out += "${";
      continue;
    }
    if (m[1] === undefined) {
      return { ok: false, received: text, expected: `a reference closed by }: \${NAME}` };
    }
    const body = m[1];
    const cut = body.indexOf(":-");
    const name = cut < 0 ? body : body.slice(0, cut);
    if (!NAME.test(name)) {
      return {
        ok: false,
        received: text,
        expected: `\${NAME} or \${NAME:-default}, NAME of letters, digits and _ (got "${name}")`,
      };
    }
    const value = env[name];
    refs++;
    if (value !== undefined && (value !== "" || cut < 0)) out += value;
    else if (cut >= 0) out += body.slice(cut + 2);
    else {
      return {
        ok: false,
        received: text,
        expected: `the environment variable ${name} to be set (or a default: \${${name}:-value})`,
      };
    }
    whole = refs === 1 && m.index === 0 && last === text.length;
  }
  out += text.slice(last);
  return { ok: true, text: out, whole };
}
