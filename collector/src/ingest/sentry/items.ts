/**
 * What a Sentry envelope's items say, as events of our wire format (agent/README.md), so they
 * are checked, limited, deduplicated, spooled and judged the one way `/v1/ingest` does it. The
 * mapping is documented in agent/README.md ("Sentry SDKs").
 */
import { LRUCache } from 'lru-cache'
import { LIMITS } from '../normalise.js'
import { arr, createSink, flowNamed, obj, str, type Obj, type WireEvent } from '../translation.js'
import { MAX_EVENTS_PER_BATCH } from '../wire.js'
import type { EnvelopeItem } from './envelope.js'
/** A count a client says: a whole number, at most a million (one envelope cannot stand for more). */
const count = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? Math.min(v, 1e6) : 0)
/** Sentry's times: seconds since the epoch (a float) or an RFC 3339 string; epoch ms, or `fallback`. */
export const sentryTime = (v: unknown, fallback: number): number => {
  const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? Date.parse(v) : NaN
  return Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : fallback
}

/** The most frames of one stack read, the newest ones (V8 prints 10 by default; Sentry keeps up to 250). */
const MAX_FRAMES = 100

/**
 * Each Sentry client's current session, so its error events (which do not name their session)
 * count in it: keyed by the client (ingest key, network, user agent), the session it last said,
 * for 30 minutes since it was last used. Two users on one network with the same browser can be
 * taken for one another; an error of a client whose session is not known (the collector
 * restarted, another collector took the session, sessions off, server SDKs) counts in its
 * page's trace instead, and as handled there: the SDK's own session says whether it crashed.
 */
export const createSessionLinks = (max = 100_000) => {
  // Clients by a digest of who they are (the route's: a user agent may be long), sessions as stored (cut to 100 characters).
  const links = new LRUCache<string, string>({ max, ttl: 30 * 60_000, updateAgeOnGet: true })
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
  /** The envelope's batch id: what names the sessions it makes up, and the fallbacks of events with no session. */
  id: string
  /** Who sends (a digest of its key, network and user agent), for the session links. */
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

/**
 * An event's session (`linked`: the one its client said last); for a client that said none, its
 * trace (its page load), else one of the envelope's own (`what`).
 */
const sessionFor = (ctx: ItemContext, trace: string | undefined, what: string) => {
  const linked = ctx.links.current(ctx.client)
  return { s: linked ?? (trace ? `trace:${trace.slice(0, 64)}` : `${ctx.id}:${what}`), linked: linked !== undefined }
}

/** An error event: its exception (the last of `values` is the one thrown; those before are its causes). */
const errorOf = (p: Obj, ctx: ItemContext): WireEvent | undefined => {
  const values = arr(obj(p.exception)?.values)
  const ex = obj(values[values.length - 1])
  // No level: Sentry takes the event as an error.
  const level = p.level ?? 'error'
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
  const { s, linked } = sessionFor(ctx, str(obj(obj(p.contexts)?.trace)?.trace_id), 'e')
  // An error out of any known session crashes none: the made-up one would be a session of its own.
  return { t: 'error', ts: sentryTime(p.timestamp, ctx.received), r: p.release, e: p.environment, s, u: str(obj(p.request)?.url), ty, m, st, h: h || !linked }
}

/** A session update: its start when it is the first (`init`), and how it stands when that says something. */
const sessionOf = (p: Obj, ctx: ItemContext): WireEvent[] | undefined => {
  // Cut as the collector stores it (normalise.ts): the links hold it too.
  const s = str(p.sid)?.slice(0, LIMITS.session)
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

/**
 * Session aggregates (server-mode SDKs): each session counted stands for one of ours, made up
 * (`<envelope id>:a<n>`). Past `room`, the room is shared out by largest remainder, so each
 * outcome keeps its share (a rare crash is not rounded away) and the room is filled.
 */
const aggregatesOf = (p: Obj, ctx: ItemContext, first: number, room: number): [WireEvent[], number] => {
  const attrs = obj(p.attrs)
  const buckets = arr(p.aggregates)
    .slice(0, MAX_EVENTS_PER_BATCH)
    .flatMap((a) => {
      const b = obj(a)
      if (!b) return []
      const outcomes: [string, number][] = [['ok', count(b.exited)], ['errored', count(b.errored)], ['crashed', count(b.crashed) + count(b.unhandled) + count(b.abnormal)]]
      return outcomes.filter(([, n]) => n > 0).map(([o, n]) => ({ o, n, ts: sentryTime(b.started, ctx.received), take: 0 }))
    })
  const total = buckets.reduce((t, b) => t + b.n, 0)
  const share = total > room ? room / total : 1
  for (const b of buckets) b.take = Math.floor(b.n * share)
  let left = Math.min(room, total) - buckets.reduce((t, b) => t + b.take, 0)
  for (const b of [...buckets].sort((x, y) => y.n * share - y.take - (x.n * share - x.take))) {
    if (left <= 0) break
    b.take += 1
    left -= 1
  }
  const out: WireEvent[] = []
  for (const { o, ts, take } of buckets)
    for (let i = 0; i < take; i++) out.push({ t: 'session', s: `${ctx.id}:a${first + out.length}`, r: attrs?.release, e: attrs?.environment, o, ts })
  return [out, total - out.length]
}

/** A transaction's (span's) status as a flow's outcome; any other status is a failure, and its reason. */
const OUTCOMES = new Map([['ok', 'ok'], ['deadline_exceeded', 'timeout'], ['cancelled', 'abandoned']])

/** A flow from a transaction or a segment span: its outcome from its status, its time its end. */
const flowEvent = (flow: string, status: string, start: number, end: number, s: string, where: { r: unknown; e: unknown; u: string | undefined }): WireEvent => ({
  t: 'flow',
  n: flow,
  ...(OUTCOMES.has(status) ? { o: OUTCOMES.get(status)! } : { o: 'fail', re: status }),
  d: Math.max(0, end - start),
  ts: end,
  s,
  ...where,
})

/** A transaction the project names a flow: its outcome from its status. */
const flowOf = (p: Obj, ctx: ItemContext): WireEvent | undefined => {
  const trace = obj(obj(p.contexts)?.trace)
  const name = str(p.transaction)
  const op = str(trace?.op)
  const flow = flowNamed(ctx.flows, name, op)
  if (!flow) return undefined
  const end = sentryTime(p.timestamp, ctx.received)
  const { s } = sessionFor(ctx, str(trace?.trace_id), 'f')
  return flowEvent(flow, str(trace?.status) ?? 'ok', sentryTime(p.start_timestamp, end), end, s, { r: p.release, e: p.environment, u: str(obj(p.request)?.url) })
}

/** A typed attribute's value (span v2: `{ "type": "string", "value": "pageload" }`). */
const attr = (attrs: Obj | undefined, key: string): unknown => (attrs && Object.hasOwn(attrs, key) ? obj(attrs[key])?.value : undefined)

/**
 * Streamed spans (`span` items, span v2 — what SDKs send with `traceLifecycle: 'stream'`, the
 * default of @sentry/browser 11 with tracing on): each segment span (a transaction's root) the
 * project names a flow, by name or `sentry.op`; its status `ok` or `error`, the error's
 * `sentry.status.message` its reason. Other spans are ignored.
 */
const spanFlowsOf = (p: Obj, ctx: ItemContext): [WireEvent[], number] => {
  const out: WireEvent[] = []
  // A span of the older kind (v1, one per item: INP spans) is not a segment.
  let ignored = Array.isArray(p.items) ? 0 : 1
  for (const x of arr(p.items)) {
    const span = obj(x)
    const attrs = obj(span?.attributes)
    const flow = span && (span.is_segment === true || !span.parent_span_id) ? flowNamed(ctx.flows, str(span.name), str(attr(attrs, 'sentry.op'))) : undefined
    if (!span || !flow) {
      ignored += 1
      continue
    }
    const end = sentryTime(span.end_timestamp, ctx.received)
    const status = span.status === 'error' ? (str(attr(attrs, 'sentry.status.message')) ?? 'error') : 'ok'
    const { s } = sessionFor(ctx, str(span.trace_id), `s${out.length}`)
    out.push(flowEvent(flow, status, sentryTime(span.start_timestamp, end), end, s, { r: attr(attrs, 'sentry.release'), e: attr(attrs, 'sentry.environment'), u: str(attr(attrs, 'url.full')) }))
  }
  return [out, ignored]
}

/** The most entries of one client report read (an SDK sends one per reason and category). */
const MAX_DISCARD_ENTRIES = 50

const clientReportOf = (p: Obj): Translation['discarded'] | undefined => {
  if (!Array.isArray(p.discarded_events)) return undefined
  return p.discarded_events.slice(0, MAX_DISCARD_ENTRIES).flatMap((d) => {
    const o = obj(d)
    return o && typeof o.reason === 'string' && typeof o.category === 'string' ? [{ reason: o.reason, category: o.category, quantity: count(o.quantity) }] : []
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

/** The envelope's items as our events. */
export const translateItems = (items: EnvelopeItem[], ctx: ItemContext): Translation => {
  const sink = createSink()
  let broken = 0
  const discarded: Translation['discarded'] = []
  const add = (events: WireEvent[]) => events.forEach(sink.add)
  for (const item of items) {
    if (!['event', 'session', 'sessions', 'transaction', 'span', 'client_report'].includes(item.type)) {
      sink.ignore(item.type)
      continue
    }
    const p = payloadOf(item)
    if (!p) {
      broken += 1
      continue
    }
    if (item.type === 'event') {
      if (!sink.add(errorOf(p, ctx))) sink.ignore('event')
    } else if (item.type === 'session') {
      const e = sessionOf(p, ctx)
      if (e) add(e)
      else broken += 1
    } else if (item.type === 'sessions') {
      const [e, cut] = aggregatesOf(p, ctx, sink.events.length, sink.room())
      sink.cut += cut
      add(e)
    } else if (item.type === 'span') {
      const [e, ignored] = spanFlowsOf(p, ctx)
      add(e)
      if (ignored) sink.ignore('span', ignored)
    } else if (item.type === 'transaction') {
      if (!sink.add(flowOf(p, ctx))) sink.ignore('transaction')
    } else {
      const d = clientReportOf(p)
      if (d) discarded.push(...d)
      else broken += 1
    }
  }
  return { events: sink.events, ignored: sink.ignored, cut: sink.cut, broken, discarded }
}
