import type { FastifyInstance } from 'fastify'
import { mayRead } from './auth.js'
import type { Config } from './config.js'
import type { Detector, Verdict } from './detector/index.js'
import { LoginRequired } from './errors.js'
import { DEFAULT_PROJECT } from './projects.js'
import type { Store } from './store/index.js'

const query = {
  type: 'object',
  properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string', default: 'production' } },
} as const

const HOUR = 3600_000

/**
 * Release health for people and for deploy pipelines: the list, one release in detail, its
 * verdict (`healthy | watching | bad | unknown`, with reasons), and the alerts with their
 * deliveries. With VIGIL_ADMIN_TOKEN set, reading needs it (or the dashboard's session cookie).
 */
export const releaseRoutes = (deps: { config: Config; store: Store; detector: Detector }) => async (app: FastifyInstance) => {
  app.addHook('onRequest', async (req) => {
    if (!mayRead(deps.config, req.raw)) throw new LoginRequired()
  })

  const verdictOf = (project: string, env: string, release: string): Verdict =>
    deps.detector.verdict(project, env, release) ?? {
      project,
      environment: env,
      release,
      verdict: 'unknown',
      reasons: ['not looked at yet: no traffic from this release recently'],
      baseline: null,
      sessions: 0,
      evaluated_at: new Date().toISOString(),
    }

  app.get<{ Querystring: { project: string; env?: string } }>(
    '/v1/releases',
    { schema: { querystring: { type: 'object', properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string' } } } } },
    async (req) => {
      const releases = await deps.store.releases(req.query.project, req.query.env)
      return {
        project: req.query.project,
        releases: releases.map((r) => ({ ...r, verdict: verdictOf(req.query.project, r.env, r.release).verdict })),
      }
    },
  )

  app.get<{ Params: { release: string }; Querystring: { project: string; env: string } }>(
    '/v1/releases/:release',
    { schema: { querystring: query } },
    async (req) => {
      const { project, env } = req.query
      const { release } = req.params
      const summary = (await deps.store.releases(project, env)).find((r) => r.release === release)
      const to = Date.now()
      const from = Math.max(summary?.firstSeen ?? 0, to - 24 * HOUR)
      const [health, flows, groups, vitals] = await Promise.all([
        deps.store.sessionHealth(project, from, to),
        deps.store.flowHealth(project, from, to),
        deps.store.errorGroups(project, env, from, to),
        deps.store.vitals(project, from, to),
      ])
      const mine = <T extends { env: string; release: string }>(rows: T[]) => rows.filter((x) => x.env === env && x.release === release)
      const all = health.filter((h) => h.env === env).reduce((n, h) => n + h.sessions, 0)
      const own = mine(health)[0]
      return {
        project,
        environment: env,
        release,
        summary: summary ?? null,
        window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        sessions: own?.sessions ?? 0,
        adoption: all > 0 ? (own?.sessions ?? 0) / all : 0,
        crash_free_sessions: own && own.sessions > 0 ? 1 - own.crashed / own.sessions : null,
        flows: mine(flows).map((f) => ({ flow: f.flow, sessions: f.sessions, failed_sessions: f.failed, failure_rate: f.sessions ? f.failed / f.sessions : 0, attempts: f.attempts, failures: f.failures })),
        error_groups: mine(groups).map((g) => ({
          fingerprint: g.fingerprint,
          type: g.type,
          message: g.message,
          stack: g.stack,
          sessions: g.sessions,
          events: g.events,
          handled: g.handled === 1,
          first_seen: new Date(g.firstSeen).toISOString(),
          new_in_release: g.firstRelease === release,
        })),
        vitals_p75: Object.fromEntries(mine(vitals).map((v) => [v.name, { p75: v.p75, samples: v.samples }])),
        verdict: verdictOf(project, env, release),
      }
    },
  )

  app.get<{ Querystring: { project: string } }>(
    '/v1/alerts',
    { schema: { querystring: { type: 'object', properties: { project: { type: 'string', default: DEFAULT_PROJECT } } } } },
    async (req) => ({
      project: req.query.project,
      alerts: (await deps.store.alerts(req.query.project)).map(({ payload, ...a }) => ({ ...a, data: JSON.parse(payload) as unknown })),
      deliveries: (await deps.store.deliveries(req.query.project)).map(({ message: _message, ...d }) => d),
    }),
  )

  app.get<{ Params: { release: string }; Querystring: { project: string; env: string } }>(
    '/v1/releases/:release/verdict',
    { schema: { querystring: query } },
    async (req) => verdictOf(req.query.project, req.query.env, req.params.release),
  )
}
