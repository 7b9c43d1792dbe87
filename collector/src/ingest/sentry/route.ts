/**
 * Sentry's SDKs, pointed at this collector by their DSN alone (`http://<ingest key>@host/1`):
 * `POST /api/:projectId/envelope/` and the older `/api/:projectId/store/`. The key says which
 * project it is, so the DSN's project id may be anything. Items become events of our wire format
 * and go through the same `accept` as `/v1/ingest`: the same limits, dedup, spool and refusal codes.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidEnvelope } from '../../errors.js'
import type { Metrics } from '../../metrics.js'
import type { ProjectRegistry } from '../../projects.js'
import { projectOf, type Accept } from '../accept.js'
import { clientIntake, preflight } from '../clients.js'
import type { NetworkOf } from '../network.js'
import { withEventsCounted } from '../refusals.js'
import { decodeBodies } from '../route.js'
import { parseEnvelope, type EnvelopeItem } from './envelope.js'
import { translateItems, type SessionLinks } from './items.js'

export type SentryDeps = { accept: Accept; metrics: Metrics; projects: ProjectRegistry; networkOf: NetworkOf; links: SessionLinks }

/** Item types of Sentry's protocol, as /metrics labels; anything else a client names is `other`. */
const ITEM_TYPES = new Set(['event', 'transaction', 'session', 'sessions', 'client_report', 'attachment', 'user_report', 'feedback', 'replay_event', 'replay_recording', 'replay_video', 'profile', 'profile_chunk', 'check_in', 'span', 'log', 'otel_log', 'trace_metric', 'statsd', 'metric_meta', 'security', 'raw_security', 'unreal_report', 'form_data'])
const DISCARD_REASONS = new Set(['queue_overflow', 'cache_overflow', 'buffer_overflow', 'ratelimit_backoff', 'network_error', 'sample_rate', 'before_send', 'event_processor', 'send_error', 'internal_sdk_error', 'insufficient_data', 'backpressure', 'ignored', 'invalid', 'no_parent_span'])
const DISCARD_CATEGORIES = new Set(['default', 'error', 'transaction', 'security', 'attachment', 'session', 'profile', 'profile_chunk', 'replay', 'monitor', 'span', 'log_item', 'log_byte', 'feedback', 'internal', 'metric_bucket', 'trace_metric'])
const label = (known: Set<string>, v: string) => (known.has(v) ? v : 'other')

/** The key of a DSN: its user part (`http://<key>@host/1`). */
const keyOfDsn = (dsn: unknown): string | undefined => {
  if (typeof dsn !== 'string') return undefined
  try {
    return decodeURIComponent(new URL(dsn).username) || undefined
  } catch {
    return undefined
  }
}

/** `sentry_key` from the query, `X-Sentry-Auth` (or `Authorization: Sentry …`), or the envelope header's DSN (a tunnel). */
const keyOf = (req: FastifyRequest, header: Record<string, unknown>): string | undefined => {
  const q = (req.query as Record<string, unknown>).sentry_key
  if (typeof q === 'string' && q) return q
  for (const h of [req.headers['x-sentry-auth'], req.headers.authorization])
    if (typeof h === 'string' && /^\s*sentry\s/i.test(h)) {
      const m = /sentry_key\s*=\s*([^,\s]+)/i.exec(h)
      if (m) return m[1]
    }
  return keyOfDsn(header.dsn)
}

const EVENT_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i
/** The envelope's event id (its header's), or a /store/ event's own: 32 hex digits. */
const eventIdOf = (header: Record<string, unknown>, store: Buffer | undefined): string | undefined => {
  let id = header.event_id
  if (store) {
    try {
      id = (JSON.parse(store.toString('utf8')) as { event_id?: unknown } | null)?.event_id
    } catch {
      id = undefined // the item is broken; translateItems says so
    }
  }
  return typeof id === 'string' && EVENT_ID.test(id) ? id.replace(/-/g, '').toLowerCase() : undefined
}

type Intake = ReturnType<typeof clientIntake>

/** One envelope (or a /store/ event as an envelope of one item): its answer, as Sentry's SDKs read it. */
const take = (deps: SentryDeps, intake: Intake) => async (req: FastifyRequest, body: Buffer, asStore: boolean) => {
  const parsed = asStore ? { header: {}, items: [{ type: 'event', header: {}, payload: body }] } : parseEnvelope(body)
  if (!parsed) throw new InvalidEnvelope('its first line is not a JSON object (the envelope header)')
  const key = keyOf(req, parsed.header)
  const project = projectOf(deps.projects, key, req.headers.origin)
  const userAgent = req.headers['user-agent'] ?? ''
  const eventId = eventIdOf(parsed.header, asStore ? body : undefined)
  const net = deps.networkOf(req.raw)
  // Who sends, for the session links: a digest (a user agent may be long), made once per envelope.
  const client = createHash('sha256').update(`${key}\u0000${net}\u0000${userAgent}`).digest('base64')
  // Without an event id, the client and the bytes (its header's sent_at too: two flushes of the
  // same aggregates differ there) name it; an offline transport's retry sends the same bytes.
  const id = `sentry:${eventId ?? createHash('sha256').update(client).update(body).digest('hex').slice(0, 32)}`
  const t = translateItems(parsed.items, { id, client, links: deps.links, received: Date.now(), flows: project.transactionFlows })
  const broken = t.broken + (parsed.broken ? 1 : 0)
  const discards = () => {
    for (const d of t.discarded) if (d.quantity > 0) deps.metrics.clientDiscarded.inc({ intake: 'sentry', reason: label(DISCARD_REASONS, d.reason), category: label(DISCARD_CATEGORIES, d.category) }, d.quantity)
  }
  const sentAt = typeof parsed.header.sent_at === 'string' ? Date.parse(parsed.header.sent_at) : NaN
  const result = await intake.take(req, { id, ev: t.events, ...(Number.isFinite(sentAt) ? { at: sentAt } : {}) }, { ...t, broken, also: discards }, { key, userAgent, net })
  // Nothing but items that could not be read: taken and counted as any envelope, then refused.
  if (t.events.length === 0 && broken > 0) throw withEventsCounted(new InvalidEnvelope(parsed.broken ?? `${broken} item(s) not JSON objects of their type`))
  return { ...(eventId ? { id: eventId } : {}), ...result }
}

/** Rate limits as Sentry's SDKs honour them: every category, for this key, for Retry-After's seconds. */
const sentryRateLimit = (err: { code?: string; retryAfter?: number }, reply: FastifyReply) => {
  if (err.code === 'VIGIL_RATE_LIMITED' && err.retryAfter) reply.header('x-sentry-rate-limits', `${err.retryAfter}::key`)
}

export const sentryRoutes = (deps: SentryDeps) => async (app: FastifyInstance) => {
  const intake = clientIntake(app, deps, { intake: 'sentry', expose: 'retry-after, x-sentry-rate-limits', typeLabel: (type) => label(ITEM_TYPES, type), retries: false })
  await decodeBodies(app)
  app.removeAllContentTypeParsers()
  // Envelopes are bytes (an item's length counts bytes; attachments are binary), whatever the type says.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
  app.addHook('onError', async (_req, reply, err) => sentryRateLimit(err as { code?: string; retryAfter?: number }, reply))
  const handle = take(deps, intake)
  const answerPreflight = preflight('content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage')
  for (const [path, asStore] of [['/api/:projectId/envelope/', false], ['/api/:projectId/store/', true]] as const) {
    const post = async (req: FastifyRequest, reply: FastifyReply) => reply.code(200).send(await handle(req, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), asStore))
    // With and without the trailing slash: SDKs write it, people may not.
    for (const p of [path, path.slice(0, -1)]) {
      app.options(p, answerPreflight)
      app.post(p, post)
    }
  }
}
