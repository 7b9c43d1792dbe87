import type { FastifyInstance } from 'fastify'
import { mayRead } from './auth.js'
import type { Config } from './config.js'
import type { Detector, Verdict } from './detector/index.js'
import { LoginRequired, NotFound } from './errors.js'
import { flowSeries, RANGES, releasesHealth, type Range } from './health.js'
import { DEFAULT_PROJECT, type ProjectRegistry } from './projects.js'
import type { AlertRow, Store } from './store/index.js'

const query = {
  type: 'object',
  properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string', default: 'production' } },
} as const

const range = { type: 'string', enum: Object.keys(RANGES), default: '1h' } as const

const summaryOf = (a: AlertRow) => {
  try {
    return String((JSON.parse(a.payload) as { summary?: unknown }).summary ?? a.subject)
  } catch {
    return a.subject
  }
}

/**
 * Release health for people and for deploy pipelines: the list, one release in detail, its
 * verdict (`healthy | watching | bad | unknown`, with reasons), and the alerts with their
 * deliveries. With VIGIL_ADMIN_TOKEN set, reading needs it (or the dashboard's session cookie).
 */
export const releaseRoutes = (deps: { config: Config; store: Store; detector: Detector; projects: ProjectRegistry }) => async (app: FastifyInstance) => {
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

  const windowOf = (range: Range) => {
    const to = Date.now()
    return { from: to - RANGES[range].ms, to }
  }
  const firing = (alerts: AlertRow[], env: string) =>
    alerts
      .filter((a) => a.status === 'firing' && a.env === env)
      .map((a) => ({ release: a.release, rule: a.rule, subject: a.subject, summary: summaryOf(a), fired_at: new Date(a.fired_at).toISOString() }))

  // The releases view: every release of an environment active in the range, with its health
  // against its baseline and its verdict, and what the page's selectors offer.
  app.get<{ Querystring: { project: string; env?: string; range: Range } }>(
    '/v1/overview',
    { schema: { querystring: { type: 'object', properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string' }, range } } } },
    async (req) => {
      const { project, range: r } = req.query
      const environments = await deps.store.environments(project)
      const env = req.query.env ?? (environments.includes('production') ? 'production' : (environments[0] ?? 'production'))
      const { from, to } = windowOf(r)
      const [releases, alerts] = await Promise.all([releasesHealth(deps.store, project, env, from, to), deps.store.alerts(project)])
      const now = firing(alerts, env)
      return {
        project,
        environment: env,
        range: r,
        window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        projects: deps.projects.list().map((p) => ({ id: p.id, name: p.name })),
        environments: environments.includes(env) ? environments : [env, ...environments],
        flows: [...new Set(releases.flatMap((x) => Object.keys(x.flows)))].sort(),
        vitals: [...new Set(releases.flatMap((x) => Object.keys(x.vitals_p75)))].sort(),
        releases: releases.map((x) => {
          const v = verdictOf(project, env, x.release)
          return { ...x, verdict: v.verdict, reasons: v.reasons, firing: now.filter((a) => a.release === x.release) }
        }),
      }
    },
  )

  // One release: its health, each flow per step against its baseline, its error groups, its
  // alerts with their deliveries.
  app.get<{ Params: { release: string }; Querystring: { project: string; env: string; range: Range } }>(
    '/v1/releases/:release',
    { schema: { querystring: { type: 'object', properties: { ...query.properties, range } } } },
    async (req) => {
      const { project, env, range: r } = req.query
      const { release } = req.params
      const { from, to } = windowOf(r)
      const [health, groups, alerts, deliveries] = await Promise.all([
        releasesHealth(deps.store, project, env, from, to),
        deps.store.errorGroups(project, env, from, to),
        deps.store.alerts(project),
        deps.store.deliveries(project),
      ])
      const mine = health.find((x) => x.release === release)
      const own = alerts.filter((a) => a.env === env && a.release === release)
      if (!mine && own.length === 0 && !(await deps.store.releases(project, env)).some((x) => x.release === release)) {
        throw new NotFound(`No release ${release} in ${project}/${env}`)
      }
      const baseline = [...new Set(Object.values(mine?.flows ?? {}).flatMap((f) => f.baseline?.releases ?? []))]
      // The charts start a few steps before the release appeared, when it appeared in the range.
      const stepS = RANGES[r].stepS
      const since = mine ? Math.max(from, Date.parse(mine.first_seen) - 5 * stepS * 1000) : from
      const series = mine ? await flowSeries(deps.store, { project, env, release, baseline, from: since, to, stepS }) : []
      return {
        project,
        environment: env,
        release,
        range: r,
        window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        step_s: stepS,
        first_seen: mine?.first_seen ?? null,
        last_seen: mine?.last_seen ?? null,
        sessions: mine?.sessions ?? 0,
        adoption: mine?.adoption ?? 0,
        crash_free_sessions: mine?.crash_free_sessions ?? null,
        flows: Object.entries(mine?.flows ?? {})
          .map(([flow, f]) => ({ flow, ...f }))
          .sort((a, b) => a.flow.localeCompare(b.flow)),
        vitals_p75: mine?.vitals_p75 ?? {},
        series,
        error_groups: groups
          .filter((g) => g.release === release)
          .map((g) => ({
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
        alerts: own.reverse().map((a) => ({
          dedup_key: a.dedup_key,
          rule: a.rule,
          subject: a.subject,
          status: a.status,
          summary: summaryOf(a),
          fired_at: new Date(a.fired_at).toISOString(),
          resolved_at: a.resolved_at === null ? null : new Date(a.resolved_at).toISOString(),
          deliveries: deliveries
            .filter((d) => d.alert === a.dedup_key)
            .map((d) => ({ notifier: d.notifier, type: d.type, status: d.status, attempts: d.attempts, last_error: d.last_error, created: new Date(d.created).toISOString(), updated: new Date(d.updated).toISOString() })),
        })),
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
