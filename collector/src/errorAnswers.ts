import type { FastifyInstance } from 'fastify'
import { answerBody, errorHandler, NotFound, toAnswer } from './errors.js'

/**
 * Every error answered as a named, coded error with its status. Set on the root before any
 * plugin is registered: each inherits it, and an intake that counts its refusals (ingest,
 * source-map uploads) sets its own.
 */
export const answerErrors = (app: FastifyInstance) => {
  app.setErrorHandler(errorHandler())
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(answerBody(toAnswer(new NotFound(`No route ${req.method} ${req.url}`))))
  })
}
