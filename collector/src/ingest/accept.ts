import type { IncomingMessage } from 'node:http'
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import { MissingKey, NoValidEvents, OriginNotAllowed, RateLimited, SpoolFull, StoreUnavailable, TooDeep, UnknownKey, withRetryAfter } from '../errors.js'
import type { Metrics } from '../metrics.js'
import type { Cardinality } from './cardinality.js'
import { originAllowed, type ProjectRegistry } from '../projects.js'
import type { Spool } from '../spool/spool.js'
import type { EventRow, Project } from '../store/types.js'
import { normalise, type Rejection } from './normalise.js'
import { countEvents, withEventsCounted } from './refusals.js'
import { spoolRecord } from '../spool/record.js'
import type { NetworkOf } from './network.js'
import type { SeenBatches } from './seen.js'
import type { Envelope } from './wire.js'

/** A batch is a flat envelope of flat events; anything nested deeper is not ours. */
export const MAX_DEPTH = 16

export type AcceptDeps = {
  projects: ProjectRegistry
  spool: Spool
  seen: SeenBatches
  metrics: Metrics
  /** The client network a request comes from (salted hash; '' for this machine). */
  networkOf: NetworkOf
  /** Distinct releases, environments, flows and error groups per project: a new one past its limit is refused. */
  cardinality: Cardinality
  /** Events per second per key when the project sets none; 0: no limit. */
  defaultRateLimit: number
  log: { error: (obj: unknown, msg: string) => void }
}

export type Accepted = { accepted: number; rejected: number; duplicate?: boolean; errors?: Rejection[] }

/** Depth of a parsed JSON value, without recursion (a hostile body could be nested 100k deep). */
export const depthOf = (value: unknown, limit: number): number => {
  const stack: [unknown, number][] = [[value, 1]]
  let max = 0
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (d > max) max = d
    if (max > limit) return max
    if (v !== null && typeof v === 'object') for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1])
  }
  return max
}

/** `net`: the client's network, when the intake read it already (it is read once: an untrusted forward is counted once). */
type Context = { key?: string; userAgent: string; origin?: string; req: IncomingMessage; net?: string }

/** The project a key names, if the page's origin may send to it; or the refusal. */
export const projectOf = (projects: ProjectRegistry, key: string | undefined, origin: string | undefined): Project => {
  if (!key) throw new MissingKey()
  const project = projects.forKey(key)
  if (!project) throw new UnknownKey()
  if (origin && !originAllowed(project.origins, origin)) throw new OriginNotAllowed(origin)
  return project
}

/** The door: depth, key, origin, rate limit. Resolves to the batch's project, or throws its refusal. */
const doorOf = (deps: AcceptDeps) => {
  const limiters = new Map<number, RateLimiterMemory>()
  // Averaged over 10 s: a page flushing on unload may burst, a flood may not.
  const limiterFor = (perSecond: number) => {
    let l = limiters.get(perSecond)
    if (!l) limiters.set(perSecond, (l = new RateLimiterMemory({ points: perSecond * 10, duration: 10, keyPrefix: `r${perSecond}` })))
    return l
  }
  /** Takes `n` points (at least one) from the key's rate limit, or throws RateLimited. */
  const admit = async (project: Project, key: string, n: number) => {
    const limit = project.rateLimit || deps.defaultRateLimit
    if (limit <= 0) return
    try {
      await limiterFor(limit).consume(key, Math.max(1, n))
    } catch (res) {
      if (res instanceof RateLimiterRes) throw withRetryAfter(new RateLimited(), res.msBeforeNext / 1000)
      throw res
    }
  }
  const door = async (batch: Envelope, ctx: Context): Promise<Project> => {
    if (depthOf(batch, MAX_DEPTH) > MAX_DEPTH) throw new TooDeep(String(MAX_DEPTH))
    const key = batch.k ?? ctx.key
    const project = projectOf(deps.projects, key, ctx.origin) // refuses a missing key
    await admit(project, key!, batch.ev.length)
    return project
  }
  return { door, admit }
}

/** Appends a batch's rows to the spool, or counts them refused and throws; its id is held meanwhile. */
const appendOf = (deps: AcceptDeps) => async (project: string, id: string | undefined, rows: EventRow[]) => {
  if (deps.spool.full()) {
    countEvents(deps.metrics, 'spool_full', rows.length)
    throw withEventsCounted(withRetryAfter(new SpoolFull(), 30))
  }
  // Marked before the write, so a copy arriving while this one is written is recognised too.
  if (id) deps.seen.add(project, id)
  const stop = deps.metrics.spoolAppendSeconds.startTimer()
  try {
    await deps.spool.append(spoolRecord(rows))
  } catch (err) {
    if (id) deps.seen.remove(project, id)
    deps.log.error({ err }, 'writing to the spool failed')
    countEvents(deps.metrics, 'spool_write_failed', rows.length)
    throw withEventsCounted(new StoreUnavailable())
  } finally {
    stop()
  }
}

/**
 * One batch, from HTTP or WebSocket alike: key, origin, rate limit, then batch id (a batch seen
 * before is not stored again), then each event on its own. The valid events are appended to the
 * spool — on disk, fsynced — before this resolves; ClickHouse gets them from there. Refusals
 * throw named, coded errors; an event refused on its own (invalid, or bringing a name past the
 * project's limits) is listed in the answer's `errors`.
 */
export const createAccept = (deps: AcceptDeps) => {
  const { door, admit } = doorOf(deps)
  const append = appendOf(deps)

  const accept = async (batch: Envelope, ctx: Context): Promise<Accepted> => {
    const project = await door(batch, ctx)
    const id = batch.id
    if (id && deps.seen.has(project.id, id)) {
      deps.metrics.batchesDuplicate.inc()
      return { accepted: 0, rejected: 0, duplicate: true }
    }

    // Events the agent itself had to drop (its offline outbox was full), counted when the batch
    // has its final answer (stored, or refused for good): not again for a copy of it, nor before
    // an answer that asks for a retry.
    const dr = batch.dr
    const countDropped = () => {
      if (typeof dr === 'number' && Number.isSafeInteger(dr) && dr > 0) countEvents(deps.metrics, 'agent_outbox_full', Math.min(dr, 1e9))
    }

    const { rows: valid, rejected } = normalise(batch, { project: project.id, received: Date.now(), userAgent: ctx.userAgent, net: ctx.net ?? deps.networkOf(ctx.req) })
    const rows = deps.cardinality.keep(project.id, valid, rejected, Date.now())
    for (const r of rejected) countEvents(deps.metrics, r.code)
    if (rows.length === 0) {
      countDropped()
      const first = rejected[0]
      // `refusals`: each event's, for intakes that answer with their codes (OTLP's partial success).
      throw withEventsCounted(Object.assign(new NoValidEvents(first ? `event ${first.index}: ${first.code}: ${first.message}` : 'empty'), { refusals: rejected }))
    }
    await append(project.id, id, rows)
    countDropped()
    const byKind = new Map<string, number>()
    for (const row of rows) byKind.set(row.kind, (byKind.get(row.kind) ?? 0) + 1)
    for (const [kind, n] of byKind) deps.metrics.eventsAccepted.inc({ kind }, n)
    return { accepted: rows.length, rejected: rejected.length, ...(rejected.length > 0 ? { errors: rejected } : {}) }
  }
  /**
   * A request of other clients with nothing to store (only items Vigil does not judge, client
   * reports): it takes from the key's rate limit as a batch does, and says whether its id was
   * seen before (what it counts is counted once).
   */
  const admitOnly = async (id: string, key: string | undefined, origin: string | undefined): Promise<boolean> => {
    const project = projectOf(deps.projects, key, origin)
    await admit(project, key!, 1)
    if (deps.seen.has(project.id, id)) {
      deps.metrics.batchesDuplicate.inc()
      return true
    }
    deps.seen.add(project.id, id)
    return false
  }
  return Object.assign(accept, { admitOnly })
}
export type Accept = ReturnType<typeof createAccept>
