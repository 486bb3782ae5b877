import { apiKey, type Identity, ip, jwt } from "../http/index.js";
import { ConfigError } from "../index.js";
import { child } from "./document.js";
import { isRecord, type Located } from "./located.js";

/** The address settings of the file's top level, for `identity: ip` on a rule. */
export type AddressSettings = {
  readonly trustProxy?: unknown;
  readonly proxyHeader?: unknown;
  readonly ipv6Prefix?: unknown;
  readonly ipv4Prefix?: unknown;
};

export type IdentityContext = {
  readonly problems: Located;
  readonly identities: Readonly<Record<string, Identity>>;
  readonly address: AddressSettings;
};

const JWT_KEYS = [
  "type",
  "secret",
  "jwks",
  "algorithms",
  "issuer",
  "audience",
  "claim",
  "groupClaim",
  "header",
  "scheme",
  "clockTolerance",
  "fallback",
];
const API_KEY_KEYS = ["type", "header", "maxLength", "fallback"];
const IP_KEYS = ["type", "trustProxy", "header", "ipv6Prefix", "ipv4Prefix"];

function form(names: readonly string[]): string {
  const named = names.length === 0 ? "" : `, a name given in identities (${names.join(", ")})`;
  return `"ip"${named}, or { type: "jwt" | "apiKey" | "ip", ... }`;
}

/**
 * Builds an identity from its spec: "ip", a name from `identities`, or `{ type, ... }` for
 * jwt(), apiKey() and ip(). Undefined when invalid (problems added) or when it is the
 * limiter's default ("ip" at the top level).
 */
export function buildIdentity(
  spec: unknown,
  path: string,
  ctx: IdentityContext,
  topLevel: boolean,
): Identity | undefined {
  const { problems, identities } = ctx;
  if (typeof spec === "string") {
    if (Object.hasOwn(identities, spec)) return identities[spec];
    if (spec === "ip") return topLevel ? undefined : addressIdentity(ctx);
    problems.add(path, spec, form(Object.keys(identities)));
    return undefined;
  }
  if (!isRecord(spec)) {
    problems.add(path, spec, form(Object.keys(identities)));
    return undefined;
  }
  const fallback = (): Identity | undefined =>
    spec.fallback === undefined
      ? undefined
      : buildIdentity(spec.fallback, child(path, "fallback"), ctx, false);
  switch (spec.type) {
    case "jwt": {
      problems.unknownKeys(spec, JWT_KEYS, path);
      const { type: _t, fallback: _f, ...rest } = spec;
      const fb = fallback();
      return attempt(path, problems, "jwt", () =>
        jwt({ ...rest, ...(fb === undefined ? {} : { fallback: fb }) } as Parameters<
          typeof jwt
        >[0]),
      );
    }
    case "apiKey": {
      problems.unknownKeys(spec, API_KEY_KEYS, path);
      const fb = fallback();
      const header = spec.header ?? "x-api-key";
      return attempt(path, problems, "apiKey", () =>
        apiKey(header as string, {
          ...(spec.maxLength === undefined ? {} : { maxLength: spec.maxLength as number }),
          ...(fb === undefined ? {} : { fallback: fb }),
        }),
      );
    }
    case "ip": {
      problems.unknownKeys(spec, IP_KEYS, path);
      const { type: _t, ...rest } = spec;
      return attempt(path, problems, "ip", () =>
        ip({ ...rest, logger: false } as Parameters<typeof ip>[0]),
      );
    }
    default:
      problems.add(child(path, "type"), spec.type, '"jwt", "apiKey" or "ip"');
      return undefined;
  }
}

/** ip() with the file's top-level address settings (a rule's `identity: ip`). */
function addressIdentity(ctx: IdentityContext): Identity | undefined {
  const a = ctx.address;
  try {
    return ip({
      ...(a.trustProxy === undefined ? {} : { trustProxy: a.trustProxy as never }),
      ...(a.proxyHeader === undefined ? {} : { header: a.proxyHeader as never }),
      ...(a.ipv6Prefix === undefined ? {} : { ipv6Prefix: a.ipv6Prefix as number }),
      ...(a.ipv4Prefix === undefined ? {} : { ipv4Prefix: a.ipv4Prefix as number }),
      logger: false,
    });
  } catch (error) {
    // The top-level settings are invalid: the limiter's own check reports them where written.
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/** Runs an identity factory; its ConfigError problems are reported under `path`. */
function attempt(
  path: string,
  problems: Located,
  factory: string,
  build: () => Identity,
): Identity | undefined {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      // "jwt.secret" → "<path>.secret"; "apiKey(header)" → "<path>.header"; "jwt" → "<path>".
      const rest = p.option === `${factory}(header)` ? ".header" : p.option.slice(factory.length);
      problems.add(`${path}${rest}`, p.received, p.expected);
    }
    return undefined;
  }
}
