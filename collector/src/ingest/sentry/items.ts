/**
 * What a Sentry envelope's items say, as events of our wire format (agent/README.md), so they
 * are checked, limited, deduplicated, spooled and judged the one way `/v1/ingest` does it. The
 * mapping is documented in agent/README.md ("Sentry SDKs").
 */
import { LRUCache } from 'lru-cache'
import { MAX_EVENTS_PER_BATCH } from '../wire.js'
import type { EnvelopeItem } from './envelope.js'

type Obj = Record<string, unknown>
type WireEvent = Obj

const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined)
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const count = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0)
/** Sentry's times: seconds since the epoch (a float) or an RFC 3339 string; epoch ms, or `fallback`. */
export const sentryTime = (v: unknown, fallback: number): number => {
  const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? Date.parse(v) : NaN
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : fallback
}

/** The most frames of one stack read, the newest ones (V8 prints 10 by default; Sentry keeps up to 250). */
const MAX_FRAMES = 100
/** The most sessions one envelope's aggregates stand for. */
const MAX_AGGREGATE_SESSIONS = MAX_EVENTS_PER_BATCH

/**
 * Each Sentry client's current session, so its error events (which do not name their session)
 * count in it: keyed by the client (ingest key, network, user agent, release, environment), the
 * session it last said, for 30 minutes. Two users on one network with the same browser and
 * release can be taken for one another; an error of a client whose session is not known (the
 * collector restarted, sessions off) counts in its page's trace instead.
 */
export const createSessionLinks = (max = 100_000) => {
  const links = new LRUCache<string, string>({ max, ttl: 30 * 60_000 })
  return { note: (client: string, sid: string) => void links.set(client, sid), current: (client: string) => links.get(client) }
}
export type SessionLinks = ReturnType<typeof createSessionLinks>

export type Translation = {
  events: WireEvent[]
  /** Items taken as nothing of ours, by type. */
  ignored: Map<string, number>
  /** Items that could not be read (not JSON, not what their type says). */
  broken: number
  /** Events past the most one envelope may bring. */
  cut: number
  /** What the client reports it dropped itself (client_report). */
  discarded: { reason: string; category: string; quantity: number }[]
}

export type ItemContext = {
  /** Who sends, for the session links. */
  client: string
  links: SessionLinks
  received: number
  /** Transactions taken as flows: a transaction's name, or its op, to the flow's name. */
  flows: Record<string, string>
}

/** A stack in V8's words, newest frame first, from Sentry's frames (oldest first). */
const stackOf = (type: string, message: string, frames: unknown[]): string => {
  const lines = [message ? `${type}: ${message}` : type]
  for (let i = frames.length - 1; i >= 0 && lines.length <= MAX_FRAMES; i--) {
    const f = obj(frames[i])
    if (!f) continue
    const file = str(f.abs_path) ?? str(f.filename) ?? '<anonymous>'
    const place = typeof f.lineno === 'number' ? `${file}:${f.lineno}${typeof f.colno === 'number' ? `:${f.colno}` : ''}` : file
    const fn = f.function === '?' ? undefined : str(f.function)
    lines.push(fn ? `    at ${fn} (${place})` : `    at ${place}`)
  }
  return lines.join('\n')
}

/** An error event: its exception (the last of `values` is the one thrown; those before are its causes). */
const errorOf = (p: Obj, ctx: ItemContext): WireEvent | undefined => {
  const values = arr(obj(p.exception)?.values)
  const ex = obj(values[values.length - 1])
  const level = p.level
  let ty: string, m: string, st: string, h: boolean
  if (ex) {
    ty = str(ex.type) ?? 'Error'
    m = str(ex.value) ?? ''
    st = stackOf(ty, m, arr(obj(ex.stacktrace)?.frames))
    h = level !== 'fatal' && values.every((v) => obj(obj(v)?.mechanism)?.handled !== false)
  } else {
    // captureMessage: an error only at level error or fatal (its default, info, is a log line).
    if (level !== 'error' && level !== 'fatal') return undefined
    const msg = obj(p.message)
    ty = 'Message'
    m = str(p.message) ?? str(msg?.formatted) ?? str(msg?.message) ?? str(p.logentry && obj(p.logentry)?.message) ?? ''
    st = ''
    h = level !== 'fatal'
  }
  const trace = str(obj(obj(p.contexts)?.trace)?.trace_id)
  const s = ctx.links.current(ctx.client) ?? (trace ? `trace:${trace}` : `event:${str(p.event_id) ?? ''}`)
  return { t: 'error', ts: sentryTime(p.timestamp, ctx.received), r: p.release, e: p.environment, s, u: obj(p.request)?.url, ty, m, st, h }
}

/** A session update: its start when it is the first (`init`), and how it stands when that says something. */
const sessionOf = (p: Obj, ctx: ItemContext): WireEvent[] | undefined => {
  const s = str(p.sid)
  if (!s) return undefined
  ctx.links.note(ctx.client, s)
  const attrs = obj(p.attrs)
  const common = { t: 'session', s, r: attrs?.release, e: attrs?.environment }
  const out: WireEvent[] = []
  if (p.init === true) out.push({ ...common, o: 'start', ts: sentryTime(p.started, ctx.received) })
  const status = p.status
  const bad = status === 'crashed' || status === 'unhandled' || status === 'abnormal'
  const o = bad ? 'crashed' : count(p.errors) > 0 ? 'errored' : status === 'exited' ? 'ok' : undefined
  const d = typeof p.duration === 'number' && Number.isFinite(p.duration) && p.duration >= 0 ? Math.round(p.duration * 1000) : undefined
  if (o) out.push({ ...common, o, ts: sentryTime(p.timestamp, ctx.received), ...(d === undefined ? {} : { d }) })
  return out
}

/** Session aggregates (server-mode SDKs): each session counted stands for one of ours, made up. */
const aggregatesOf = (p: Obj, ctx: ItemContext, idOf: (n: number) => string, room: number): [WireEvent[], number] => {
  const attrs = obj(p.attrs)
  const out: WireEvent[] = []
  let cut = 0
  for (const a of arr(p.aggregates)) {
    const b = obj(a)
    if (!b) continue
    const ts = sentryTime(b.started, ctx.received)
    const outcomes: [string, number][] = [['ok', count(b.exited)], ['errored', count(b.errored)], ['crashed', count(b.crashed) + count(b.unhandled) + count(b.abnormal)]]
    for (const [o, n] of outcomes) {
      const take = Math.max(0, Math.min(n, room - out.length))
      cut += n - take
      for (let i = 0; i < take; i++) out.push({ t: 'session', s: idOf(out.length), r: attrs?.release, e: attrs?.environment, o, ts })
    }
  }
  return [out, cut]
}

const OUTCOMES: Record<string, string> = { ok: 'ok', deadline_exceeded: 'timeout', cancelled: 'abandoned' }

/** A transaction the project names a flow: its outcome from its status. */
const flowOf = (p: Obj, ctx: ItemContext): WireEvent | undefined => {
  const trace = obj(obj(p.contexts)?.trace)
  const name = str(p.transaction)
  const op = str(trace?.op)
  const flow = (name !== undefined && Object.hasOwn(ctx.flows, name) ? ctx.flows[name] : undefined) ?? (op !== undefined && Object.hasOwn(ctx.flows, op) ? ctx.flows[op] : undefined)
  if (!flow) return undefined
  const end = sentryTime(p.timestamp, ctx.received)
  const start = sentryTime(p.start_timestamp, end)
  const status = str(trace?.status) ?? 'ok'
  const s = ctx.links.current(ctx.client) ?? `trace:${str(trace?.trace_id) ?? ''}`
  return { t: 'flow', n: flow, o: OUTCOMES[status] ?? 'fail', ...(status in OUTCOMES ? {} : { re: status }), d: Math.max(0, end - start), ts: end, r: p.release, e: p.environment, s, u: obj(p.request)?.url }
}

const clientReportOf = (p: Obj): Translation['discarded'] | undefined => {
  const list = arr(p.discarded_events)
  if (!Array.isArray(p.discarded_events)) return undefined
  return list.flatMap((d) => {
    const o = obj(d)
    return o && typeof o.reason === 'string' && typeof o.category === 'string' ? [{ reason: o.reason, category: o.category, quantity: Math.min(count(o.quantity), 1e6) }] : []
  })
}

/** An item's payload as a JSON object, or undefined. */
const payloadOf = (item: EnvelopeItem): Obj | undefined => {
  try {
    return obj(JSON.parse(item.payload.toString('utf8')))
  } catch {
    return undefined
  }
}

/** The envelope's items as our events; `idOf` names the sessions aggregates stand for (the same for a retried envelope). */
export const translateItems = (items: EnvelopeItem[], ctx: ItemContext, idOf: (n: number) => string): Translation => {
  const t: Translation = { events: [], ignored: new Map(), broken: 0, cut: 0, discarded: [] }
  const ignore = (type: string) => t.ignored.set(type, (t.ignored.get(type) ?? 0) + 1)
  const add = (events: WireEvent[]) => {
    const room = MAX_EVENTS_PER_BATCH - t.events.length
    t.events.push(...events.slice(0, room))
    t.cut += Math.max(0, events.length - room)
  }
  for (const item of items) {
    const known = item.type === 'event' || item.type === 'session' || item.type === 'sessions' || item.type === 'transaction' || item.type === 'client_report'
    if (!known) {
      ignore(item.type)
      continue
    }
    const p = payloadOf(item)
    if (!p) {
      t.broken += 1
      continue
    }
    if (item.type === 'event') {
      const e = errorOf(p, ctx)
      if (e) add([e])
      else ignore('event')
    } else if (item.type === 'session') {
      const e = sessionOf(p, ctx)
      if (e) add(e)
      else t.broken += 1
    } else if (item.type === 'sessions') {
      const [e, cut] = aggregatesOf(p, ctx, idOf, Math.min(MAX_AGGREGATE_SESSIONS, MAX_EVENTS_PER_BATCH - t.events.length))
      t.cut += cut
      add(e)
    } else if (item.type === 'transaction') {
      const e = flowOf(p, ctx)
      if (e) add([e])
      else ignore('transaction')
    } else {
      const d = clientReportOf(p)
      if (d) t.discarded.push(...d)
      else t.broken += 1
    }
  }
  return t
}
