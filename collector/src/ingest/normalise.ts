import { Ajv, type ValidateFunction } from 'ajv'
import type { EventRow } from '../store/types.js'
import { blankRow } from './blankRow.js'
import { endpointOf, parseUserAgent, routeOf } from './enrich.js'
import { fingerprint } from '../grouping/fingerprint.js'
import type { EventRefusal } from './refusals.js'
import { eventSchemas, type Envelope, type EventType } from './wire.js'

/** Long strings are cut to these lengths, not refused. */
export const LIMITS = {
  release: 200,
  env: 100,
  session: 100,
  name: 200,
  reason: 1000,
  step: 200,
  message: 4000,
  stack: 16000,
  url: 2000,
  userAgent: 500,
  /** A flag's or a tag's name, and its variant or value. */
  pairName: 100,
  pairValue: 100,
} as const

/**
 * The most flags one session names in one batch; past it, each new flag's events are refused
 * (too_many_flags). The detector judges a session in the cohorts of its first few flags only
 * (detector/cohorts.ts), and VIGIL_LIMIT_FLAG_VARIANTS bounds a project's variants.
 */
export const MAX_FLAGS_PER_SESSION = 20

/** Agent clocks within this much of ours are trusted as they are. */
const SKEW_TOLERANCE_MS = 2000
/** Events older than this would be removed by the TTL at once. */
export const MAX_AGE_MS = 30 * 24 * 3600 * 1000

const ajv = new Ajv({ allErrors: false, strict: false })
const validators = Object.fromEntries(
  Object.entries(eventSchemas).map(([t, schema]) => [t, ajv.compile(schema)]),
) as Record<EventType, ValidateFunction>

export type Rejection = { index: number; code: EventRefusal; message: string }

export type Context = { project: string; received: number; userAgent: string; net: string }

const str = (v: unknown, max: number): string => (typeof v === 'string' ? v.slice(0, max) : '')
/** A name without control characters: the detector builds its cohorts' keys with them (detector/cohorts.ts). */
const plain = (v: unknown, max: number): string => str(v, max).replace(/[\u0000-\u001f\u007f]/g, '')

/** Page URL without query string or fragment: they carry tokens, emails and ids. */
const pageUrl = (u: unknown): string => {
  if (typeof u !== 'string' || u === '') return ''
  const cut = u.search(/[?#]/)
  return (cut === -1 ? u : u.slice(0, cut)).slice(0, LIMITS.url)
}

/** The fields of each type of event, on its row. */
const byType = (row: EventRow, t: EventType, ev: Record<string, unknown>): void => {
  switch (t) {
    case 'error': {
      row.name = str(ev.ty, LIMITS.name) || 'Error'
      row.message = str(ev.m, LIMITS.message)
      row.stack = str(ev.st, LIMITS.stack)
      row.handled = ev.h === true ? 1 : 0
      row.fingerprint = fingerprint(row.name, row.message, row.stack, row.url)
      break
    }
    case 'flow':
      row.name = str(ev.n, LIMITS.name)
      row.outcome = ev.o as string
      row.value = typeof ev.d === 'number' ? ev.d : 0
      row.reason = str(ev.re, LIMITS.reason)
      row.step = str(ev.sp, LIMITS.step)
      break
    case 'session':
      row.outcome = ev.o as string
      row.value = typeof ev.d === 'number' ? ev.d : 0
      break
    case 'vital':
      row.name = ev.n as string
      row.value = ev.v as number
      break
    case 'request':
      // An ok event stands for `c` calls; a failed one for one call, its duration and status.
      row.name = endpointOf(ev.n as string)
      row.outcome = ev.o as string
      row.value = ev.o === 'ok' ? ((ev.c as number | undefined) ?? 1) : ((ev.d as number | undefined) ?? 0)
      row.reason = ev.o === 'fail' ? String(ev.sc ?? 0) : ''
      break
    case 'flag':
    case 'tag':
      row.name = plain(ev.n, LIMITS.pairName)
      row.outcome = plain(ev.v, LIMITS.pairValue)
      break
  }
}

/**
 * Turns a batch into rows. Events are checked one by one: the valid ones become rows, each
 * invalid one a rejection with a code. Times are corrected for the agent's clock skew: an event
 * made offline and sent an hour later keeps its original time.
 */
export const normalise = (batch: Envelope, ctx: Context): { rows: EventRow[]; rejected: Rejection[] } => {
  const rows: EventRow[] = []
  const rejected: Rejection[] = []
  // The agent's clock, when it says something that can be a time (not Infinity, not NaN).
  const skew = typeof batch.at === 'number' && Number.isFinite(batch.at) ? ctx.received - batch.at : 0
  const correction = Math.abs(skew) > SKEW_TOLERANCE_MS ? skew : 0
  const batchId = str(batch.id, 100)
  const userAgent = ctx.userAgent.slice(0, LIMITS.userAgent)
  const client = parseUserAgent(userAgent)
  const flags = new Map<string, Set<string>>()
  const tooManyFlags = (r: EventRow) => {
    const named = flags.get(r.session) ?? flags.set(r.session, new Set()).get(r.session)!
    if (!named.has(r.name) && named.size >= MAX_FLAGS_PER_SESSION) return true
    named.add(r.name)
    return false
  }

  batch.ev.forEach((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      rejected.push({ index, code: 'invalid_event', message: 'an event must be an object' })
      return
    }
    const ev = item as Record<string, unknown>
    const t = ev.t
    if (typeof t !== 'string' || !Object.hasOwn(validators, t)) {
      rejected.push({ index, code: 'unknown_type', message: `"t" must be one of ${Object.keys(validators).join(', ')}` })
      return
    }
    const validate = validators[t as EventType]
    if (!validate(ev)) {
      const e = validate.errors?.[0]
      rejected.push({ index, code: 'invalid_event', message: `${t}${e?.instancePath ?? ''} ${e?.message ?? 'is invalid'}` })
      return
    }
    const ts = Math.min(Math.round((ev.ts as number) + correction), ctx.received)
    if (!Number.isFinite(ts) || ctx.received - ts > MAX_AGE_MS) {
      rejected.push({ index, code: 'too_old', message: 'event is older than the retention period' })
      return
    }
    const session = str(ev.s ?? batch.s, LIMITS.session) || `batch:${batchId}`
    const env = plain(ev.e ?? batch.e, LIMITS.env) || 'production'
    const row = blankRow(ctx.project, env, plain(ev.r ?? batch.r, LIMITS.release), t as EventType, ts, ctx.received, session, batchId)
    row.url = pageUrl(ev.u)
    row.route = routeOf(row.url)
    row.user_agent = userAgent
    row.net = ctx.net
    row.browser = client.browser
    row.os = client.os
    row.device = client.device
    byType(row, t as EventType, ev)
    if (row.kind === 'flag' && tooManyFlags(row)) {
      rejected.push({ index, code: 'too_many_flags', message: `a session names at most ${MAX_FLAGS_PER_SESSION} flags in a batch` })
      return
    }
    rows.push(row)
  })
  return { rows, rejected }
}
