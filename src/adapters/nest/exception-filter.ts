import { type ArgumentsHost, Catch, type ExceptionFilter } from "@nestjs/common";
import { PROBLEM_CONTENT_TYPE } from "../../http/index.js";
import { ThrottlekitException } from "./throttlekit-exception.js";

type ExpressLike = {
  statusCode: number;
  setHeader(name: string, value: string): void;
  end(body: string): void;
};
type FastifyLike = {
  code(status: number): FastifyLike;
  header(name: string, value: string): FastifyLike;
  send(body: string): void;
};

/**
 * Sends the guard's 429 (or 503 when a store outage refused the request) as `application/problem+json` (RFC 9457 §3). Nest's default filter
 * sends it as `application/json` (Nest's Express adapter rewrites any other content type of an
 * error body), with the same fields. Install it with `{ provide: APP_FILTER, useClass:
 * ThrottlekitExceptionFilter }`; it catches ThrottlekitException only.
 */
export class ThrottlekitExceptionFilter implements ExceptionFilter<ThrottlekitException> {
  catch(exception: ThrottlekitException, host: ArgumentsHost): void {
    const body = JSON.stringify(exception.getResponse());
    const res = host.switchToHttp().getResponse<ExpressLike | FastifyLike>();
    if (typeof (res as FastifyLike).code === "function") {
      (res as FastifyLike)
        .code(exception.getStatus())
        .header("Content-Type", PROBLEM_CONTENT_TYPE)
        .send(body);
      return;
    }
    const r = res as ExpressLike;
    r.statusCode = exception.getStatus();
    r.setHeader("Content-Type", PROBLEM_CONTENT_TYPE);
    r.end(body);
  }
}

Catch(ThrottlekitException)(ThrottlekitExceptionFilter);
