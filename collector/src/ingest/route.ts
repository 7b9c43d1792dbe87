import { Ajv } from 'ajv'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import compress from '@fastify/compress'
import { BadEncoding, InvalidJson, UnsupportedMediaType } from '../errors.js'
import type { Accept } from './accept.js'
import { envelopeSchema, type Envelope } from './wire.js'

const acceptedSchema = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    rejected: { type: 'integer' },
    duplicate: { type: 'boolean' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const

const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
  try {
    done(null, JSON.parse(body))
  } catch (err) {
    done(new InvalidJson((err as Error).message))
  }
}

// Fastify's default validator coerces types (7 becomes "7"); the wire format is strict instead.
export const strictAjv = new Ajv({ coerceTypes: false, allErrors: false, strict: false })

/**
 * Content-Encoding: gzip (or deflate, br) bodies are decoded before parsing, in the plugin that
 * calls this; the body limit applies to the decoded bytes, so a gzip bomb is a 413.
 */
export const decodeBodies = (app: FastifyInstance) =>
  app.register(compress, {
    globalCompression: false,
    requestEncodings: ['gzip', 'deflate', 'br'],
    onUnsupportedRequestEncoding: (_req, encoding) => new UnsupportedMediaType(`Content-Encoding ${encoding}`),
    onInvalidRequestPayload: (_req, encoding, error) => new BadEncoding(`${encoding}: ${error.message}`),
  })

/**
 * POST /v1/ingest: cheap checks at the door (JSON, envelope), then `accept`. Beacons send
 * `text/plain` (no CORS preflight), so it is parsed as JSON too.
 */
export const ingestRoutes = (accept: Accept) => async (app: FastifyInstance) => {
  app.setValidatorCompiler(({ schema }) => strictAjv.compile(schema))
  await decodeBodies(app)
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, parseJson)

  // Agents post from any page origin; the key, not the origin, says which project it is.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', 'retry-after')
  })

  app.options('/v1/ingest', async (_req, reply) => {
    reply
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type, x-vigil-key')
      .header('access-control-max-age', '86400')
      .code(204)
      .send()
  })

  app.post<{ Body: Envelope }>(
    '/v1/ingest',
    { schema: { body: envelopeSchema, response: { 202: acceptedSchema } } },
    async (req, reply) => {
      const header = req.headers['x-vigil-key']
      const result = await accept(req.body, {
        key: typeof header === 'string' ? header : undefined,
        userAgent: req.headers['user-agent'] ?? '',
        origin: req.headers.origin,
        req: req.raw,
      })
      return reply.code(202).send(result)
    },
  )
}
