import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Request bodies the dashboard accepts: a token or a list entry, never more. */
export const MAX_BODY = 8 * 1024;

/** A fresh nonce for one response's Content-Security-Policy. */
export function newNonce(): string {
  return randomBytes(16).toString("base64");
}

/**
 * Headers on every answer: nothing cached (the page holds a CSRF token, the API live data), no
 * framing (clickjacking the list form), no sniffing, no referrer to other sites (the URL may
 * hold ?token= on the first visit; "no-referrer" would make browsers send `Origin: null` on
 * our own form posts, which the origin check refuses), and a CSP that lets only this response's inline script and style run and
 * only this origin be fetched.
 */
export function securityHeaders(res: ServerResponse, nonce?: string): void {
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "same-origin");
  res.setHeader("Cross-Origin-Opener-Policy", "same-origin");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  const inline = nonce === undefined ? "'none'" : `'nonce-${nonce}'`;
  res.setHeader(
    "Content-Security-Policy",
    `default-src 'self'; script-src ${inline}; style-src ${inline}; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'`,
  );
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  securityHeaders(res);
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** An RFC 9457 problem answer. */
export function sendProblem(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  securityHeaders(res);
  const text = JSON.stringify({ type: "about:blank", title, status, detail, ...extra });
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/problem+json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  nonce: string,
  headers: Record<string, string | string[]> = {},
): void {
  securityHeaders(res, nonce);
  res.writeHead(status, {
    ...headers,
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": Buffer.byteLength(html),
  });
  res.end(res.req?.method === "HEAD" ? undefined : html);
}

/**
 * The request body as text, at most MAX_BODY bytes. A body a framework already parsed
 * (express.json(), express.urlencoded(), Fastify) is taken as it is: the stream is then spent.
 */
export function readBody(req: IncomingMessage): Promise<string | object | undefined> {
  const parsed = (req as { body?: unknown }).body;
  if (parsed !== undefined && (req.readableEnded || typeof parsed === "object")) {
    if (typeof parsed === "string" || (typeof parsed === "object" && parsed !== null))
      return Promise.resolve(Buffer.isBuffer(parsed) ? parsed.toString("utf8") : parsed);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new RangeError("body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
