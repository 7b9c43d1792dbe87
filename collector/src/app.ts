import Fastify, { type FastifyInstance } from 'fastify'
import { adminRoutes } from './admin.js'
import type { Config } from './config.js'
import { createCore, type Core } from './core.js'
import { dashboardRoutes } from './dashboard.js'
import { answerErrors } from './errorAnswers.js'
import { trustProxy } from './ingest/network.js'
import { MAX_BODY_BYTES } from './ingest/wire.js'
import { agentFilesPlugin } from './plugins/agentFiles.js'
import { alertingPlugin, createAlerting, type AlertingOptions } from './plugins/alerting.js'
import { ingestPlugin } from './plugins/ingest.js'
import { opsPlugin } from './plugins/ops.js'
import { readApiRoutes } from './readApi.js'
import { sourceMapRoutes } from './sourcemaps/routes.js'
import type { Vigil } from './vigil.js'

export type { Vigil }
export type BuildOptions = AlertingOptions

const fastifyOptions = (config: Config) => {
  const { headersMs, requestMs, idleMs, keepAliveMs } = config.timeouts
  return {
    logger: config.logger,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: trustProxy(config.trustProxy),
    // A client that trickles its request in, or keeps a connection it does not use, lets it go
    // (408 or closed): it cannot hold sockets and memory open. Upgraded sockets are ws's, which
    // clears the socket's timeout; Node stops timing a request once it is upgraded.
    connectionTimeout: idleMs,
    keepAliveTimeout: keepAliveMs,
    requestTimeout: requestMs,
    http: { headersTimeout: headersMs, connectionsCheckingInterval: Math.min(5000, Math.max(100, headersMs / 2)) },
  }
}

/** What `app.vigil` shows of the core; alerting adds its own parts. */
const vigilOf = (core: Core) => {
  const { config, store, spool, drainer, metrics, projects, sourcemaps, symbolicate, defaultProject, publicUrl } = core
  return { config, store, spool, drainer, metrics, projects, sourcemaps, symbolicate, defaultProject, publicUrl, stored: () => drainer.drained() }
}

/**
 * The collector, not yet listening: spool recovered, storage opened (and migrated, when it is
 * reachable), projects loaded, plugins registered; the drainer, the outbox and the detector start
 * when it is ready, in that order. `listen()` is the caller's (tests use port 0). A ClickHouse
 * server that is down does not stop the collector: intake goes on into the spool. Closing the app
 * stops what the plugins run, then drains what it can and closes storage.
 */
export const buildApp = async (config: Config, options: BuildOptions = {}): Promise<FastifyInstance> => {
  const app = Fastify(fastifyOptions(config))
  const core = await createCore(app, config)
  const alerting = createAlerting(app, core, options)
  const { notifiers, outbox, detector } = alerting
  app.decorate('vigil', { ...vigilOf(core), notifiers, outbox, detector } satisfies Vigil)
  answerErrors(app)

  // A collector that only takes events in (VIGIL_ROLE=ingest) runs no detector: it neither judges
  // nor pages, and serves neither the dashboard nor the read API.
  const judges = config.role === 'all'
  await app.register(opsPlugin({ ...core, ...(judges ? { detector } : {}) }))
  await app.register(agentFilesPlugin(config))
  await app.register(ingestPlugin(core))
  await app.register(adminRoutes({ ...core, notifiers }))
  if (judges) await app.register(readApiRoutes({ ...core, store: core.store.pages, detector, live: alerting.live }))
  await app.register(sourceMapRoutes({ ...core, store: core.store.sourcemaps }))
  if (judges) await app.register(dashboardRoutes(core))
  if (judges) await app.register(alertingPlugin(alerting, core))
  return app
}
