import { g } from './lib/global'
import { now } from './lib/now'
import { safe } from './lib/safe'
import type { Emit, RequestOptions } from './types'

/** Failed calls are reported one by one, this many per page at most (a failing poll must not flood). */
const MAX_FAILED = 50
/** Calls that went well are counted, and sent this often: one event per endpoint, not per call. */
const COUNT_MS = 5000

/**
 * Reports the page's failed requests — no answer (network, CORS, blocked), a timeout, 5xx, and 4xx
 * but the `expected` statuses — and counts those that went well, per endpoint: the method and the
 * URL's path (with its origin when not the page's), segments with ids or hashes made `:id`. Wraps
 * `fetch` and `XMLHttpRequest` without changing what the page gets: the same response, the same
 * rejection, the same exception when the function it wrapped throws. The agent's own sends are
 * never reported: the default transport calls the fetch kept before this wraps it
 * (createTransport), and a request to a URL under `own` (the collector's `/v1/`) is left out.
 * Returns what sends the counts now (the page going away).
 */
export const onRequests = (emit: Emit, o: RequestOptions, own: string) => {
  let counts: Record<string, number> = {}
  let failed = 0
  let timer: unknown
  const send = () => {
    timer = 0
    for (const n in counts) emit({ t: 'request', ts: now(), n, o: 'ok', c: counts[n] })
    counts = {}
  }
  const under = (list: string[] | undefined, url: string) => list && list.some((p) => !url.indexOf(p))

  const report = safe((method: string, url: string | URL, start: number, status: number, timedOut?: boolean) => {
    const here = g.location || {}
    const u = new URL(url, here.href)
    const h = u.href
    if (!h.indexOf(own) || (o.allow && !under(o.allow, h)) || under(o.deny, h)) return
    // The collector puts the method in capitals.
    const n =
      (method || 'GET') +
      ' ' +
      (u.origin == here.origin ? '' : u.origin) +
      // Segments with two digits or more (ids, uuids, hashes, dates) as `:id` (the collector goes on: enrich.ts).
      u.pathname.replace(/\/(?=[^/]*\d\d)[^/]+/g, '/:id')
    if (timedOut || !status || status > 499 || (status > 399 && (o.expected || []).indexOf(status) < 0)) {
      if (failed++ < MAX_FAILED) emit({ t: 'request', ts: start, n, o: timedOut ? 'timeout' : 'fail', sc: status, d: now() - start })
    } else {
      counts[n] = (counts[n] || 0) + 1
      timer = timer || setTimeout(send, COUNT_MS)
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
          const call = [(init && init.method) || input.method, input.url || input, start] as [string, string, number]
          return p.then(
            // An opaque answer (`no-cors`) has status 0: it came.
            (r: Response) => (report(...call, r.status || 200), r),
            (e: Error) => {
              // Aborted by the page: not a failure of the endpoint.
              if (!e || e.name != 'AbortError') report(...call, 0, e && e.name == 'TimeoutError')
              throw e
            },
          )
        })() || p
      )
    }

  type Xhr = XMLHttpRequest & { _r: [string, string, number] }
  // One listener for every request (the browser adds it to a request once, however often it is
  // opened again), reading what the request's last open() said.
  const ended = function (this: Xhr, e: Event) {
    // No answer (an error, a timeout) leaves the status 0.
    report(...this._r, this.status, e.type == 'timeout')
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
