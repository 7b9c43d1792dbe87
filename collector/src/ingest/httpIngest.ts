import type { FastifyInstance } from 'fastify'
import { errorHandler } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Accept } from './accept.js'
import { refuse } from './refusals.js'
import { ingestRoutes } from './route.js'

export type HttpIngestDeps = { accept: Accept; metrics: Metrics }

/**
 * The ingest over HTTP, encapsulated (no fastify-plugin): its routes, and an error handler of its
 * own that refuses every error on them the one way WebSocket ingest does too (refusals.ts). Fastify's
 * own refusals on these routes (body too large, media type, validation) come here as well: they
 * are raised once the route is known, and go to the error handler of the route's plugin.
 */
export const httpIngest = (deps: HttpIngestDeps) => async (app: FastifyInstance) => {
  app.setErrorHandler(errorHandler((err, req) => refuse(deps.metrics, err, req.body)))
  await app.register(ingestRoutes(deps.accept))
}
