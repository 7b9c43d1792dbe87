/**
 * What an OTLP/HTTP JSON export says (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding),
 * as events of our wire format (agent/README.md, "OpenTelemetry"): resource `service.version` is
 * the release, `deployment.environment.name` (or the older `deployment.environment`) the
 * environment, `session.id` (on the span or record, or the resource) the session; `exception`
 * span events and exception log records are errors, root spans the project names are flows,
 * `browser.web_vital` events are vitals. Everything else is counted as ignored.
 */
import { arr, createSink, flowNamed, obj, str, type Obj, type Sink, type WireEvent } from '../translation.js'
import { VITALS } from '../wire.js'

type Scalar = string | number | boolean

/** The most attributes read of one resource, span, event or record. */
const MAX_ATTRIBUTES = 128

/** An AnyValue's scalar (int64s come as strings in JSON); arrays, maps and bytes are not read. */
const scalarOf = (v: unknown): Scalar | undefined => {
  const o = obj(v)
  if (!o) return undefined
  if (typeof o.stringValue === 'string') return o.stringValue
  if (typeof o.boolValue === 'boolean') return o.boolValue
  for (const n of [o.intValue, o.doubleValue]) {
    const x = typeof n === 'string' ? Number(n) : n
    if (typeof x === 'number' && Number.isFinite(x)) return x
  }
  return undefined
}

const attributesOf = (list: unknown): Map<string, Scalar> => {
  const m = new Map<string, Scalar>()
  for (const kv of arr(list).slice(0, MAX_ATTRIBUTES)) {
    const o = obj(kv)
    const v = o && typeof o.key === 'string' ? scalarOf(o.value) : undefined
    if (v !== undefined) m.set(o!.key as string, v)
  }
  return m
}

/** Epoch ms from unix nanoseconds (a string or a number), or `fallback`. */
const msOf = (nanos: unknown, fallback: number): number => {
  const n = typeof nanos === 'string' ? Number(nanos) : nanos
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.round(n / 1e6) : fallback
}

export type OtlpTranslation = { events: WireEvent[]; ignored: Map<string, number>; cut: number; userAgent?: string }
export type OtlpContext = { /** The export's batch id: what names an item's session when nothing else does. */ id: string; received: number; flows: Record<string, string> }

/** What a resource says of every event under it. */
const resourceOf = (r: unknown) => {
  const a = attributesOf(obj(r)?.attributes)
  return {
    common: { r: str(a.get('service.version')), e: str(a.get('deployment.environment.name')) ?? str(a.get('deployment.environment')) },
    session: str(a.get('session.id')),
    userAgent: str(a.get('user_agent.original')),
  }
}
type Resource = ReturnType<typeof resourceOf>

/** An item's session: `session.id` (`known`), else its trace, else one of its own. */
type Session = { s: string; known: boolean }

/** An exception: unhandled (a crash) only in a session the client named; a made-up one crashes nothing. */
const errorOf = (a: Map<string, Scalar>, ts: number, unhandled: boolean, { s, known }: Session, res: Resource): WireEvent | undefined => {
  const ty = str(a.get('exception.type'))
  const m = str(a.get('exception.message'))
  if (!ty && !m) return undefined
  const st = str(a.get('exception.stacktrace')) ?? ''
  return { t: 'error', ts, s, ...res.common, ty: ty ?? 'Error', m: m ?? '', st, h: !(known && (unhandled || a.get('exception.escaped') === true)), u: str(a.get('url.full')) }
}

const vitalOf = (a: Map<string, Scalar>, ts: number, { s }: Session, res: Resource): WireEvent | undefined => {
  const name = String(a.get('browser.web_vital.name') ?? '').toUpperCase()
  const v = a.get('browser.web_vital.value')
  return (VITALS as readonly string[]).includes(name) && typeof v === 'number' ? { t: 'vital', ts, s, ...res.common, n: name, v } : undefined
}

/** The events of one export, and the user agent its resources name (the first that does). */
const sink = (): Sink & { userAgent?: string } => createSink()

/**
 * Each item of an export (a span, a log record), with its attributes, its resource, and its
 * session: `session.id`, else its trace, else its own (`<export id>:<n>`). `visit` says whether
 * it became anything; what did not is counted as ignored, as `type`.
 */
const eachItem = (out: ReturnType<typeof sink>, ctx: OtlpContext, resources: unknown, scopes: string, items: string, type: string, visit: (item: Obj, a: Map<string, Scalar>, s: Session, res: Resource) => boolean) => {
  let n = 0
  for (const r of arr(resources)) {
    const res = resourceOf(obj(r)?.resource)
    out.userAgent ??= res.userAgent
    for (const scope of arr(obj(r)?.[scopes]))
      for (const i of arr(obj(scope)?.[items])) {
        const item = obj(i)
        if (!item) continue
        const a = attributesOf(item.attributes)
        const trace = typeof item.traceId === 'string' && item.traceId ? item.traceId.slice(0, 64) : undefined
        const named = str(a.get('session.id')) ?? res.session
        const s = { s: named ?? (trace ? `trace:${trace}` : `${ctx.id}:${n}`), known: named !== undefined }
        n += 1
        if (!visit(item, a, s, res)) out.ignore(type)
      }
  }
}

/** `/v1/traces`: each span's exception events and web vitals, and the root spans named as flows. */
export const translateTraces = (body: Obj, ctx: OtlpContext): OtlpTranslation => {
  const out = sink()
  eachItem(out, ctx, body.resourceSpans, 'scopeSpans', 'spans', 'span', (span, a, s, res) => {
    const end = msOf(span.endTimeUnixNano, ctx.received)
    let said = false
    for (const e of arr(span.events)) {
      const ev = obj(e)
      const ea = attributesOf(ev?.attributes)
      const ts = msOf(ev?.timeUnixNano, end)
      if (ev?.name === 'exception') said = out.add(errorOf(ea, ts, false, s, res)) || said
      else if (ev?.name === 'browser.web_vital') said = out.add(vitalOf(ea, ts, s, res)) || said
    }
    // A root: no parent, or a parent in another process (flags: 0x100 says whether it is known, 0x200 that it is remote).
    const root = !span.parentSpanId || (typeof span.flags === 'number' && (span.flags & 0x300) === 0x300)
    const flow = root ? flowNamed(ctx.flows, str(span.name)) : undefined
    if (!flow) return said
    const status = obj(span.status)
    const failed = status?.code === 2 || status?.code === 'STATUS_CODE_ERROR'
    const reason = typeof status?.message === 'string' ? status.message : ''
    out.add({ t: 'flow', ts: end, s: s.s, ...res.common, n: flow, o: failed ? 'fail' : 'ok', d: Math.max(0, end - msOf(span.startTimeUnixNano, end)), ...(failed && reason ? { re: reason } : {}), u: str(a.get('url.full')) })
    return true
  })
  return out
}

/** FATAL (21–24): the app could not go on. */
const FATAL = 21

/** `/v1/logs`: exception records as errors, `browser.web_vital` events as vitals. */
export const translateLogs = (body: Obj, ctx: OtlpContext): OtlpTranslation => {
  const out = sink()
  eachItem(out, ctx, body.resourceLogs, 'scopeLogs', 'logRecords', 'log', (rec, a, s, res) => {
    const ts = msOf(rec.timeUnixNano, msOf(rec.observedTimeUnixNano, ctx.received))
    const event = typeof rec.eventName === 'string' && rec.eventName ? rec.eventName : str(a.get('event.name'))
    const severity = typeof rec.severityNumber === 'number' ? rec.severityNumber : String(rec.severityNumber ?? '').startsWith('SEVERITY_NUMBER_FATAL') ? FATAL : 0
    return event === 'browser.web_vital' ? out.add(vitalOf(a, ts, s, res)) : out.add(errorOf(a, ts, severity >= FATAL, s, res))
  })
  return out
}
