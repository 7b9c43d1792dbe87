import type { FastifyError, FastifyInstance } from 'fastify'
import { answerBody, BodyTooLarge, InvalidBatch, InvalidJson, NotFound, toAnswer, UnsupportedMediaType } from './errors.js'
import { countRefusal } from './ingest/accept.js'
import { MAX_BODY_BYTES } from './ingest/wire.js'
import type { Metrics } from './metrics.js'

/** Maps Fastify's own refusals onto our named, coded errors. */
const asApiError = (err: FastifyError, contentType: string, bodyLimit: number): FastifyError => {
  if (err.code?.startsWith('VIGIL_')) return err
  if (err.validation) return new InvalidBatch(err.message)
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLarge(String(bodyLimit))
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new UnsupportedMediaType(contentType || 'no content type')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidJson(err.message)
  }
  return err
}

/**
 * Every error answered as a named, coded error with its status, and counted where it is an
 * intake's refusal. Set on the root before any plugin is registered: each inherits it.
 */
export const answerErrors = (app: FastifyInstance, metrics: Metrics) => {
  app.setErrorHandler((error: FastifyError & { retryAfter?: number }, req, reply) => {
    const a = toAnswer(asApiError(error, req.headers['content-type'] ?? '', req.routeOptions.bodyLimit ?? MAX_BODY_BYTES))
    if (a.internal) req.log.error({ err: error }, 'request failed')
    if (req.url.startsWith('/v1/ingest')) countRefusal(metrics, a.code, req.body, error)
    else if (req.method === 'POST' && req.url.startsWith('/v1/sourcemaps')) metrics.sourceMapUploads.inc({ result: a.code })
    if (a.retryAfter) reply.header('retry-after', String(a.retryAfter))
    reply.code(a.status).send(answerBody(a))
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(answerBody(toAnswer(new NotFound(`No route ${req.method} ${req.url}`))))
  })
}
