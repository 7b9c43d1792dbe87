import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Core } from '../core.js'
import { createAccept } from '../ingest/accept.js'
import { createCardinality } from '../ingest/cardinality.js'
import { groupBy } from '../lib/groupBy.js'
import { httpIngest } from '../ingest/httpIngest.js'
import { createNetworkOf, trustProxy } from '../ingest/network.js'
import { webSocketIngest } from '../ingest/websocket.js'
import { createSessionLinks } from '../ingest/sentry/items.js'
import { sentryRoutes } from '../ingest/sentry/route.js'
import { otlpRoutes } from '../ingest/otlp/route.js'

export type IngestDeps = Pick<Core, 'config' | 'store' | 'spool' | 'seen' | 'metrics' | 'projects' | 'upgrades' | 'untrustedForwards'>

/** Names each project may bring per hour; those storage saw in the last hour keep their places. */
const seededCardinality = async ({ config, projects, store }: IngestDeps, log: FastifyBaseLogger) => {
  const cardinality = createCardinality({ limits: config.limits, windowMs: config.limits.windowMs })
  try {
    // One read for every project's releases.
    const now = Date.now()
    const releases = groupBy(await store.detector.projectReleases(projects.ids(), 0), (r) => r.project)
    for (const id of projects.ids()) cardinality.seed(id, releases.get(id) ?? [], now)
  } catch (err) {
    log.warn({ err }, 'the releases of the last hour could not be read: their limits start afresh')
  }
  return cardinality
}

/** Intake: `POST /v1/ingest` (and its beacon forms), the WebSocket `/v1/ws`, Sentry's envelopes and OTLP/HTTP, all into the spool through one `accept`. */
export const ingestPlugin = (deps: IngestDeps) => async (app: FastifyInstance) => {
  const { config, projects, spool, seen, metrics } = deps
  const cardinality = await seededCardinality(deps, app.log)
  const networkOf = createNetworkOf(config.dataDir, trustProxy(config.trustProxy), deps.untrustedForwards.note)
  const accept = createAccept({ projects, spool, seen, metrics, cardinality, networkOf, defaultRateLimit: config.rateLimit, log: app.log })
  await app.register(httpIngest({ accept, metrics }))
  await app.register(sentryRoutes({ accept, metrics, projects, networkOf, links: createSessionLinks() }))
  await app.register(otlpRoutes({ accept, metrics, projects }))
  deps.upgrades.add('/v1/ws', webSocketIngest(app, accept, metrics))
}
