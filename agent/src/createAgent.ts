import { createOutbox } from './createOutbox'
import { createSession } from './createSession'
import { createTransport } from './createTransport'
import { g } from './lib/global'
import { now } from './lib/now'
import { on } from './lib/on'
import { safe } from './lib/safe'
import { scrub } from './lib/scrub'
import { uid } from './lib/uid'
import { webStore } from './lib/webStore'
import { onRequests } from './onRequests'
import { onUncaught } from './onUncaught'
import type { Options, WireEvent } from './types'

const MAX_EVENTS = 20
const DELAY_MS = 1000
const MAX_ERRORS = 50

const hidden = () => g.document && g.document.visibilityState == 'hidden'

/**
 * Wires configuration, session, outbox and transport together. Events wait in memory for a
 * second (or until 20 are waiting, or the page is hidden), then go into the outbox as a batch.
 */
export const createAgent = (o: Options) => {
  const store = o.storage || webStore('localStorage')
  const ingest = (o.endpoint || '').replace(/\/+$/, '') + '/v1/ingest'
  const outbox = createOutbox(store, o.transport || createTransport(ingest))
  const session = createSession(store, o.sample, (s) => push({ t: 'session', ts: s.t, o: 'start' }))
  const seen: Record<string, 1> = {}
  let events: WireEvent[] = []
  let timer: ReturnType<typeof setTimeout> | undefined

  const batch = (unloading?: boolean) => {
    clearTimeout(timer)
    timer = undefined
    if (!events.length) return outbox._flush(unloading)
    const ev = events
    events = []
    // No release or environment: the fields are left out, the collector defaults them.
    outbox._add({ id: uid(), k: o.key, r: o.release, e: o.env, s: session._touch().i, ev }, unloading)
  }

  const push = safe((ev: WireEvent) => {
    const s = session._touch()
    if (!s.x) return // this session is sampled out
    if (ev.t == 'error') {
      // Thrown in a browser extension's code, not the app's: the first URL in the stack is the extension's.
      const top = /-extension:|https?:/.exec(ev.st as string)
      if (top && top[0] < 'h') return
      // One report per distinct error (type, message and stack: two bugs may share a message)
      // per page, and a cap per session: a render loop that throws, or a page reloading into
      // the same crash, does not flood.
      const k = ev.ty + ':' + ev.m + ev.st
      if (seen[k] || (s.e = (s.e || 0) + 1) > MAX_ERRORS) return
      seen[k] = 1
      session._mark(ev.h ? 'errored' : 'crashed')
    }
    if (!ev.u && g.location) ev.u = g.location.href
    for (const f of ['m', 're', 'u', 'st']) if (typeof ev[f] == 'string') ev[f] = scrub(ev[f] as string, f == 'st')
    // A failing privacy hook must not let the event through: safe() makes it undefined.
    if (o.beforeSend && !(ev = safe(o.beforeSend)(ev) as WireEvent)) return
    events.push(ev)
    if (events.length >= MAX_EVENTS || hidden()) batch(hidden())
    else if (!timer) timer = setTimeout(batch, DELAY_MS)
  })

  onUncaught(push)
  // Off with `false`, or the script tag's "false".
  const requests = '' + o.requests != 'false' && onRequests(push, o.requests || {})
  on('visibilitychange', safe(() => hidden() && batch(true)))
  on(
    'pagehide',
    safe(() => {
      if (requests) requests()
      const s = session._touch()
      push({ t: 'session', ts: now(), o: s.o, d: now() - s.t })
      batch(true)
    }),
  )
  on('online', safe(outbox._online))
  // Every page view is part of a session, even one that reports nothing else: it counts
  // toward crash-free sessions from the start.
  session._touch()
  // Deliver what an earlier page left in the outbox.
  outbox._flush()

  return { _push: push, _flush: safe(() => batch()), _where: () => ({ r: o.release, e: o.env, s: session._touch().i }) }
}
export type Agent = ReturnType<typeof createAgent>
