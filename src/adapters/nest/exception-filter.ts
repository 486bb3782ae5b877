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
 * Sends the guard's answers (429, 503, 403, 401, or your callbacks') exactly as throttlekit/http
 * produced them: problem bodies as `application/problem+json` (RFC 9457 §3), a callback's body
 * with its own type. Nest's default filter sends a JSON body as `application/json` (its Express
 * adapter rewrites any other content type of an error body), with the same fields, and a text
 * body as `{ statusCode, message }`. Install it with `{ provide: APP_FILTER, useClass:
 * ThrottlekitExceptionFilter }`; it catches ThrottlekitException only.
 */
export class ThrottlekitExceptionFilter implements ExceptionFilter<ThrottlekitException> {
  catch(exception: ThrottlekitException, host: ArgumentsHost): void {
    const { status, headers, body } = exception.answer;
    const type = headers["Content-Type"] ?? PROBLEM_CONTENT_TYPE;
    const res = host.switchToHttp().getResponse<ExpressLike | FastifyLike>();
    if (typeof (res as FastifyLike).code === "function") {
      (res as FastifyLike)
        .code(status)
        .header("Content-Type", type)
        .send(body ?? "");
      return;
    }
    const r = res as ExpressLike;
    r.statusCode = status;
    r.setHeader("Content-Type", type);
    r.end(body ?? "");
  }
}

Catch(ThrottlekitException)(ThrottlekitExceptionFilter);
