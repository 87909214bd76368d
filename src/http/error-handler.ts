import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import { describeValidationError } from './validation.js';

const send = (reply: FastifyReply, status: number, code: string, message: string, details?: unknown) =>
  reply.code(status).send({ error: details === undefined ? { code, message } : { code, message, details } });

/** Connection-level failures of the database: the request may succeed later, so 503. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === '57P01' || // admin_shutdown
    code === '57P03' || // cannot_connect_now
    code === '08006' ||
    code === '08003' ||
    code === 'SQLITE_BUSY' ||
    /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable/i.test(
      (err as Error).message ?? '',
    )
  );
}

/** nginx's lingering_time is 30 s; a body over the limit gets a tenth of that to finish arriving. */
const LINGER_MS = 3_000;

/**
 * Fastify answers 413 as soon as it knows a body is over the limit and asks for the connection
 * to close. Closing while the client is still sending makes the kernel reset the connection,
 * and a client that writes the whole body before it reads (Node's fetch) then fails with EPIPE
 * instead of reading the 413. So, like nginx's lingering close, the rest of the body is read and
 * thrown away, keeping the connection; a client still sending after LINGER_MS loses it.
 */
function drainRest(req: FastifyRequest, reply: FastifyReply): void {
  const raw = req.raw;
  if (raw.complete) return;
  reply.removeHeader('connection');
  const timer = setTimeout(() => raw.socket.destroy(), LINGER_MS);
  timer.unref();
  const done = () => clearTimeout(timer);
  raw.once('end', done);
  raw.once('close', done);
  raw.resume();
}

export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) return send(reply, err.status, err.code, err.message, err.details);
  if (err.validation) {
    const details = describeValidationError(err.validation as never, err.validationContext ?? 'body');
    return send(reply, 400, 'validation_failed', details[0]?.message ?? 'invalid request', details);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      drainRest(req, reply);
      return send(reply, 413, 'payload_too_large', 'the request body is over 1 MiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return send(reply, 415, 'unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return send(reply, 400, 'invalid_json', `the body is not valid JSON: ${err.message}`);
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return send(reply, 400, 'invalid_json', `the body is not valid JSON: ${err.message}`);
  }
  if (isDatabaseUnavailable(err)) {
    req.log.warn({ err }, 'database unavailable');
    reply.header('retry-after', '5');
    return send(reply, 503, 'unavailable', 'the database is not reachable right now; try again shortly');
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return send(reply, err.statusCode, 'bad_request', err.message);
  }
  req.log.error({ err }, 'unhandled error');
  return send(reply, 500, 'internal_error', 'something went wrong on our side; it has been logged');
}
