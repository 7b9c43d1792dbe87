import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Config } from './config.js'

export const SESSION_COOKIE = 'vigil_session'

/** The dashboard session cookie's value: derived from the token, so a new token ends every session. */
export const sessionValue = (token: string) => createHmac('sha256', token).update('vigil dashboard session v1').digest('base64url')

const same = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const cookie = (req: IncomingMessage, name: string) =>
  (req.headers.cookie ?? '')
    .split(/;\s*/)
    .map((c) => c.split('='))
    .find(([k]) => k === name)?.[1]

/** Is `given` the admin token? (In constant time.) */
export const isToken = (config: Config, given: string): boolean => !!config.adminToken && same(given, config.adminToken)

const bearer = (req: IncomingMessage) => /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]

/**
 * May this request administer (projects, test alerts)? With VIGIL_ADMIN_TOKEN, when it presents
 * it as a bearer (not the dashboard's cookie: no administering by a cross-site form); without
 * it, only from this machine.
 */
export const mayAdminister = (config: Config, req: IncomingMessage): boolean => {
  if (!config.adminToken) return isLoopback(req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '')
  const b = bearer(req)
  return !!b && isToken(config, b)
}

/**
 * May this request read the dashboard and its APIs? Always, without VIGIL_ADMIN_TOKEN (then the
 * collector listens on 127.0.0.1 only); with it, when it presents the token (`Authorization:
 * Bearer …`) or the session cookie the login form set.
 */
export const mayRead = (config: Config, req: IncomingMessage): boolean => {
  const token = config.adminToken
  if (!token) return true
  const b = bearer(req)
  if (b && isToken(config, b)) return true
  const c = cookie(req, SESSION_COOKIE)
  return !!c && same(c, sessionValue(token))
}

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
