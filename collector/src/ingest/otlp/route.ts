/**
 * OpenTelemetry's exporters (OTLP/HTTP with JSON): `POST /v1/traces` and `POST /v1/logs`, the key in
 * `x-vigil-key`, `Authorization: Bearer …` or `?key=`. What they say becomes events of our wire
 * format (translate.ts) and goes through the same `accept` as `/v1/ingest`. Answers as the OTLP
 * specification says: 200 with a partial success naming what was refused; 429 and 503 with
 * Retry-After, which exporters retry; other 4xx, which they do not. Protobuf is not taken (415).
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidEnvelope, InvalidJson } from '../../errors.js'
import type { Metrics } from '../../metrics.js'
import type { ProjectRegistry } from '../../projects.js'
import { projectOf, type Accept } from '../accept.js'
import { clientIntake, preflight } from '../clients.js'
import { decodeBodies } from '../route.js'
import { translateLogs, translateTraces } from './translate.js'

export type OtlpDeps = { accept: Accept; metrics: Metrics; projects: ProjectRegistry }

const keyOf = (req: FastifyRequest): string | undefined => {
  const h = req.headers['x-vigil-key']
  if (typeof h === 'string' && h) return h
  const bearer = /^\s*bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')
  if (bearer) return bearer[1]
  const q = (req.query as Record<string, unknown>).key
  return typeof q === 'string' && q ? q : undefined
}

const SIGNALS = [
  ['/v1/traces', translateTraces, 'rejectedSpans'],
  ['/v1/logs', translateLogs, 'rejectedLogRecords'],
] as const

export const otlpRoutes = (deps: OtlpDeps) => async (app: FastifyInstance) => {
  const intake = clientIntake(app, deps, { intake: 'otlp', expose: 'retry-after', typeLabel: (type) => (type === 'span' || type === 'log' ? type : 'other'), retries: true })
  await decodeBodies(app)
  app.removeAllContentTypeParsers()
  // Bytes: their hash names the export, so one retried is stored once.
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  for (const [path, translate, rejected] of SIGNALS) {
    app.options(path, preflight('content-type, content-encoding, x-vigil-key, authorization'))
    app.post(path, async (req: FastifyRequest, reply: FastifyReply) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      // The key is never in the body: a stranger's export is refused before it is parsed.
      const key = keyOf(req)
      const project = projectOf(deps.projects, key, req.headers.origin)
      let parsed: unknown
      try {
        parsed = JSON.parse(body.toString('utf8'))
      } catch (err) {
        throw new InvalidJson((err as Error).message)
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidEnvelope('an OTLP export is a JSON object')
      const id = `otlp:${createHash('sha256').update(body).digest('hex').slice(0, 32)}`
      const t = translate(parsed as Record<string, unknown>, { id, received: Date.now(), flows: project.transactionFlows })
      // Every event refused on its own is, for OTLP, a partial success of nothing (counted under each reason).
      const r = await intake.take(req, { id, ev: t.events }, t, { key, userAgent: t.userAgent ?? req.headers['user-agent'] ?? '' }).catch((err: { code?: string; refusals?: { code: string }[] }) => {
        if (err.code !== 'VIGIL_NO_VALID_EVENTS') throw err
        return { accepted: 0, rejected: t.events.length, errors: err.refusals ?? [] }
      })
      const refused = r.rejected + t.cut
      const codes = [...new Set([...(r.errors ?? []).map((e) => e.code), ...(t.cut ? ['too_many_items'] : [])])]
      // Counted in events of ours, not in spans or records: one span may be several events, or none.
      return reply.code(200).send(refused ? { partialSuccess: { [rejected]: refused, errorMessage: `events refused: ${codes.join(', ')}` } } : {})
    })
  }
}
