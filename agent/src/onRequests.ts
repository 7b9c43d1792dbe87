import { g } from './lib/global'
import { now } from './lib/now'
import { safe } from './lib/safe'
import type { Emit, RequestOptions, WireEvent } from './types'

type Call = [method: string | undefined, url: string | URL, start: number]

/** Failed calls are reported one by one, this many per page at most (a failing poll must not flood). */
const MAX_FAILED = 100
/** Calls are sent this often: those that went well counted, one event per endpoint, not per call. */
const COUNT_MS = 5000

/**
 * Reports the page's failed requests — no answer (network, CORS, blocked), a timeout, 5xx, and 4xx
 * but the `expected` statuses — and counts those that went well, per endpoint: the method and the
 * URL's path (with its origin when not the page's), segments with ids or hashes made `:id`. Wraps
 * `fetch` and `XMLHttpRequest` without changing what the page gets: the same response, the same
 * rejection, the same exception when the function it wrapped throws. The agent's own sends are
 * never reported: the default transport calls the fetch kept before this wraps it
 * (createTransport); a custom transport on the global fetch should deny the collector's URL.
 * Only http(s) URLs count (a data: or blob: URL is content). Returns what sends what waits now
 * (the page going away).
 */
export const onRequests = (emit: Emit, o: RequestOptions) => {
  // Failed calls wait with the counts of those that went well: sent at once, they would reach the
  // collector before the calls that went well beside them, and a new release would look worse
  // than it is meanwhile.
  let waiting: WireEvent[] = []
  /** The waiting count of each endpoint's calls that went well. */
  let oks: Record<string, WireEvent> = {}
  let failed = 0
  const send = () => {
    waiting.forEach(emit)
    waiting = []
    oks = {}
  }
  /** The first to wait sets the timer (a count goes up only while its event waits). */
  const wait = (e: WireEvent) => {
    if (!waiting.length) setTimeout(send, COUNT_MS)
    waiting.push(e)
  }
  const under = (list: string[] | undefined, url: string) => list && list.some((p) => !url.indexOf(p))

  // The call (method, URL, start) as one array: read here, inside safe(), whatever a page put there.
  const report = safe(([method, url, start]: Call, status: number, timedOut?: boolean) => {
    // Relative to the page (a Location is its href as a string); absolute where there is none (Node).
    const here = g.location
    const u = new URL(url, here)
    const h = u.href
    // Only http(s): a data: or blob: URL is content, not an endpoint.
    if (h.indexOf('http') || (o.allow && !under(o.allow, h)) || under(o.deny, h)) return
    // The collector puts the method in capitals.
    const n =
      (method || 'GET') +
      ' ' +
      // Segments with two digits or more (ids, uuids, hashes, dates) as `:id` (the collector goes
      // on: enrich.ts); the origin left out when it is the page's.
      (u.origin + u.pathname.replace(/\/(?=[^/]*\d\d)[^/]+/g, '/:id')).replace((here || 0).origin, '')
    if (timedOut || !status || status > 499 || (status > 399 && (o.expected || []).indexOf(status) < 0)) {
      if (failed++ < MAX_FAILED) wait({ t: 'request', ts: start, n, o: timedOut ? 'timeout' : 'fail', sc: status, d: now() - start })
    } else {
      const ok = oks[n]
      if (ok) (ok.c as number)++
      else wait((oks[n] = { t: 'request', ts: start, n, o: 'ok', c: 1 }))
    }
  })

  const f = g.fetch
  if (f)
    g.fetch = function (this: unknown, input: { url?: string; method?: string }, init?: { method?: string }) {
      const start = now()
      // Whatever it throws, the page gets as before.
      const p = f.apply(this, arguments)
      return (
        safe(() => {
          const call: Call = [(init && init.method) || input.method, (input.url || input) as string, start]
          return p.then(
            // An opaque answer (`no-cors`) has status 0: it came.
            (r: Response) => (report(call, (r || 0).status || 200), r),
            (e: Error) => {
              // Aborted by the page: not a failure of the endpoint.
              if (!e || e.name != 'AbortError') report(call, 0, e && e.name == 'TimeoutError')
              throw e
            },
          )
        })() || p
      )
    }

  type Xhr = XMLHttpRequest & { _r: Call }
  // One listener for every request (the browser adds it to a request once, however often it is
  // opened again), reading what the request's last open() said.
  const ended = function (this: Xhr, e: Event) {
    // No answer (an error, a timeout) leaves the status 0.
    report(this._r, this.status, e.type == 'timeout')
  }
  const x = g.XMLHttpRequest
  const proto = x && x.prototype
  const open = proto && proto.open
  if (open)
    proto.open = function (this: Xhr, method: string, url: string) {
      this._r = [method, url, now()]
      for (const t of ['load', 'error', 'timeout']) this.addEventListener(t, ended)
      return open.apply(this, arguments)
    }
  return send
}
