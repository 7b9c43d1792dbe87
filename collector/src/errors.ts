import { STATUS_CODES } from 'node:http'
import createError from '@fastify/error'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

/**
 * Every refusal the API makes, by name. The status and the `code` are part of the API: clients
 * and operators key on them. Bodies look like `{ statusCode, code, error, message }`.
 */
export const InvalidJson = createError('VIGIL_INVALID_JSON', 'Body is not valid JSON: %s', 400)
export const InvalidBatch = createError('VIGIL_INVALID_BATCH', 'Batch does not match the wire format: %s', 400)
export const InvalidEnvelope = createError('VIGIL_INVALID_ENVELOPE', 'Nothing in it could be read: %s', 400)
export const NoValidEvents = createError('VIGIL_NO_VALID_EVENTS', 'No event in the batch is valid: %s', 400)
export const MissingKey = createError('VIGIL_MISSING_KEY', 'No ingest key: send it as "k" in the batch or the x-vigil-key header', 401)
export const UnknownKey = createError('VIGIL_UNKNOWN_KEY', 'Unknown ingest key', 403)
export const NotFound = createError('VIGIL_NOT_FOUND', '%s', 404)
export const BodyTooLarge = createError('VIGIL_BODY_TOO_LARGE', 'Body is larger than %s bytes', 413)
export const UnsupportedMediaType = createError('VIGIL_UNSUPPORTED_MEDIA_TYPE', 'Send application/json or text/plain, not %s', 415)
export const StoreUnavailable = createError('VIGIL_STORE_UNAVAILABLE', 'Storage is unavailable, retry later', 503)
export const AgentNotBuilt = createError('VIGIL_AGENT_NOT_BUILT', 'The agent is not built: run `npm run build`', 503)
export const OriginNotAllowed = createError('VIGIL_ORIGIN_NOT_ALLOWED', 'Origin %s may not send to this project', 403)
export const RateLimited = createError('VIGIL_RATE_LIMITED', 'Over the rate limit of this key: retry after the time in Retry-After', 429)
export const TooDeep = createError('VIGIL_TOO_DEEP', 'Batch is nested deeper than %s levels', 400)
export const SpoolFull = createError('VIGIL_SPOOL_FULL', 'The collector is holding all it can until storage catches up: retry after the time in Retry-After', 503)
export const BadEncoding = createError('VIGIL_BAD_ENCODING', 'Body could not be decoded: %s', 400)
export const AdminOnly = createError('VIGIL_ADMIN_REQUIRED', 'This needs the admin token (Authorization: Bearer …), or a request from this machine when no token is set', 403)
export const BadRequest = createError('VIGIL_BAD_REQUEST', '%s', 400)
export const UploadForbidden = createError('VIGIL_UPLOAD_FORBIDDEN', "Uploading source maps needs the project's upload token or the admin token (Authorization: Bearer …)", 403)
export const InvalidSourceMapError = createError('VIGIL_INVALID_SOURCEMAP', 'Not a source map: %s', 400)
export const SourceMapNoFile = createError('VIGIL_SOURCEMAP_NO_FILE', 'Which file does this map belong to? Give its URL path as ?url=/assets/app-1a2b3c.js (or a "file" in the map)', 400)
export const TooManySourceMaps = createError('VIGIL_TOO_MANY_SOURCEMAPS', 'Release %s has %s source maps already, the most one release may have', 409)
export const CrossSite = createError(
  'VIGIL_CROSS_SITE',
  'A request from a page of another site (%s) may not use the dashboard, its APIs or the admin APIs; list its origin in VIGIL_ALLOWED_ORIGINS to let it',
  403,
)
export const HostNotAllowed = createError(
  'VIGIL_HOST_NOT_ALLOWED',
  'This collector does not answer the dashboard and its APIs as %s: use localhost, an IP address or the host of VIGIL_PUBLIC_URL, or list the name in VIGIL_ALLOWED_HOSTS',
  403,
)
export const LoginFormStale = createError('VIGIL_LOGIN_FORM_STALE', 'The login form was not one this collector gave out, or it has expired: log in again', 403)
export const LoginRequired = createError('VIGIL_LOGIN_REQUIRED', 'Reading needs the admin token: Authorization: Bearer …, or log in at /login', 401)

/** Seconds a client should wait before retrying; sent as Retry-After. */
export const withRetryAfter = <E extends Error>(err: E, seconds: number): E & { retryAfter: number } =>
  Object.assign(err, { retryAfter: Math.max(1, Math.ceil(seconds)) })

/**
 * What a client is told about any error: our coded errors as they are, anything else as a 500
 * with no detail (`internal` says to log it). Fastify's own 4xx codes pass through.
 */
export const toAnswer = (err: { statusCode?: number; code?: string; message: string; retryAfter?: number }) => {
  const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
  const ours = typeof err.code === 'string' && err.code.startsWith('VIGIL_')
  const code = ours ? err.code! : status < 500 && err.code?.startsWith('FST_') ? err.code : 'VIGIL_INTERNAL'
  return {
    status,
    code,
    message: status >= 500 && !ours ? 'Internal error' : err.message,
    retryAfter: err.retryAfter ?? (code === 'VIGIL_STORE_UNAVAILABLE' ? 5 : undefined),
    internal: status >= 500 && !ours,
  }
}
export type Answer = ReturnType<typeof toAnswer>

/** The JSON body of an error answer, HTTP's or a refused WebSocket upgrade's. */
export const answerBody = (a: { status: number; code: string; message: string }) => ({
  statusCode: a.status,
  code: a.code,
  error: STATUS_CODES[a.status] ?? 'Error',
  message: a.message,
})

/** Maps Fastify's own refusals (body too large, bad media type, validation, …) onto our named, coded errors. */
export const asApiError = (err: FastifyError, req: FastifyRequest): FastifyError => {
  if (err.code?.startsWith('VIGIL_')) return err
  if (err.validation) return new InvalidBatch(err.message)
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLarge(String(req.routeOptions.bodyLimit))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(req.headers['content-type'] || 'no content type')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidJson(err.message)
  }
  return err
}

/**
 * An error handler that answers every error the same way: `answerOf` makes the answer from our
 * coded error (a plugin that counts its refusals counts them there), an internal one is logged.
 */
export const errorHandler =
  (answerOf: (err: FastifyError, req: FastifyRequest) => Answer = toAnswer) =>
  (error: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const a = answerOf(asApiError(error, req), req)
    if (a.internal) req.log.error({ err: error }, 'request failed')
    if (a.retryAfter) reply.header('retry-after', String(a.retryAfter))
    reply.code(a.status).send(answerBody(a))
  }
