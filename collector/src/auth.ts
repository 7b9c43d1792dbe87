import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
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

/** A cookie's value as the request sends it. */
export const cookie = (req: IncomingMessage, name: string) =>
  (req.headers.cookie ?? '')
    .split(/;\s*/)
    .map((c) => c.split('='))
    .find(([k]) => k === name)?.[1]

/** Is `given` the admin token? (In constant time.) */
export const isToken = (config: Config, given: string): boolean => !!config.adminToken && same(given, config.adminToken)

const bearer = (req: IncomingMessage) => /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]

/** Does this request present the admin token as a bearer? (A browser never adds that by itself.) */
export const presentsToken = (config: Config, req: IncomingMessage): boolean => {
  const b = bearer(req)
  return !!b && isToken(config, b)
}

/**
 * May this request administer (projects, test alerts)? With VIGIL_ADMIN_TOKEN, when it presents
 * it as a bearer (not the dashboard's cookie: no administering by a cross-site form); without
 * it, only from this machine.
 */
export const mayAdminister = (config: Config, req: IncomingMessage): boolean => {
  if (!config.adminToken) return isLoopback(req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '')
  return presentsToken(config, req)
}

/**
 * May this request read the dashboard and its APIs? Always, without VIGIL_ADMIN_TOKEN (then the
 * collector listens on 127.0.0.1 only); with it, when it presents the token (`Authorization:
 * Bearer …`) or the session cookie the login form set.
 */
export const mayRead = (config: Config, req: IncomingMessage): boolean => {
  const token = config.adminToken
  if (!token) return true
  if (presentsToken(config, req)) return true
  const c = cookie(req, SESSION_COOKIE)
  return !!c && same(c, sessionValue(token))
}

/** The login form's own cookie (Path=/login): a random value its anti-forgery token is tied to. */
export const LOGIN_COOKIE = 'vigil_login'

/** The HMAC of the form cookie's value under a key derived from the admin token. */
const formToken = (token: string, nonce: string) =>
  createHmac('sha256', createHmac('sha256', token).update('vigil login form v1').digest()).update(nonce).digest('base64url')

/**
 * The login form's anti-forgery pair: the cookie's value (the request's own when it has one, so
 * several tabs each keep a good form; else a new one, `fresh`) and the token of the form's hidden
 * field. A page elsewhere can read neither, and cannot compute the token for a cookie it plants.
 */
export const loginForm = (token: string, req: IncomingMessage) => {
  const had = cookie(req, LOGIN_COOKIE)
  const nonce = had && /^[\w-]{24}$/.test(had) ? had : randomBytes(18).toString('base64url')
  return { nonce, fresh: nonce !== had, field: formToken(token, nonce) }
}

/** Was this login form given out to this browser (its field matches its cookie)? */
export const isLoginForm = (token: string, req: IncomingMessage, field: unknown): boolean => {
  const nonce = cookie(req, LOGIN_COOKIE)
  return !!nonce && typeof field === 'string' && same(field, formToken(token, nonce))
}

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
