/**
 * What the intake of other clients — Sentry's SDKs (sentry/), OpenTelemetry's exporters (otlp/) —
 * shares: their items become events of our wire format and go through the one `accept` of
 * `/v1/ingest`; every origin may send (CORS), refusals are answered and counted as ingest's are,
 * and what is taken but not ours is counted by type.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorHandler } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Accept } from './accept.js'
import { countEvents, refuse } from './refusals.js'

export type Intake = 'sentry' | 'otlp'

/** What one request's items became, to count beside what `accept` counts (`also`: the intake's own counts). */
export type Taken = { ignored: Map<string, number>; cut: number; broken?: number; also?: () => void }

/**
 * Sets the plugin's error handler and CORS answers, and returns `take`: hands the events to
 * `accept` (a refusal counts them under its code), then counts what was not stored — once, when
 * the request has its final answer: not for a copy of it, nor before a refusal the client
 * retries (`retries`: OTLP exporters retry a 429 or 503; Sentry's SDKs drop the envelope). A
 * request with nothing to store still takes one point of the key's rate limit.
 */
export const clientIntake = (app: FastifyInstance, deps: { accept: Accept; metrics: Metrics }, o: { intake: Intake; expose: string; typeLabel: (type: string) => string; retries: boolean }) => {
  const { intake, expose, typeLabel } = o
  const events = new WeakMap<FastifyRequest, { ev: unknown[] }>()
  app.setErrorHandler(errorHandler((err, req) => refuse(deps.metrics, err, events.get(req) ?? req.body)))
  app.addHook('onSend', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*').header('access-control-expose-headers', expose)
  })
  const count = (t: Taken) => {
    for (const [type, n] of t.ignored) deps.metrics.itemsIgnored.inc({ intake, type: typeLabel(type) }, n)
    if (t.broken) countEvents(deps.metrics, 'invalid_item', t.broken)
    if (t.cut > 0) countEvents(deps.metrics, 'too_many_items', t.cut)
    t.also?.()
  }
  const take = async (req: FastifyRequest, batch: { id: string; ev: unknown[]; at?: number }, taken: Taken, from: { key: string | undefined; userAgent: string; net?: string }) => {
    const { key } = from
    if (batch.ev.length === 0) {
      const duplicate = await deps.accept.admitOnly(batch.id, key, req.headers.origin)
      if (!duplicate) count(taken)
      return { accepted: 0, rejected: 0, ...(duplicate ? { duplicate } : {}) }
    }
    events.set(req, batch)
    const r = await deps.accept(batch, { ...from, origin: req.headers.origin, req: req.raw }).catch((err: { code?: string; statusCode?: number }) => {
      // Final answers: every event refused on its own, or any refusal the client does not retry.
      const retried = o.retries && (err.statusCode === 429 || (err.statusCode ?? 500) >= 500)
      if (err.code === 'VIGIL_NO_VALID_EVENTS' || !retried) count(taken)
      throw err
    })
    if (!r.duplicate) count(taken)
    return r
  }
  return { count, take }
}

/** A CORS preflight's answer: POST from any origin, with these request headers. */
export const preflight = (headers: string) => async (_req: FastifyRequest, reply: FastifyReply) =>
  reply.header('access-control-allow-methods', 'POST, OPTIONS').header('access-control-allow-headers', headers).header('access-control-max-age', '86400').code(204).send()
