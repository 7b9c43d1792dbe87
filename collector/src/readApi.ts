import type { FastifyInstance } from 'fastify'
import { compressAnswers } from './lib/compressAnswers.js'
import { snapshots } from './lib/snapshots.js'
import { mayRead } from './auth.js'
import type { Config } from './config.js'
import type { Detector } from './detector/index.js'
import type { LiveFeed } from './live.js'
import type { Metrics } from './metrics.js'
import type { AlertPayload } from './detector/payload.js'
import { LoginRequired, NotFound } from './errors.js'
import { RANGES, type Range } from './releaseNumbers.js'
import { DEFAULT_PROJECT, type ProjectRegistry } from './projects.js'
import type { SiteGuard } from './siteGuard.js'
import { readOverview, readRelease, verdictOf, type ReadDeps } from './readModels.js'

const query = {
  type: 'object',
  properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string', default: 'production' } },
} as const

/** The page's views: the environment defaults to production when there is one, the range to the last hour. */
const viewQuery = {
  type: 'object',
  properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string' }, range: { type: 'string', enum: Object.keys(RANGES), default: '1h' } },
} as const

/** The most page answers kept (snapshots.ts), the least recently asked let go first. */
const MAX_SNAPSHOTS = 64
/** An answer asked within this long is computed again after each look; one not asked is let go. */
const WATCH_MS = 60_000
/** The oldest answer given, looks or not: a look's interval at most (a look renews them sooner). */
const MAX_AGE_MS = 5_000
/** A day's or a week's numbers barely move in a look: their answer serves across looks until this old (the page asks for them every 30 s). */
const WIDE_MAX_AGE_MS = 30_000
const wide = (q: { range: Range }) => RANGES[q.range].ms >= 24 * 3600_000
/** The most answers computed again after one look (the most recently asked first), and the longest a renewal waits for them (the look's event waits for its renewal). */
const RENEW_MAX = 16
const RENEW_MS = 10_000

/**
 * Release health for people and for deploy pipelines: the list, one release in detail, its
 * verdict (`healthy | watching | bad | unknown`, with reasons), and the alerts with their
 * deliveries. With VIGIL_ADMIN_TOKEN set, reading needs it (or the dashboard's session cookie);
 * another site's page may not read them either way.
 */
export const readApiRoutes = (deps: ReadDeps & { config: Config; guard: SiteGuard; live: Pick<LiveFeed, 'before'>; metrics: Metrics }) => async (app: FastifyInstance) => {
  app.addHook('onRequest', deps.guard.onRequest)
  app.addHook('onRequest', async (req) => {
    if (!mayRead(deps.config, req.raw)) throw new LoginRequired()
  })
  await compressAnswers(app)

  const verdict = (project: string, env: string, release: string) => verdictOf(deps.detector, project, env, release)
  // The page's two reads, each answered once for every tab asking the same, computed again after
  // each look before the pages are told of it (snapshots.ts): a tab refreshing after a look reads
  // an answer begun after the look ended, at once.
  type View = { project: string; env?: string; range: Range }
  const pageSnapshots = <Q extends View>(page: string, read: (deps: ReadDeps, q: Q) => Promise<unknown>, key: (q: Q) => unknown[]) =>
    snapshots(
      async (q: Q) => {
        const stop = deps.metrics.pageSeconds.startTimer({ page })
        try {
          return await read(deps, q)
        } finally {
          stop()
        }
      },
      (q) => JSON.stringify([q.project, q.env ?? null, q.range, ...key(q)]),
      {
        max: MAX_SNAPSHOTS,
        watchMs: WATCH_MS,
        renewMax: RENEW_MAX,
        roundMs: RENEW_MS,
        maxAgeMs: (q) => (wide(q) ? WIDE_MAX_AGE_MS : Math.min(deps.config.evalIntervalMs, MAX_AGE_MS)),
        acrossLooks: wide,
        keepsFailure: (err) => err instanceof NotFound,
        counted: (answer) => deps.metrics.pageAnswers.inc({ page, answer }),
      },
    )
  const overview = pageSnapshots('overview', readOverview, () => [])
  const release = pageSnapshots('release', readRelease, (q: View & { release: string }) => [q.release])
  deps.live.before(async (event) => {
    if (event.type !== 'look') return void (overview.drop(), release.drop())
    await Promise.all([overview.renew(), release.renew()])
  })

  app.get<{ Querystring: { project: string; env?: string } }>(
    '/v1/releases',
    { schema: { querystring: { type: 'object', properties: { project: { type: 'string', default: DEFAULT_PROJECT }, env: { type: 'string' } } } } },
    async (req) => {
      const releases = await deps.store.releases(req.query.project, req.query.env)
      return {
        project: req.query.project,
        releases: releases.map((r) => ({ ...r, verdict: verdict(req.query.project, r.env, r.release).verdict })),
      }
    },
  )

  // The releases view: the releases of an environment active in the range with their health
  // against their baseline and their verdicts, the alerts firing, and the selectors' choices.
  app.get<{ Querystring: { project: string; env?: string; range: Range } }>(
    '/v1/overview',
    { schema: { querystring: viewQuery } },
    async (req) => overview.get(req.query),
  )

  // One release: its health, each flow per step against its baseline, its error groups (the
  // most sessions first), its alerts with their deliveries, and the selectors' choices.
  app.get<{ Params: { release: string }; Querystring: { project: string; env?: string; range: Range } }>(
    '/v1/releases/:release',
    { schema: { querystring: viewQuery } },
    async (req) => release.get({ ...req.query, release: req.params.release }),
  )

  app.get<{ Querystring: { project: string } }>(
    '/v1/alerts',
    { schema: { querystring: { type: 'object', properties: { project: { type: 'string', default: DEFAULT_PROJECT } } } } },
    async (req) => ({
      project: req.query.project,
      alerts: (await deps.store.alerts(req.query.project)).map(({ payload, ...a }) => ({ ...a, data: JSON.parse(payload) as AlertPayload })),
      deliveries: (await deps.store.deliveries(req.query.project)).map(({ message: _message, ...d }) => d),
    }),
  )

  // A release's verdict, or (`flag` and `variant`) a feature-flag cohort's of it: the variant
  // judged against the flag's other variants in the release, to gate a flag's rollout.
  app.get<{ Params: { release: string }; Querystring: { project: string; env: string; flag?: string; variant?: string } }>(
    '/v1/releases/:release/verdict',
    {
      schema: {
        querystring: {
          ...query,
          properties: { ...query.properties, flag: { type: 'string', minLength: 1 }, variant: { type: 'string' } },
          dependencies: { flag: ['variant'], variant: ['flag'] },
        },
      },
    },
    async (req) => {
      const { project, env, flag, variant } = req.query
      return verdictOf(deps.detector, project, env, req.params.release, flag !== undefined && variant !== undefined ? { flag, variant } : undefined)
    },
  )
}
