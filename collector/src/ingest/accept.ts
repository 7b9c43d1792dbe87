import { MissingKey, NoValidEvents, StoreUnavailable, UnknownKey } from '../errors.js'
import type { Metrics } from '../metrics.js'
import { normalise, type Rejection } from './normalise.js'
import type { SeenBatches } from './seen.js'
import type { Envelope } from './wire.js'
import type { Writer } from './writer.js'

export type AcceptDeps = {
  /** Ingest key → project id. */
  projectForKey: (key: string) => string | undefined
  writer: Writer
  seen: SeenBatches
  metrics: Metrics
  log: { error: (obj: unknown, msg: string) => void }
}

export type Accepted = { accepted: number; rejected: number; duplicate?: boolean; errors?: Rejection[] }

/**
 * One batch, from HTTP or WebSocket alike: key, then batch id (a batch seen before is not stored
 * again), then each event on its own; the valid ones are stored before this resolves. Refusals
 * throw named, coded errors.
 */
export const createAccept =
  (deps: AcceptDeps) =>
  async (batch: Envelope, ctx: { key?: string; userAgent: string }): Promise<Accepted> => {
    const key = batch.k ?? ctx.key
    if (!key) throw new MissingKey()
    const project = deps.projectForKey(key)
    if (!project) throw new UnknownKey()

    // Events the agent itself had to drop (its offline outbox was full) are counted here.
    if (typeof batch.dr === 'number' && batch.dr > 0) deps.metrics.eventsRefused.inc({ reason: 'agent_outbox_full' }, Math.min(batch.dr, 1e9))

    const seenKey = batch.id ? `${project}\u0000${batch.id}` : undefined
    if (seenKey && deps.seen.has(seenKey)) {
      deps.metrics.batchesDuplicate.inc()
      return { accepted: 0, rejected: 0, duplicate: true }
    }

    const { rows, rejected } = normalise(batch, { project, received: Date.now(), userAgent: ctx.userAgent })
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
      deps.log.error({ err }, 'storing events failed')
      deps.metrics.eventsRefused.inc({ reason: 'store_unavailable' }, rows.length)
      throw new StoreUnavailable()
    } finally {
      stop()
    }
    for (const row of rows) deps.metrics.eventsAccepted.inc({ kind: row.kind })
    return { accepted: rows.length, rejected: rejected.length, ...(rejected.length > 0 ? { errors: rejected } : {}) }
  }
export type Accept = ReturnType<typeof createAccept>

/** Counts a batch refused whole, and its events (a body that could not be read counts as one). */
export const countRefusal = (metrics: Metrics, code: string, body: unknown) => {
  metrics.batchesRefused.inc({ code })
  // NO_VALID_EVENTS: each event was counted with its own reason already.
  if (code === 'VIGIL_NO_VALID_EVENTS') return
  const ev = (body as { ev?: unknown } | null | undefined)?.ev
  metrics.eventsRefused.inc({ reason: code }, Array.isArray(ev) ? ev.length : 1)
}
