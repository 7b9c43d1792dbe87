import { readBuilt } from './lib/readBuilt.js'
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { compressAnswers } from './lib/compressAnswers.js'
import type { Config } from './config.js'
import { isLoginForm, isToken, LOGIN_COOKIE, loginForm, mayRead, SESSION_COOKIE, sessionValue } from './auth.js'
import { LoginFormStale, LoginRequired, NotFound } from './errors.js'
import type { Metrics } from './metrics.js'
import type { SiteGuard } from './siteGuard.js'

/** Agents' strings are shown as text; no inline script or style is ever needed, so none is allowed. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ')

const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}

const WEEK_S = 7 * 24 * 3600

/**
 * Where to go after logging in: a path on this site only. Resolved as a browser would, so
 * `//evil.example`, `/\evil.example` and `/\t/evil.example` (all another site to a browser) fall
 * back to `/`.
 */
const sameSite = (next: unknown): string => {
  if (typeof next !== 'string' || !next.startsWith('/')) return '/'
  try {
    const u = new URL(next, 'http://vigil.invalid')
    return u.origin === 'http://vigil.invalid' ? `${u.pathname}${u.search}` : '/'
  } catch {
    return '/'
  }
}

export type DashboardDeps = { config: Config; guard: SiteGuard; metrics: Metrics }

/**
 * The health page at `/` and `/releases/:release`, self-contained (no CDN). With
 * VIGIL_ADMIN_TOKEN set, a login form at `/login` trades the token for a session cookie
 * (HttpOnly, SameSite=Strict) and every page needs it; the form carries a token tied to its own
 * cookie, so only a form this collector gave out logs in. Another site's page may link to these
 * pages, nothing more (siteGuard.ts).
 */
export const dashboardRoutes = ({ config, guard, metrics }: DashboardDeps) => async (app: FastifyInstance) => {
  const dir = join(config.distDir, 'dashboard')
  const open = new Set(['/login', '/ui/app.css'])
  app.addHook('onRequest', guard.onRequest)
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? ''
    if (open.has(path) || mayRead(config, req.raw)) return
    if (path.startsWith('/ui/')) throw new LoginRequired()
    return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`, 303)
  })
  await compressAnswers(app)
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  )
  /** A built file with the page's headers; `fill` edits an HTML file's text first (the login form's field and message). */
  const send = async (file: string, type: string, reply: FastifyReply, opts: { cache?: string; fill?: (html: string) => string } = {}) => {
    let body: Buffer | string
    try {
      body = await readBuilt(join(dir, file))
    } catch {
      throw new NotFound('The dashboard is not built: run `npm run build`')
    }
    if (opts.fill) body = opts.fill(body.toString('utf8'))
    return reply
      .type(type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', opts.cache ?? 'no-cache')
      .send(body)
  }
  const HTML = 'text/html; charset=utf-8'
  const page = async (_req: unknown, reply: FastifyReply) => send('index.html', HTML, reply)
  const cookieFlags = (req: FastifyRequest) =>
    `HttpOnly; SameSite=Strict${(config.publicUrl ?? '').startsWith('https:') || req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : ''}`
  /** The form, with its anti-forgery field (and its cookie, when the browser has none yet). */
  const loginPage = (req: FastifyRequest, reply: FastifyReply, message = '') => {
    const form = config.adminToken ? loginForm(config.adminToken, req.raw) : undefined
    if (form?.fresh) reply.header('set-cookie', `${LOGIN_COOKIE}=${form.nonce}; Path=/login; ${cookieFlags(req)}`)
    const field = form ? `<input type="hidden" name="form" value="${form.field}">` : ''
    return send('login.html', HTML, reply, { cache: 'no-store', fill: (html) => html.replace('<!--form-->', field).replace('<!--message-->', message) })
  }
  app.get('/login', async (req, reply) => loginPage(req, reply, config.adminToken ? '' : '<p>No admin token is set: the dashboard is open to this machine.</p>'))
  app.post<{ Body: { token?: string; form?: string }; Querystring: { next?: string } }>('/login', { bodyLimit: 4096 }, async (req, reply) => {
    const token = config.adminToken
    if (token && !isLoginForm(token, req.raw, req.body?.form)) {
      const stale = new LoginFormStale()
      metrics.requestsRefused.inc({ code: stale.code })
      reply.code(stale.statusCode!)
      return loginPage(req, reply, `<p class="error">${stale.message}</p>`)
    }
    if (!token || typeof req.body?.token !== 'string' || !isToken(config, req.body.token)) {
      reply.code(401)
      return loginPage(req, reply, '<p class="error">That is not the admin token.</p>')
    }
    reply.header('set-cookie', [
      `${SESSION_COOKIE}=${sessionValue(token)}; Path=/; ${cookieFlags(req)}; Max-Age=${WEEK_S}`,
      `${LOGIN_COOKIE}=; Path=/login; ${cookieFlags(req)}; Max-Age=0`,
    ])
    return reply.redirect(sameSite(req.query.next), 303)
  })
  app.post('/logout', async (_req, reply) => reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`).redirect('/login', 303))

  app.get('/', page)
  app.get('/releases/:release', page)
  app.get<{ Params: { file: string } }>('/ui/:file', async (req, reply) => {
    const type = FILES[req.params.file]
    if (!type) throw new NotFound(`No file ${req.params.file}`)
    return send(req.params.file, type, reply)
  })
}
