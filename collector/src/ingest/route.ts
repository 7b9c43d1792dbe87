import { Ajv } from 'ajv'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { InvalidJson, MissingKey, NoValidEvents, StoreUnavailable, UnknownKey } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { normalise } from './normalise.js'
import type { SeenBatches } from './seen.js'
import { envelopeSchema, type Envelope } from './wire.js'
import type { Writer } from './writer.js'

export type IngestDeps = {
  /** Ingest key → project id. */
  projectForKey: (key: string) => string | undefined
  writer: Writer
  seen: SeenBatches
  metrics: Metrics
}

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

/**
 * POST /v1/ingest: cheap checks at the door (JSON, envelope, key), then each event on its own;
 * the valid ones are stored before the 202. Beacons send `text/plain` (no CORS preflight), so it
 * is parsed as JSON too.
 */
// Fastify's default validator coerces types (7 becomes "7"); the wire format is strict instead.
const strict = new Ajv({ coerceTypes: false, allErrors: false, strict: false })

export const ingestRoutes = (deps: IngestDeps) => async (app: FastifyInstance) => {
  app.setValidatorCompiler(({ schema }) => strict.compile(schema))
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, parseJson)

  // Agents post from any page origin; the key, not the origin, says which project it is.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*')
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
      const batch = req.body
      const header = req.headers['x-vigil-key']
      const key = batch.k ?? (typeof header === 'string' ? header : undefined)
      if (!key) throw new MissingKey()
      const project = deps.projectForKey(key)
      if (!project) throw new UnknownKey()

      const seenKey = batch.id ? `${project}\u0000${batch.id}` : undefined
      if (seenKey && deps.seen.has(seenKey)) {
        deps.metrics.batchesDuplicate.inc()
        return reply.code(202).send({ accepted: 0, rejected: 0, duplicate: true })
      }

      const { rows, rejected } = normalise(batch, {
        project,
        received: Date.now(),
        userAgent: req.headers['user-agent'] ?? '',
      })
      for (const r of rejected) deps.metrics.eventsRefused.inc({ reason: r.code })
      if (rows.length === 0) {
        const first = rejected[0]
        throw new NoValidEvents(first ? `event ${first.index}: ${first.code}: ${first.message}` : 'empty')
      }

      // Marked before the write, so a copy arriving while this one is stored is recognised too.
      if (seenKey) deps.seen.add(seenKey)
      const stop = deps.metrics.insertSeconds.startTimer()
      try {
        await deps.writer.write(rows)
      } catch (err) {
        if (seenKey) deps.seen.remove(seenKey)
        req.log.error({ err }, 'storing events failed')
        deps.metrics.eventsRefused.inc({ reason: 'store_unavailable' }, rows.length)
        reply.header('retry-after', '5')
        throw new StoreUnavailable()
      } finally {
        stop()
      }
      for (const row of rows) deps.metrics.eventsAccepted.inc({ kind: row.kind })
      return reply.code(202).send({
        accepted: rows.length,
        rejected: rejected.length,
        ...(rejected.length > 0 ? { errors: rejected } : {}),
      })
    },
  )
}
