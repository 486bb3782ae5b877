import type * as Jose from "jose";
import { ConfigError, ProblemList } from "../../core/errors/config-error.js";
import { IdentityError } from "../identity-error.js";
import type { HttpRequest } from "../request.js";
import { namespacedKey } from "./namespaced-key.js";
import type { Identity, IdentityContext, IdentityResult } from "./types.js";

/** A JSON Web Key Set document ({ keys: [...] }), as served at a `jwks_uri`. */
export type JwksDocument = { readonly keys: readonly Record<string, unknown>[] };

/** Options of jwt(): exactly one of secret, jwks or key. */
export type JwtOptions = {
  /** Shared secret for HS256/384/512. Exactly one of secret, jwks and key. */
  secret?: string | Uint8Array;
  /** A JWKS URL (fetched and cached by jose), a JWKS document, or jose's key getter. */
  jwks?: string | URL | JwksDocument | Jose.JWTVerifyGetKey;
  /** A public key (CryptoKey, KeyObject or JWK) for asymmetric algorithms. */
  key?: Jose.CryptoKey | Jose.KeyObject | Jose.JWK;
  /**
   * Accepted `alg` values. Never "none": an unsigned token proves nothing.
   * @default HS256/384/512 with `secret`; RS, PS, ES and EdDSA otherwise
   */
  algorithms?: readonly string[];
  /** Required `iss`. @default undefined (not checked) */
  issuer?: string | readonly string[];
  /** Required `aud`. @default undefined (not checked) */
  audience?: string | readonly string[];
  /** Claim naming the user; the key becomes `user:<value>`. @default "sub" */
  claim?: string;
  /** Claim naming the group (a string, or the first string of an array). @default undefined */
  groupClaim?: string;
  /** Header carrying the token. @default "authorization" */
  header?: string;
  /** Auth scheme before the token in that header; "" when the header holds the bare token. @default "Bearer" */
  scheme?: string;
  /** Reads the token some other way (a cookie, a query parameter...); replaces header/scheme. */
  token?: (req: HttpRequest<never>) => string | undefined;
  /** Seconds of leeway on exp and nbf. @default 0 */
  clockTolerance?: number;
  /**
   * Identity for requests that carry no token at all (anonymous traffic by IP, say). A token
   * that is present but invalid is always an identity error.
   * @default undefined (a missing token is an identity error)
   */
  fallback?: Identity<never>;
};

const JWT_KEYS = [
  "secret",
  "jwks",
  "key",
  "algorithms",
  "issuer",
  "audience",
  "claim",
  "groupClaim",
  "header",
  "scheme",
  "token",
  "clockTolerance",
  "fallback",
] as const;
const HMAC = ["HS256", "HS384", "HS512"];
const ASYMMETRIC = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];
/** Longer tokens are refused before any crypto: verifying junk must stay cheap. */
const MAX_TOKEN = 8192;

let josePromise: Promise<typeof Jose> | undefined;

/** jose is an optional peer: imported on first use, so apps without jwt() never load it. */
function loadJose(): Promise<typeof Jose> {
  josePromise ??= import("jose");
  return josePromise;
}

/**
 * Identifies users by a JSON Web Token. The signature (and exp, nbf, iss, aud) is verified with
 * jose before any claim is read: an unverified claim is whatever the client wrote.
 *
 * @example
 * jwt({ secret: process.env.JWT_SECRET!, groupClaim: "plan" })
 * jwt({ jwks: "https://issuer.example/.well-known/jwks.json", issuer: "https://issuer.example/" })
 */
export function jwt(options: JwtOptions): Identity<unknown> {
  const problems = new ProblemList();
  if (typeof options !== "object" || options === null) {
    throw new ConfigError([
      { option: "jwt", received: options, expected: "an object { secret | jwks | key, ... }" },
    ]);
  }
  const o = options as Record<string, unknown>;
  problems.unknownKeys(o, JWT_KEYS, "jwt");
  const sources = ["secret", "jwks", "key"].filter((k) => o[k] !== undefined);
  if (sources.length !== 1) {
    problems.add(
      "jwt",
      sources.length === 0 ? "no key" : sources.join(" + "),
      "exactly one of secret, jwks or key",
    );
  }
  if (
    o.secret !== undefined &&
    !(typeof o.secret === "string" ? o.secret.length >= 1 : o.secret instanceof Uint8Array)
  ) {
    problems.add("jwt.secret", o.secret, "a non-empty string or a Uint8Array");
  }
  if (
    o.jwks !== undefined &&
    typeof o.jwks !== "function" &&
    !(o.jwks instanceof URL) &&
    !(typeof o.jwks === "string" && URL.canParse(o.jwks)) &&
    !(typeof o.jwks === "object" && o.jwks !== null && Array.isArray((o.jwks as JwksDocument).keys))
  ) {
    problems.add(
      "jwt.jwks",
      o.jwks,
      "a JWKS URL, a { keys: [...] } document, or a key getter function",
    );
  }
  const algorithms = options.algorithms ?? (options.secret !== undefined ? HMAC : ASYMMETRIC);
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a) => typeof a === "string" && a !== "" && a.toLowerCase() !== "none")
  ) {
    problems.add(
      "jwt.algorithms",
      options.algorithms,
      'a non-empty array of JWS algorithms, never "none"',
    );
  }
  for (const name of ["claim", "groupClaim", "header"] as const) {
    const v = o[name];
    if (v !== undefined && (typeof v !== "string" || v === ""))
      problems.add(`jwt.${name}`, v, "a non-empty string");
  }
  if (o.scheme !== undefined && (typeof o.scheme !== "string" || /\s/.test(o.scheme))) {
    problems.add("jwt.scheme", o.scheme, 'an auth scheme such as "Bearer", or ""');
  }
  for (const name of ["token", "fallback"] as const) {
    if (o[name] !== undefined && typeof o[name] !== "function")
      problems.add(`jwt.${name}`, o[name], "a function");
  }
  if (
    o.clockTolerance !== undefined &&
    !(
      typeof o.clockTolerance === "number" &&
      Number.isFinite(o.clockTolerance) &&
      o.clockTolerance >= 0
    )
  ) {
    problems.add("jwt.clockTolerance", o.clockTolerance, "a number of seconds ≥ 0");
  }
  problems.throwIfAny();

  const claim = options.claim ?? "sub";
  const groupClaim = options.groupClaim;
  const headerName = (options.header ?? "authorization").toLowerCase();
  const scheme = (options.scheme ?? "Bearer").toLowerCase();
  const readToken =
    options.token ?? ((req: HttpRequest<never>) => bearer(req.header(headerName), scheme));
  const fallback = options.fallback;
  const verifyOptions: Jose.JWTVerifyOptions = {
    algorithms: [...algorithms],
    ...(options.issuer !== undefined ? { issuer: options.issuer as string | string[] } : {}),
    ...(options.audience !== undefined ? { audience: options.audience as string | string[] } : {}),
    ...(options.clockTolerance !== undefined ? { clockTolerance: options.clockTolerance } : {}),
  };
  let keyPromise:
    | Promise<Jose.JWTVerifyGetKey | Jose.CryptoKey | Jose.KeyObject | Jose.JWK | Uint8Array>
    | undefined;
  const loadKey = () => {
    keyPromise ??= loadJose().then(
      (jose) => {
        if (options.secret !== undefined) {
          return typeof options.secret === "string"
            ? new TextEncoder().encode(options.secret)
            : options.secret;
        }
        if (options.key !== undefined) return options.key;
        const jwks = options.jwks!;
        if (typeof jwks === "function") return jwks;
        if (typeof jwks === "string" || jwks instanceof URL)
          return jose.createRemoteJWKSet(new URL(jwks));
        return jose.createLocalJWKSet(jwks as Jose.JSONWebKeySet);
      },
      (cause: unknown) => {
        throw new ConfigError([
          {
            option: "jwt",
            received: `jose could not be loaded (${String(cause)})`,
            expected: "the optional peer dependency jose installed: npm install jose",
          },
        ]);
      },
    );
    return keyPromise;
  };

  const keyOf = namespacedKey("user:");
  return async (req: HttpRequest<unknown>, context: IdentityContext): Promise<IdentityResult> => {
    const token = readToken(req as HttpRequest<never>);
    if (token === undefined || token === "") {
      if (fallback !== undefined) return fallback(req as HttpRequest<never>, context);
      throw new IdentityError("The request carries no token.", { challenge: "Bearer" });
    }
    if (token.length > MAX_TOKEN) {
      throw new IdentityError("The token is too long.", {
        challenge: 'Bearer error="invalid_token"',
      });
    }
    const [jose, k] = await Promise.all([loadJose(), loadKey()]);
    let payload: Jose.JWTPayload;
    try {
      const result = await jose.jwtVerify(token, k as Uint8Array, {
        ...verifyOptions,
        currentDate: new Date(context.now()),
      });
      payload = result.payload;
    } catch (cause) {
      // RFC 6750 §3.1: invalid_token covers bad signatures, expiry and malformed tokens alike;
      // telling them apart would help forgers more than clients.
      throw new IdentityError("The token is not valid.", {
        cause,
        challenge: 'Bearer error="invalid_token"',
      });
    }
    const user = payload[claim];
    if (typeof user !== "string" && typeof user !== "number") {
      throw new IdentityError(`The token has no "${claim}" claim.`, {
        challenge: 'Bearer error="invalid_token"',
      });
    }
    const userKey = keyOf(String(user));
    if (groupClaim === undefined) return userKey;
    const raw = payload[groupClaim];
    const group =
      typeof raw === "string"
        ? raw
        : Array.isArray(raw)
          ? raw.find((g) => typeof g === "string")
          : undefined;
    return group === undefined ? userKey : { key: userKey, group };
  };
}

/** The credentials after `<scheme> ` in an Authorization-style header (scheme case-insensitive, RFC 9110 §11.1). */
function bearer(value: string | undefined, scheme: string): string | undefined {
  if (value === undefined) return undefined;
  if (scheme === "") return value.trim();
  if (value.length <= scheme.length || value[scheme.length] !== " ") return undefined;
  if (value.slice(0, scheme.length).toLowerCase() !== scheme) return undefined;
  return value.slice(scheme.length + 1).trim();
}
