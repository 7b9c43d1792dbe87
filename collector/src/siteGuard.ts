import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import type { FastifyError, FastifyRequest } from 'fastify'
import { presentsToken } from './auth.js'
import type { Config } from './config.js'
import { CrossSite, HostNotAllowed } from './errors.js'
import { hostName } from './lib/hostName.js'
import type { Metrics } from './metrics.js'

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : v)

/**
 * Where a request to the dashboard, its read APIs, the admin APIs or the live feed may come from.
 * auth.ts says who may; this keeps what a browser adds by itself — the session cookie, and this
 * machine's address when no admin token is set — from being lent to other sites' pages.
 *
 * - Host: a name this collector answers to: localhost, any IP address (DNS rebinding needs a
 *   name), VIGIL_HOST, VIGIL_PUBLIC_URL's host, VIGIL_ALLOWED_HOSTS. Else 403 (not 421: Chromium
 *   retries a 421).
 * - Site, by fetch metadata where the browser sends it (to https and to localhost): the
 *   collector's own pages (`same-origin`), the user (`none`: typed, a bookmark), or a navigation
 *   (GET, HEAD: a link from a chat opens the page; it changes nothing). `same-site` is another
 *   site too: on localhost, any other port is. Without it, by Origin: none (not a browser, or a
 *   browser's plain GET), or the request's own. Pages of VIGIL_PUBLIC_URL and VIGIL_ALLOWED_ORIGINS
 *   always may. Else 403.
 *
 * A request presenting the admin token as a bearer carries no browser's authority: neither
 * check applies (a CLI may reach the collector by any name). Refusals are counted.
 */
export const createSiteGuard = (config: Config, metrics: Metrics) => {
  const publicUrl = config.publicUrl && URL.canParse(config.publicUrl) ? new URL(config.publicUrl) : undefined
  const names = new Set(['localhost', ...config.allowedHosts])
  for (const h of [config.host, publicUrl?.host]) {
    const name = h && hostName(h)
    if (name) names.add(name)
  }
  const origins = new Set([...config.allowedOrigins, ...(publicUrl ? [publicUrl.origin] : [])])

  const hostAllowed = (host: string | undefined) => {
    // HTTP/1.0 may send none; no browser does.
    if (host === undefined) return true
    const name = hostName(host)
    return !!name && (names.has(name) || isIP(name) !== 0)
  }
  const ownOrigin = (origin: string, host: string | undefined) =>
    !!host && ['http', 'https'].some((scheme) => URL.canParse(`${scheme}://${host}`) && new URL(`${scheme}://${host}`).origin === origin)

  const crossSite = (req: IncomingMessage): FastifyError | undefined => {
    const origin = req.headers.origin
    if (origin !== undefined && origins.has(origin)) return undefined
    const site = header(req.headers['sec-fetch-site'])
    if (site !== undefined) {
      if (site === 'same-origin' || site === 'none') return undefined
      if (header(req.headers['sec-fetch-mode']) === 'navigate' && (req.method === 'GET' || req.method === 'HEAD')) return undefined
      return new CrossSite(site)
    }
    if (origin === undefined || ownOrigin(origin, req.headers.host)) return undefined
    return new CrossSite(origin)
  }

  /** Why this request is refused, or undefined when it may go on to its route's own checks. */
  const refusal = (req: IncomingMessage): FastifyError | undefined => {
    if (presentsToken(config, req)) return undefined
    const err = hostAllowed(req.headers.host) ? crossSite(req) : new HostNotAllowed(req.headers.host)
    if (err) metrics.requestsRefused.inc({ code: err.code })
    return err
  }

  /** The check as a plugin's first onRequest hook. */
  const onRequest = async (req: FastifyRequest) => {
    const err = refusal(req.raw)
    if (err) throw err
  }
  return { refusal, onRequest }
}
export type SiteGuard = ReturnType<typeof createSiteGuard>
